"""The causal transformer prior: each check against a reference written out here: causality by
perturbing one token, log_prob as the gathered log-softmax and by the chain rule over every
sequence, cached against recomputed sampling (same draws, same logits as the full forward),
top_k=1 against a greedy loop over forward(), a tiny overfit, and the refusal of bad options."""
import itertools
import math

import pytest
import torch

from unidgm.errors import ConfigError, GraphError
from unidgm.nets import CausalTransformer

V, L = 5, 12


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def transformer(vocab=V, max_len=L, **options):
    """A small model whose weights are moved off GPT-2's near-uniform initialisation, so that its
    conditionals are far from uniform and every check has something to see."""
    options = {"d_model": 32, "heads": 4, "layers": 2, **options}
    model = CausalTransformer(vocab, max_len, **options).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def recording(model):
    """Wrap the model's token picker so that the logits of every sampling step are kept."""
    steps = []
    pick = model._pick

    def record(logits, *args):
        steps.append(logits.clone())
        return pick(logits, *args)

    model._pick = record
    return steps


def test_forward_shapes_and_the_start_token():
    model = transformer(condition_classes=3)
    tokens = torch.randint(V, (4, 7))
    y = torch.tensor([0, 1, 2, 1])
    logits = model(tokens, y)
    assert logits.shape == (4, 7, V) and logits.dtype == torch.float32
    # Position 0 sees only the start token and the class: the same for any tokens.
    torch.testing.assert_close(model(torch.randint(V, (4, 7)), y)[:, 0], logits[:, 0])
    assert not torch.allclose(logits[0, 0], logits[1, 0])                 # classes 0 and 1 differ
    torch.testing.assert_close(logits[1, 0], logits[3, 0])                # both class 1
    assert model(tokens[:, :1], y).shape == (4, 1, V)


def test_causality_a_token_changes_only_later_logits():
    model = transformer(condition_classes=2)
    tokens = torch.randint(V, (3, L))
    y = torch.tensor([0, 1, 1])
    base = model(tokens, y)
    for t in range(L):
        changed = tokens.clone()
        changed[:, t] = (changed[:, t] + 1) % V
        out = model(changed, y)
        assert torch.equal(out[:, :t + 1], base[:, :t + 1]), t             # positions <= t never see token t
        if t < L - 1:
            assert (out[:, t + 1:] - base[:, t + 1:]).abs().amax() > 1e-3, t


def test_log_prob_is_the_gathered_log_softmax():
    model = transformer(condition_classes=2)
    tokens = torch.randint(V, (3, 6))
    y = torch.tensor([1, 0, 1])
    logits = model(tokens, y)
    want = torch.zeros(3)
    for b in range(3):
        for t in range(6):
            row = logits[b, t]
            want[b] += row[tokens[b, t]] - torch.log(torch.exp(row).sum())
    torch.testing.assert_close(model.log_prob(tokens, y), want)


@pytest.mark.parametrize("classes", [None, 2])
def test_chain_rule_the_probabilities_of_all_sequences_sum_to_one(classes):
    model = transformer(vocab=3, max_len=3, condition_classes=classes)
    every = torch.tensor(list(itertools.product(range(3), repeat=3)))    # the 27 sequences
    for y in ([None] if classes is None else range(classes)):
        condition = None if y is None else torch.full((27,), y)
        p = model.log_prob(every, condition).double().exp()
        assert p.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert p.min() > 0 and p.max() < 0.5                              # not uniform, nowhere zero
        # Two tokens: the marginal of the first two, sum over the third.
        pairs = torch.tensor(list(itertools.product(range(3), repeat=2)))
        p2 = model.log_prob(pairs, None if y is None else condition[:9]).double().exp()
        torch.testing.assert_close(p2, p.view(9, 3).sum(1))


@pytest.mark.parametrize("top_k", [None, 2])
@pytest.mark.parametrize("length", [1, 5, L])
def test_cached_and_recomputed_sampling_draw_the_same_tokens(length, top_k):
    model = transformer(condition_classes=3)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    runs = {}
    for cache in (True, False):
        steps = recording(model)
        tokens = model.sample(6, length, y, temperature=0.7, top_k=top_k,
                              generator=torch.Generator().manual_seed(1), cache=cache)
        runs[cache] = tokens, torch.stack(steps, 1)                         # (6, length), (6, length, V)
    assert torch.equal(runs[True][0], runs[False][0])
    tokens = runs[True][0]
    full = model(tokens, y)                                                  # teacher-forced logits
    for cache in (True, False):
        torch.testing.assert_close(runs[cache][1], full, atol=1e-5, rtol=1e-5)
    if top_k is not None:                                                    # every draw is among the top 2
        rank = (full > full.gather(-1, tokens[..., None])).sum(-1)
        assert rank.max() < top_k
    if length == L:
        assert tokens.unique().numel() > 1


def test_top_k_1_is_the_greedy_path():
    model = transformer()
    greedy = torch.zeros(4, 0, dtype=torch.long)
    for _ in range(L):
        # forward's last position sees only greedy so far; the appended placeholder is never read.
        logits = model(torch.cat([greedy, torch.zeros(4, 1, dtype=torch.long)], 1))[:, -1]
        greedy = torch.cat([greedy, logits.argmax(-1, keepdim=True)], 1)
    for cache in (True, False):
        tokens = model.sample(4, L, top_k=1, cache=cache)
        assert tokens.shape == (4, L) and tokens.dtype == torch.int64
        assert torch.equal(tokens, greedy)


def test_sample_shapes_dtypes_condition_and_dropout():
    model = transformer(condition_classes=2, dropout=0.5)
    tokens = model.sample(3, 7, 1, generator=torch.Generator().manual_seed(0))
    assert tokens.shape == (3, 7) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() < V
    # An int condition is that class for every sequence.
    same = model.sample(3, 7, torch.ones(3, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    assert torch.equal(tokens, same)
    # In training mode forward drops, sampling does not, and the mode survives sampling.
    model.train()
    x = torch.randint(V, (3, 7))
    assert not torch.equal(model(x, torch.ones(3, dtype=torch.long)), model(x, torch.ones(3, dtype=torch.long)))
    assert torch.equal(model.sample(3, 7, 1, generator=torch.Generator().manual_seed(0)), tokens)
    assert model.training and all(m.training for m in model.modules())


def test_a_tiny_overfit():
    model = CausalTransformer(6, 6, d_model=32, heads=2, layers=2)
    data = torch.tensor([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [1, 1, 2, 2, 3, 3], [2, 0, 2, 0, 2, 0]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = -model.log_prob(data).sum().item()
    assert start == pytest.approx(4 * 6 * math.log(6), rel=0.05)           # GPT-2's initialisation is near uniform
    model.train()
    for _ in range(200):
        opt.zero_grad()
        nll = -model.log_prob(data).sum()
        nll.backward()
        opt.step()
    assert -model.log_prob(data).sum().item() < 0.25 * start


def test_bad_options_and_inputs_are_refused():
    with pytest.raises(ConfigError, match=r"vocab_size must be a positive integer, got 0; pass vocab_size=1"):
        CausalTransformer(0, 49)
    with pytest.raises(ConfigError, match=r"max_len must be a positive integer"):
        CausalTransformer(8, 0)
    with pytest.raises(ConfigError, match=r"layers must be a positive integer, got 2.5"):
        CausalTransformer(8, 49, layers=2.5)
    with pytest.raises(ConfigError, match=r"d_model must be divisible by heads, got d_model=130 and heads=4; "
                                          r"pass e.g. d_model=128 or heads=2"):
        CausalTransformer(8, 49, d_model=130)
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\), got 1.0"):
        CausalTransformer(8, 49, dropout=1.0)
    with pytest.raises(ConfigError, match=r"condition_classes must be a positive integer.*or None"):
        CausalTransformer(8, 49, condition_classes=0)

    model = CausalTransformer(8, 10, d_model=16, heads=2, layers=1)
    with pytest.raises(GraphError, match=r"11 tokens but max_len=10; build the model with max_len=11"):
        model(torch.zeros(2, 11, dtype=torch.long))
    with pytest.raises(GraphError, match=r"must lie in \[0, 8\) \(vocab_size\), got values in \[0, 8\]"):
        model(torch.tensor([[0, 8]]))
    with pytest.raises(GraphError, match=r"got values in \[-1, 3\]"):
        model.log_prob(torch.tensor([[-1, 3]]))
    with pytest.raises(GraphError, match=r"must be integer indices, got dtype torch.float32; pass tokens.long\(\)"):
        model(torch.zeros(2, 3))
    with pytest.raises(GraphError, match=r"must be a \(B, T\) tensor with T >= 1, got \(2, 3, 4\); flatten"):
        model(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(GraphError, match=r"a condition was given but the model is unconditional"):
        model(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ConfigError, match=r"length=11 exceeds max_len=10"):
        model.sample(2, 11)
    with pytest.raises(ConfigError, match=r"temperature must be positive and finite, got 0; .*top_k=1"):
        model.sample(2, 3, temperature=0)
    for k in (0, 9, 1.5):
        with pytest.raises(ConfigError, match=r"top_k must be None or an integer in \[1, 8\]"):
            model.sample(2, 3, top_k=k)
    with pytest.raises(ConfigError, match=r"n must be a positive integer"):
        model.sample(0, 3)

    conditional = CausalTransformer(8, 10, d_model=16, heads=2, layers=1, condition_classes=3)
    tokens = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(GraphError, match=r"condition_classes=3, so condition .* shape \(2,\)\) is required"):
        conditional(tokens)
    with pytest.raises(GraphError, match=r"condition labels must lie in \[0, 3\).*got values in \[0, 3\]"):
        conditional(tokens, torch.tensor([0, 3]))
    with pytest.raises(GraphError, match=r"condition must be integer class labels of shape \(2,\).*"
                                         r"got torch.int64 \(3,\)"):
        conditional(tokens, torch.tensor([0, 1, 2]))
    with pytest.raises(GraphError, match=r"condition labels must lie in \[0, 3\)"):
        conditional.sample(2, 3, condition=5)


def test_a_prefix_is_read_not_drawn_and_allowed_limits_the_draws():
    torch.manual_seed(0)
    net = CausalTransformer(12, 8, d_model=16, heads=2, layers=2)
    prefix = torch.tensor([[1, 2, 3], [4, 5, 6]])
    draws = {cache: net.sample(2, 5, prefix=prefix, allowed=(8, 12), cache=cache,
                               generator=torch.Generator().manual_seed(3)) for cache in (True, False)}
    assert torch.equal(draws[True], draws[False]) and draws[True].shape == (2, 5)
    assert ((draws[True] >= 8) & (draws[True] < 12)).all()  # only the allowed tokens
    # each drawn token follows the distribution given the prefix: the first draw's logits
    logits = net(torch.cat([prefix, prefix.new_zeros(2, 1)], 1))[:, -1]
    masked = logits.masked_fill(torch.arange(12) < 8, -math.inf)
    u = torch.rand(2, 1, generator=torch.Generator().manual_seed(3))  # the first draw's uniforms, inverted by hand
    cdf = masked.softmax(-1).cumsum(-1)
    first = (cdf < u * cdf[:, -1:]).sum(-1)
    assert torch.equal(draws[True][:, 0], first)


def test_the_categorical_draw_follows_its_probabilities():
    from unidgm.nets.transformer import draw_categorical

    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3]]).expand(40000, -1)
    drawn = draw_categorical(probs, torch.Generator().manual_seed(0))
    freq = torch.bincount(drawn, minlength=4).double() / len(drawn)
    assert freq[1] == 0 and torch.allclose(freq, probs[0].double(), atol=0.01)
