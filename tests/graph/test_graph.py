"""The Graph's views (nodes, edges, networkx), multi-parent edges, repr and set_objective."""

import networkx as nx
import pytest
import torch

import unidgm
from unidgm.graph import Edge, Node
from unidgm.inference import ELBO, IWAE
from unidgm.nets import MLP

X, Z, C = 12, 3, 4


def cvae():
    g = unidgm.Graph("cvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "categorical", shape=(C,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    gen = g.generative(["z", "y"], "x", MLP(Z + C, [8], X))
    inf = g.inference(["x", "y"], "z", MLP(X + C, [8], 2 * Z))
    return g, gen, inf


def test_declarations_return_nodes_and_edges():
    g = unidgm.Graph("vae")
    x = g.visible("x", "bernoulli", shape=(X,))
    z = g.latent("z", "normal", shape=(Z,), prior="learned")
    assert x == Node("x", "visible", "bernoulli", (X,))
    assert z.prior == "learned" and z.role == "latent" and z.size == Z and z.event_dims == 1
    img = g.visible("img", "bernoulli", shape=(1, 8, 8))
    assert img.size == 64 and img.event_dims == 3
    e = g.generative("z", "x", MLP(Z, [], X))
    assert isinstance(e, Edge) and e.kind == "generative" and e.parents == ("z",) and e.child == "x"
    assert e.key == "generative_x" and not e.deterministic and e.combine == "concat"


def test_nodes_is_a_read_only_mapping_in_declaration_order():
    g, _, _ = cvae()
    nodes = g.nodes
    assert list(nodes) == ["x", "y", "z"]
    assert nodes["y"].given and nodes["z"].prior == "standard"
    with pytest.raises(TypeError):
        nodes["w"] = Node("w", "latent", "normal", (1,))
    with pytest.raises(TypeError):
        del nodes["x"]
    assert "w" not in g and "x" in g


def test_edges_in_declaration_order_and_by_kind():
    g, gen, inf = cvae()
    assert g.edges == (gen, inf)
    assert isinstance(g.edges, tuple)
    assert g.edges_of("generative") == (gen,) and g.edges_of("inference") == (inf,)
    assert g.edges_of("adversarial") == ()
    assert g.edge_into("x", "generative") is gen and g.edge_into("z", "inference") is inf
    assert g.edge_into("z", "generative") is None


def test_networkx_view_arcs_parent_to_child_keyed_by_kind():
    g, gen, inf = cvae()
    view = g.nx
    assert isinstance(view, nx.MultiDiGraph)
    assert set(view.edges(keys=True)) == {("z", "x", "generative"), ("y", "x", "generative"),
                                          ("x", "z", "inference"), ("y", "z", "inference")}
    # one Edge object per process, shared by its parents' arcs
    assert view.edges["z", "x", "generative"]["edge"] is gen
    assert view.edges["y", "x", "generative"]["edge"] is gen
    assert view.edges["y", "z", "inference"]["edge"] is inf
    assert view.nodes["y"]["node"].given
    assert sorted(view.predecessors("x")) == ["y", "z"]
    with pytest.raises(nx.NetworkXError):
        view.add_node("w")
    with pytest.raises(nx.NetworkXError):
        view.remove_edge("z", "x", "generative")
    assert len(g.nx.edges) == 4


def test_process_views():
    g, _, _ = cvae()
    p = g.process("generative")
    q = g.process("inference")
    assert set(p.nodes) == set(q.nodes) == {"x", "y", "z"}
    assert set(p.edges) == {("z", "x"), ("y", "x")}
    assert set(q.edges) == {("x", "z"), ("y", "z")}


def test_multi_parent_edge_names_and_combine():
    g, gen, inf = cvae()
    assert gen.name == "p(x|z,y)" and inf.name == "q(z|x,y)"
    assert repr(gen) == "Edge(generative: p(x|z,y))"
    d = g.adversarial(["x", "y"], MLP(X + C, [], 1), combine="dict")
    assert d.name == "q(indicator_x_y|x,y)" and d.combine == "dict" and d.child == "indicator_x_y"


def test_delta_child_makes_the_edge_deterministic():
    g = unidgm.Graph("ae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,))
    enc = g.inference("x", "z", MLP(X, [], Z))
    assert enc.deterministic
    assert repr(enc) == "Edge(inference: q(z|x), deterministic)"


def test_repr():
    g, _, _ = cvae()
    g.latent("w", "normal", shape=(2, 2), prior="learned")
    assert repr(g) == "\n".join([
        "Graph('cvae')",
        "  visible   x: bernoulli[12]",
        "  visible   y: categorical[4], given",
        "  latent    z: normal[3], prior=standard",
        "  latent    w: normal[2, 2], prior=learned",
        "  Edge(generative: p(x|z,y))",
        "  Edge(inference: q(z|x,y))",
    ])


def test_validate_returns_the_graph():
    g, _, _ = cvae()
    assert g.validate() is g


def test_set_objective_is_used_by_compile():
    g, _, _ = cvae()
    assert g.set_objective("iwae", k=3) is g
    assert g.objective == {"name": "iwae", "k": 3}
    model = unidgm.compile(g)
    assert isinstance(model.objective, IWAE) and model.objective.k == 3
    assert repr(model.objective) == "iwae(k=3)"
    assert unidgm.compile(g, k=4).objective.k == 4           # options update the graph's own
    assert unidgm.compile(g, "iwae").objective.k == 3        # naming the same objective keeps its options
    other = unidgm.compile(g, "elbo", kl_weight=2.0)         # naming another replaces them
    assert isinstance(other.objective, ELBO) and other.objective.kl_weight == 2.0
    assert g.objective == {"name": "iwae", "k": 3}           # compile does not change the graph


def test_default_objective_is_the_elbo():
    g, _, _ = cvae()
    model = unidgm.compile(g)
    assert isinstance(model.objective, ELBO)
    assert repr(model.objective) == "elbo(kl=auto)"
    assert [p.name for p in model.phases] == ["elbo"]
    assert model.phases[0].groups == ("generative", "inference") and model.phases[0].loss == "loss"


def test_compiled_model_holds_every_network():
    g, gen, inf = cvae()
    model = unidgm.compile(g)
    assert isinstance(model, torch.nn.Module)
    assert set(model.nets) == {"generative_x", "inference_z"}
    assert model.nets["generative_x"] is gen.net and model.nets["inference_z"] is inf.net
    assert "graph='cvae'" in repr(model)


def test_an_indicators_default_name_never_reads_as_a_label():
    from torch import nn

    g = unidgm.Graph("cgan")
    g.visible("x", "normal", shape=(6,))
    g.visible("y", "categorical", shape=(3,), given=True)
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.visible("y_z", "normal", shape=(2,), given=True)
    assert g.adversarial(["x", "y"], nn.Linear(9, 1)).child == "indicator_x_y"  # not y_x_y
    assert g.adversarial("x", nn.Linear(6, 1)).child == "y_x"
    with pytest.raises(unidgm.GraphError, match=r"default name 'y_z' is already a node; name the indicator"):
        g.adversarial("z", nn.Linear(2, 1))
