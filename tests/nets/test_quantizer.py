"""The VQ-VAE quantizer (van den Oord et al. 2017): each check against a reference written out
here: brute-force nearest codes, the straight-through gradient, the two losses of Eq. 3, the
EMA update of Appendix A.1, k-means initialisation, dead-code restarts, eval mode, checkpoints
and the refusal of bad options."""
import pytest
import torch
from torch import nn

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.inference.terms import AuxiliaryLoss
from unidgm.nets import MLP, CodeIndices, VectorQuantizer

K, D = 6, 3


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def vectors(z):
    """(B, D, *grid) -> (B * prod(grid), D), in the order of the indices (B, *grid)."""
    return z.movedim(1, -1).reshape(-1, z.shape[1])


def brute_nearest(x, codes):
    dist = torch.stack([((x - c) ** 2).sum(-1) for c in codes], 1)  # (N, K), explicit squared distances
    return dist.argmin(1)


def state(vq):
    return {k: v.clone() for k, v in vq.state_dict().items()}


@pytest.mark.parametrize("shape", [(5, D), (4, D, 7), (2, D, 4, 5)], ids=str)
def test_nearest_code_shapes_and_usage(shape):
    vq = VectorQuantizer(K, D).train()
    z = torch.randn(shape)
    out = vq(z)
    idx = out.aux["indices"]
    assert idx.dtype == torch.int64 and idx.shape == shape[:1] + shape[2:]
    assert out.value.shape == z.shape
    assert torch.equal(idx.flatten(), brute_nearest(vectors(z), vq.codebook.detach()))
    torch.testing.assert_close(vectors(out.value), vq.codebook.detach()[idx.flatten()])
    counts = torch.tensor([(idx == k).sum() for k in range(K)], dtype=torch.float)
    p = counts / counts.sum()
    entropy = -sum(float(q * q.log()) for q in p if q > 0)
    assert set(out.aux) == {"indices", "codebook", "commitment", "perplexity", "codes_used"}
    torch.testing.assert_close(out.aux["perplexity"], torch.tensor(entropy).exp())
    assert out.aux["codes_used"] == (counts > 0).float().mean()
    assert vq.usage(torch.arange(K))["perplexity"].item() == pytest.approx(K)
    one = vq.usage(torch.zeros(9, dtype=torch.long))
    assert one["codes_used"].item() == pytest.approx(1 / K) and one["perplexity"].item() == pytest.approx(1.0)


def test_straight_through_gradient_and_the_two_losses_of_eq_3():
    vq = VectorQuantizer(K, D)
    z = torch.randn(4, D, 2, 3, requires_grad=True)
    out = vq(z)
    e = vq.codebook.detach()[out.aux["indices"]].movedim(-1, 1)          # (B, D, 2, 3)
    g = torch.randn_like(z)
    (out.value * g).sum().backward(retain_graph=True)
    torch.testing.assert_close(z.grad, g)                                 # d value / d z_e = identity
    assert vq.codebook.grad is None or not vq.codebook.grad.any()

    expected = ((z.detach() - e) ** 2).sum((1, 2, 3))                     # ||sg[z_e] - e||^2 per example
    torch.testing.assert_close(out.aux["codebook"], expected)
    torch.testing.assert_close(out.aux["commitment"], expected)           # the same value, other gradients
    z.grad = None
    out.aux["commitment"].sum().backward(retain_graph=True)
    torch.testing.assert_close(z.grad, 2 * (z.detach() - e))
    assert vq.codebook.grad is None or not vq.codebook.grad.any()
    z.grad = None
    out.aux["codebook"].sum().backward()
    assert z.grad is None or not z.grad.any()
    want = torch.zeros(K, D)
    for x, k in zip(vectors(z.detach()), out.aux["indices"].flatten()):
        want[k] += 2 * (vq.codebook.detach()[k] - x)
    torch.testing.assert_close(vq.codebook.grad, want)


def test_ema_update_of_appendix_a1():
    decay, eps = 0.9, 0.1                                                 # eps large enough to see the smoothing
    vq = VectorQuantizer(K, D, ema=True, decay=decay, eps=eps).train()
    assert list(vq.parameters()) == []                                    # not trained by gradient
    e0 = vq.codebook.clone()
    assert torch.equal(vq.ema_count, torch.ones(K)) and torch.equal(vq.ema_sum, e0)
    z = torch.randn(5, D, 4)
    out = vq(z)
    x, idx = vectors(z), brute_nearest(vectors(z), e0)
    assert torch.equal(out.aux["indices"].flatten(), idx)
    n = torch.stack([(idx == k).sum() for k in range(K)]).float()
    s = torch.stack([x[idx == k].sum(0) for k in range(K)])
    N = decay * torch.ones(K) + (1 - decay) * n
    m = decay * e0 + (1 - decay) * s
    N_smoothed = (N + eps) / (N.sum() + K * eps) * N.sum()
    torch.testing.assert_close(vq.ema_count, N)
    torch.testing.assert_close(vq.ema_sum, m)
    torch.testing.assert_close(vq.codebook, m / N_smoothed[:, None])
    torch.testing.assert_close(out.value, e0[out.aux["indices"]].movedim(-1, 1))  # quantised by the old codes
    assert torch.equal(out.aux["codebook"], torch.zeros(5))
    torch.testing.assert_close(out.aux["commitment"], ((z - out.value) ** 2).sum((1, 2)))


def test_kmeans_init_once_on_the_first_training_batch_only():
    vq = VectorQuantizer(K, D, kmeans_init=True)
    before = state(vq)
    vq.eval()(torch.randn(8, D))
    assert all(torch.equal(v, before[k]) for k, v in vq.state_dict().items())  # not in eval mode
    assert not vq.initialised

    batch = torch.randn(K, D) * 10                                        # K vectors: each its own cluster
    vq.train()(batch)
    assert vq.initialised
    got = sorted(map(tuple, vq.codebook.detach().tolist()))
    assert torch.allclose(torch.tensor(got), torch.tensor(sorted(map(tuple, batch.tolist()))))
    after = vq.codebook.detach().clone()
    vq(torch.randn(20, D))                                                # a second batch: no k-means again
    assert torch.equal(vq.codebook.detach(), after)

    # Tight, far-apart clusters: Lloyd's iterations reach a fixed point, where every code is the
    # mean of the batch vectors nearest to it (or, nearest to none, kept).
    centres = torch.tensor([[20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]])
    x = (centres[:, None] + 0.1 * torch.randn(3, 30, D)).reshape(-1, D)
    vq = VectorQuantizer(4, D, kmeans_init=True).train()
    vq(x.reshape(9, 10, D).movedim(-1, 1))                                # (9, D, 10)
    codes = vq.codebook.detach()
    idx = brute_nearest(x, codes)
    means = torch.stack([x[idx == k].mean(0) if (idx == k).any() else codes[k] for k in range(4)])
    torch.testing.assert_close(codes, means)

    # With EMA, the counts start again from ones at the k-means codes.
    vq = VectorQuantizer(4, D, kmeans_init=True, ema=True).train()
    idx = vq(x).aux["indices"]
    n = torch.stack([(idx == k).sum() for k in range(4)]).float()
    torch.testing.assert_close(vq.ema_count, 0.99 * torch.ones(4) + 0.01 * n)


@pytest.mark.parametrize("ema", [False, True])
def test_a_dead_code_is_restarted_to_an_encoder_output(ema):
    vq = VectorQuantizer(K, D, ema=ema, dead_code_threshold=1.0).train()
    with torch.no_grad():
        vq.codebook[K - 1] = 1e3                                         # never the nearest
        if ema:
            vq.ema_sum[K - 1] = 1e3
    z = torch.randn(64, D)
    idx = vq(z).aux["indices"]
    used = idx.unique()
    assert K - 1 not in used
    dead = torch.tensor([k for k in range(K) if k not in used])
    new = vq.codebook.detach()
    for k in dead:                                                        # each dead code is now a batch vector
        assert ((z - new[k]) ** 2).sum(1).min() == 0
    if ema:
        assert torch.equal(vq.ema_count[dead], torch.ones(len(dead)))
        torch.testing.assert_close(vq.ema_sum[dead], new[dead])
    else:
        v = new[used[0]].clone()
        vq(v[None])                                                       # one vector: every other code is dead
        assert torch.equal(vq.codebook.detach(), v.expand(K, D))         # restarted to it; its own code kept


@pytest.mark.parametrize("options", [{}, {"ema": True, "kmeans_init": True, "dead_code_threshold": 0.5}], ids=str)
def test_eval_mode_changes_nothing_and_a_state_dict_round_trip_keeps_everything(options):
    vq = VectorQuantizer(K, D, **options).train()
    vq(torch.randn(4, D, 5))
    vq.eval()
    before = state(vq)
    z = torch.randn(4, D, 5)
    out = vq(z)
    assert all(torch.equal(v, before[k]) for k, v in vq.state_dict().items())

    fresh = VectorQuantizer(K, D, **options)
    fresh.load_state_dict(vq.state_dict())
    assert set(fresh.state_dict()) == set(before)
    assert all(torch.equal(v, before[k]) for k, v in fresh.state_dict().items())
    again = fresh.eval()(z)
    assert torch.equal(again.value, out.value) and torch.equal(again.aux["indices"], out.aux["indices"])
    vq.train(), fresh.train()
    torch.manual_seed(1)
    vq(z)
    torch.manual_seed(1)
    fresh(z)                                                              # no second k-means after loading
    assert all(torch.equal(v, vq.state_dict()[k]) for k, v in fresh.state_dict().items())


def test_bad_options_and_inputs_are_refused():
    with pytest.raises(ConfigError, match=r"codebook_size must be a positive integer, got 0; pass codebook_size=1"):
        VectorQuantizer(0, D)
    with pytest.raises(ConfigError, match=r"dim must be a positive integer"):
        VectorQuantizer(K, 0)
    for decay in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match=r"decay must be in \(0, 1\).*decay=0.99"):
            VectorQuantizer(K, D, ema=True, decay=decay)
    with pytest.raises(ConfigError, match=r"eps .* must be positive"):
        VectorQuantizer(K, D, eps=0.0)
    with pytest.raises(ConfigError, match=r"dead_code_threshold must be >= 0"):
        VectorQuantizer(K, D, dead_code_threshold=-1)
    vq = VectorQuantizer(K, D)
    with pytest.raises(GraphError, match=r"must be \(B, 3, \.\.\.\).*got shape \(2, 4, 5\); give the encoder 3 output "
                                         r"channels or set dim=4"):
        vq(torch.randn(2, 4, 5))


def test_as_an_edge_network_its_losses_join_the_objective():
    vq = VectorQuantizer(8, 2, kmeans_init=True)
    g = unidgm.Graph("vq")
    g.visible("x", "bernoulli", (16,))
    g.latent("z", "normal", (2,))
    g.generative("z", "x", MLP(2, [8], 16))
    g.inference("x", "z", nn.Sequential(MLP(16, [8], 2), vq), deterministic=True)
    model = unidgm.compile(g, "elbo", terms=[AuxiliaryLoss("codebook", "z"),
                                             AuxiliaryLoss("commitment", "z", weight=0.25)])
    assert not vq.initialised                                             # compiling ran it in eval mode only
    terms = model.loss({"x": torch.rand(32, 16).round()})
    assert vq.initialised and {"codebook", "commitment", "reconstruction"} <= set(terms)
    terms["loss"].backward()
    assert vq.codebook.grad.abs().sum() > 0


def test_code_indices_read_the_quantizers_own_search_and_search_again_elsewhere():
    q = VectorQuantizer(K, D)
    z = torch.randn(4, D, 2, 2)
    made = brute_nearest(vectors(z), q.codebook).reshape(4, 2, 2)  # the search that makes out.value
    out = q(z)
    with torch.no_grad():
        q.codebook.copy_(q.codebook.flip(0))  # the codes move after the search (as an EMA update does)
    assert torch.equal(CodeIndices(q)(out.value), made)  # the indices out.value was made of
    other = out.value.detach().clone()  # the same numbers, another tensor: searched against the codes now
    assert torch.equal(CodeIndices(q)(other), K - 1 - made)
