"""Named processes (DESIGN, "The engine's shape", 1): several inference processes may explain
one latent, each edge has its own name and its network is stored under it."""
import pytest
import torch

import unidgm
from unidgm.nets import MLP
from unidgm.viz.diagram import diagram_spec, diagram_text

X, Y, Z = 6, 4, 2


def multiview():
    """JMVAE's graph (Suzuki et al. 2016): z -> x, z -> y; q(z|x,y), q_x(z|x), q_y(z|y)."""
    g = unidgm.Graph("jmvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "bernoulli", shape=(Y,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [8], X))
    g.generative("z", "y", MLP(Z, [8], Y))
    g.inference(["x", "y"], "z", MLP(X + Y, [8], 2 * Z))
    g.inference("x", "z", MLP(X, [8], 2 * Z), process="q_x")
    g.inference("y", "z", MLP(Y, [8], 2 * Z), process="q_y", name="encoder_y")
    return g


def test_three_encoders_of_one_latent_compile():
    g = multiview()
    assert dict(g.processes) == {"p": "generative", "q": "inference", "q_x": "inference", "q_y": "inference"}
    assert [e.name for e in g.edges_in("q_x")] == ["q_x(z|x)"]
    assert g.edge_into("z", "inference").parents == ("x", "y")
    assert g.edge_into("z", "inference", "q_y").key == "encoder_y"
    model = unidgm.compile(g)
    assert set(model.nets) == {"generative_x", "generative_y", "inference_z", "inference_q_x_z", "encoder_y"}
    assert [f.edge.name for f in model.inference] == ["q(z|x,y)"]  # the ELBO reads q
    assert {p: [f.child for f in fs] for p, fs in model.processes.items()} == {"q": ["z"], "q_x": ["z"], "q_y": ["z"]}
    groups = model.parameter_groups()
    assert {id(p) for p in groups["q_x"]} == {id(p) for p in g.edges[3].net.parameters()}
    assert groups["encoder_y"] == list(g.edges[4].net.parameters())
    batch = {"x": torch.bernoulli(torch.full((5, X), 0.5)), "y": torch.bernoulli(torch.full((5, Y), 0.5))}
    assert torch.isfinite(model.loss(batch)["loss"])


def test_diagram_and_describe_name_the_processes():
    g = multiview()
    text = diagram_text(g)
    assert "q_φ(z|x) [q_x]" in text and "q_φ(z|y) [q_y]" in text
    assert text.splitlines()[-3:] == ["  q  inference, explains z", "  q_x  inference, explains z",
                                      "  q_y  inference, explains z"]
    ids = [e["attrs"]["id"] for e in diagram_spec(g)["edges"]]
    assert len(ids) == len(set(ids)) and "inference-q_x-x-z" in ids


def test_one_edge_into_a_node_per_process():
    g = multiview()
    with pytest.raises(unidgm.GraphError, match=r"'z' already has the inference edge q_x\(z\|x\)"):
        g.inference("y", "z", MLP(Y, [8], 2 * Z), process="q_x")
    with pytest.raises(unidgm.GraphError, match=r"the generative edges form one process, 'p'"):
        g.generative("z", "x", MLP(Z, [8], X), process="p2")
    with pytest.raises(unidgm.GraphError, match=r"network's name 'encoder_y' is taken"):
        g.inference("x", "z", MLP(X, [8], 2 * Z), process="q_w", name="encoder_y")
    with pytest.raises(unidgm.GraphError, match="must be a Python identifier"):
        g.inference("x", "z", MLP(X, [8], 2 * Z), process="q-w")
    assert len(g.edges) == 5  # nothing was added by the refused calls


def test_a_cycle_in_a_named_process_is_refused():
    g = unidgm.Graph("cycle")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("a", "normal", shape=(Z,), prior="standard")
    g.latent("b", "normal", shape=(Z,), prior="standard")
    g.generative(["a", "b"], "x", MLP(2 * Z, [8], X))
    g.inference("x", "a", MLP(X, [8], 2 * Z))
    g.inference("x", "b", MLP(X, [8], 2 * Z))
    g.inference("b", "a", MLP(Z, [8], 2 * Z), process="r")
    g.inference("a", "b", MLP(Z, [8], 2 * Z), process="r")
    with pytest.raises(unidgm.GraphError, match=r"the inference process 'r' has a cycle"):
        g.validate()


def test_each_inference_process_is_a_pyro_guide():
    from pyro import poutine

    model = unidgm.compile(multiview())
    batch = {"x": torch.bernoulli(torch.full((5, X), 0.5)), "y": torch.bernoulli(torch.full((5, Y), 0.5))}
    for process, net, inputs in (("q", "inference_z", ["x", "y"]), ("q_x", "inference_q_x_z", ["x"]),
                                 ("q_y", "encoder_y", ["y"])):
        trace = poutine.trace(model.guide(process)).get_trace(batch)
        trace.compute_log_prob()
        z = trace.nodes["z"]["value"]
        loc, log_scale = model.nets[net](torch.cat([batch[n] for n in inputs], -1)).chunk(2, -1)
        expected = torch.distributions.Normal(loc, log_scale.exp()).log_prob(z).sum()
        assert torch.allclose(trace.nodes["z"]["log_prob_sum"], expected, atol=1e-5), process
    with pytest.raises(unidgm.GraphError, match="no inference process 'r'"):
        model.guide("r")
