"""Wake-sleep and reweighted wake-sleep: against Pyro's ReweightedWakeSleep on the bridge's
model/guide (same draws, same losses and gradients), against hand-written references, and
their phases, parameter groups, formulas and errors."""
import math

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro.infer import ReweightedWakeSleep
from torch import nn

import unidgm
from unidgm.errors import ConfigError, GraphError
from unidgm.nets import MLP

from .graphs import C, X, binary_batch, cvae, labelled_batch, vae

H1, H2 = 5, 3


def sbn():
    """A two-layer sigmoid belief net (Helmholtz machine): h2 ~ Bernoulli(learned),
    h1 ~ p(h1|h2), x ~ p(x|h1); recognition q(h1|x), q(h2|h1)."""
    torch.manual_seed(0)
    g = unidgm.Graph("sbn")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("h1", "bernoulli", shape=(H1,))
    g.latent("h2", "bernoulli", shape=(H2,), prior="learned")
    g.generative("h2", "h1", nn.Linear(H2, H1))
    g.generative("h1", "x", MLP(H1, [8], X))
    g.inference("x", "h1", MLP(X, [8], H1))
    g.inference("h1", "h2", nn.Linear(H1, H2))
    return g


def compiled(objective, **options):
    model = unidgm.compile(sbn(), objective, **options)
    with torch.no_grad():
        model.learned_priors["h2"].normal_(0, 0.5)
    return model


def grads(model, loss, group):
    params = model.parameter_groups()[group]
    got = torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, got)]


def guide_with_observations(model):
    """Pyro's sleep-phi replays the guide with the dreamed observations passed as
    ``observations=``; the bridge's guide reads them from its batch."""
    def guide(batch, observations=None):
        model.pyro_guide({**batch, **(observations or {})})
    return guide


def pyro_losses(model, batch, k, insomnia, seed):
    torch.manual_seed(seed)
    rws = ReweightedWakeSleep(num_particles=k, insomnia=insomnia, num_sleep_particles=1, max_plate_nesting=1)
    return rws._loss(model.pyro_model, guide_with_observations(model), (batch,), {})


def ours(model, batch, seed):
    torch.manual_seed(seed)
    return model.loss(batch)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("insomnia", [1.0, 0.0, 0.3])
def test_rws_equals_pyro_reweighted_wake_sleep(insomnia, seed):
    """Pyro weights a whole batch as one example, so the two agree at batch size 1; Pyro
    sums the sleep-phi loss over its dreams where the compiled terms average."""
    k = 4
    model = compiled("rws", k=k, insomnia=insomnia)
    batch = binary_batch(n=1, seed=seed)
    theirs_theta, theirs_phi = pyro_losses(model, batch, k, insomnia, seed)
    terms = ours(model, batch, seed)
    torch.testing.assert_close(terms["wake_theta"], theirs_theta, rtol=1e-5, atol=1e-6)
    ours_phi = terms["loss"] - terms["wake_theta"]
    torch.testing.assert_close(ours_phi, theirs_phi, rtol=1e-5, atol=1e-6)
    for ours_loss, pyro_loss, group in ((terms["wake_theta"], theirs_theta, "generative"),
                                        (ours_phi, theirs_phi, "inference")):
        mine, reference = grads(model, ours_loss, group), grads(model, pyro_loss, group)
        assert any(g.abs().sum() > 0 for g in reference)
        for a, b in zip(mine, reference):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # and the draws matter: another seed gives another value
    assert not torch.allclose(ours(model, batch, seed + 10)["loss"], terms["loss"])


def test_each_rws_term_reaches_only_its_parameters():
    model = compiled("rws", k=3, insomnia=0.5)
    terms = model.loss(binary_batch())
    assert all(g.abs().sum() == 0 for g in grads(model, terms["wake_theta"], "inference"))
    assert any(g.abs().sum() > 0 for g in grads(model, terms["wake_theta"], "generative"))
    for name in ("wake_phi", "sleep_phi"):
        assert all(g.abs().sum() == 0 for g in grads(model, terms[name], "generative"))
        assert all(g.abs().sum() > 0 for g in grads(model, terms[name], "inference"))
    expected = terms["wake_theta"] + 0.5 * terms["wake_phi"] + 0.5 * terms["sleep_phi"]
    torch.testing.assert_close(terms["loss"], expected)
    torch.testing.assert_close(terms["iwae"], -terms["wake_theta"].detach())


def _log_joint(nets, prior_logits, x, h1, h2):
    return (-F.binary_cross_entropy_with_logits(prior_logits.expand_as(h2), h2, reduction="none").sum(-1)
            - F.binary_cross_entropy_with_logits(nets["generative_h1"](h2), h1, reduction="none").sum(-1)
            - F.binary_cross_entropy_with_logits(nets["generative_x"](h1), x, reduction="none").sum(-1))


def _log_q(nets, x, h1, h2):
    return (-F.binary_cross_entropy_with_logits(nets["inference_h1"](x), h1, reduction="none").sum(-1)
            - F.binary_cross_entropy_with_logits(nets["inference_h2"](h1), h2, reduction="none").sum(-1))


def test_wake_sleep_equals_hand_written_phases():
    """Hinton et al. (1995): wake, -log p(x, h) at h ~ q(h|x) held fixed; sleep,
    -log q(h|x) at (h, x) ~ p, each phase on its own draws."""
    model = compiled("wake-sleep")
    nets, prior = model.nets, model.learned_priors["h2"]
    batch = binary_batch()
    x = batch["x"]
    torch.manual_seed(5)
    wake = model.loss(batch, phase="wake")
    torch.manual_seed(5)
    h1 = torch.bernoulli(torch.sigmoid(nets["inference_h1"](x)))
    h2 = torch.bernoulli(torch.sigmoid(nets["inference_h2"](h1)))
    torch.testing.assert_close(wake["wake"], -_log_joint(nets, prior, x, h1, h2).mean())
    torch.testing.assert_close(wake["elbo"], (_log_joint(nets, prior, x, h1, h2) - _log_q(nets, x, h1, h2)).mean())
    assert "sleep" not in wake
    torch.manual_seed(6)
    sleep = model.loss(batch, phase="sleep")
    torch.manual_seed(6)
    with torch.no_grad():
        d2 = torch.bernoulli(torch.sigmoid(prior).expand(x.shape[0], H2))
        d1 = torch.bernoulli(torch.sigmoid(nets["generative_h1"](d2)))
        dx = torch.bernoulli(torch.sigmoid(nets["generative_x"](d1)))
    torch.testing.assert_close(sleep["sleep"], -_log_q(nets, dx, d1, d2).mean())
    assert "wake" not in sleep
    assert set(model.loss(batch)) == {"wake", "sleep", "elbo", "loss"}


def test_phases_and_groups():
    ws = compiled("wake-sleep")
    assert [(p.name, p.groups, p.loss) for p in ws.phases] == [
        ("wake", ("generative",), "wake"), ("sleep", ("inference",), "sleep")]
    assert ws.objective.monitor == "elbo"
    rws = compiled("rws", k=5)
    assert [(p.name, p.groups, p.loss) for p in rws.phases] == [("rws", ("generative", "inference"), "loss")]
    assert rws.objective.monitor == "iwae" and rws.objective.insomnia == 0.5  # Bornschein & Bengio's default


@pytest.mark.parametrize("objective,options", [("wake-sleep", {}), ("rws", {"k": 3}),
                                               ("rws", {"k": 3, "insomnia": 1.0}), ("rws", {"k": 2, "insomnia": 0.0})])
def test_formula_names_the_computed_terms(objective, options):
    model = compiled(objective, **options)
    formula = model.formula()
    terms = model.loss(binary_batch())
    assert set(formula.names) <= set(terms)
    for phase in model.phases:
        described = [t for t in formula.terms if t.phase == phase.name]
        assert described and all(t.groups == phase.groups for t in described)
    loss = sum(t.weight * terms[t.name] for t in formula.terms)
    torch.testing.assert_close(loss, terms["loss"])
    if objective == "wake-sleep":  # the factors of p and q, read off the graph
        assert "log p(h2) + log p(h1|h2) + log p(x|h1)" in formula.text
        assert "log q(h1|x) + log q(h2|h1)" in formula.text
    else:
        assert "w_k = p(x,h1^(k),h2^(k)) / q(h1^(k),h2^(k)|x)" in formula.text
    assert formula.latex.startswith(r"\begin{aligned}")


def test_any_graph_with_both_processes_compiles():
    """A Gaussian VAE's graph trains by wake-sleep too (no gradient passes through z), and
    a conditional VAE dreams with the batch's labels."""
    model = unidgm.compile(vae(), "rws", k=3)
    terms = model.loss(binary_batch())
    terms["loss"].backward()
    assert all(torch.isfinite(v) for v in terms.values())
    model = unidgm.compile(cvae(), "wake-sleep")
    batch = labelled_batch()
    from unidgm.inference.sources import Trace

    dream = Trace(model, batch).dream()
    assert torch.equal(dream["y"], F.one_hot(batch["y"], C).float()) and dream["x"].shape == batch["x"].shape
    assert all(torch.isfinite(v) for v in model.loss(batch).values())


def test_trainer_runs_both_phases_and_the_bound_improves(tmp_path):
    from unidgm.train import Trainer

    g = torch.Generator().manual_seed(0)
    protos = torch.bernoulli(torch.full((3, X), 0.5), generator=g)
    data = protos[torch.randint(0, 3, (300,), generator=g)]
    data = torch.where(torch.rand(data.shape, generator=g) < 0.05, 1 - data, data)

    class Splits:
        train = {"x": data[:240]}
        val = {"x": data[240:]}
        test = {}

    for objective, options, monitor in (("wake-sleep", {}, "elbo"), ("rws", {"k": 5}, "iwae")):
        model = compiled(objective, **options)
        before = model.loss(Splits.val)[monitor].item()
        summary = Trainer(model, Splits, epochs=15, batch_size=20, lr=3e-3, monitor=monitor,
                          out=str(tmp_path / objective), progress=False).fit()
        assert summary["val"][monitor] > before + 1.0, (objective, before, summary["val"])


def test_errors_name_the_node_and_the_fix():
    g = sbn()
    g.adversarial("x", nn.Linear(X, 1))
    with pytest.raises(GraphError, match="adversarial edge.*wake-sleep"):
        unidgm.compile(g, "wake-sleep")
    g = unidgm.Graph("no_q")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("h", "bernoulli", shape=(H1,), prior="standard")
    g.generative("h", "x", nn.Linear(H1, X))
    with pytest.raises(GraphError, match="latent 'h' has no inference edge.*g.inference"):
        unidgm.compile(g, "rws")
    g = unidgm.Graph("no_prior")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("h", "bernoulli", shape=(H1,))
    g.generative("h", "x", nn.Linear(H1, X))
    g.inference("x", "h", nn.Linear(X, H1))
    with pytest.raises(GraphError, match="latent 'h' has neither a prior.*cannot dream"):
        unidgm.compile(g, "wake-sleep")
    with pytest.raises(ConfigError, match="k=1.*insomnia=0"):
        unidgm.compile(sbn(), "rws", k=1)
    with pytest.raises(ConfigError, match="insomnia must be in"):
        unidgm.compile(sbn(), "rws", insomnia=2)
    with pytest.raises(ConfigError, match="no option kl"):
        unidgm.compile(sbn(), "wake-sleep", kl="mc")
    assert math.isclose(unidgm.compile(sbn(), "rws", k=1, insomnia=0).objective.insomnia, 0.0)


def test_pyro_rws_trains_the_bridge_pair_like_ours():
    """Sanity of the interface: Pyro's SVI with ReweightedWakeSleep drives the same pair."""
    model = compiled("rws", k=3, insomnia=1.0)
    batch = binary_batch(n=1)
    svi = pyro.infer.SVI(model.pyro_model, guide_with_observations(model), pyro.optim.Adam({"lr": 1e-2}),
                         ReweightedWakeSleep(num_particles=3, max_plate_nesting=1))
    for _ in range(3):
        theta_loss, phi_loss = svi.step(batch)
    assert math.isfinite(theta_loss) and math.isfinite(phi_loss)


def test_wake_sleep_resumes_exactly(tmp_path):
    """Two phases, two optimizers: both in the checkpoint."""
    from unidgm.train import Trainer

    class Splits:
        train = binary_batch(n=48, seed=3)
        val = binary_batch(n=12, seed=4)
        test = {}

    def run(out, steps, resume=False):
        model = compiled("wake-sleep")
        Trainer(model, Splits, max_steps=steps, batch_size=16, eval_every=4, out=str(out), resume=resume,
                progress=False).fit()
        return model.state_dict()

    straight = run(tmp_path / "straight", 10)
    run(tmp_path / "stopped", 5)
    resumed = run(tmp_path / "stopped", 10, resume=True)
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
