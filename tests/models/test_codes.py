"""The discrete-code catalogue (vqvae, vqvae2, dvae): each graph against its paper's equations
written out here, its recipe, and its code metrics against the networks called directly."""
import math

import pytest
import torch
import torch.nn.functional as F

import unidgm
from unidgm.eval.codes import (code_metrics, code_nodes, entropy_bits, independent_codes, nonblank, prior_nll_bits,
                               usage)
from unidgm.models import build

X = (1, 8, 8)  # 8x8 digits: a 2x2 grid of codes (two stride-2 steps)


def _model(name, **options):
    torch.manual_seed(0)
    return unidgm.compile(build(name, x_shape=X, hidden=(16,), **options))


def _images(n=6):
    return torch.rand((n,) + X, generator=torch.Generator().manual_seed(0))


def test_vqvae_is_eq_3_with_ema_codes_and_its_recipe_is_two_stages():
    model = _model("vqvae").train()
    g = model.graph
    assert code_nodes(model) == ["c"]
    assert model.stages == ({"phases": ("elbo",), "share": 0.6}, {"phases": ("prior",), "share": 0.4})
    assert model.training_defaults()["monitor"] is None  # the last checkpoint, after the prior's stage
    x = _images()
    quantized = g.edge_into("z_q", "inference").net
    book = quantized.quantizer
    torch.manual_seed(1)
    terms = model.loss({"x": x})
    torch.manual_seed(1)
    z_e = quantized.encoder(x)  # the k-means initialisation ran in the loss call: same codes now
    flat = z_e.movedim(1, -1).reshape(-1, book.dim)
    k = ((flat[:, None] - book.codebook[None]) ** 2).sum(-1).argmin(1)
    e = book.codebook[k].reshape(6, 2, 2, -1).movedim(-1, 1)
    logits = g.edge_into("x", "generative").net(e)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
    commitment = (z_e - e).pow(2).flatten(1).sum(1).mean()
    assert "codebook" not in terms  # EMA codes: no codebook loss ([1] Appendix A.1)
    assert torch.allclose(terms["reconstruction"], rec, rtol=1e-4)
    assert torch.allclose(terms["loss"], rec + 0.25 * commitment, rtol=1e-4)


def test_vqvae_without_ema_has_the_codebook_term():
    model = _model("vqvae", ema=False)
    assert {"codebook", "commitment"} <= set(model.objective.keys)


def test_vqvae2_bottom_prior_reads_the_top_codes_and_the_ablation_does_not():
    model = _model("vqvae2")
    assert code_nodes(model) == ["c_top", "c_bottom"]
    top = torch.zeros(3, 1, 1, dtype=torch.long)
    bottom = torch.randint(0, 64, (3, 2, 2), generator=torch.Generator().manual_seed(2))
    a = model.log_p("c_bottom", {"c_top": top, "c_bottom": bottom})
    b = model.log_p("c_bottom", {"c_top": top + 5, "c_bottom": bottom})
    assert not torch.allclose(a, b)  # p(c_bottom | c_top)
    plain = _model("vqvae2", condition_bottom=False)
    assert plain.generative["c_bottom"].parents == ()
    # the autoencoder starts from the same weights with or without the condition
    shared = {k: v for k, v in plain.state_dict().items() if "prior" not in k}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in shared.items())


def test_dvae_kl_is_to_the_uniform_prior_with_cosine_schedules():
    model = _model("dvae", beta=2.0, beta_warmup=100, temperature_steps=200, min_temperature=0.1)
    g = model.graph
    x = _images()
    model.set_schedule_step(50)
    terms = model.loss({"x": x})
    logits = g.edge_into("z", "inference").net(x)  # (B, 2, 2, K)
    q = logits.softmax(-1)
    K = logits.shape[-1]
    kl = (q * (q.log() + math.log(K))).sum(-1).flatten(1).sum(1).mean()  # KL(q || uniform), per cell, summed
    assert torch.allclose(terms["kl"], kl, rtol=1e-4)
    beta_50 = 2.0 * (1 - math.cos(math.pi * 50 / 100)) / 2
    assert math.isclose(model.objective.term("kl").weight_at(50), beta_50)
    assert torch.allclose(terms["loss"], terms["reconstruction"] + beta_50 * kl, rtol=1e-4)
    gumbel = model.estimators["z"]
    for step, tau in ((0, 1.0), (100, 0.1 + 0.9 * 0.5), (200, 0.1), (10**5, 0.1)):
        model.set_schedule_step(step)
        assert math.isclose(gumbel.current_temperature(), tau, abs_tol=1e-12)


def test_dvae_evaluates_hard_codes_decoded_through_p():
    model = _model("dvae").eval()
    g = model.graph
    x = _images()
    codes = model.encode(model.read_values({"x": x}, ["x"]))["c"]
    logits = g.edge_into("z", "inference").net(x)
    assert torch.equal(codes, logits.argmax(-1))  # c = argmax of q's logits
    decoded = model.sample(6, given={"c": codes})["x"]
    expected = torch.sigmoid(g.edge_into("x", "generative").net(F.one_hot(codes, logits.shape[-1]).float()))
    assert torch.allclose(decoded, expected, atol=1e-6)


def test_code_statistics_against_hand_counts():
    codes = torch.tensor([[[0, 0], [1, 3]], [[0, 2], [1, 1]]])  # 8 cells of K = 5 codes: 0 x3, 1 x3, 2, 3
    p = torch.tensor([3, 3, 1, 1, 0]) / 8
    H = -sum(float(v) * math.log(float(v)) for v in p if v > 0)
    stats = usage(codes, 5)
    assert stats["codes_used"] == 4 / 5 and math.isclose(stats["perplexity"], math.exp(H), rel_tol=1e-9)
    assert math.isclose(entropy_bits(codes, 5), H / math.log(2), rel_tol=1e-9)
    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 0, 3] = 0.5  # the top-right 2x2 patch of image 0
    mask = nonblank(x, (2, 2))
    assert mask.tolist() == [[[False, True], [False, False]], [[False, False], [False, False]]]
    assert usage(codes, 5, mask)["codes_used"] == 1 / 5  # one cell, code 0
    drawn = independent_codes(codes.repeat(50, 1, 1), 5, 4000, torch.Generator().manual_seed(0))
    assert drawn.shape == (4000, 2, 2) and set(drawn[:, 1, 0].tolist()) == {1}  # cell (1, 0) is always code 1
    assert abs(float((drawn[:, 0, 1] == 0).double().mean()) - 0.5) < 0.05  # cell (0, 1): codes 0 and 2 alike


def test_prior_nll_bits_is_the_prior_networks_log_prob():
    model = _model("vqvae").eval()
    codes = torch.randint(0, 128, (5, 2, 2), generator=torch.Generator().manual_seed(3))
    net = model.graph.edge_into("c", "generative").net
    expected = float(-net.log_prob(codes).mean().detach()) / (4 * math.log(2))
    assert math.isclose(prior_nll_bits(model, {"c": codes}, "c", batch=2), expected, rel_tol=1e-5)


def test_code_metrics_decode_the_hard_codes():
    model = _model("vqvae").eval()
    g = model.graph
    x = _images(10)
    out = code_metrics(model, "x", {"x": x})
    quantized = g.edge_into("z_q", "inference").net
    recon = torch.sigmoid(g.edge_into("x", "generative").net(quantized(x).value))
    assert math.isclose(out["reconstruction_mse"], float((recon - x).pow(2).mean().detach()), rel_tol=1e-5)
    assert {"codes_used", "perplexity", "perplexity_nonblank", "prior_nll_bits", "unigram_entropy_bits"} <= set(out)
    relaxed = code_metrics(_model("dvae").eval(), "x", {"x": x})
    assert "reconstruction_mse_relaxed" in relaxed  # a Gumbel-softmax latent: both errors
    several = code_metrics(_model("vqvae2").eval(), "x", {"x": x})
    assert {"codes_used_c_top", "codes_used_c_bottom", "prior_nll_bits_c_bottom"} <= set(several)


@pytest.mark.parametrize("name", ["vqvae", "vqvae2", "dvae"])
def test_one_cli_command_trains_both_stages_and_writes_the_code_pictures(name, tmp_path):
    import json

    from unidgm.cli import main

    out = tmp_path / name
    assert main(["train", name, "--data", "digits", "--epochs", "2", "--batch-size", "256", "--out", str(out),
                 "--quiet", "--set", "hidden=(8,)", "--set", "prior_channels=8", "--set", "prior_layers=2"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(k.startswith("train/elbo/") for k in records[0]) and any(k.startswith("train/prior/")
                                                                         for k in records[-1])
    assert (out / "samples.png").exists() and (out / "code_usage.png").exists()
    assert (out / "resampled.png").exists() == (name == "vqvae2")
    assert main(["eval", str(out), "--samples", "200", "--limit", "200"]) == 0
    metrics = json.loads((out / "eval.json").read_text())
    assert {"reconstruction_mse", "reconstruction_accuracy", "fid", "fid_reconstruction", "fid_independent",
            "fid_uniform", "class_entropy"} <= set(metrics)


def test_the_monte_carlo_kl_to_the_standard_prior_is_log_q_minus_log_uniform():
    model = unidgm.compile(build("dvae", x_shape=X, hidden=(16,)), kl="mc")
    kl = model.objective.term("kl")
    entry = kl.plan[0]
    assert entry[3] is False  # Monte Carlo
    logits = torch.randn(5, 2, 2, 128, generator=torch.Generator().manual_seed(4))
    z = F.one_hot(torch.randint(0, 128, (5, 2, 2), generator=torch.Generator().manual_seed(5)), 128).float()
    got = kl.one(model, {"z": z}, {"z": (logits,)}, entry)
    expected = ((logits.log_softmax(-1) * z).sum(-1) + math.log(128)).flatten(1).sum(1)
    assert torch.allclose(got, expected, atol=1e-5)


def test_a_cosine_temperature_needs_its_floor_and_usage_is_logged():
    from unidgm.errors import GraphError
    from unidgm.inference.estimators import Gumbel

    with pytest.raises(GraphError, match="min_temperature"):
        Gumbel(schedule="cosine", min_temperature=None)
    terms = _model("vqvae").train().loss({"x": _images()})
    assert 0 < float(terms["codes_used"]) <= 1 and float(terms["perplexity"]) >= 1  # reported, weight 0
    assert torch.equal(terms["loss"], terms["reconstruction"] + 0.25 * terms["commitment"])


def test_three_downsamples_give_a_digit_a_4x4_grid_of_codes():
    for name in ("vqvae", "vqgan", "dvae"):
        model = unidgm.compile(build(name, x_shape=(1, 28, 28), hidden=(16,), downsamples=3, codebook_size=16,
                                     **({"perceptual_weight": 0.0} if name == "vqgan" else {})))
        assert model.graph.nodes["c"].shape == (4, 4), name
        x = torch.rand(2, 1, 28, 28).round()
        assert model.reconstruct({"x": x})["x"].shape == x.shape, name
