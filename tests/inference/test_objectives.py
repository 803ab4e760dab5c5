"""The compiled ELBO and IWAE against closed forms, and the compiled model's other views."""

import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.inference import ELBO, IWAE

from .graphs import (B, C, X, Z, DictConcat, autoencoder, binary_batch, categorical_vae, cvae, hierarchical,
                     labelled_batch, vae)

# ---------------------------------------------------------------- a linear-Gaussian model
# z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_3). W's columns are orthogonal, so the exact
# posterior N(mu(x), Sigma) has a diagonal Sigma = (I + W^T W / s^2)^-1 and a q(z|x) with
# a diagonal Gaussian family can equal it: mu(x) = A (x - b), A = Sigma W^T / s^2.
W = torch.tensor([[0.8, 0.5], [0.8, -0.5], [0.0, 0.5]])
BIAS = torch.tensor([0.5, -1.0, 0.2])
SIGMA = 0.7
DX, DZ = 3, 2


def posterior():
    cov = torch.linalg.inv(torch.eye(DZ) + W.T @ W / SIGMA**2)
    assert torch.allclose(cov, torch.diag(torch.diagonal(cov)))
    return cov @ W.T / SIGMA**2, torch.diagonal(cov)


def linear_gaussian(loc_shift=0.0, log_scale_shift=0.0, **options):
    """The model with q(z|x) the exact posterior (or shifted away from it)."""
    g = unidgm.Graph("linear_gaussian")
    g.visible("x", "normal", shape=(DX,))
    g.latent("z", "normal", shape=(DZ,), prior="standard")
    dec, enc = nn.Linear(DZ, 2 * DX), nn.Linear(DX, 2 * DZ)
    a, var = posterior()
    with torch.no_grad():
        dec.weight.zero_()
        dec.weight[:DX] = W
        dec.bias[:DX] = BIAS
        dec.bias[DX:] = math.log(SIGMA)
        enc.weight.zero_()
        enc.weight[:DZ] = a
        enc.bias[:DZ] = -a @ BIAS + loc_shift
        enc.bias[DZ:] = 0.5 * var.log() + log_scale_shift
    g.generative("z", "x", dec)
    g.inference("x", "z", enc)
    return g


def log_marginal(x):
    """log p(x) = log N(x; b, W W^T + s^2 I)."""
    cov = W @ W.T + SIGMA**2 * torch.eye(DX)
    return torch.distributions.MultivariateNormal(BIAS, cov).log_prob(x)


def gaussian_data(n, seed=3):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, DZ, generator=g)
    return {"x": z @ W.T + BIAS + SIGMA * torch.randn(n, DX, generator=g)}


def test_elbo_is_log_marginal_with_exact_posterior():
    batch = gaussian_data(16)
    logpx = log_marginal(batch["x"])
    model = unidgm.compile(linear_gaussian(), kl="mc")
    for seed in range(3):  # log p(x, z) - log q(z|x) = log p(x) for every draw
        torch.manual_seed(seed)
        terms = model.loss(batch)
        torch.testing.assert_close(terms["elbo"], logpx.mean(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(terms["loss"], -logpx.mean(), rtol=1e-5, atol=1e-5)
    # per example: the importance weights are all exactly log p(x)
    logw = model.log_weights(batch, 4)
    torch.testing.assert_close(logw, logpx.expand(4, -1), rtol=1e-5, atol=1e-5)


def test_analytic_elbo_with_exact_posterior_is_log_marginal_on_average():
    batch = gaussian_data(4)
    many = {"x": batch["x"].repeat(5000, 1)}
    model = unidgm.compile(linear_gaussian())  # analytic KL: only the reconstruction is sampled
    terms = model.loss(many)
    torch.testing.assert_close(terms["elbo"], log_marginal(batch["x"]).mean(), rtol=0, atol=0.02)
    # the KL is exactly KL(N(mu, Sigma) || N(0, I)) for each example
    a, var = posterior()
    mu = (batch["x"] - BIAS) @ a.T
    kl = 0.5 * (mu.pow(2).sum(-1) + var.sum() - DZ - var.log().sum())
    torch.testing.assert_close(model.loss(batch)["kl"], kl.mean(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 7, 50])
def test_iwae_is_log_marginal_with_exact_posterior(k):
    batch = gaussian_data(16)
    model = unidgm.compile(linear_gaussian(), "iwae", k=k)
    terms = model.loss(batch)
    torch.testing.assert_close(terms["iwae"], log_marginal(batch["x"]).mean(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(terms["loss"], -terms["iwae"])
    torch.testing.assert_close(terms["elbo"], terms["iwae"], rtol=1e-5, atol=1e-5)


def test_iwae_increases_with_k_below_log_marginal():
    batch = gaussian_data(200)
    logpx = log_marginal(batch["x"]).mean().item()
    g = linear_gaussian(loc_shift=0.8, log_scale_shift=-0.4)
    bounds = {}
    for k in (1, 10, 100):
        model = unidgm.compile(g, "iwae", k=k)
        torch.manual_seed(k)
        bounds[k] = sum(model.loss(batch)["iwae"].item() for _ in range(5)) / 5
    assert bounds[1] + 0.3 < bounds[10] < bounds[100] < logpx, (bounds, logpx)
    assert logpx - bounds[100] < 0.75 * (logpx - bounds[10]), (bounds, logpx)  # the gap closes
    # k = 1 is the ELBO
    elbo = unidgm.compile(g, kl="mc")
    torch.manual_seed(0)
    e = sum(elbo.loss(batch)["elbo"].item() for _ in range(5)) / 5
    assert abs(e - bounds[1]) < 0.1


def test_iwae_k1_equals_mc_elbo_on_the_same_draws():
    g = vae()
    batch = binary_batch()
    iwae, elbo = unidgm.compile(g, "iwae", k=1), unidgm.compile(g, kl="mc")
    torch.manual_seed(4)
    a = iwae.loss(batch)["loss"]
    torch.manual_seed(4)
    b = elbo.loss(batch)["loss"]
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_iwae_loss_from_log_weights():
    model = unidgm.compile(vae(), "iwae", k=5)
    batch = binary_batch()
    torch.manual_seed(5)
    logw = model.log_weights(batch, 5)
    torch.manual_seed(5)
    terms = model.loss(batch)
    assert logw.shape == (5, B)
    bound = torch.logsumexp(logw, 0) - math.log(5)
    torch.testing.assert_close(terms["loss"], -bound.mean())
    torch.testing.assert_close(terms["elbo"], logw.mean())
    assert terms["iwae"] >= terms["elbo"]  # Jensen, per draw


# ---------------------------------------------------------------- the ELBO by hand
def test_elbo_matches_a_hand_written_vae():
    g = vae()
    dec, enc = g.edges[0].net, g.edges[1].net
    model = unidgm.compile(g)
    x = binary_batch()["x"]
    torch.manual_seed(6)
    terms = model.loss({"x": x})
    torch.manual_seed(6)
    loc, log_scale = enc(x).chunk(2, -1)
    z = loc + log_scale.exp() * torch.randn_like(loc)
    rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(-1)
    kl = 0.5 * (loc**2 + (2 * log_scale).exp() - 1 - 2 * log_scale).sum(-1)
    torch.testing.assert_close(terms["reconstruction"], rec.mean())
    torch.testing.assert_close(terms["kl"], kl.mean())
    torch.testing.assert_close(terms["loss"], (rec + kl).mean())
    torch.testing.assert_close(terms["elbo"], -(rec + kl).mean())


@pytest.mark.parametrize("build", [vae, categorical_vae, hierarchical], ids=lambda b: b.__name__)
def test_analytic_and_mc_kl_agree_in_expectation(build):
    g = build()
    analytic, mc = unidgm.compile(g), unidgm.compile(g, kl="mc")
    x = binary_batch(3)["x"]
    many = {"x": x.repeat(4000, 1)}
    torch.manual_seed(7)
    a = analytic.loss(many)
    m = mc.loss(many)
    torch.testing.assert_close(m["kl"], a["kl"], rtol=0, atol=0.03 * max(1.0, a["kl"].item()))
    torch.testing.assert_close(m["reconstruction"], a["reconstruction"], rtol=0.01, atol=0)
    if build is vae:  # the sampled estimate does vary
        assert mc.loss({"x": x})["kl"] != mc.loss({"x": x})["kl"]


def test_kl_warmup_and_weight():
    g = vae()
    batch = binary_batch()
    model = unidgm.compile(g, kl_weight=2.0, warmup=10)

    def terms_at(step):
        model.set_schedule_step(step)
        assert model.objective.step == step
        torch.manual_seed(8)
        return model.loss(batch)

    t0, t5, t10, t50 = terms_at(0), terms_at(5), terms_at(10), terms_at(50)
    rec, kl = t0["reconstruction"], t0["kl"]
    assert kl > 0.01
    torch.testing.assert_close(t0["loss"], rec)
    torch.testing.assert_close(t5["loss"], rec + 1.0 * kl)
    torch.testing.assert_close(t10["loss"], rec + 2.0 * kl)
    torch.testing.assert_close(t50["loss"], rec + 2.0 * kl)
    for t in (t0, t5, t10, t50):  # the reported bound is unweighted
        torch.testing.assert_close(t["elbo"], -(rec + kl))
    assert model.objective.weight() == 2.0

    for beta in (0.0, 0.5, 3.0):
        m = unidgm.compile(g, kl_weight=beta)
        torch.manual_seed(8)
        t = m.loss(batch)
        torch.testing.assert_close(t["loss"], rec + beta * kl)
    assert repr(unidgm.compile(g, kl_weight=2.0, warmup=10).objective) == "elbo(kl=auto, kl_weight=2.0, warmup=10)"


def test_autoencoder_loss_is_reconstruction():
    g = autoencoder()
    dec, enc = g.edges[0].net, g.edges[1].net
    model = unidgm.compile(g)
    x = binary_batch()["x"]
    terms = model.loss({"x": x})
    assert terms["kl"].item() == 0.0
    torch.testing.assert_close(terms["loss"], terms["reconstruction"])
    ref = F.binary_cross_entropy_with_logits(dec(enc(x)), x, reduction="none").sum(-1).mean()
    torch.testing.assert_close(terms["loss"], ref)
    assert torch.equal(model.loss({"x": x})["loss"], terms["loss"])  # nothing is sampled
    torch.testing.assert_close(model.reconstruct({"x": x})["x"], torch.sigmoid(dec(enc(x))))


# ---------------------------------------------------------------- terms, groups, gradients
def two_view_vae():
    from unidgm.nets import MLP

    g = unidgm.Graph("two_views")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("v", "normal", shape=(2,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [8], X))
    g.generative("z", "v", MLP(Z, [8], 4))
    g.inference(["x", "v"], "z", MLP(X + 2, [8], 2 * Z))
    return g


def test_terms_keys_are_stable():
    base = {"loss", "reconstruction", "kl", "elbo"}
    batch = binary_batch()
    for options in ({}, {"kl": "mc"}, {"kl_weight": 0.0}, {"kl_weight": 4.0, "warmup": 3}):
        terms = unidgm.compile(vae(), **options).loss(batch)
        assert set(terms) == base
        assert all(t.shape == () for t in terms.values())
        assert terms["loss"].requires_grad and not terms["elbo"].requires_grad
    assert set(unidgm.compile(autoencoder()).loss(batch)) == base
    assert set(unidgm.compile(hierarchical()).loss(batch)) == base | {"kl_z1", "kl_z2"}
    two = {**batch, "v": torch.randn(B, 2)}
    terms = unidgm.compile(two_view_vae()).loss(two)
    assert set(terms) == base | {"reconstruction_x", "reconstruction_v"}
    torch.testing.assert_close(terms["reconstruction"], terms["reconstruction_x"] + terms["reconstruction_v"])
    assert set(unidgm.compile(vae(), "iwae", k=3).loss(batch)) == {"loss", "iwae", "elbo"}


def test_parameter_groups_partition_and_gradients_reach_them():
    g = vae(prior="learned")
    model = unidgm.compile(g)
    groups = model.parameter_groups()
    assert {"generative", "inference", "adversarial"} <= set(groups)
    assert groups["adversarial"] == []
    # the finer groups: by process and by edge, subsets of the kinds
    assert set(groups) - {"generative", "inference", "adversarial"} == {"p", "q", "generative_x", "inference_z",
                                                                        "prior_z"}
    assert groups["p"] == groups["generative"] and {id(p) for p in groups["q"]} == {id(p) for p in groups["inference"]}
    assert groups["prior_z"] == [model.learned_priors["z"]]
    groups = {k: groups[k] for k in ("generative", "inference", "adversarial")}
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids))  # disjoint
    assert set(ids) == {id(p) for p in model.parameters()}  # and covering
    assert id(model.learned_priors["z"]) in {id(p) for p in groups["generative"]}
    assert {id(p) for p in g.edges[1].net.parameters()} == {id(p) for p in groups["inference"]}

    model.loss(binary_batch())["loss"].backward()
    for name, ps in groups.items():
        for p in ps:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("objective", ["elbo", "iwae"])
def test_gradients_reach_every_network_of_a_hierarchical_model(objective):
    model = unidgm.compile(hierarchical(), objective)
    model.loss(binary_batch())["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_phases_name_parameter_groups():
    for objective in ("elbo", "iwae"):
        model = unidgm.compile(vae(), objective)
        assert len(model.phases) == 1
        phase = model.phases[0]
        assert phase.name == objective and phase.groups == ("generative", "inference") and phase.loss == "loss"
        assert set(phase.groups) <= set(model.parameter_groups())


# ---------------------------------------------------------------- particles and parents
def shared_cvaes():
    """The same networks wired with combine="concat" and with combine="dict"."""
    gen, inf = nn.Linear(Z + C, X), nn.Linear(X + C, 2 * Z)
    concat = cvae("concat", gen, inf)
    as_dict = cvae("dict", DictConcat(["z", "y"], gen), DictConcat(["x", "y"], inf))
    return unidgm.compile(concat, "iwae", k=4), unidgm.compile(as_dict, "iwae", k=4)


def test_iwae_particles_with_multi_parent_concat_and_dict():
    concat, as_dict = shared_cvaes()
    batch = labelled_batch()
    torch.manual_seed(9)
    a = concat.log_weights(batch, 4)
    torch.manual_seed(9)
    b = as_dict.log_weights(batch, 4)
    assert a.shape == b.shape == (4, B)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[0], a[1])  # particles are different draws
    torch.manual_seed(9)
    la = concat.loss(batch)
    torch.manual_seed(9)
    lb = as_dict.loss(batch)
    torch.testing.assert_close(la["loss"], lb["loss"])
    assert torch.isfinite(la["loss"])
    la["loss"].backward()
    assert all(p.grad is not None for p in concat.parameters())


def test_log_weights_particle_by_hand():
    """One particle of the CVAE's weights, recomputed from the networks."""
    gen, inf = nn.Linear(Z + C, X), nn.Linear(X + C, 2 * Z)
    model = unidgm.compile(cvae("concat", gen, inf), "iwae", k=3)
    batch = labelled_batch()
    torch.manual_seed(10)
    logw = model.log_weights(batch, 3)
    torch.manual_seed(10)
    y = F.one_hot(batch["y"], C).float()
    loc, log_scale = inf(torch.cat([batch["x"], y], -1)).chunk(2, -1)
    z = loc + log_scale.exp() * torch.randn((3,) + loc.shape)  # (k, B, Z)
    q = torch.distributions.Independent(torch.distributions.Normal(loc, log_scale.exp()), 1)
    p = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(Z), torch.ones(Z)), 1)
    logits = gen(torch.cat([z, y.expand(3, -1, -1)], -1))
    lik = torch.distributions.Independent(torch.distributions.Bernoulli(logits=logits), 1)
    ref = lik.log_prob(batch["x"]) + p.log_prob(z) - q.log_prob(z)
    torch.testing.assert_close(logw, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build", [vae, hierarchical, categorical_vae], ids=lambda b: b.__name__)
def test_log_weights_shape(build):
    model = unidgm.compile(build())
    for k in (1, 5):
        logw = model.log_weights(binary_batch(), k)
        assert logw.shape == (k, B) and torch.isfinite(logw).all()


def test_bernoulli_latent_with_monte_carlo_kl_and_iwae():
    """A Bernoulli latent scored under its standard prior (parameters without a batch dim)."""
    from unidgm.nets import MLP

    g = unidgm.Graph("sbn")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("h", "bernoulli", shape=(Z,), prior="standard")
    g.generative("h", "x", MLP(Z, [8], X))
    g.inference("x", "h", MLP(X, [8], Z))
    batch = binary_batch(3)
    many = {"x": batch["x"].repeat(4000, 1)}
    analytic, mc = unidgm.compile(g), unidgm.compile(g, kl="mc")
    torch.manual_seed(11)
    torch.testing.assert_close(mc.loss(many)["kl"], analytic.loss(many)["kl"], rtol=0.03, atol=0)
    logw = unidgm.compile(g, "iwae", k=4).log_weights(batch, 4)
    assert logw.shape == (4, 3) and torch.isfinite(logw).all()


# ---------------------------------------------------------------- sample, reconstruct, state
def test_sample_shapes():
    model = unidgm.compile(vae())
    torch.manual_seed(12)
    s = model.sample(5)
    assert set(s) == {"z", "x"}
    assert s["z"].shape == (5, Z) and s["x"].shape == (5, X)
    assert ((s["x"] > 0) & (s["x"] < 1)).all()  # means of the Bernoulli likelihood
    torch.manual_seed(12)
    draws = model.sample(5, mean=False)
    assert set(draws["x"].unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(draws["z"], s["z"])  # same seed, same prior draws
    h = unidgm.compile(hierarchical()).sample(4)
    assert {k: tuple(v.shape) for k, v in h.items()} == {"z2": (4, 2), "z1": (4, Z), "x": (4, X)}


def test_sample_given_labels_for_the_cvae():
    model = unidgm.compile(cvae())
    labels = torch.tensor([0, 1, 2, 3, 1])
    torch.manual_seed(13)
    s = model.sample(5, given={"y": labels})
    assert set(s) == {"x", "y", "z"}
    assert s["x"].shape == (5, X) and s["z"].shape == (5, Z)
    assert torch.equal(s["y"], F.one_hot(labels, C).float())
    torch.manual_seed(13)
    other = model.sample(5, given={"y": (labels + 1) % C})
    torch.testing.assert_close(other["z"], s["z"])
    assert not torch.allclose(other["x"], s["x"])  # the label steers the decoder
    gen = model.generative["x"].net
    torch.testing.assert_close(s["x"], torch.sigmoid(gen(torch.cat([s["z"], s["y"]], -1))))


def test_reconstruct_shapes():
    model = unidgm.compile(vae())
    batch = binary_batch()
    r = model.reconstruct(batch)
    assert set(r) == {"x"} and r["x"].shape == (B, X)
    assert torch.equal(model.reconstruct(batch)["x"], r["x"])  # q's mean: deterministic
    assert not torch.equal(model.reconstruct(batch, mean=False)["x"], r["x"])
    rc = unidgm.compile(cvae()).reconstruct(labelled_batch())
    assert set(rc) == {"x"} and rc["x"].shape == (B, X)
    assert unidgm.compile(hierarchical()).reconstruct(batch)["x"].shape == (B, X)


def test_state_dict_round_trip():
    a = unidgm.compile(vae(prior="learned"))
    with torch.no_grad():
        a.learned_priors["z"].normal_()
    state = a.state_dict()
    assert "learned_priors.z" in state
    assert not any(k.startswith("_prior") for k in state)  # fixed priors are not state
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    torch.manual_seed(1)
    b = unidgm.compile(vae(prior="learned"))  # fresh networks, another init
    batch = binary_batch()
    torch.manual_seed(14)
    la = a.loss(batch)["loss"]
    torch.manual_seed(14)
    lb_before = b.loss(batch)["loss"]
    assert not torch.allclose(la, lb_before)
    b.load_state_dict(loaded)
    torch.manual_seed(14)
    torch.testing.assert_close(b.loss(batch)["loss"], la)


def test_objective_classes_are_exported():
    assert isinstance(unidgm.compile(vae()).objective, ELBO)
    assert isinstance(unidgm.compile(vae(), "iwae").objective, IWAE)
    assert unidgm.compile(vae(), "iwae").objective.k == 5  # Burda et al.'s default
