"""Hu et al.'s observations as graph transforms (issue 5): each turns one model into the
catalogue's other, edge kind for edge kind, and the result validates, compiles and trains."""
import networkx as nx
import pytest
import torch
from networkx.algorithms.isomorphism import categorical_multiedge_match, categorical_node_match

import unidgm
from unidgm import ConfigError, GraphError
from unidgm.graph import Node
from unidgm.transforms import activate_adversary, importance_weight, swap_processes, swap_roles
from unidgm.models import build
from unidgm.models.parts import encoder
from unidgm.nets import MLP

X_SHAPE = (1, 8, 8)
SMALL = {"x_shape": X_SHAPE, "hidden": (32,)}


def _build(name, **opts):
    return build(name, **{**SMALL, **opts})


def hu_infogan(**opts):
    """InfoGAN as Hu et al. draw it: a GAN whose whole code z is inferred back, q(z|x)."""
    g = _build("gan", latent_dim=4, **opts)
    g.inference("x", "z", encoder(X_SHAPE, 8, "mlp", (32,)))
    return g


def structure(g: unidgm.Graph) -> nx.MultiDiGraph:
    """The schematic graph as plain data: node roles, arcs with kind and deterministic flag."""
    s = nx.MultiDiGraph()
    s.add_nodes_from((n, {"role": node.role}) for n, node in g.nodes.items())
    for e in g.edges:
        for p in e.parents:
            s.add_edge(p, e.child, kind=e.kind, deterministic=e.deterministic)
    return s


def isomorphic(a: unidgm.Graph, b: unidgm.Graph, deterministic=True) -> bool:
    attrs = ["kind", "deterministic"] if deterministic else ["kind"]
    return nx.is_isomorphic(structure(a), structure(b), node_match=categorical_node_match("role", None),
                            edge_match=categorical_multiedge_match(attrs, [None] * len(attrs)))


def declaration(g: unidgm.Graph):
    """Everything a graph declares, as plain data: its name, its nodes (role, family,
    shape, prior, given, options), each edge's kind, parents, child, deterministic flag,
    how parents combine, the processes an adversary compares and their inputs, and the
    objective with its options. Networks are left out (their identity is checked apart)."""
    edges = {e.key: (e.kind, e.parents, e.child, e.deterministic, e.combine, e.real, e.fake, e.real_inputs,
                     e.fake_inputs) for e in g.edges}
    return g.name, dict(g.nodes), edges, dict(g.objective)


def snapshot(g: unidgm.Graph):
    return (g.name, repr(g), dict(g.nodes), [(e, e.net) for e in g.edges], dict(g.objective))


def _batch(n=8):
    gen = torch.Generator().manual_seed(0)
    return {"x": torch.bernoulli(torch.rand((n,) + X_SHAPE, generator=gen))}


# ---------------------------------------------------------------------- swap_processes
def test_swap_processes_turns_infogan_into_a_vae():
    source = hu_infogan()
    q = source.edge_into("z", "inference").net
    g = swap_processes(source)
    assert isomorphic(g, _build("vae"))
    assert g.objective == {"name": "elbo"}  # the degenerate adversary is dropped with its edge
    assert g.nodes["z"].prior == "standard" and g.nodes["x"].role == "visible"
    assert g.edge_into("z", "inference").net is q  # the same conditional q(z|x) keeps its network
    assert not g.edge_into("x", "generative").deterministic  # an explicit likelihood for the ELBO


def test_swap_processes_keeping_the_adversary_gives_the_aavae_graph():
    """Hu et al. (2018), Fig. 1(d)-(e) and Sec. 4.2: InfoGAN with generation and inference
    swapped, its adversary on x kept: p(x|z) and q(z|x) as explicit distributions, the
    prior on z, the discriminator q(y|x) telling data from generation, InfoGAN's game."""
    source = hu_infogan()
    g = swap_processes(source, keep_adversary=True)
    expected = unidgm.Graph("gan-swapped")  # declared by hand, the AAVAE's graph on InfoGAN's nodes
    expected.visible("x", "normal", shape=X_SHAPE)
    expected.latent("z", "normal", shape=(4,), prior="standard")
    expected.inference("x", "z", MLP(64, [32], 8))           # q(z|x): was the generator x = G(z)
    expected.generative("z", "x", MLP(4, [32], 2 * 64))      # p(x|z): was the code network q(z|x)
    expected.adversarial("x", MLP(64, [32], 1))               # q(y|x), kept
    expected.set_objective("adversarial", divergence="ns-gan", d_steps=1)  # the GAN's game, options and all
    assert declaration(g) == declaration(expected)
    adversary = g.edges_of("adversarial")[0]
    assert (adversary.parents, adversary.child, adversary.real, adversary.fake) == (("x",), "y_x", "data", "generative")
    assert not g.edge_into("x", "generative").deterministic and not g.edge_into("z", "inference").deterministic
    assert adversary.net is source.edge_into("y_x", "adversarial").net
    assert g.edge_into("z", "inference").net is source.edge_into("z", "inference").net  # the same q(z|x)


def test_swap_processes_keeping_deterministic_flags_gives_an_autoencoder():
    g = swap_processes(hu_infogan(), keep_deterministic=True)
    assert g.edge_into("z", "inference").deterministic and not g.edge_into("x", "generative").deterministic


@pytest.mark.parametrize("name", ["vae", "cvae", "hvae", "bigan"])
def test_swap_processes_maps_the_vae_family_to_itself(name):
    """Models with a process each way keep their shape; BiGAN's two deterministic maps swap
    to a VAE's two explicit distributions."""
    g = swap_processes(_build(name))
    assert isomorphic(g, _build("vae" if name == "bigan" else name))
    if name == "vae":
        source = _build("vae")
        assert [e.net for e in swap_processes(source).edges] == [e.net for e in reversed(source.edges)]


def test_swap_processes_of_the_catalogue_infogan_infers_every_code():
    """The catalogue's InfoGAN never infers its noise z, so after the swap z generates
    nothing (q(z|x) is pulled to the prior): the codes c and s explain x."""
    g = swap_processes(_build("infogan"))
    assert g.edge_into("x", "generative").parents == ("c", "s")
    assert {e.child for e in g.edges_of("inference")} == {"z", "c", "s"}
    assert all(g.nodes[n].prior == "standard" for n in ("z", "c", "s"))
    unidgm.compile(g)


def test_swap_processes_uses_the_networks_it_is_given():
    decoder = MLP(4, [16], 2 * 64)
    g = swap_processes(hu_infogan(), nets={"generative_x": decoder})
    assert g.edge_into("x", "generative").net is decoder


# ---------------------------------------------------------------------- swap_roles
def test_swap_roles_of_x_and_z_turns_infogan_into_an_aae():
    source = hu_infogan()
    g = swap_roles(source, "x", "z")
    assert isomorphic(g, _build("aae"))
    adversary = g.edges_of("adversarial")[0]
    assert adversary.parents == ("z",) and (adversary.real, adversary.fake) == ("generative", "inference")
    assert g.edge_into("z", "inference").deterministic  # the generator x = G(z) became the encoder z = E(x)
    assert g.nodes["x"] == source.nodes["x"] and g.nodes["z"] == source.nodes["z"]  # declarations stay
    assert g.objective == source.objective


def test_swap_roles_reuses_the_generator_as_the_encoder_when_sizes_match():
    g = build("gan", x_shape=(2,), latent_dim=2, hidden=(8,))
    g.inference("x", "z", MLP(2, [8], 4))
    generator = g.edge_into("x", "generative").net
    decoder = MLP(2, [8], 4)
    aae = swap_roles(g, "x", "z", nets={"generative_x": decoder})
    assert aae.edge_into("z", "inference").net is generator
    assert aae.edge_into("x", "generative").net is decoder


def test_swap_roles_twice_gives_the_source_back():
    source = hu_infogan()
    back = swap_roles(swap_roles(source, "x", "z"), "x", "z")
    assert isomorphic(back, source) and back.edges_of("adversarial")[0].parents == ("x",)


# ---------------------------------------------------------------------- activate_adversary, importance_weight
def _hand_aavae(name, latent_dim, adversarial_weight):
    """The adversary-activated VAE (Hu et al. 2018, Sec. 4.2) declared by hand: the VAE's
    p(x|z), q(z|x) and prior, plus a discriminator q(y|x) on x telling data (y = 1) from
    generation, trained with the adversarial objective."""
    g = unidgm.Graph(name)
    g.visible("x", "bernoulli", shape=X_SHAPE)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", MLP(latent_dim, [32], 64))
    g.inference("x", "z", MLP(64, [32], 2 * latent_dim))
    g.adversarial("x", MLP(64, [32], 1), real="data", fake="generative")
    return g.set_objective("adversarial", adversarial_weight=adversarial_weight)


def _hand_iwgan(name, latent_dim, k):
    """The importance-weighted GAN (Hu et al. 2018, Sec. 4.1) declared by hand: the GAN's
    implicit generator x = G(z) and discriminator on x, the non-saturating game with the
    generator's loss importance-weighted in groups of k samples."""
    g = unidgm.Graph(name)
    g.visible("x", "normal", shape=X_SHAPE)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", MLP(latent_dim, [32], 64), deterministic=True)
    g.adversarial("x", MLP(64, [32], 1), real="data", fake="generative")
    return g.set_objective("adversarial", divergence="ns-gan", d_steps=1, importance_weights=k)


def test_activate_adversary_turns_the_vae_into_the_aavae():
    source = _build("vae", latent_dim=4)
    g = activate_adversary(source, "x", adversarial_weight=0.5)
    assert declaration(g) == declaration(_hand_aavae("vae-adversarial", 4, 0.5))
    adversary = g.edges_of("adversarial")[0]
    assert (adversary.parents, adversary.child, adversary.real, adversary.fake) == (("x",), "y_x", "data", "generative")
    assert g.nodes["y_x"] == Node("y_x", "indicator", "bernoulli", (1,))
    assert g.edge_into("x", "generative").net is source.edge_into("x", "generative").net  # the VAE's networks
    assert g.edge_into("z", "inference").net is source.edge_into("z", "inference").net
    assert all(adversary.net is not e.net for e in source.edges)


def test_the_catalogues_aavae_and_iwgan_are_the_papers_graphs():
    """``build("aavae")`` and ``build("iwgan")`` against graphs declared by hand (Hu et al.
    2018, Sec. 4.1-4.2), not against the transforms they are built with."""
    assert declaration(_build("aavae", latent_dim=4)) == declaration(_hand_aavae("aavae", 4, 1.0))
    assert declaration(_build("iwgan", latent_dim=4, k=3)) == declaration(_hand_iwgan("iwgan", 4, 3))


def test_activate_adversary_keeps_a_beta_vae_beta_weighted():
    g = activate_adversary(_build("beta-vae", beta=4.0, warmup=10), "x")
    assert g.objective == {"name": "adversarial", "kl_weight": 4.0}


def test_importance_weight_turns_the_gan_into_the_iwgan():
    source = _build("gan", latent_dim=4)
    g = importance_weight(source, 4)
    assert declaration(g) == declaration(_hand_iwgan("gan-iw4", 4, 4))
    assert all(a.net is b.net for a, b in zip(g.edges, source.edges)) and len(g.edges) == len(source.edges)
    assert build("iwgan").name == "iwgan"


# ---------------------------------------------------------------------- every transform's result
TRANSFORMS = {
    "swap_processes(infogan)": lambda: swap_processes(hu_infogan()),
    "swap_processes(infogan, keep_adversary)": lambda: swap_processes(hu_infogan(), keep_adversary=True),
    "swap_processes(catalogue infogan)": lambda: swap_processes(_build("infogan")),
    "swap_roles(infogan, x, z)": lambda: swap_roles(hu_infogan(), "x", "z"),
    "activate_adversary(vae)": lambda: activate_adversary(_build("vae", latent_dim=4), "x"),
    "importance_weight(gan)": lambda: importance_weight(_build("gan", latent_dim=4), 4),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_the_result_validates_compiles_and_trains_a_step(name):
    g = TRANSFORMS[name]()
    g.validate()
    model = unidgm.compile(g)
    batch = _batch()
    groups = model.parameter_groups()
    for phase in model.phases:
        params = [p for group in phase.groups for p in groups[group]]
        before = [p.detach().clone() for p in params]
        model.zero_grad(set_to_none=True)
        loss = model.loss(batch, phase=phase.name)[phase.loss] if len(model.phases) > 1 else \
            model.loss(batch)[phase.loss]
        assert torch.isfinite(loss)
        loss.backward()
        torch.optim.SGD(params, lr=1e-2).step()
        assert any(not torch.equal(a, p) for a, p in zip(before, params)), f"phase {phase.name} changed nothing"


@pytest.mark.parametrize("transform", [
    lambda g: swap_processes(g), lambda g: swap_processes(g, keep_adversary=True), lambda g: swap_roles(g, "x", "z"),
    lambda g: importance_weight(g, 4)], ids=["swap_processes", "keep_adversary", "swap_roles", "importance_weight"])
def test_the_source_is_not_changed(transform):
    source = hu_infogan()
    before = snapshot(source)
    result = transform(source)
    assert snapshot(source) == before and result is not source


def test_activate_adversary_does_not_change_the_source():
    source = _build("vae")
    before = snapshot(source)
    activate_adversary(source, "z")
    assert snapshot(source) == before


# ---------------------------------------------------------------------- errors
def test_unknown_nodes_are_named():
    with pytest.raises(GraphError, match=r"no node 'w'; its nodes are x, z"):
        swap_roles(hu_infogan(), "x", "w")
    with pytest.raises(GraphError, match=r"activate_adversary\('vae', 'h'\).*no node 'h'"):
        activate_adversary(_build("vae"), "h")
    with pytest.raises(GraphError, match="indicator of an adversarial edge"):
        swap_roles(hu_infogan(), "x", "y_x")


def test_a_node_cannot_swap_roles_with_itself():
    with pytest.raises(GraphError, match=r"swap_roles\('gan', 'x', 'x'\).*two different nodes"):
        swap_roles(hu_infogan(), "x", "x")


def test_importance_weight_needs_an_adversary():
    with pytest.raises(ConfigError, match=r"importance_weight\('vae', 4\).*is the IWAE.*set_objective\('iwae', k=4\)"):
        importance_weight(_build("vae"), 4)
    with pytest.raises(ConfigError, match="k .* must be an int >= 2"):
        importance_weight(_build("gan"), 1)
    with pytest.raises(ConfigError, match="ns-gan"):
        importance_weight(_build("wgan-gp"), 4)


def test_an_adversary_is_activated_once():
    with pytest.raises(GraphError, match=r"'x' already has the adversary q\(y_x\|x\).*set_objective"):
        activate_adversary(_build("gan"), "x")
    with pytest.raises(ConfigError, match="no option lamda"):
        activate_adversary(_build("vae"), "x", lamda=1.0)


def test_swapping_a_gan_without_inference_says_what_is_missing():
    with pytest.raises(GraphError, match=r"swap_processes\('gan'\) gives an invalid graph: visible node 'x' is not "
                                         r"explained by any generative edge"):
        swap_processes(_build("gan"))


def test_nets_must_name_edges_of_the_new_graph():
    with pytest.raises(GraphError, match=r"nets has 'generative_z'.*inference_z, generative_x"):
        swap_processes(hu_infogan(), nets={"generative_z": MLP(4, [], 4)})
