"""Sources that compose a process with the generative one, and the terms that compare two
sources: ``Conditional`` (a process on some visible nodes, then p), ``Reconstruction`` of any
process, ``Distance``, ``DensityRatio`` with its ``PluginDivergence``, and the ``terms``
objective a graph can record; each against the networks called directly or a closed form."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.inference.sources import Conditional, Reconstruction
from unidgm.inference.terms import DensityRatio, Distance
from unidgm.nets import MLP


def _two_views():
    """a = G_a(z), b = G_b(z, w); q: z = E(a, b); q_a: z = E_a(a)."""
    torch.manual_seed(0)
    g = unidgm.Graph("two-views")
    g.visible("a", "normal", shape=(2,))
    g.visible("b", "normal", shape=(3,))
    g.latent("z", "normal", shape=(1,), prior="standard")
    g.latent("w", "normal", shape=(2,), prior="standard")
    g.generative("z", "a", nn.Linear(1, 2), deterministic=True)
    g.generative(["z", "w"], "b", nn.Linear(3, 3), deterministic=True)
    g.inference(["a", "b"], "z", nn.Linear(5, 1), deterministic=True)
    g.inference("a", "z", nn.Linear(2, 1), deterministic=True, process="q_a")
    return g


def _batch(n=6):
    g = torch.Generator().manual_seed(1)
    return {"a": torch.randn(n, 2, generator=g), "b": torch.randn(n, 3, generator=g)}


def test_a_conditional_source_runs_the_process_on_its_views_then_p_draws_the_rest():
    g = _two_views()
    critic = DensityRatio(("a", "b", "z", "w"), MLP(8, [4], 1), real="generative", fake=Conditional("q_a", ("a",)))
    model = unidgm.compile(g, terms=[critic, critic.divergence(weight=1.0, name="match")])
    batch = _batch()
    torch.manual_seed(2)
    out = model.loss(batch, phase="loss")
    torch.manual_seed(2)
    drawn = model.sample(6)                              # the real side: the generative process from its priors
    w = torch.randn(6, 2)                                # then the fake side's one draw: w ~ p(w)
    z = g.edge_into("z", "inference", "q_a").net(batch["a"])
    b = g.edge_into("b", "generative").net(torch.cat([z, w], -1))
    T = critic.critic
    fake = T(torch.cat([batch["a"], b, z, w], -1))
    real = T(torch.cat([drawn["a"], drawn["b"], drawn["z"], drawn["w"]], -1))
    assert torch.allclose(out["match"], real.mean() - fake.mean(), atol=1e-6)
    with pytest.raises(GraphError, match="'z', which is not a visible node"):
        unidgm.compile(g, terms=[DensityRatio("a", MLP(2, [4], 1), real="data", fake=Conditional("q_a", "z"))])
    with pytest.raises(GraphError, match="q_b"):
        unidgm.compile(g, terms=[DensityRatio("a", MLP(2, [4], 1), real="data", fake=Conditional("q_b", ("a",)))])


def test_the_reconstruction_of_any_process_and_its_distance_to_the_data():
    g = _two_views()
    terms = [Distance("a", Reconstruction("q_a"), name="l1_a"), Distance("a", Reconstruction("q_a"), "l2", "l2_a"),
             Distance("a", "reconstruction", name="l1_q")]
    model = unidgm.compile(g, terms=terms)
    batch = _batch()
    out = model.loss(batch)
    G_a = g.edge_into("a", "generative").net
    by_a = G_a(g.edge_into("z", "inference", "q_a").net(batch["a"]))
    by_q = G_a(g.edge_into("z", "inference").net(torch.cat([batch["a"], batch["b"]], -1)))
    assert torch.allclose(out["l1_a"], (by_a - batch["a"]).abs().mean(), atol=1e-6)
    assert torch.allclose(out["l2_a"], (by_a - batch["a"]).pow(2).mean(), atol=1e-6)
    assert torch.allclose(out["l1_q"], (by_q - batch["a"]).abs().mean(), atol=1e-6)
    assert torch.allclose(out["loss"], out["l1_a"] + out["l2_a"] + out["l1_q"], atol=1e-6)
    with pytest.raises(ConfigError, match="norm"):
        Distance("a", norm="l3")
    with pytest.raises(GraphError, match="'q_a' does not infer 'w'"):  # b = G_b(z, w): q_a has no w
        unidgm.compile(_two_views(), terms=[Distance("b", Reconstruction("q_a"))])


@pytest.mark.parametrize("kind,expected", [("symmetric-kl", lambda r, f: r - f), ("kl", lambda r, f: r),
                                           ("reverse-kl", lambda r, f: -f)])
def test_the_plugin_divergences_and_the_critics_logistic_loss(kind, expected):
    g = _two_views()
    critic = DensityRatio(("a", "z"), MLP(3, [4], 1), real="inference", fake=Conditional("q_a", ("a",)),
                          name="critic_az", phase="critic")
    model = unidgm.compile(g, terms=[critic, critic.divergence(name="div", kind=kind)])
    assert [(p.name, p.groups) for p in model.phases] == [("critic", ("term_critic_az",)),
                                                          ("loss", ("generative", "inference"))]
    batch = _batch()
    out = model.loss(batch)
    T = critic.critic
    z_q = g.edge_into("z", "inference").net(torch.cat([batch["a"], batch["b"]], -1))
    z_a = g.edge_into("z", "inference", "q_a").net(batch["a"])
    real, fake = T(torch.cat([batch["a"], z_q], -1)), T(torch.cat([batch["a"], z_a], -1))
    assert torch.allclose(out["critic_az"], F.softplus(-real).mean() + F.softplus(fake).mean(), atol=1e-6)
    assert torch.allclose(out["div"], expected(real.mean(), fake.mean()), atol=1e-6)
    model.zero_grad()
    model.loss(batch, phase="critic")["critic_az"].backward()  # the critic's phase: no gradient to the sources
    assert all(p.grad is None for e in g.edges for p in e.net.parameters())
    with pytest.raises(ConfigError, match="plug-in"):
        critic.divergence(kind="js")


def test_a_critic_of_two_gaussians_gives_their_symmetric_kl():
    """real: the data, a ~ N(1, 1); fake: a = z with z ~ N(0, 1). T* = a - 1/2, and the
    symmetric KL is 2 * KL(N(1, 1) || N(0, 1)) = 1."""
    g = unidgm.Graph("shift")
    g.visible("a", "normal", shape=(1,))
    g.latent("z", "normal", shape=(1,), prior="standard")
    g.generative("z", "a", nn.Identity(), deterministic=True)
    torch.manual_seed(0)
    critic = DensityRatio("a", nn.Linear(1, 1), real="data", fake="generative")
    model = unidgm.compile(g, terms=[critic, critic.divergence(name="skl")])
    opt = torch.optim.Adam(critic.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        model.loss({"a": torch.randn(512, 1) + 1}, phase="critic")["critic"].backward()
        opt.step()
    torch.manual_seed(1)
    with torch.no_grad():
        estimate = model.loss({"a": torch.randn(20000, 1) + 1})["skl"].item()
    assert abs(estimate - 1.0) < 0.1, estimate
    assert abs(critic.critic.weight.item() - 1.0) < 0.15 and abs(critic.critic.bias.item() + 0.5) < 0.15


def test_a_graph_records_the_terms_objective_with_its_optimizer_settings():
    g = _two_views()
    g.set_objective("terms", lr=3e-4, beta1=0.5, terms=[Distance("a", Reconstruction("q_a"))])
    model = unidgm.compile(g)
    assert model.objective.name == "terms" and set(model.objective.keys) == {"distance_a", "loss"}
    assert model.training_defaults()["lr"] == 3e-4 and model.training_defaults()["betas"] == (0.5, 0.999)
    assert model.training_defaults()["monitor"] is None
    with pytest.raises(ConfigError, match="beta1"):
        unidgm.compile(_two_views(), "terms", beta1=1.5)
