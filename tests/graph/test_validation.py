"""Every user error in a graph, a batch or an objective raises a unidgm exception that names
the node or edge at fault and says the fix (DESIGN: Contracts; STYLE rule 5)."""

import pytest
import torch
from torch import nn

import unidgm
from unidgm import ConfigError, GraphError, UnidgmError
from unidgm.nets import MLP

X, Z = 12, 3


def vae(name="vae"):
    g = unidgm.Graph(name)
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [8], X))
    g.inference("x", "z", MLP(X, [8], 2 * Z))
    return g


def test_errors_are_one_hierarchy():
    assert issubclass(GraphError, UnidgmError) and issubclass(ConfigError, UnidgmError)
    assert issubclass(GraphError, ValueError)


# ---------------------------------------------------------------- declaration time
def test_duplicate_node_name():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    with pytest.raises(GraphError, match=r"node 'x' is already declared.*unique name"):
        g.latent("x", "normal", shape=(Z,), prior="standard")


def test_unknown_family():
    g = unidgm.Graph()
    with pytest.raises(GraphError, match=r"node 'x': unknown family 'gauss'; choose one of normal, bernoulli"):
        g.visible("x", "gauss", shape=(X,))
    assert "x" not in g


@pytest.mark.parametrize("shape", [(), (0,), (3, -1), -2, None, "abc", ("a", 2)])
def test_bad_shape(shape):
    g = unidgm.Graph()
    with pytest.raises(GraphError, match=r"node 'x': shape must be a .*tuple of positive ints.*e\.g\. shape="):
        g.visible("x", "normal", shape=shape)
    assert "x" not in g


def test_int_shape_is_a_vector():
    g = unidgm.Graph()
    assert g.visible("x", "normal", shape=5).shape == (5,)


def test_categorical_needs_two_classes():
    g = unidgm.Graph()
    with pytest.raises(GraphError, match=r"node 'c': a categorical node's last dimension counts its classes"):
        g.latent("c", "categorical", shape=(1,), prior="standard")


@pytest.mark.parametrize("name", ["1x", "x y", "x-1", "", 3])
def test_non_identifier_name(name):
    g = unidgm.Graph()
    with pytest.raises(GraphError, match=r"must be a Python identifier"):
        g.visible(name, "normal", shape=(X,))
    assert len(g.nodes) == 0


def test_unknown_prior():
    g = unidgm.Graph()
    with pytest.raises(GraphError, match=r"latent 'z': unknown prior 'gaussian'; use one of standard, learned"):
        g.latent("z", "normal", shape=(Z,), prior="gaussian")


def test_edge_from_undeclared_parent():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    with pytest.raises(GraphError, match=r"generative edge: parent 'z' is not declared; declare it with g\.visible"):
        g.generative("z", "x", MLP(Z, [], X))
    assert g.edges == ()


def test_edge_into_undeclared_child():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    with pytest.raises(GraphError, match=r"inference edge into 'z': the node is not declared; declare it first"):
        g.inference("x", "z", MLP(X, [], 2 * Z))
    assert g.edges == ()


def test_edge_without_parents_and_repeated_parents():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,))
    with pytest.raises(GraphError, match=r"inference edge needs at least one parent.*prior="):
        g.inference([], "z", MLP(Z, [], 2 * Z))
    g.generative([], "z", MLP(Z, [], 2 * Z))  # a prior network: tests/inference/test_prior_network.py
    with pytest.raises(GraphError, match=r"generative edge: parents \('z', 'z'\) repeat a node"):
        g.generative(["z", "z"], "x", MLP(2 * Z, [], X))


def test_self_loop():
    g = unidgm.Graph()
    g.latent("z", "normal", shape=(Z,))
    with pytest.raises(GraphError, match=r"inference edge into 'z': a node cannot be its own parent"):
        g.inference("z", "z", MLP(Z, [], 2 * Z))


def test_net_not_a_module():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=r"generative edge into 'x': the network must be a torch\.nn\.Module, "
                                         r"got function"):
        g.generative("z", "x", lambda z: z)


def test_unknown_combine():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=r"generative edge into 'x': combine must be one of \('concat', 'dict'\)"):
        g.generative("z", "x", MLP(Z, [], X), combine="sum")


def test_two_generative_edges_into_one_node():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.latent("c", "categorical", shape=(4,), prior="standard")
    g.generative("z", "x", MLP(Z, [], X))
    with pytest.raises(GraphError, match=r"'x' already has the generative edge p\(x\|z\).*merge the parents into "
                                         r"one edge, g\.generative\(\['z', 'c'\], 'x', net\)"):
        g.generative("c", "x", MLP(4, [], X))
    assert len(g.edges) == 1


def test_a_second_inference_edge_suggests_each_parent_once():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"g\.inference\(\['x', 'y'\], 'z', net\), or put the new edge in a "
                                         r"process of its own, process='q_y_x'$"):
        g.inference(["y", "x"], "z", MLP(2 * X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"q\(z\|x\) already reads \['x'\], so declare that edge once"):
        g.inference("x", "z", MLP(X, [], 2 * Z))


def test_generative_edge_into_a_node_with_a_prior():
    g = unidgm.Graph()
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.latent("w", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=r"generative edge into 'z': 'z' already has prior='standard'.*drop one"):
        g.generative("w", "z", MLP(Z, [], 2 * Z))


def test_generative_edge_into_a_given_node():
    g = unidgm.Graph()
    g.visible("y", "categorical", shape=(4,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=r"generative edge into 'y': 'y' is declared given=True.*drop given=True"):
        g.generative("z", "y", MLP(Z, [], 4))


def test_inference_edge_into_a_visible_node():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("v", "normal", shape=(X,))
    with pytest.raises(GraphError, match=r"inference edge into 'v': .*'v' is visible; point the edge at a latent"):
        g.inference("x", "v", MLP(X, [], 2 * X))


def test_edge_into_an_indicator():
    g = vae()
    g.adversarial("x", MLP(X, [], 1))
    with pytest.raises(GraphError, match=r"inference edge into 'y_x'.*"):
        g.inference("x", "y_x", MLP(X, [], 1))


# ---------------------------------------------------------------- whole-graph validation
def test_no_visible_node():
    g = unidgm.Graph("empty")
    g.latent("z", "normal", shape=(Z,), prior="standard")
    with pytest.raises(GraphError, match=r"graph 'empty' has no visible node; declare the data with g\.visible"):
        g.validate()


def test_generative_cycle_is_named():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("a", "normal", shape=(Z,))
    g.latent("b", "normal", shape=(Z,))
    g.generative("a", "b", MLP(Z, [], 2 * Z))
    g.generative("b", "a", MLP(Z, [], 2 * Z))
    g.generative("a", "x", MLP(Z, [], X))
    with pytest.raises(GraphError, match=r"the generative process has a cycle (a -> b -> a|b -> a -> b); .*directed "
                                         r"acyclic graph, so remove or reverse one of these edges"):
        g.validate()
    with pytest.raises(GraphError, match=r"generative process has a cycle"):
        unidgm.compile(g)


def test_inference_cycle_is_named():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("u", "normal", shape=(Z,), prior="standard")
    g.latent("v", "normal", shape=(Z,), prior="standard")
    g.generative(["u", "v"], "x", MLP(2 * Z, [], X))
    g.inference("u", "v", MLP(Z, [], 2 * Z))
    g.validate()  # u -> v under q is acyclic
    g.inference(["x", "v"], "u", MLP(X + Z, [], 2 * Z))
    with pytest.raises(GraphError, match=r"the inference process has a cycle (u -> v -> u|v -> u -> v); .*directed "
                                         r"acyclic graph"):
        g.validate()


def test_latent_nothing_can_sample():
    g = vae()
    g.latent("orphan", "normal", shape=(Z,))
    with pytest.raises(GraphError, match=r"latent 'orphan' has no prior, no generative edge and no inference edge, "
                                         r"so nothing can sample it; give it prior='standard'"):
        g.validate()


def test_unexplained_visible_node_and_given_fixes_it():
    def build(given):
        g = unidgm.Graph("cvae")
        g.visible("x", "bernoulli", shape=(X,))
        g.visible("y", "categorical", shape=(4,), given=given)
        g.latent("z", "normal", shape=(Z,), prior="standard")
        g.generative(["z", "y"], "x", MLP(Z + 4, [], X))
        g.inference(["x", "y"], "z", MLP(X + 4, [], 2 * Z))
        return g

    with pytest.raises(GraphError, match=r"visible node 'y' is not explained by any generative edge; add "
                                         r"g\.generative\(<parents>, 'y', net\), or declare it "
                                         r"g\.visible\('y', \.\.\., given=True\)"):
        build(False).validate()
    model = unidgm.compile(build(True))
    terms = model.loss({"x": torch.bernoulli(torch.full((5, X), 0.5)), "y": torch.arange(5) % 4})
    assert torch.isfinite(terms["loss"])


# ---------------------------------------------------------------- compile time: the dry run
def test_network_output_that_does_not_fit_its_node():
    g = unidgm.Graph()
    g.visible("x", "normal", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [8], X))  # a normal node needs 2 * 12 numbers
    g.inference("x", "z", MLP(X, [8], 2 * Z))
    with pytest.raises(GraphError, match=r"edge p\(x\|z\): the network's output has shape \(12,\) per example, but "
                                         r"node 'x' of shape \(12,\) needs 2 parameter\(s\) of the 'normal' family: "
                                         r"24 numbers per example.*change the network's output size to 24"):
        unidgm.compile(g)


def test_inference_output_that_does_not_fit_is_named_q():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], Z))
    with pytest.raises(GraphError, match=r"edge q\(z\|x\): .*output size to 6"):
        unidgm.compile(g)


def test_deterministic_output_that_does_not_fit():
    g = unidgm.Graph("ae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,))
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"edge q\(z\|x\): .*needs the value itself: 3 numbers per example"):
        unidgm.compile(g)


def test_adversarial_discriminator_that_does_not_fit():
    g = vae()
    g.adversarial("x", MLP(X, [], 2))
    with pytest.raises(GraphError, match=r"edge q\(y_x\|x\): .*1 numbers per example"):
        unidgm.compile(g)


class Crashes(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


class ReturnsTuple(nn.Module):
    def forward(self, x):
        return x, x


def test_network_that_crashes_on_its_input():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", nn.Linear(5, X))  # expects 5 inputs, gets 3
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"edge p\(x\|z\): its network failed on a batch of 2 with parent shapes "
                                         r"\{'z': \(2, 3\)\} \(RuntimeError: .*\); make the network accept its parents"):
        unidgm.compile(g)


def test_network_that_raises_or_returns_a_tuple():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", Crashes())
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"edge p\(x\|z\): its network failed.*RuntimeError: boom"):
        unidgm.compile(g)
    g2 = unidgm.Graph()
    g2.visible("x", "bernoulli", shape=(X,))
    g2.latent("z", "normal", shape=(Z,), prior="standard")
    g2.generative("z", "x", ReturnsTuple())
    g2.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"edge p\(x\|z\): the network must return one tensor or a unidgm.nets.Output \(value, aux dict\), got tuple"):
        unidgm.compile(g2)


def test_dry_run_restores_training_mode():
    g = vae()
    net = g.edges[0].net
    assert net.training
    unidgm.compile(g)
    assert net.training


# ---------------------------------------------------------------- batches
def test_batch_missing_a_visible_node():
    model = unidgm.compile(vae())
    with pytest.raises(GraphError, match=r"the batch has no 'x', a visible node of graph 'vae'; the batch must map "
                                         r"every visible node \(x\) to a tensor"):
        model.loss({"image": torch.zeros(4, X)})


def test_batch_that_is_not_a_dict():
    model = unidgm.compile(vae())
    with pytest.raises(GraphError, match=r"the batch must be a dict of tensors keyed by visible node, got list"):
        model.loss([torch.zeros(4, X)])


def test_batch_with_a_wrong_shape():
    model = unidgm.compile(vae())
    with pytest.raises(GraphError, match=r"batch\['x'\] has shape \(4, 13\), but node 'x' has event shape \(12,\), so "
                                         r"the batch must be \(batch_size, 12\)"):
        model.loss({"x": torch.zeros(4, X + 1)})


def test_label_batch_with_a_wrong_shape_mentions_indices():
    g = unidgm.Graph("cvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "categorical", shape=(4,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["z", "y"], "x", MLP(Z + 4, [], X))
    g.inference(["x", "y"], "z", MLP(X + 4, [], 2 * Z))
    model = unidgm.compile(g)
    with pytest.raises(GraphError, match=r"batch\['y'\] has shape \(4, 5\).*class indices of shape \(batch_size,\) "
                                         r"work too"):
        model.loss({"x": torch.zeros(4, X), "y": torch.zeros(4, 5)})


# ---------------------------------------------------------------- objectives
def test_unknown_objective():
    with pytest.raises(ConfigError, match=r"unknown objective 'gan'; choose one of elbo, iwae"):
        unidgm.compile(vae(), "gan")


def test_unknown_objective_option():
    with pytest.raises(ConfigError, match=r"objective 'elbo' has no option k; its options are classification_weight, kl, kl_reference, kl_schedule, kl_weight, warmup"):
        unidgm.compile(vae(), "elbo", k=5)
    with pytest.raises(ConfigError, match=r"objective 'iwae' has no option beta; its options are k"):
        unidgm.compile(vae(), "iwae", beta=2.0)


@pytest.mark.parametrize("options, match", [
    ({"kl": "exact"}, r"elbo: kl must be one of \('auto', 'analytic', 'mc'\), got 'exact'"),
    ({"kl_weight": -1}, r"elbo: kl_weight must be >= 0"),
    ({"warmup": -5}, r"elbo: warmup must be >= 0 steps"),
])
def test_bad_elbo_option_values(options, match):
    with pytest.raises(ConfigError, match=match):
        unidgm.compile(vae(), "elbo", **options)


@pytest.mark.parametrize("k", [0, -1, 2.5])
def test_bad_iwae_k(k):
    with pytest.raises(ConfigError, match=r"iwae: k \(the number of importance samples\) must be a positive int"):
        unidgm.compile(vae(), "iwae", k=k)


def test_compile_needs_a_graph():
    with pytest.raises(ConfigError, match=r"compile needs a unidgm\.Graph, got dict"):
        unidgm.compile({"x": 1})


def hierarchical():
    g = unidgm.Graph("hvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z2", "normal", shape=(2,), prior="standard")
    g.latent("z1", "normal", shape=(Z,))
    g.generative("z2", "z1", MLP(2, [], 2 * Z))
    g.generative("z1", "x", MLP(Z, [], X))
    g.inference("x", "z1", MLP(X, [], 2 * Z))
    g.inference("z1", "z2", MLP(Z, [], 4))
    return g


def test_analytic_kl_where_impossible():
    with pytest.raises(ConfigError, match=r"kl='analytic': latent 'z1' cannot use an analytic KL \(its parents depend "
                                          r"on 'z1' under q\); use kl='auto'"):
        unidgm.compile(hierarchical(), kl="analytic")
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], Z))
    # A deterministic (delta) q has no KL term at all, so kl="analytic" has nothing to refuse.
    assert unidgm.compile(g, kl="analytic").loss({"x": torch.zeros(2, X)})["kl"].item() == 0.0
    unidgm.compile(hierarchical(), kl="auto")  # auto falls back to Monte Carlo for z1


def test_elbo_on_a_latent_without_inference_edge():
    g = unidgm.Graph("gen")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [], X))
    g.validate()  # a valid graph (a GAN-style generator) ...
    with pytest.raises(GraphError, match=r"latent 'z' has no inference edge, but the ELBO needs q\(z\|\.\.\.\); add "
                                         r"g\.inference\(<parents>, 'z', net\)"):
        unidgm.compile(g)  # ... that the ELBO cannot train
    with pytest.raises(GraphError, match=r"latent 'z' has no inference edge, but the IWAE bound needs q\(z\|\.\.\.\)"):
        unidgm.compile(g, "iwae")


def test_elbo_on_an_inferred_latent_without_prior():
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,))
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"latent 'z' is inferred but has neither a prior nor a generative edge.*"
                                         r"give it prior='standard'"):
        unidgm.compile(g)


def test_elbo_on_a_deterministic_likelihood():
    g = unidgm.Graph()
    g.visible("x", "normal", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative("z", "x", MLP(Z, [], X), deterministic=True)
    g.inference("x", "z", MLP(X, [], 2 * Z))
    with pytest.raises(GraphError, match=r"edge p\(x\|z\) is deterministic, so visible 'x' has no likelihood.*drop "
                                         r"deterministic=True"):
        unidgm.compile(g)


def test_iwae_on_a_deterministic_encoder():
    g = unidgm.Graph("ae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,))
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], Z))
    with pytest.raises(GraphError, match=r"edge q\(z\|x\) is deterministic; the IWAE bound needs a density for q"):
        unidgm.compile(g, "iwae")
    with pytest.raises(GraphError, match=r"importance weights need a density for q\(z\|\.\.\.\).*edge q\(z\|x\) is "
                                         r"deterministic"):
        unidgm.compile(g).log_weights({"x": torch.zeros(2, X)}, 3)


def test_adversarial_declaration_and_elbo_refusal():
    g = vae()
    edge = g.adversarial("x", MLP(X, [], 1))
    assert g.nodes["y_x"].role == "indicator"
    assert g.nodes["y_x"].family == "bernoulli" and g.nodes["y_x"].shape == (1,)
    assert edge.kind == "adversarial" and edge.child == "y_x" and edge.parents == ("x",)
    assert edge.name == "q(y_x|x)"
    g.validate()  # the declaration itself is a valid graph
    named = g.adversarial(["x", "z"], MLP(X + Z, [], 1), indicator="domain")
    assert named.child == "domain" and g.nodes["domain"].role == "indicator"
    with pytest.raises(GraphError, match=r"adversarial edge q\(y_x\|x\): the 'elbo' objective has no adversarial "
                                         r"terms; compile with objective='adversarial'"):
        unidgm.compile(g, "elbo")
    # with no objective named, the adversaries choose the game, plus the ELBO's terms of the rest
    assert unidgm.compile(g).objective.name == "adversarial"
    with pytest.raises(GraphError, match=r"adversarial edge q\(y_x\|x\): the 'iwae' objective has no adversarial"):
        unidgm.compile(g, "iwae")


def test_sampling_needs_the_given_node():
    g = unidgm.Graph("cvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "categorical", shape=(4,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["z", "y"], "x", MLP(Z + 4, [], X))
    g.inference(["x", "y"], "z", MLP(X + 4, [], 2 * Z))
    model = unidgm.compile(g)
    with pytest.raises(GraphError, match=r"sampling needs the given node 'y': pass sample\(n, given=\{'y': \.\.\.\}\)"):
        model.sample(3)


def test_autoencoder_cannot_generate():
    g = unidgm.Graph("ae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,))
    g.generative("z", "x", MLP(Z, [], X))
    g.inference("x", "z", MLP(X, [], Z))
    with pytest.raises(GraphError, match=r"latent 'z' has no prior and no generative edge, so the generative process "
                                         r"cannot sample it.*prior='standard'"):
        unidgm.compile(g).sample(3)


def test_elbo_without_any_likelihood():
    g = unidgm.Graph("nolik")
    g.visible("y", "normal", shape=(2,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.inference("y", "z", MLP(2, [], 2 * Z))
    with pytest.raises(GraphError, match=r"graph 'nolik' has no visible node explained by a generative edge, so the "
                                         r"ELBO has no likelihood; add g\.generative\(<parents>, <visible node>, net\)"):
        unidgm.compile(g)
