"""The gated PixelCNN (van den Oord et al. 2016): each check against a reference written out here:
raster-order causality and the absent blind spot by gradients, log_prob as gathered log-softmax
logits, the chain rule by enumerating every grid, sampling against a greedy loop and empirical
frequencies, the reach of class and spatial conditions, a small overfit, and refused options and
inputs."""
import itertools

import pytest
import torch

from unidgm.errors import ConfigError, GraphError
from unidgm.nets import GatedPixelCNN


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def reach(model, codes, condition=None):
    """``r[i, j, k, l]``: whether the logits at (i, j) have a nonzero gradient with respect to the
    embedded code at (k, l), from a hook that makes the embedding's output a leaf."""
    leaf = {}

    def hook(module, inputs, output):
        leaf["x"] = output.detach().requires_grad_()
        return leaf["x"]

    handle = model.embed.register_forward_hook(hook)
    try:
        logits = model(codes, condition)                                   # (B, K, H, W)
    finally:
        handle.remove()
    H, W = codes.shape[1:]
    r = torch.zeros(H, W, H, W, dtype=torch.bool)
    for i, j in itertools.product(range(H), range(W)):
        (g,) = torch.autograd.grad(logits[:, :, i, j].sum(), leaf["x"], retain_graph=True)  # (B, H, W, C)
        r[i, j] = g.abs().sum((0, 3)) > 0
    return r


def before(i, j, k, l):
    return (k, l) < (i, j)  # raster order: an earlier row, or the same row to the left


def greedy(model, n, H, W, condition=None):
    codes = torch.zeros(n, H, W, dtype=torch.long)
    with torch.no_grad():
        for i, j in itertools.product(range(H), range(W)):
            codes[:, i, j] = model(codes, condition)[:, :, i, j].argmax(1)
    return codes


def test_raster_order_causality_and_no_blind_spot():
    H = W = 5
    model = GatedPixelCNN(4, channels=8, layers=6)
    r = reach(model, torch.randint(4, (2, H, W)))
    for i, j, k, l in itertools.product(range(H), range(W), repeat=2):
        if not before(i, j, k, l):
            assert not r[i, j, k, l], f"logits at {(i, j)} see the code at {(k, l)}"
    for i, j in itertools.product(range(H), range(W)):
        neighbours = [(i, j - 1), (i - 1, j), (i - 1, j - 1), (i - 1, j + 1)]  # left, above, above-left, above-right
        for k, l in neighbours:
            if 0 <= k < H and 0 <= l < W:
                assert r[i, j, k, l], f"logits at {(i, j)} miss the code at {(k, l)}"
    # With 6 layers the receptive field covers the 5x5 grid: exactly the earlier codes are seen.
    expected = torch.tensor([[[[before(i, j, k, l) for l in range(W)] for k in range(H)] for j in range(W)]
                             for i in range(H)])
    assert torch.equal(r, expected)


def test_log_prob_is_the_sum_of_gathered_log_softmax_logits():
    K, B, H, W = 5, 3, 3, 4
    model = GatedPixelCNN(K, channels=8, layers=2)
    codes = torch.randint(K, (B, H, W))
    logits = model(codes)
    assert logits.shape == (B, K, H, W)
    expected = torch.zeros(B)
    for b, i, j in itertools.product(range(B), range(H), range(W)):
        z = logits[b, :, i, j]
        expected[b] += z[codes[b, i, j]] - torch.log(torch.exp(z).sum())
    torch.testing.assert_close(model.log_prob(codes), expected)


def test_the_chain_rule_every_2x2_grid_sums_to_one():
    K = 3
    model = GatedPixelCNN(K, channels=8, layers=3, condition_classes=2)
    grids = torch.tensor(list(itertools.product(range(K), repeat=4))).view(-1, 2, 2)  # all 81 grids
    for y in range(2):
        total = model.log_prob(grids, torch.full((len(grids),), y)).exp().sum()
        torch.testing.assert_close(total, torch.tensor(1.0))


def test_sampling_greedy_paths_seeds_shapes_and_mode():
    K, n, H, W = 6, 3, 3, 4
    model = GatedPixelCNN(K, channels=8, layers=3).train()
    path = greedy(model, n, H, W)
    cold = model.sample(n, (H, W), temperature=1e-6)
    assert cold.dtype == torch.int64 and cold.shape == (n, H, W) and not cold.requires_grad
    assert torch.equal(cold, path)
    assert torch.equal(model.sample(n, (H, W), top_k=1), path)
    assert model.training  # the mode is restored
    a = model.sample(4, (2, 3), generator=torch.Generator().manual_seed(7))
    b = model.sample(4, (2, 3), generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == (4, 2, 3) and a.min() >= 0 and a.max() < K


def test_samples_follow_the_model_and_top_k_keeps_the_likeliest():
    K, n = 3, 4000
    model = GatedPixelCNN(K, channels=8, layers=2)
    grids = torch.tensor(list(itertools.product(range(K), repeat=2))).view(-1, 1, 2)   # all 9 grids of 1x2
    p = model.log_prob(grids).exp().detach()
    draws = model.sample(n, (1, 2), generator=torch.Generator().manual_seed(0)).view(n, 2)
    freq = torch.bincount(draws[:, 0] * K + draws[:, 1], minlength=K * K).float() / n
    assert (freq - p).abs().max() < 0.04  # five standard errors at n = 4000
    first = model(grids[:1])[0, :, 0, 0]                                                # the first code's logits
    kept = model.sample(500, (1, 2), top_k=2, generator=torch.Generator().manual_seed(1))[:, 0, 0]
    assert set(kept.tolist()) <= set(first.topk(2).indices.tolist())


def test_a_class_condition_changes_the_logits_and_reaches_every_position():
    K, C, H, W = 4, 3, 3, 3
    model = GatedPixelCNN(K, channels=8, layers=2, condition_classes=C)
    codes = torch.randint(K, (2, H, W))
    y = torch.tensor([0, 2])
    one_hot = torch.eye(C)[y].requires_grad_()
    torch.testing.assert_close(model(codes, y), model(codes, one_hot))
    assert not torch.allclose(model(codes, y), model(codes, torch.tensor([1, 1])))
    logits = model(codes, one_hot)
    for i, j in itertools.product(range(H), range(W)):
        (g,) = torch.autograd.grad(logits[:, :, i, j].sum(), one_hot, retain_graph=True)
        assert g.abs().sum() > 0, f"the class does not reach {(i, j)}"
    assert model.sample(2, (H, W), condition=1).shape == (2, H, W)  # one class for all


def map_reach(model, codes, cmap):
    """``r[i, j, p, q]``: whether the logits at (i, j) have a nonzero gradient with respect to the
    float condition map at (p, q)."""
    cmap = cmap.clone().requires_grad_()
    logits = model(codes, cmap)
    H, W = codes.shape[1:]
    r = torch.zeros(H, W, *cmap.shape[2:], dtype=torch.bool)
    for i, j in itertools.product(range(H), range(W)):
        (g,) = torch.autograd.grad(logits[:, :, i, j].sum(), cmap, retain_graph=True)  # (B, Cc, h, w)
        r[i, j] = g.abs().sum((0, 1)) > 0
    return r


def test_a_spatial_condition_is_not_masked():
    K, H, W, h, w = 4, 6, 6, 3, 3
    codes = torch.randint(K, (2, H, W))
    cmap = torch.randn(2, 2, h, w)
    model = GatedPixelCNN(K, channels=8, layers=2, condition_channels=2, condition_size=(h, w))
    assert model.condition_layers == 2  # derived: max(h, w) - 1
    assert map_reach(model, codes, cmap).all()  # every map position reaches every output position
    assert not torch.allclose(model(codes, cmap), model(codes, cmap + 1))
    # Without the map's own network (condition_layers=0) a map cell enters at the positions that it is
    # upsampled onto, here 2x2 blocks, and travels only forward from there: (i, j) hears the cell over it,
    # and no cell whose block lies wholly after (i, j).
    local = map_reach(GatedPixelCNN(K, channels=8, layers=2, condition_channels=2, condition_size=(h, w),
                                    condition_layers=0), codes, cmap)
    for i, j, p, q in itertools.product(range(H), range(W), range(h), range(w)):
        block = itertools.product(range(2 * p, 2 * p + 2), range(2 * q, 2 * q + 2))
        if (p, q) == (i // 2, j // 2):
            assert local[i, j, p, q]
        elif all(before(k, l, i, j) for k, l in block):
            assert not local[i, j, p, q], f"the map cell {(p, q)} reaches {(i, j)} before its block"
    assert local[0, 0].sum() == 1


def test_a_map_of_codes_and_a_class_together():
    K, H, W = 4, 4, 4
    model = GatedPixelCNN(K, channels=8, layers=2, condition_classes=2, condition_codes=5, condition_size=2)
    assert model.condition_channels == 8 and model.condition_size == (2, 2)
    codes, top, y = torch.randint(K, (3, H, W)), torch.randint(5, (3, 2, 2)), torch.tensor([0, 1, 1])
    logits = model(codes, (y, top))
    assert logits.shape == (3, K, H, W)
    assert not torch.allclose(logits, model(codes, (y, (top + 1) % 5)))
    assert not torch.allclose(logits, model(codes, (1 - y, top)))
    assert model.sample(3, (H, W), condition=(y, top), top_k=2).shape == (3, H, W)


def test_a_tiny_overfit():
    K = 8
    data = torch.randint(K, (4, 3, 3))
    model = GatedPixelCNN(K, channels=16, layers=3, first_kernel_size=3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = -model.log_prob(data).mean().item()
    for _ in range(200):
        loss = -model.log_prob(data).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert -model.log_prob(data).mean().item() < 0.25 * start


@pytest.mark.parametrize("kwargs, message", [
    (dict(codebook_size=0), "codebook_size must be a positive integer"),
    (dict(codebook_size=4, channels=2.5), "channels must be a positive integer"),
    (dict(codebook_size=4, layers=0), "layers must be a positive integer"),
    (dict(codebook_size=4, kernel_size=4), "kernel_size must be an odd integer >= 3"),
    (dict(codebook_size=4, first_kernel_size=1), "first_kernel_size must be an odd integer >= 3"),
    (dict(codebook_size=4, condition_classes=0), "condition_classes must be a positive integer"),
    (dict(codebook_size=4, condition_channels=3), "needs condition_size=(h, w)"),
    (dict(codebook_size=4, condition_codes=5, condition_size=(2, 0)), "needs condition_size=(h, w)"),
    (dict(codebook_size=4, condition_size=3), "needs condition_channels=Cc"),
    (dict(codebook_size=4, condition_codes=5, condition_size=3, condition_layers=-1), "condition_layers must be"),
    (dict(codebook_size=4, condition_layers=2), "there is no spatial condition"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GatedPixelCNN(**kwargs)


def test_bad_inputs_are_refused():
    plain = GatedPixelCNN(4, channels=4, layers=1)
    codes = torch.randint(4, (2, 3, 3))
    for bad, message in [(codes[0], r"codes must be a \(B, H, W\) grid"), (codes.float(), "pass codes.long()"),
                         (codes + 4, r"codes must lie in \[0, 4\)")]:
        with pytest.raises(GraphError, match=message):
            plain(bad)
    with pytest.raises(GraphError, match="the model is unconditional"):
        plain(codes, torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match="temperature must be positive"):
        plain.sample(2, (3, 3), temperature=0)
    with pytest.raises(ConfigError, match=r"top_k must be None or an integer in \[1, 4\]"):
        plain.sample(2, (3, 3), top_k=5)
    with pytest.raises(ConfigError, match=r"shape must be \(H, W\)"):
        plain.sample(2, 3)

    classes = GatedPixelCNN(4, channels=4, layers=1, condition_classes=3)
    with pytest.raises(GraphError, match="conditioned on a class; pass condition="):
        classes(codes)
    for bad in (torch.tensor([0, 3]), torch.tensor([0]), torch.zeros(2, 2)):
        with pytest.raises(GraphError, match=r"int64 indices \(2,\) in \[0, 3\) or float one-hot vectors \(2, 3\)"):
            classes(codes, bad)

    spatial = GatedPixelCNN(4, channels=4, layers=1, condition_channels=2, condition_size=(2, 2))
    with pytest.raises(GraphError, match=r"floats \(2, 2, 2, 2\)"):
        spatial(codes, torch.randn(2, 2, 3, 3))
    top = GatedPixelCNN(4, channels=4, layers=1, condition_codes=5, condition_size=(2, 2))
    with pytest.raises(GraphError, match=r"int64 codes \(2, 2, 2\) in \[0, 5\)"):
        top(codes, torch.randn(2, 2, 2))
    both = GatedPixelCNN(4, channels=4, layers=1, condition_classes=3, condition_codes=5, condition_size=2)
    with pytest.raises(GraphError, match=r"pass condition=\(classes, map\)"):
        both(codes, torch.tensor([0, 1]))
