"""A partially observed label (Kingma et al. 2014's M2): the compiled ELBO observes it where
the batch gives it and sums over its classes elsewhere, and the Pyro view with the label's
guide site enumerated gives the same loss under ``TraceEnum_ELBO``."""

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro.infer import TraceEnum_ELBO

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.nets import MLP

from .graphs import B, C, X, Z, binary_batch, partly_labelled_batch, semi_supervised

BATCHES = {"mixed": (0, 2, 3), "labelled": tuple(range(B)), "unlabelled": ()}


def _compiled(**options):
    torch.manual_seed(0)
    return unidgm.compile(semi_supervised(), **options)


@pytest.mark.filterwarnings("ignore:TraceEnum_ELBO found no sample sites")  # an all-labelled batch
@pytest.mark.parametrize("kind", sorted(BATCHES))
@pytest.mark.parametrize("weight", [None, 0.0, 7.0])
def test_trace_enum_elbo_equals_the_compiled_loss_on_the_same_draws(kind, weight):
    """Seeded alike, the compiled objective and the Pyro pair draw the same z (labelled rows
    first, then the unlabelled rows for every class at once), so TraceEnum_ELBO's loss, which
    sums the guide's enumerated y exactly, is the batch size times the compiled loss, and so
    are the gradients."""
    options = {} if weight is None else {"classification_weight": weight}
    model = _compiled(kl="mc", **options)
    batch = partly_labelled_batch(labelled=BATCHES[kind])
    torch.manual_seed(4)
    ours = model.loss(batch)["loss"] * B
    ours_grads = torch.autograd.grad(ours, list(model.parameters()), allow_unused=True)
    torch.manual_seed(4)
    theirs = TraceEnum_ELBO(max_plate_nesting=1).differentiable_loss(model.pyro_model, model.pyro_guide, batch)
    theirs_grads = torch.autograd.grad(theirs, list(model.parameters()), allow_unused=True)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)
    for a, b in zip(ours_grads, theirs_grads):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    torch.manual_seed(5)
    assert not torch.allclose(ours, model.loss(batch)["loss"] * B)  # the draws of z matter


def test_pyro_sites_split_the_batch_and_enumerate_the_unknown_label():
    model = _compiled()
    batch = partly_labelled_batch()
    guide = pyro.poutine.trace(model.pyro_guide).get_trace(batch)
    trace = pyro.poutine.trace(pyro.poutine.replay(model.pyro_model, trace=guide)).get_trace(batch)
    sites = trace.nodes
    assert sites["labelled/y"]["is_observed"] and sites["labelled/x"]["is_observed"]
    assert sites["labelled/q_y"]["is_observed"] and sites["labelled/q_y"]["scale"] == 1.0  # alpha
    assert not sites["unlabelled/y"]["is_observed"] and sites["unlabelled/x"]["is_observed"]
    assert guide.nodes["unlabelled/y"]["infer"] == {"enumerate": "parallel"}
    assert "labelled/y" not in guide.nodes  # observed: no guide site
    assert sites["labelled"]["value"].shape == (3,) and sites["unlabelled"]["value"].shape == (3,)


def test_the_sum_over_the_label_is_exact():
    """U(x) = sum_y q(y|x) (L(x, y) + log q(y|x)): with q(y|x) pinned to one class by its
    logits, an unlabelled example's term is that class's labelled bound (same draw of z)."""
    model = _compiled()
    net = model.graph.edge_into("y", "inference").net
    with torch.no_grad():
        net[-1].weight.zero_()
        net[-1].bias.copy_(torch.tensor([0.0, 60.0, 0.0, 0.0]))  # q(y=1|x) = 1 to float precision
    x = binary_batch(1)["x"]
    torch.manual_seed(2)
    unlabelled = model.loss({"x": x, "y": torch.tensor([-1])})
    torch.manual_seed(2)  # the enumerated pass draws z for every class at once: class 1 is the 2nd row
    eps = torch.randn(C, 1, Z)[1]
    torch.manual_seed(9)
    model_z = model.graph.edge_into("z", "inference").net
    y1 = F.one_hot(torch.tensor([1]), C).float()
    loc, log_scale = model_z(torch.cat([x, y1], -1)).chunk(2, -1)
    z = loc + log_scale.exp() * eps
    logits = model.graph.edge_into("x", "generative").net(torch.cat([y1, z], -1))
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum()
    kl = (0.5 * (loc ** 2 + (2 * log_scale).exp() - 1) - log_scale).sum()
    bound = rec + kl + torch.log(torch.tensor(float(C)))  # L(x, 1); -log q(1|x) = 0
    torch.testing.assert_close(unlabelled["unlabelled"], bound, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(unlabelled["elbo"], -bound, rtol=1e-5, atol=1e-4)


def test_labels_as_indices_one_hot_rows_or_absent():
    model = _compiled()
    batch = partly_labelled_batch()
    one_hot = F.one_hot(batch["y"].clamp(min=0), C).float() * (batch["y"] >= 0).unsqueeze(-1)
    torch.manual_seed(1)
    a = model.loss(batch)
    torch.manual_seed(1)
    b = model.loss({"x": batch["x"], "y": one_hot})
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(1)
    absent = model.loss({"x": batch["x"]})
    torch.manual_seed(1)
    none_known = model.loss({"x": batch["x"], "y": torch.full((B,), -1)})
    assert all(torch.equal(absent[k], none_known[k]) for k in absent)
    assert absent["labelled"] == 0 and absent["classification"] == 0 and absent["unlabelled"] > 0
    with pytest.raises(GraphError, match=r"batch\['y'\] has shape \(6, 2\).*-1 where the label is unknown"):
        model.loss({"x": batch["x"], "y": torch.zeros(B, 2, dtype=torch.long)})


def test_terms_add_up_and_measure_the_classifier():
    model = _compiled(classification_weight=3.0)
    batch = partly_labelled_batch()
    terms = model.loss(batch)
    assert set(terms) == {"loss", "labelled", "unlabelled", "classification", "elbo", "reconstruction", "kl",
                          "accuracy"}
    torch.testing.assert_close(terms["loss"], terms["labelled"] + terms["unlabelled"] + 3 * terms["classification"])
    torch.testing.assert_close(terms["elbo"], -(terms["labelled"] + terms["unlabelled"]))
    with torch.no_grad():
        logits = model.graph.edge_into("y", "inference").net(batch["x"])
    rows = torch.tensor(BATCHES["mixed"])
    labels = batch["y"][rows]
    torch.testing.assert_close(terms["classification"], F.cross_entropy(logits[rows], labels, reduction="sum") / B)
    assert terms["accuracy"] == (logits[rows].argmax(-1) == labels).float().mean()


def test_kl_weight_acts_inside_both_bounds():
    model = _compiled(kl_weight=0.0, classification_weight=0.0)
    batch = partly_labelled_batch()
    torch.manual_seed(3)
    terms = model.loss(batch)
    assert terms["kl"] > 0
    # with beta = 0 the loss lacks the KL that the (unweighted) ELBO keeps
    torch.testing.assert_close(terms["loss"], -terms["elbo"] - terms["kl"], rtol=1e-5, atol=1e-4)


def test_the_labels_teach_the_classifier_through_the_unlabelled_bound(one_thread):
    """Without the classification term q(y|x) learns only from U(x): the labelled bound ties
    each class to its prototype in p(x|y,z), and U(x) moves q(y|x) to the class that explains
    x. Two noisy binary prototypes, 16 of 128 examples labelled (with fewer, U(x) may settle
    on the swapped assignment first, which a handful of labelled bounds cannot undo)."""
    torch.manual_seed(0)
    g = unidgm.Graph("toy")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("y", "categorical", shape=(2,), prior="standard", partially_observed=True)
    g.latent("z", "normal", shape=(1,), prior="standard")
    g.generative(["y", "z"], "x", MLP(3, [16], X))
    g.inference("x", "y", MLP(X, [16], 2))
    g.inference(["x", "y"], "z", MLP(X + 2, [16], 2))
    model = unidgm.compile(g, classification_weight=0.0)
    gen = torch.Generator().manual_seed(1)
    truth = torch.arange(128) % 2
    protos = torch.tensor([[1.0] * 6 + [0.0] * 6, [0.0] * 6 + [1.0] * 6])
    x = protos[truth]
    x = torch.where(torch.rand(x.shape, generator=gen) < 0.1, 1 - x, x)
    y = torch.full((128,), -1)
    y[:16] = truth[:16]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        model.loss({"x": x, "y": y})["loss"].backward()
        optimizer.step()
    with torch.no_grad():
        predicted = g.edge_into("y", "inference").net(x).argmax(-1)
    assert (predicted == truth).float().mean() > 0.95


def test_refusals_name_the_node_and_the_fix():
    with pytest.raises(GraphError, match="latent 'y': partially_observed=True needs a categorical"):
        unidgm.Graph().latent("y", "normal", shape=(3,), prior="standard", partially_observed=True)
    g = unidgm.Graph()
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("y", "categorical", shape=(C,), prior="standard", partially_observed=True)
    g.generative("y", "x", MLP(C, [8], X))
    with pytest.raises(GraphError, match="partially observed latent 'y' needs .* inference edge"):
        g.validate()
    with pytest.raises(GraphError, match="'iwae' objective cannot use its labels; compile with the ELBO"):
        unidgm.compile(semi_supervised(), "iwae")
    with pytest.raises(GraphError, match="node 'y' gets no gradient estimator, since it is partially observed"):
        unidgm.compile(semi_supervised(y_estimator="gumbel"))
    with pytest.raises(ConfigError, match="classification_weight .* graph 'vae' has none"):
        from .graphs import vae

        unidgm.compile(vae(), classification_weight=1.0)
    with pytest.raises(ConfigError, match="classification_weight must be >= 0"):
        unidgm.compile(semi_supervised(), classification_weight=-1.0)
    two = semi_supervised()
    two.latent("w", "categorical", shape=(2,), prior="standard", partially_observed=True)
    two.inference("x", "w", MLP(X, [8], 2))
    with pytest.raises(GraphError, match=r"'y', 'w' are all summed over \(partially observed"):
        unidgm.compile(two)
    scored = semi_supervised()
    scored.latent("c", "bernoulli", shape=(2,), prior="standard")
    scored.inference("x", "c", MLP(X, [8], 2))
    with pytest.raises(GraphError, match="latent 'c' uses a score-function gradient"):
        unidgm.compile(scored)


def test_the_formula_is_kingma_et_al_eq_6_to_9():
    model = _compiled(classification_weight=2.5)
    text = model.formula().text
    assert text.splitlines()[0] == ("elbo (updates generative, inference): minimise E_labelled[L(x,y)] + "
                                    "E_unlabelled[U(x)] + 2.5 * E_labelled[-log q(y|x)]")
    assert ("where L(x,y) = -E_q(z|x,y)[log p(x|y,z)] + KL(q(z|x,y) || p(z)) - log p(y); "
            "U(x) = E_q(y|x)[L(x,y)] - H(q(y|x))") in text
    mc = _compiled(kl="mc", classification_weight=0.0, warmup=10).formula()
    assert mc.names == ("labelled", "unlabelled")  # a weight of 0 drops the term
    assert "beta_t * E_q(z|x,y)[log q(z|x,y) - log p(z)]" in mc.text and "beta_t = 1 * min(1, t/10)" in mc.text
    assert r"\mathcal{U}(x) = \mathbb{E}_{q_{\phi}(y \mid x)}" in model.formula().latex
