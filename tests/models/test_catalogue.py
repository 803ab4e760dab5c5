"""Contracts every catalogue model keeps, as one parametrized suite (STYLE rule 12)."""
import math

import pyro
import pytest
import torch

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.models import build, catalogue, options

X_SHAPE = (1, 8, 8)


def _build(name, net="mlp"):
    opts = {"x_shape": X_SHAPE, "hidden": (32,)}
    if "net" in options(name):
        opts["net"] = net
    if "latent_dims" in options(name):
        opts["latent_dims"] = (6, 4)
    elif "latent_dim" in options(name):
        opts["latent_dim"] = 4
    torch.manual_seed(0)
    return build(name, **opts)


def _batch(n=6, graph=None):
    g = torch.Generator().manual_seed(0)
    batch = {"x": torch.bernoulli(torch.rand((n,) + X_SHAPE, generator=g)), "y": torch.randint(0, 10, (n,), generator=g),
             "x_target": torch.rand((n,) + X_SHAPE, generator=g),  # domain adaptation's second domain
             "t": torch.randint(0, 35, (n, 6), generator=g)}  # a caption of 6 tokens (dalle)
    if graph is not None and any(node.partially_observed for node in graph.nodes.values()):
        batch["y"][1::2] = -1  # a semi-supervised label: known for half the examples
    if graph is not None and "y" in graph.nodes and graph.nodes["y"].shape == X_SHAPE:
        batch["y"] = torch.rand((n,) + X_SHAPE, generator=g)  # a second view, an image (wyner)
    return batch


def test_catalogue_lists_the_first_entries():
    assert {"ae", "vae", "beta-vae", "iwae", "cvae", "hvae"} <= set(catalogue())  # issue 3's first entries


@pytest.mark.parametrize("name,net", [(n, net) for n in catalogue()
                                      for net in (("mlp", "conv") if "net" in options(n) else ("mlp",))])
def test_compiles_and_trains_a_step(name, net):
    model = unidgm.compile(_build(name, net))
    batch = _batch(graph=model.graph)
    terms = model.loss(batch)
    assert "loss" in terms and all(torch.isfinite(v) for v in terms.values())
    assert set(terms) == set(model.objective.keys)  # the keys, fixed when it compiled
    assert {t.name for t in model.formula().terms} <= set(terms)  # each piece of the formula is a computed key
    groups = model.parameter_groups()
    kinds = {"generative": "generative", "inference": "inference", "adversarial": "adversarial"}
    # a network that a phase names by its edge (a density prior's fit) is trained there, and a
    # broader phase need not reach it (the ELBO of deterministic codes has no KL for them)
    named = {g for phase in model.phases for g in phase.groups}
    for phase in model.phases:  # one step of each phase, as the Trainer takes them
        params = [p for g in phase.groups for p in groups[g]]
        nets = {e.key: e.net for e in model.graph.edges if (kinds[e.kind] in phase.groups and e.key not in named)
                or e.key in phase.groups}
        nets = {k: net for k, net in nets.items() if any(p.requires_grad for p in net.parameters())}
        before = {k: [p.detach().clone() for p in net.parameters()] for k, net in nets.items()}
        model.zero_grad(set_to_none=True)
        loss = model.loss(batch, phase=phase.name)[phase.loss] if len(model.phases) > 1 else terms[phase.loss]
        loss.backward()
        torch.optim.SGD(params, lr=1e-2).step()
        # Every network the phase updates moves (a WGAN critic's last bias rightly gets no
        # gradient, so the check is per network, not per tensor).
        still = [k for k, net in nets.items() if all(torch.equal(a, p) for a, p in zip(before[k], net.parameters()))]
        assert not still, f"phase {phase.name}: networks {still} received no gradient"
    # every trained parameter is in a group (a frozen judge, a perceptual term's classifier, in none)
    assert {p for g in groups.values() for p in g} == {p for p in model.parameters() if p.requires_grad}


ELBO_MODELS = [n for n in catalogue() if build(n).objective.get("name", "elbo") in ("elbo", "iwae")]


def test_every_family_is_in_the_catalogue():
    assert {"gan", "fgan", "wgan-gp", "infogan", "aae", "bigan", "aavae", "iwgan", "ada"} <= set(catalogue())
    assert set(ELBO_MODELS) == {"ae", "vae", "beta-vae", "iwae", "cvae", "hvae", "ssvae", "vqvae", "vqvae2", "dvae",
                                "dalle"}


@pytest.mark.parametrize("name", ELBO_MODELS)
def test_pyro_pair_gives_the_same_elbo(name):
    """DESIGN contract: the compiled ELBO and Pyro's Trace_ELBO on the generated
    model/guide agree on the same draws (the compiled loss averages over the batch, Pyro's
    sums). A partially observed label is summed over in both: TraceEnum_ELBO."""
    graph = _build(name)
    batch = _batch(graph=graph)
    model = unidgm.compile(graph, "elbo", kl="mc")
    if any(f.deterministic for f in model.inference):
        with pytest.raises(GraphError, match="prior|density network"):
            model.pyro_model(batch)  # an autoencoder has no generative process to score, nor Pyro a density net
        return
    pyro.clear_param_store()
    torch.manual_seed(3)
    terms = model.loss(batch)
    ours = -terms["elbo"] * batch["x"].shape[0]  # unweighted, whatever beta
    elbo = pyro.infer.Trace_ELBO()
    if model.partially_observed:  # the loss's classification term is an observed site of the model
        ours = terms["loss"] * batch["x"].shape[0]
        elbo = pyro.infer.TraceEnum_ELBO(max_plate_nesting=1)
    torch.manual_seed(3)
    theirs = elbo.differentiable_loss(model.pyro_model, model.pyro_guide, batch)
    assert torch.allclose(ours, theirs, rtol=1e-5), (ours.item(), theirs.item())


@pytest.mark.parametrize("name", catalogue())
def test_state_dict_round_trip(name):
    a = unidgm.compile(_build(name))
    b = unidgm.compile(_build(name))
    for p in b.parameters():
        torch.nn.init.zeros_(p)
    b.load_state_dict(a.state_dict())
    batch = _batch(graph=a.graph)
    torch.manual_seed(1)
    la = a.loss(batch)["loss"]
    torch.manual_seed(1)
    assert torch.equal(la, b.loss(batch)["loss"])


def test_unknown_model_and_option_say_the_fix():
    with pytest.raises(ConfigError, match="unknown model 'vea'.*vae"):
        build("vea")
    with pytest.raises(ConfigError, match="no option latent.*latent_dim"):
        build("vae", latent=3)


def test_defaults_are_the_papers():
    g = build("vae")
    assert g.nodes["x"].shape == (1, 28, 28) and g.nodes["z"].shape == (20,)
    net = g.edge_into("x", "generative").net
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [400, 784]
    assert build("beta-vae").objective == {"name": "elbo", "kl_weight": 4.0, "warmup": 0}
    assert build("iwae").objective["k"] == 5
    assert math.isclose(unidgm.compile(build("beta-vae")).objective.kl_weight, 4.0)
    m2 = build("ssvae")  # Kingma et al. 2014: 500 hidden units, a 50-dimensional z, alpha = 0.1 N / N_l
    assert m2.nodes["y"].partially_observed and m2.nodes["z"].shape == (50,)
    q_y = m2.edge_into("y", "inference").net  # two normalised hidden layers (README: 10.8% against ~13% for one)
    assert [m.out_features for m in q_y if isinstance(m, torch.nn.Linear)] == [500, 500, 10]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in q_y) == 2
    paper = build("ssvae", hidden=(500,), batch_norm=False).edge_into("y", "inference").net
    assert [m.out_features for m in paper if isinstance(m, torch.nn.Linear)] == [500, 10]
    assert m2.objective == {"name": "elbo", "classification_weight": 50.0}
