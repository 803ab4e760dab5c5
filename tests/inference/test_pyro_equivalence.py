"""DESIGN contract: the compiled objective and the Pyro model/guide are two views of one graph.

On the same draws (the same ``torch.manual_seed`` before each), the compiled loss with
``kl="mc"`` times the batch size equals ``Trace_ELBO``'s loss, and with the default analytic
KLs it equals ``TraceMeanField_ELBO``'s.
"""

import pyro
import pyro.optim
import pytest
import torch
import torch.distributions as td
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO, TraceMeanField_ELBO

import unidgm

from .graphs import B, X, Z, binary_batch, categorical_vae, cvae, hierarchical, labelled_batch, vae

RTOL = 1e-4


def learned_prior_vae():
    return vae(prior="learned")


# name -> (graph builder, batch builder, every latent reparameterized)
MODELS = {
    "vae": (vae, binary_batch, True),
    "hierarchical": (hierarchical, binary_batch, True),
    "cvae": (cvae, labelled_batch, True),
    "learned_prior": (learned_prior_vae, binary_batch, True),
    "categorical": (categorical_vae, binary_batch, False),
}


def compiled(name, **options):
    build, batch, _ = MODELS[name]
    model = unidgm.compile(build(), **options)
    with torch.no_grad():  # move learned priors off their zero initialisation
        for p in model.learned_priors.values():
            p.normal_(0, 0.5)
    return model, batch()


def compiled_loss(model, batch, seed):
    torch.manual_seed(seed)
    return model.loss(batch)["loss"] * B


def pyro_loss(elbo, model, batch, seed, validate=True):
    torch.manual_seed(seed)
    with pyro.validation_enabled(validate):
        return elbo.differentiable_loss(model.pyro_model, model.pyro_guide, batch)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [1, 2])
def test_mc_elbo_equals_trace_elbo(name, seed):
    model, batch = compiled(name, kl="mc")
    ours = compiled_loss(model, batch, seed)
    ref = pyro_loss(Trace_ELBO(), model, batch, seed)
    torch.testing.assert_close(ours, ref, rtol=RTOL, atol=0)
    # and the draws matter: another seed gives another value
    assert not torch.allclose(ours, compiled_loss(model, batch, seed + 10), rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", ["vae", "cvae", "learned_prior", "categorical"])
@pytest.mark.parametrize("seed", [1, 2])
def test_analytic_elbo_equals_trace_mean_field_elbo(name, seed):
    model, batch = compiled(name)
    ours = compiled_loss(model, batch, seed)
    # TraceMeanField_ELBO's validation refuses guides with non-reparameterized sites
    # (the categorical); the value it computes is still the analytic-KL ELBO.
    ref = pyro_loss(TraceMeanField_ELBO(), model, batch, seed, validate=MODELS[name][2])
    torch.testing.assert_close(ours, ref, rtol=RTOL, atol=0)
    mc, _ = compiled(name, kl="mc")
    mc.load_state_dict(model.state_dict())
    assert not torch.allclose(ours, compiled_loss(mc, batch, seed), rtol=RTOL, atol=0)


def selective_analytic_loss(model, batch, analytic, seed):
    """The negative ELBO from Pyro's own traces: analytic KL (torch's kl_divergence of the
    guide and model sites) for the latents in ``analytic``, log q - log p elsewhere."""
    torch.manual_seed(seed)
    guide = poutine.trace(model.pyro_guide).get_trace(batch)
    trace = poutine.trace(poutine.replay(model.pyro_model, trace=guide)).get_trace(batch)
    elbo = 0.0
    for name, site in trace.nodes.items():
        if site["type"] != "sample":
            continue
        if site["is_observed"]:
            elbo = elbo + site["fn"].log_prob(site["value"]).sum()
        elif name in analytic:
            elbo = elbo - td.kl_divergence(guide.nodes[name]["fn"], site["fn"]).sum()
        else:
            q = guide.nodes[name]
            elbo = elbo + site["fn"].log_prob(site["value"]).sum() - q["fn"].log_prob(q["value"]).sum()
    return -elbo


@pytest.mark.parametrize("seed", [1, 2])
def test_hierarchical_auto_kl_is_analytic_only_where_valid(seed):
    """q(z2|z1) samples z2 from z1, so KL(q(z1|x) || p(z1|z2)) in closed form would ignore
    z2's dependence on z1: the compiled ELBO uses Monte Carlo for z1 and the closed form for
    z2 (whose q-parent z1 and prior do not depend on it). TraceMeanField_ELBO assumes a
    mean-field guide and would use the closed form for z1 too, so the reference is built
    from Pyro's traces directly."""
    model, batch = compiled("hierarchical")
    ours = compiled_loss(model, batch, seed)
    ref = selective_analytic_loss(model, batch, {"z2"}, seed)
    torch.testing.assert_close(ours, ref, rtol=RTOL, atol=0)
    both = selective_analytic_loss(model, batch, {"z1", "z2"}, seed)
    assert not torch.allclose(ours, both, rtol=RTOL, atol=0)
    terms = model.loss(batch)
    assert set(terms) >= {"kl_z1", "kl_z2"}


def test_selective_reference_agrees_with_trace_elbo():
    """The reference above, with no analytic latent, is Trace_ELBO's loss."""
    model, batch = compiled("hierarchical")
    torch.testing.assert_close(selective_analytic_loss(model, batch, set(), 3),
                               pyro_loss(Trace_ELBO(), model, batch, 3), rtol=RTOL, atol=0)


def test_pyro_sites_are_named_after_nodes():
    model, batch = compiled("cvae")
    guide = poutine.trace(model.pyro_guide).get_trace(batch)
    trace = poutine.trace(poutine.replay(model.pyro_model, trace=guide)).get_trace(batch)
    # "data" is the plate's subsample site; the given label y has no site
    assert trace.stochastic_nodes == ["data", "z"] and trace.observation_nodes == ["x"]
    sites = trace.nodes
    assert sites["x"]["is_observed"] and torch.equal(sites["x"]["value"], batch["x"])
    assert not sites["z"]["is_observed"]
    assert sites["z"]["value"].shape == (B, Z)
    assert torch.equal(sites["z"]["value"], guide.nodes["z"]["value"])
    assert guide.stochastic_nodes == ["data", "z"]
    # the data plate holds every example
    assert trace.nodes["data"]["value"].shape == (B,)


def test_pyro_registers_every_parameter():
    model, batch = compiled("learned_prior")
    model.pyro_model(batch)
    store = pyro.get_param_store()
    assert len(list(store.keys())) == len(list(model.parameters()))
    ours = {id(p) for p in model.parameters()}
    assert {id(store[k].unconstrained()) for k in store.keys()} == ours


def toy_dataset(n=64):
    """Two binary prototypes with 5% of bits flipped: a VAE can learn them quickly."""
    g = torch.Generator().manual_seed(5)
    protos = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0, 1.0] * 6])
    x = protos[torch.arange(n) % 2]
    flip = torch.rand(x.shape, generator=g) < 0.05
    return {"x": torch.where(flip, 1 - x, x)}


def test_svi_trains_the_compiled_networks(one_thread):
    torch.manual_seed(0)
    model = unidgm.compile(vae())
    data = toy_dataset()

    def mean_loss(seed):
        torch.manual_seed(seed)
        with torch.no_grad():
            return sum(model.loss(data)["loss"].item() for _ in range(20)) / 20

    before = mean_loss(100)
    svi = SVI(model.pyro_model, model.pyro_guide, pyro.optim.Adam({"lr": 1e-2}), Trace_ELBO())
    losses = [svi.step(data) for _ in range(100)]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.8 * first, (first, last)
    # SVI updated the very networks the compiled objective runs
    after = mean_loss(100)
    assert after < 0.8 * before, (before, after)
    assert abs(after * len(data["x"]) - last) / last < 0.2


def test_render_model_draws_the_generative_process():
    model, batch = compiled("hierarchical")
    graph = pyro.render_model(model.pyro_model, model_args=(batch,))
    source = graph.source
    for node in ("x", "z1", "z2"):
        assert f"\t\t{node} [label={node}" in source
    assert "z2 -> z1" in source and "z1 -> x" in source
    assert "z2 -> x" not in source
    assert "cluster_data" in source
