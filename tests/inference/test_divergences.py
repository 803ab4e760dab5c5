"""Adversarial divergences: hand-computed losses, the conjugate table, and variational
estimates with trained discriminators against closed forms on 1-D Gaussians."""
import math

import pytest
import torch
import torch.nn.functional as F

from unidgm.errors import ConfigError, GraphError
from unidgm.inference.divergences import DIVERGENCES, Divergence, FDivergence, make_divergence

F_GANS = ("kl", "reverse-kl", "pearson", "hellinger", "js")
MU = 1.0  # P = N(0, 1), Q = N(MU, 1) for the f-divergences


# ---------------------------------------------------------------- the paper's tables, naive

def _table(name):
    """(g_f, f*) written naively from Nowozin et al. 2016, Table 2."""
    return {
        "kl": (lambda v: v, lambda t: torch.exp(t - 1)),
        "reverse-kl": (lambda v: -torch.exp(-v), lambda t: -1 - torch.log(-t)),
        "pearson": (lambda v: v, lambda t: t ** 2 / 4 + t),
        "hellinger": (lambda v: 1 - torch.exp(-v), lambda t: t / (1 - t)),
        "js": (lambda v: math.log(2) - torch.log(1 + torch.exp(-v)),
               lambda t: -torch.log(2 - torch.exp(t))),
        "gan": (lambda v: torch.log(torch.sigmoid(v)), lambda t: -torch.log(1 - torch.exp(t))),
    }[name]


def _mean(x):
    return x.mean()


def _expected(name, vr, vf):
    """(discriminator loss, generator loss without v_real, with v_real, estimate) by hand."""
    if name in ("gan", "ns-gan"):
        d_real, d_fake = torch.log(torch.sigmoid(vr)), torch.log(1 - torch.sigmoid(vf))
        value = _mean(d_real) + _mean(d_fake)
        if name == "gan":
            return -value, _mean(d_fake), value, value
        flipped_fake = -torch.log(torch.sigmoid(vf))
        flipped_real = -torch.log(1 - torch.sigmoid(vr))
        return -value, _mean(flipped_fake), _mean(flipped_fake) + _mean(flipped_real), value
    if name in F_GANS:
        g, fstar = _table(name)
        value = _mean(g(vr)) - _mean(fstar(g(vf)))
        alt_fake = -_mean(g(vf))
        return -value, alt_fake, alt_fake + _mean(fstar(g(vr))), value
    if name == "wgan-gp":
        return _mean(vf) - _mean(vr), -_mean(vf), -_mean(vf) + _mean(vr), _mean(vr) - _mean(vf)
    assert name == "hinge"
    return (_mean(F.relu(1 - vr)) + _mean(F.relu(1 + vf)), -_mean(vf), -_mean(vf) + _mean(vr),
            None)


V_REAL = torch.tensor([-2.0, -0.5, 0.0, 0.7, 1.5, 3.0], dtype=torch.float64)
V_FAKE = torch.tensor([-1.5, -0.2, 0.3, 0.9, 2.0, -3.0], dtype=torch.float64)


@pytest.mark.parametrize("name", DIVERGENCES)
def test_losses_equal_hand_computed_formulas(name):
    div = make_divergence(name)
    d_loss, g_fake, g_both, value = _expected(name, V_REAL, V_FAKE)
    for got, want in [(div.discriminator_loss(V_REAL, V_FAKE), d_loss),
                      (div.generator_loss(V_FAKE), g_fake),
                      (div.generator_loss(V_FAKE, V_REAL), g_both)]:
        assert got.shape == ()
        torch.testing.assert_close(got, want)
    estimate = div.estimate(V_REAL, V_FAKE)
    if value is None:
        assert estimate is None
    else:
        torch.testing.assert_close(estimate, value)


@pytest.mark.parametrize("name", F_GANS)
def test_f_gan_minimax_generator_is_the_value(name):
    div = make_divergence(name, generator="minimax")
    g, fstar = _table(name)
    torch.testing.assert_close(div.generator_loss(V_FAKE), -_mean(fstar(g(V_FAKE))))
    torch.testing.assert_close(div.generator_loss(V_FAKE, V_REAL),
                               -div.discriminator_loss(V_REAL, V_FAKE))


def test_minimax_gan_generator_is_minus_the_discriminator_loss():
    gan = make_divergence("gan")
    torch.testing.assert_close(gan.generator_loss(V_FAKE, V_REAL),
                               -gan.discriminator_loss(V_REAL, V_FAKE))


def test_js_alternative_generator_is_ns_gan_up_to_constants():
    js, ns = make_divergence("js"), make_divergence("ns-gan")
    torch.testing.assert_close(js.generator_loss(V_FAKE), ns.generator_loss(V_FAKE) - math.log(2))
    torch.testing.assert_close(js.generator_loss(V_FAKE, V_REAL),
                               ns.generator_loss(V_FAKE, V_REAL) - 2 * math.log(2))


def test_non_saturating_gradient_survives_a_confident_discriminator():
    """Goodfellow et al. 2014, Sec. 3: with D sure the fakes are fake (v = -10), the minimax
    generator's gradient vanishes and the non-saturating one's does not."""
    grads = {}
    for name in ("gan", "ns-gan"):
        v_fake = torch.full((4,), -10.0, requires_grad=True)
        make_divergence(name).generator_loss(v_fake).backward()
        grads[name] = v_fake.grad.abs().max().item() * 4  # per-example gradient
    assert grads["gan"] < 1e-4
    assert grads["ns-gan"] > 0.99


@pytest.mark.parametrize("name", ("gan", "ns-gan", "js"))
def test_logistic_losses_are_finite_for_extreme_outputs(name):
    div = make_divergence(name)
    v = torch.tensor([-200.0, 200.0])
    for loss in (div.discriminator_loss(v, v), div.generator_loss(v, v)):
        assert torch.isfinite(loss)


# ------------------------------------------------------------------- the conjugate table

@pytest.mark.parametrize("name", F_GANS + ("gan",))
def test_conjugate_is_the_fenchel_conjugate_of_f(name):
    """f*(g_f(v)) (the stable form) = f*(g_f(v)) composed = sup_u (u t - f(u)) on a grid."""
    div = make_divergence(name)
    v = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=torch.float64)
    t = div.activation(v)
    stable = div.conjugate_of_activation(v)
    torch.testing.assert_close(stable, div.conjugate(t))
    u = torch.logspace(-8, 3, 400_001, dtype=torch.float64)
    sup = (u[None, :] * t[:, None] - div.f(u)[None, :]).max(dim=1).values
    torch.testing.assert_close(stable, sup, atol=1e-6, rtol=1e-6)
    f_at_1 = -math.log(4) if name == "gan" else 0.0  # the GAN's f is not normalised
    assert div.f(torch.ones((), dtype=torch.float64)).item() == pytest.approx(f_at_1, abs=1e-12)


# ------------------------------------------------------ estimates against closed forms

def _exact(div, mu=MU):
    """D_f(N(0,1) || N(mu,1)) = int q f(p/q) dx by the trapezoidal rule on a fine grid."""
    x = torch.linspace(-15.0, 15.0 + mu, 300_001, dtype=torch.float64)
    log_p, log_q = -x ** 2 / 2, -(x - mu) ** 2 / 2
    q = torch.exp(log_q) / math.sqrt(2 * math.pi)
    return torch.trapezoid(q * div.f(torch.exp(log_p - log_q)), x).item()


def test_quadrature_matches_closed_forms():
    closed = {"kl": MU ** 2 / 2, "reverse-kl": MU ** 2 / 2, "pearson": math.exp(MU ** 2) - 1,
              "hellinger": 2 * (1 - math.exp(-MU ** 2 / 8))}
    for name, value in closed.items():
        assert _exact(make_divergence(name)) == pytest.approx(value, rel=1e-6)
    two_jsd = _exact(make_divergence("js"))
    assert 0 < two_jsd < math.log(4)
    assert _exact(make_divergence("gan")) == pytest.approx(two_jsd - math.log(4), rel=1e-6)


class _Discriminators(torch.nn.Module):
    """K independent 1 -> H -> 1 ReLU MLPs evaluated in one batched pass."""

    def __init__(self, k, hidden, generator):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(k, 1, hidden, generator=generator))
        self.b1 = torch.nn.Parameter(torch.randn(k, 1, hidden, generator=generator))
        self.w2 = torch.nn.Parameter(torch.randn(k, hidden, 1, generator=generator) / hidden ** 0.5)
        self.b2 = torch.nn.Parameter(torch.zeros(k, 1, 1))

    def forward(self, x):                                  # x (N,)
        h = torch.relu(x.view(1, -1, 1) * self.w1 + self.b1)   # (K, N, H)
        return torch.baddbmm(self.b2, h, self.w2).squeeze(-1)  # (K, N)


@pytest.fixture(scope="module")
def f_gan_estimates():
    """Trains one discriminator per f-GAN (and the GAN) between P = N(0,1) and
    Q = N(MU,1) with fresh batches each step, then estimates on 200k fresh draws.

    Many small ops: on contended cores one thread is much faster, so use it here."""
    names = F_GANS + ("ns-gan",)
    divs = [make_divergence(n) for n in names]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(0)
        nets = _Discriminators(len(divs), hidden=64, generator=gen)
        steps, batch = 500, 2048
        opt = torch.optim.Adam(nets.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            x_real = torch.randn(batch, generator=gen)
            x_fake = torch.randn(batch, generator=gen) + MU
            v_real, v_fake = nets(x_real), nets(x_fake)                 # (K, B)
            loss = sum(d.discriminator_loss(v_real[k], v_fake[k]) for k, d in enumerate(divs))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            n = 200_000
            v_real = nets(torch.randn(n, generator=gen))
            v_fake = nets(torch.randn(n, generator=gen) + MU)
            return {d.name: d.estimate(v_real[k], v_fake[k]).item() for k, d in enumerate(divs)}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", F_GANS + ("ns-gan",))
def test_trained_estimate_is_within_ten_percent_of_the_divergence(name, f_gan_estimates):
    """The issue's requirement; for "ns-gan" the target is the GAN value 2 JSD - log 4."""
    exact = _exact(make_divergence("gan" if name == "ns-gan" else name))
    assert f_gan_estimates[name] == pytest.approx(exact, rel=0.10)


def _wgan_gp_estimate(penalty, steps=300, batch=2048):
    """Trains a 1 -> 64 -> 1 critic between P = N(0,1) and Q = N(2,1) (Alg. 1's Adam)."""
    div = make_divergence("wgan-gp", penalty=penalty)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

        def critic(x):
            return net(x).squeeze(-1)

        opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.9))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            real, fake = torch.randn(batch, 1), torch.randn(batch, 1) + 2
            loss = (div.discriminator_loss(critic(real), critic(fake))
                    + div.gradient_penalty(critic, real, fake))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            real, fake = torch.randn(200_000, 1), torch.randn(200_000, 1) + 2
            return div.estimate(critic(real), critic(fake)).item()
    finally:
        torch.set_num_threads(threads)


def _soft_constraint_optimum(penalty):
    """Best value of E_P[v] - E_Q[v] - penalty * E[(|v'(x_hat)| - 1)^2] over critics with
    free slopes: W1 + int (F_P - F_Q)^2 / (2 penalty rho) dx, rho the density of x_hat."""
    x = torch.linspace(-10, 12, 4_001, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), 1.0)
    gap = normal.cdf(x) - normal.cdf(x - 2)
    eps = torch.linspace(0, 1, 1_001, dtype=torch.float64)[:, None]
    scale = torch.sqrt(eps ** 2 + (1 - eps) ** 2)        # x_hat | eps ~ N(2 (1 - eps), scale^2)
    rho = torch.trapezoid(normal.log_prob((x - 2 * (1 - eps)) / scale).exp() / scale,
                          eps[:, 0], dim=0)
    return 2 + torch.trapezoid(gap ** 2 / (2 * penalty * rho), x).item()


def test_wgan_gp_estimate_approaches_w1():
    """W1(N(0,1), N(2,1)) = 2. The penalty is a soft constraint: the critic steepens where
    interpolates are sparse, biasing the estimate up by O(1/penalty), about +10% at the
    paper's 10 (predicted 2.21), so W1 is checked at penalty 100 (predicted 2.02)."""
    estimate = _wgan_gp_estimate(penalty=100.0)
    assert estimate == pytest.approx(2.0, rel=0.10)
    assert estimate == pytest.approx(_soft_constraint_optimum(100.0), rel=0.03)


def test_wgan_gp_default_penalty_reaches_its_soft_constraint_optimum():
    assert make_divergence("wgan-gp").penalty_weight == 10.0
    assert _wgan_gp_estimate(penalty=10.0) == pytest.approx(_soft_constraint_optimum(10.0),
                                                            rel=0.03)


# ------------------------------------------------------------------- gradient penalty

def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    div = make_divergence("wgan-gp")
    real, fake = torch.randn(32, 3), torch.randn(32, 3)
    w = torch.tensor([0.6, 0.0, 0.8])
    assert div.gradient_penalty(lambda x: x @ w, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert div.gradient_penalty(lambda x: x[:, 0], real[:, :1], fake[:, :1]).item() == 0.0


def test_gradient_penalty_value_and_gradient_for_a_linear_critic():
    """For critic(x) = w.x the gradient is w everywhere: penalty = lambda (||w|| - 1)^2."""
    div = make_divergence("wgan-gp", penalty=5.0)
    critic = torch.nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))
    real = torch.randn(16, 3, requires_grad=True)
    fake = torch.randn(16, 3)
    penalty = div.gradient_penalty(lambda x: critic(x).squeeze(-1), real, fake)
    torch.testing.assert_close(penalty, torch.tensor(5.0 * 16.0))
    penalty.backward()
    # d/dw lambda (||w|| - 1)^2 = 2 lambda (||w|| - 1) w / ||w||
    torch.testing.assert_close(critic.weight.grad, 2 * 5.0 * 4.0 * critic.weight.detach() / 5.0)
    assert real.grad is None  # the penalty trains the critic only


def test_gradient_penalty_is_positive_for_a_nonlinear_critic():
    div = make_divergence("wgan-gp")
    penalty = div.gradient_penalty(lambda x: (x ** 2).sum(-1), torch.randn(64, 2),
                                   torch.randn(64, 2) + 3)
    assert penalty.item() > 0


def test_gradient_penalty_refuses_mismatched_sides():
    div = make_divergence("wgan-gp")
    with pytest.raises(GraphError, match="same way"):
        div.gradient_penalty(lambda x: x.sum(-1), torch.randn(4, 3), torch.randn(4, 2))


# -------------------------------------------------------------------------- the factory

def test_registry_names_and_defaults():
    assert set(DIVERGENCES) == {"gan", "ns-gan", "kl", "reverse-kl", "pearson", "hellinger",
                                "js", "wgan-gp", "hinge"}
    default = make_divergence()
    assert default.name == "ns-gan"
    for name in DIVERGENCES:
        div = make_divergence(name)
        assert isinstance(div, Divergence) and div.name == name
        assert div.penalty_weight == (10.0 if name == "wgan-gp" else 0.0)
    assert make_divergence("wgan-gp", penalty=0).penalty_weight == 0.0
    assert make_divergence("kl", generator="minimax").generator == "minimax"
    assert isinstance(make_divergence("js"), FDivergence)


def test_unknown_name_lists_the_names():
    with pytest.raises(ConfigError) as err:
        make_divergence("wasserstein")
    for name in DIVERGENCES:
        assert name in str(err.value)


@pytest.mark.parametrize("name, options", [
    ("gan", {"generator": "alternative"}),   # that is "ns-gan": refused, not silently renamed
    ("hinge", {"penalty": 1.0}),
    ("kl", {"penalty": 1.0}),
    ("wgan-gp", {"lambda_": 10.0}),
])
def test_unknown_option_is_refused(name, options):
    with pytest.raises(ConfigError, match="no option"):
        make_divergence(name, **options)


@pytest.mark.parametrize("name, options, field", [
    ("kl", {"generator": "saturating"}, "generator"),
    ("wgan-gp", {"penalty": -1.0}, "penalty"),
    ("wgan-gp", {"penalty": "10"}, "penalty"),
])
def test_bad_option_values_name_the_field(name, options, field):
    with pytest.raises(ConfigError, match=field):
        make_divergence(name, **options)
