"""Gradient estimators per latent, against gradients known in closed form (STYLE rule 12).

Each test takes one batch of N copies of one example, so the batch's examples are N
independent draws of q, and reads the gradient of the loss with respect to q's network
output per draw (N times its share of the mean): their mean estimates the gradient and
their spread gives its standard error. The exact gradient comes from the expected ELBO in
closed form (a linear-Gaussian likelihood) or by enumerating a categorical latent."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.errors import GraphError
from unidgm.inference.estimators import Gumbel, ScoreFunction

N = 100_000


def per_draw(model, net, batch, seed):
    """The loss's gradient with respect to ``net``'s output, one row per draw."""
    store = {}

    def keep(module, inputs, output):
        output.retain_grad()
        store["out"] = output

    handle = model.nets[net].register_forward_hook(keep)
    try:
        torch.manual_seed(seed)
        model.loss(batch)["loss"].backward()
    finally:
        handle.remove()
    n = store["out"].shape[0]
    return store["out"].grad * n


def assert_unbiased(draws, exact, z=5.0):
    mean, se = draws.mean(0), draws.std(0) / math.sqrt(draws.shape[0])
    assert exact.abs().max() > 10 * se.max(), "the test cannot tell the gradient from noise"
    assert ((mean - exact).abs() <= z * se + 1e-6).all(), (mean, exact, se)


# ------------------------------------------------------------------ a Gaussian latent
# z ~ N(0, I_2), x | z ~ N(A z + c, I_3): E_q[log p(x|z)] is closed-form for q = N(m, s^2).
DX, DZ = 3, 2


class UnitScale(nn.Module):
    """A linear decoder whose log-scale output is fixed at 0."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(DZ, DX)

    def forward(self, z):
        loc = self.linear(z)
        return torch.cat([loc, torch.zeros_like(loc)], -1)


def gaussian(**node_options):
    torch.manual_seed(0)
    g = unidgm.Graph("linear_gaussian")
    g.visible("x", "normal", shape=(DX,))
    g.latent("z", "normal", shape=(DZ,), prior="standard", **node_options)
    g.generative("z", "x", UnitScale())
    g.inference("x", "z", nn.Linear(DX, 2 * DZ))
    return g


X_GAUSS = torch.tensor([[1.5, -0.5, 2.0]])


def gaussian_exact(model):
    """d(-ELBO)/d(encoder output) from the expected ELBO in closed form."""
    dec = model.nets["generative_x"].linear
    out = model.nets["inference_z"](X_GAUSS).detach().requires_grad_()
    m, log_s = out.chunk(2, -1)
    s2 = (2 * log_s).exp()
    resid = X_GAUSS - dec(m)
    rec = 0.5 * (resid.pow(2).sum() + (dec.weight.pow(2) * s2).sum()) + 0.5 * DX * math.log(2 * math.pi)
    kl = (0.5 * (m.pow(2) + s2 - 1) - log_s).sum()
    return torch.autograd.grad(rec + kl, out)[0][0]


@pytest.mark.parametrize("estimator", [None, "reparameterized", "score", "score-baseline",
                                       {"name": "score-baseline", "baseline": "learned"}])
def test_gaussian_latent_estimators_are_unbiased(estimator, one_thread):
    model = unidgm.compile(gaussian(estimator=estimator))
    batch = {"x": X_GAUSS.expand(N, DX)}
    per_draw(model, "inference_z", {"x": X_GAUSS.expand(100, DX)}, seed=7)  # a baseline's first update
    assert_unbiased(per_draw(model, "inference_z", batch, seed=1), gaussian_exact(model))


def test_reparameterized_is_the_automatic_choice_for_a_normal_latent():
    model = unidgm.compile(gaussian())
    assert type(model.estimators["z"]).__name__ == "Reparameterized" and not model.score_latents


def test_score_function_draws_are_detached_for_a_reparameterizable_family():
    model = unidgm.compile(gaussian(estimator="score"))
    values = model.read_batch({"x": X_GAUSS})
    model.infer(values)
    assert not values["z"].requires_grad
    plain = unidgm.compile(gaussian())
    values = plain.read_batch({"x": X_GAUSS})
    plain.infer(values)
    assert values["z"].requires_grad


# ------------------------------------------------------------------ a categorical latent
K, D = 4, 6
X_CAT = torch.tensor([[1.0, 0, 1, 1, 0, 0]])


def categorical(**node_options):
    torch.manual_seed(0)
    g = unidgm.Graph("discrete")
    g.visible("x", "bernoulli", shape=(D,))
    g.latent("c", "categorical", shape=(K,), prior="standard", **node_options)
    g.generative("c", "x", nn.Linear(K, D))
    g.inference("x", "c", nn.Linear(D, K))
    return g


def categorical_exact(model):
    """d(-ELBO)/d(logits) by enumerating c: ELBO = sum_c q(c|x) [log p(x|c) + log p(c) - log q(c|x)]."""
    enc, dec = model.nets["inference_c"], model.nets["generative_x"]
    logits = enc(X_CAT).detach().requires_grad_()
    logq = torch.log_softmax(logits, -1)
    logpx = -F.binary_cross_entropy_with_logits(dec(torch.eye(K)), X_CAT.expand(K, D), reduction="none").sum(-1)
    elbo = (logq.exp() * (logpx - math.log(K) - logq)).sum()
    return torch.autograd.grad(-elbo, logits)[0][0]


def categorical_draws(estimator, seed=1, n=N, warm=True, **compile_options):
    model = unidgm.compile(categorical(estimator=estimator), **compile_options)
    if warm:
        per_draw(model, "inference_c", {"x": X_CAT.expand(100, D)}, seed=7)
    return model, per_draw(model, "inference_c", {"x": X_CAT.expand(n, D)}, seed)


@pytest.mark.parametrize("estimator", [None, "score", "score-baseline",
                                       {"name": "score-baseline", "baseline": "learned"}])
@pytest.mark.parametrize("objective", ["elbo", "iwae"])
def test_categorical_score_estimators_are_unbiased(estimator, objective, one_thread):
    if objective == "iwae":  # the IWAE bound with k=1 is the ELBO, through the particle path
        model, draws = categorical_draws(estimator, objective="iwae", k=1)
    else:
        model, draws = categorical_draws(estimator)
    assert_unbiased(draws, categorical_exact(model))


def test_the_baseline_lowers_the_score_function_variance(one_thread):
    _, plain = categorical_draws("score")
    _, centred = categorical_draws("score-baseline")
    assert centred.var(0).sum() < 0.1 * plain.var(0).sum()
    # the running mean's first batch has nothing to subtract: the same draws as plain REINFORCE
    _, first = categorical_draws("score-baseline", warm=False)
    torch.testing.assert_close(first, plain)


def test_a_learned_baseline_is_trained_and_lowers_the_variance(one_thread):
    """NVIL's b(x) learns the signal's dependence on x, which a running mean cannot: with
    two different examples in every batch it does better than the running mean alone."""
    xs = torch.stack([X_CAT[0], 1 - X_CAT[0]])
    batch = {"x": xs.repeat(50, 1)}
    variances = {}
    for baseline in ("running-mean", "learned"):
        model = unidgm.compile(categorical(estimator={"name": "score-baseline", "baseline": baseline}))
        baseline_params = list(model.estimators["c"].parameters())
        assert all(any(p is q for q in model.parameter_groups()["inference"]) for p in baseline_params)
        optimizer = torch.optim.Adam(baseline_params or [torch.zeros(1, requires_grad=True)], lr=1e-2)
        torch.manual_seed(3)
        for _ in range(300):  # fit the baseline only; the model stays where it is
            optimizer.zero_grad()
            model.loss(batch)["loss"].backward()
            optimizer.step()
        variances[baseline] = per_draw(model, "inference_c", {"x": xs.repeat(20_000, 1)}, seed=1).var(0).sum()
    assert variances["learned"] < 0.5 * variances["running-mean"], variances


def test_gumbel_bias_shrinks_with_the_temperature(one_thread):
    """The relaxation's gradient is that of a different, relaxed objective: biased, the
    bias vanishing as the temperature falls (and the variance growing)."""
    exact = None
    bias, variance = [], []
    for tau in (2.0, 1.0, 0.5, 0.2):
        model, draws = categorical_draws({"name": "gumbel", "temperature": tau, "anneal_rate": 0})
        exact = categorical_exact(model) if exact is None else exact
        bias.append((draws.mean(0) - exact).abs().max().item())
        variance.append(draws.var(0).sum().item())
        se = (draws.std(0) / math.sqrt(N)).max().item()
        if tau >= 1.0:
            assert bias[-1] > 20 * se  # really biased, not noise
    assert bias == sorted(bias, reverse=True) and bias[-1] < 0.1 * bias[0], bias
    assert variance == sorted(variance), variance


def test_gumbel_relaxes_only_in_training_and_follows_its_schedule():
    model = unidgm.compile(categorical(estimator="gumbel"))
    est = model.estimators["c"]
    assert isinstance(est, Gumbel) and est.current_temperature() == 1.0  # Jang et al. (2017): tau_0 = 1
    model.set_schedule_step(100_000)
    assert math.isclose(est.current_temperature(), max(0.5, math.exp(-1e-5 * 100_000)))
    model.set_schedule_step(10**7)
    assert est.current_temperature() == 0.5
    values = model.read_batch({"x": X_CAT.expand(50, D)})
    model.infer(values)
    assert not torch.all((values["c"] == 0) | (values["c"] == 1))  # relaxed
    model.eval()
    values = model.read_batch({"x": X_CAT.expand(50, D)})
    model.infer(values)
    assert torch.all(values["c"].sum(-1) == 1) and torch.all((values["c"] == 0) | (values["c"] == 1))


def test_gumbel_on_a_bernoulli_latent_is_the_binary_concrete():
    torch.manual_seed(0)
    g = unidgm.Graph("sbn")
    g.visible("x", "bernoulli", shape=(D,))
    g.latent("h", "bernoulli", shape=(3,), prior="standard", estimator=Gumbel(temperature=0.5, anneal_rate=0))
    g.generative("h", "x", nn.Linear(3, D))
    g.inference("x", "h", nn.Linear(D, 3))
    model = unidgm.compile(g, "iwae", k=4)
    values = model.read_batch({"x": X_CAT.expand(20000, D)})
    q = model.infer(values, particles=2)
    h = values["h"]
    assert h.shape == (2, 20000, 3) and h.requires_grad and ((h >= 0) & (h <= 1)).all()
    assert ((h > 0.01) & (h < 0.99)).float().mean() > 0.2  # relaxed, not binary
    # P(relaxed h > 1/2) = sigmoid(logits): the relaxation keeps the Bernoulli's odds
    torch.testing.assert_close((h > 0.5).float().mean((0, 1)), torch.sigmoid(q["h"][0][0]), atol=0.01, rtol=0)
    model.loss({"x": X_CAT.expand(8, D)})["loss"].backward()
    assert model.nets["inference_h"].weight.grad.abs().sum() > 0


def test_compile_overrides_the_node_choice():
    model = unidgm.compile(categorical(estimator="gumbel"), estimators={"c": "score"})
    assert isinstance(model.estimators["c"], ScoreFunction) and model.estimators["c"].baseline is None
    model = unidgm.compile(categorical(), "iwae", k=3, estimators={"c": {"name": "score-baseline", "decay": 0.5}})
    assert model.estimators["c"].decay == 0.5
    assert isinstance(unidgm.compile(categorical()).estimators["c"], ScoreFunction)  # automatic: with a baseline
    assert unidgm.compile(categorical()).estimators["c"].baseline == "running-mean"


def test_checkpoints_without_the_baseline_still_load():
    model = unidgm.compile(categorical())
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("estimators.")}
    unidgm.compile(categorical()).load_state_dict(state)  # strict: the running mean starts afresh


def test_errors_name_the_latent_and_the_fix():
    with pytest.raises(GraphError, match="latent 'c': estimator='reparameterized'.*'categorical' has none.*gumbel"):
        unidgm.compile(categorical(estimator="reparameterized"))
    with pytest.raises(GraphError, match="latent 'z': estimator='gumbel' relaxes discrete latents.*normal"):
        unidgm.compile(gaussian(estimator="gumbel"))
    with pytest.raises(GraphError, match="latent 'c': unknown estimator 'reinforce'.*score-baseline"):
        unidgm.compile(categorical(estimator="reinforce"))
    with pytest.raises(GraphError, match="latent 'c': bad options.*'gumbel'"):
        unidgm.compile(categorical(estimator={"name": "gumbel", "tau": 1}))
    with pytest.raises(GraphError, match="estimators=.*'x' gets no gradient estimator.*not a latent"):
        unidgm.compile(categorical(), estimators={"x": "score"})
    with pytest.raises(GraphError, match="'w' is not a node"):
        unidgm.compile(categorical(), estimators={"w": "score"})
    g = unidgm.Graph("gan")
    g.visible("x", "normal", shape=(2,))
    g.latent("z", "normal", shape=(2,), prior="standard", estimator="score")
    g.generative("z", "x", nn.Linear(2, 4))
    with pytest.raises(GraphError, match="estimator=: node 'z'.*no inference edge.*drop the option"):
        unidgm.compile(g, "iwae")
    with pytest.raises(GraphError, match="baseline must be one of"):
        unidgm.compile(categorical(estimator={"name": "score-baseline", "baseline": "ema"}))


def test_a_resumed_run_continues_the_running_mean_exactly(tmp_path):
    """The baseline's running mean is model state: checkpointed, so resume stays exact."""
    from unidgm.train import Trainer

    g = torch.Generator().manual_seed(0)

    class Splits:
        train = {"x": torch.bernoulli(torch.full((64, D), 0.4), generator=g)}
        val = {"x": torch.bernoulli(torch.full((16, D), 0.4), generator=g)}
        test = {}

    def run(out, steps, resume=False):
        model = unidgm.compile(categorical())
        Trainer(model, Splits, max_steps=steps, batch_size=16, eval_every=4, out=str(out), resume=resume,
                progress=False).fit()
        return model.state_dict()

    straight = run(tmp_path / "straight", 12)
    run(tmp_path / "stopped", 6)
    resumed = run(tmp_path / "stopped", 12, resume=True)
    assert straight["estimators.c.ema_weight"] > 0
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key


def test_learned_baselines_in_a_hierarchy_under_particles():
    """q(h2|h1) reads sampled h1: its baseline reads h1's particles, and trains."""
    torch.manual_seed(0)
    g = unidgm.Graph("sbn")
    g.visible("x", "bernoulli", shape=(D,))
    g.latent("h1", "bernoulli", shape=(4,))
    g.latent("h2", "bernoulli", shape=(3,), prior="learned")
    g.generative("h2", "h1", nn.Linear(3, 4))
    g.generative("h1", "x", nn.Linear(4, D))
    g.inference("x", "h1", nn.Linear(D, 4))
    g.inference("h1", "h2", nn.Linear(4, 3))
    learned = {"name": "score-baseline", "baseline": "learned"}
    model = unidgm.compile(g, "iwae", k=3, estimators={"h1": learned, "h2": learned})
    terms = model.loss({"x": X_CAT.expand(8, D)})
    torch.testing.assert_close(terms["loss"], -terms["iwae"])  # the surrogates add nothing to the value
    terms["loss"].backward()
    for z in ("h1", "h2"):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.estimators[z].parameters()), z
