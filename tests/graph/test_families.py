"""Each family's closed forms against the Pyro/torch distributions they stand for."""

import math

import pytest
import torch
import torch.distributions as td

from unidgm.graph.families import FAMILIES, make_family

B = 7


def rand_params(name, shape):
    """Random parameters in the split layout (one tensor per parameter, each (B, *shape))."""
    fam = make_family(name)
    return tuple(torch.randn((B,) + shape) for _ in range(fam.num_params))


def rand_value(name, params, shape):
    if name == "normal":
        return torch.randn((B,) + shape) * 2
    if name == "bernoulli":
        return torch.bernoulli(torch.full((B,) + shape, 0.5))
    if name == "categorical":
        idx = torch.randint(0, shape[-1], (B,) + shape[:-1])
        return torch.nn.functional.one_hot(idx, shape[-1]).float()
    if name == "relaxed_categorical":
        return torch.softmax(torch.randn((B,) + shape), -1)
    if name == "delta":
        return params[0].clone()
    raise AssertionError(name)


SHAPES = [(5,), (2, 3), (1, 2, 4)]


def test_registry_names():
    assert set(FAMILIES) == {"normal", "bernoulli", "categorical", "relaxed_categorical", "delta"}
    assert {n: make_family(n).num_params for n in FAMILIES} == {
        "normal": 2, "bernoulli": 1, "categorical": 1, "relaxed_categorical": 1, "delta": 1}
    assert make_family("relaxed_categorical", temperature=0.3).temperature == 0.3


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_log_prob_matches_pyro(name, shape):
    torch.manual_seed(1)
    fam = make_family(name)
    params = rand_params(name, shape)
    value = rand_value(name, params, shape)
    dims = len(shape)
    ours = fam.log_prob(params, value, dims)
    ref = fam.pyro_dist(params, dims).log_prob(value)
    assert ours.shape == ref.shape == (B,)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["normal", "bernoulli", "categorical", "relaxed_categorical"])
def test_log_prob_matches_torch_distribution(name):
    """Independent of the pyro_dist mapping: the torch distribution written out by hand."""
    torch.manual_seed(2)
    shape = (2, 3)
    fam = make_family(name)
    params = rand_params(name, shape)
    value = rand_value(name, params, shape)
    if name == "normal":
        ref = td.Independent(td.Normal(params[0], params[1].exp()), 2)
    elif name == "bernoulli":
        ref = td.Independent(td.Bernoulli(logits=params[0]), 2)
    elif name == "categorical":
        ref = td.Independent(td.OneHotCategorical(logits=params[0]), 1)
    else:
        ref = td.Independent(td.RelaxedOneHotCategorical(torch.tensor(0.5), logits=params[0]), 1)
    torch.testing.assert_close(fam.log_prob(params, value, 2), ref.log_prob(value), rtol=1e-5, atol=1e-5)


def test_normal_log_prob_by_hand():
    fam = make_family("normal")
    lp = fam.log_prob((torch.tensor([[1.0]]), torch.tensor([[math.log(2.0)]])), torch.tensor([[3.0]]), 1)
    # N(3; 1, 2^2) = -1/2 - log 2 - log sqrt(2 pi)
    assert lp.item() == pytest.approx(-0.5 - math.log(2.0) - 0.5 * math.log(2 * math.pi), rel=1e-6)


def test_bernoulli_log_prob_broadcasts_particles_and_priors():
    fam = make_family("bernoulli")
    value = torch.bernoulli(torch.full((B, 4), 0.5))
    particles = torch.randn(3, B, 4)
    ref = td.Independent(td.Bernoulli(logits=particles), 1).log_prob(value)
    torch.testing.assert_close(fam.log_prob((particles,), value, 1), ref)
    # a standard prior's parameters have the event shape only
    prior = fam.log_prob((torch.zeros(4),), value, 1)
    torch.testing.assert_close(prior, torch.full((B,), 4 * math.log(0.5)))


def test_delta_log_prob_is_zero():
    fam = make_family("delta")
    v = torch.randn(B, 2, 3)
    assert torch.equal(fam.log_prob((v,), v, 2), torch.zeros(B))
    assert fam.log_prob((v,), v, 2).shape == (B,)


def test_prior_params_are_the_standard_priors():
    assert [p.shape for p in make_family("normal").prior_params((3,))] == [(3,), (3,)]
    n = make_family("normal").pyro_dist(make_family("normal").prior_params((3,)), 1)
    torch.testing.assert_close(n.mean, torch.zeros(3))
    torch.testing.assert_close(n.stddev, torch.ones(3))
    c = make_family("categorical").pyro_dist(make_family("categorical").prior_params((4,)), 1)
    torch.testing.assert_close(c.probs, torch.full((4,), 0.25))


# ---------------------------------------------------------------- analytic KL
def _ind(d, dims):
    return td.Independent(d, dims) if dims else d


def test_normal_kl_vs_standard():
    torch.manual_seed(3)
    loc, log_scale = torch.randn(B, 2, 3), torch.randn(B, 2, 3) * 0.5
    ours = make_family("normal").kl((loc, log_scale), None, 2)
    ref = td.kl_divergence(_ind(td.Normal(loc, log_scale.exp()), 2),
                           _ind(td.Normal(torch.zeros(2, 3), torch.ones(2, 3)), 2))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_normal_kl_vs_normal():
    torch.manual_seed(4)
    q = (torch.randn(B, 5), torch.randn(B, 5) * 0.5)
    p = (torch.randn(B, 5), torch.randn(B, 5) * 0.5)
    ours = make_family("normal").kl(q, p, 1)
    ref = td.kl_divergence(_ind(td.Normal(q[0], q[1].exp()), 1), _ind(td.Normal(p[0], p[1].exp()), 1))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    assert torch.all(make_family("normal").kl(q, q, 1).abs() < 1e-6)


@pytest.mark.parametrize("with_p", [False, True])
def test_bernoulli_kl(with_p):
    torch.manual_seed(5)
    q = torch.randn(B, 6) * 2
    p = torch.randn(B, 6) * 2 if with_p else torch.zeros(B, 6)
    ours = make_family("bernoulli").kl((q,), (p,) if with_p else None, 1)
    ref = td.kl_divergence(_ind(td.Bernoulli(logits=q), 1), _ind(td.Bernoulli(logits=p), 1))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_p", [False, True])
@pytest.mark.parametrize("shape", [(4,), (2, 4)], ids=str)
def test_categorical_kl(with_p, shape):
    torch.manual_seed(6)
    q = torch.randn((B,) + shape) * 2
    p = torch.randn((B,) + shape) * 2 if with_p else torch.zeros((B,) + shape)
    ours = make_family("categorical").kl((q,), (p,) if with_p else None, len(shape))
    ref = td.kl_divergence(_ind(td.OneHotCategorical(logits=q), len(shape) - 1),
                           _ind(td.OneHotCategorical(logits=p), len(shape) - 1))
    assert ours.shape == (B,)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_delta_has_no_kl():
    assert make_family("delta").kl((torch.zeros(2, 3),), None, 1) is None


# ---------------------------------------------------------------- sampling
N = 20000


def test_normal_sampling_statistics():
    torch.manual_seed(7)
    loc, log_scale = torch.tensor([[-1.0, 0.0, 2.0]]), torch.tensor([[0.0, math.log(0.5), math.log(2.0)]])
    fam = make_family("normal")
    s = fam.sample((loc, log_scale), (N,))
    assert s.shape == (N, 1, 3)
    torch.testing.assert_close(s.mean(0), loc, atol=0.05, rtol=0)
    torch.testing.assert_close(s.std(0), log_scale.exp(), atol=0.05, rtol=0)
    one = fam.sample((loc, log_scale))
    assert one.shape == (1, 3)
    torch.testing.assert_close(fam.mean((loc, log_scale)), loc)


def test_normal_sample_is_reparameterized():
    loc = torch.zeros(4, requires_grad=True)
    make_family("normal").sample((loc, torch.zeros(4))).sum().backward()
    torch.testing.assert_close(loc.grad, torch.ones(4))


def test_bernoulli_sampling_statistics():
    torch.manual_seed(8)
    logits = torch.tensor([[-2.0, 0.0, 1.5]])
    fam = make_family("bernoulli")
    s = fam.sample((logits,), (N,))
    assert s.shape == (N, 1, 3) and set(s.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(s.mean(0), torch.sigmoid(logits), atol=0.015, rtol=0)
    torch.testing.assert_close(fam.mean((logits,)), torch.sigmoid(logits))


@pytest.mark.parametrize("name", ["categorical", "relaxed_categorical"])
def test_categorical_sampling_statistics(name):
    torch.manual_seed(9)
    logits = torch.tensor([[0.0, 1.0, -1.0, 2.0]])
    fam = make_family(name)
    s = fam.sample((logits,), (N,))
    assert s.shape == (N, 1, 4)
    torch.testing.assert_close(s.sum(-1), torch.ones(N, 1))
    # one-hot draws (categorical) and the argmax of relaxed draws (Gumbel-max) are both categorical
    freq = torch.nn.functional.one_hot(s.argmax(-1), 4).float().mean(0)
    torch.testing.assert_close(freq, torch.softmax(logits, -1), atol=0.015, rtol=0)
    torch.testing.assert_close(fam.mean((logits,)), torch.softmax(logits, -1))
    if name == "categorical":
        assert set(s.unique().tolist()) == {0.0, 1.0}
    else:
        assert ((s > 0) & (s < 1)).float().mean() > 0.5  # relaxed: interior of the simplex


def test_relaxed_temperature_sharpens():
    torch.manual_seed(10)
    logits = torch.zeros(1, 4)
    cold = make_family("relaxed_categorical", temperature=0.1).sample((logits,), (2000,))
    hot = make_family("relaxed_categorical", temperature=5.0).sample((logits,), (2000,))
    assert cold.max(-1).values.mean() > 0.9 > 0.5 > hot.max(-1).values.mean()


def test_delta_sampling_is_the_value():
    v = torch.randn(1, 3)
    fam = make_family("delta")
    assert torch.equal(fam.sample((v,)), v)
    s = fam.sample((v,), (5,))
    assert s.shape == (5, 1, 3) and torch.equal(s[3], v)
    assert torch.equal(fam.mean((v,)), v)
