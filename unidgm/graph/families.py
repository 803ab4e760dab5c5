"""Distribution families of a node: how a network's output is read as parameters.

A node's family decides three things the engine needs: how many numbers a network must
emit per element of the node (``num_params``), how that output splits into parameters,
and how those parameters give samples, log-densities, means and KL divergences. Each
family also gives the equivalent ``pyro.distributions`` object, so the compiled objective
and the Pyro model/guide are two views of the same numbers.

The compiled path uses closed forms written on plain tensors (the same expressions a
hand-written PyTorch VAE uses) rather than ``torch.distributions`` objects, whose
construction and validation cost more than the arithmetic at small batch sizes. A test
checks every closed form against the Pyro distribution's ``log_prob``.

Parameter layout: a network's output for a node of event shape ``S`` with ``k`` parameters
has ``k * prod(S)`` numbers per example, read as ``(k * S[0], *S[1:])``; the parameters are
the ``k`` equal chunks along the first event dimension (for ``normal``: loc, then log-scale).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def event_sum(t: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Sums the trailing ``event_dims`` dimensions (one log-density per example)."""
    if event_dims == 1:
        return t.sum(-1)
    if event_dims == 0:
        return t
    return t.flatten(-event_dims).sum(-1)


class Family:
    """Base class: one distribution family. Subclasses fill the hooks below."""

    name: str = ""
    num_params: int = 1
    #: samples are differentiable functions of the parameters (reparameterization trick)
    reparameterized: bool = False
    #: values are one-hot over the last event dimension
    one_hot: bool = False

    #: values are class indices (integers), not one-hot vectors
    indices: bool = False

    def param_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The network-output layout for a node of event ``shape``: the family's parameters
        stacked along the first event dimension."""
        return (self.num_params * shape[0],) + tuple(shape[1:])

    def split(self, out: torch.Tensor, lead: int) -> tuple[torch.Tensor, ...]:
        """Splits an output shaped ``(*batch, k*S[0], *S[1:])`` into ``k`` parameters."""
        if self.num_params == 1:
            return (out,)
        return out.chunk(self.num_params, dim=lead)

    def prior_params(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        """The parameters of the family's standard prior (standard normal, fair coin,
        uniform categorical), as zeros in the network-output layout."""
        if self.indices:
            return (torch.zeros(self.param_shape(shape)),)
        return tuple(torch.zeros(shape) for _ in range(self.num_params))

    def sample(self, params, sample_shape=()):  # pragma: no cover - interface
        raise NotImplementedError

    def log_prob(self, params, value, event_dims):  # pragma: no cover - interface
        raise NotImplementedError

    def mean(self, params):  # pragma: no cover - interface
        raise NotImplementedError

    def kl(self, q, p, event_dims):
        """Analytic KL(q || p) per example, or None where no closed form is implemented.
        ``p`` is None for the family's standard prior."""
        return None

    def pyro_dist(self, params, event_dims):  # pragma: no cover - interface
        raise NotImplementedError

    def outside_support(self, value: torch.Tensor) -> bool:
        """Whether some of ``value`` lies where ``log_prob`` is not a log-probability (grey
        pixels under coins); a reported log-likelihood must refuse such data."""
        return False


class Normal(Family):
    """Diagonal Gaussian; the network emits loc and log-scale halves."""

    name = "normal"
    num_params = 2
    reparameterized = True

    def sample(self, params, sample_shape=()):
        loc, log_scale = params
        if sample_shape:
            eps = torch.randn(tuple(sample_shape) + loc.shape, dtype=loc.dtype, device=loc.device)
        else:
            eps = torch.randn_like(loc)
        return loc + log_scale.exp() * eps

    def log_prob(self, params, value, event_dims):
        loc, log_scale = params
        lp = -0.5 * ((value - loc) * torch.exp(-log_scale)) ** 2 - log_scale - _HALF_LOG_2PI
        return event_sum(lp, event_dims)

    def mean(self, params):
        return params[0]

    def kl(self, q, p, event_dims):
        loc, log_scale = q
        if p is None:
            # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - 2 log s) / 2, Kingma & Welling (2014), App. B
            return event_sum(0.5 * (loc * loc + (2 * log_scale).exp() - 1) - log_scale, event_dims)
        p_loc, p_log_scale = p
        var_ratio = (2 * (log_scale - p_log_scale)).exp()
        t = ((loc - p_loc) * torch.exp(-p_log_scale)) ** 2
        return event_sum(0.5 * (var_ratio + t - 1) - (log_scale - p_log_scale), event_dims)

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        loc, log_scale = params
        return dist.Normal(loc, log_scale.exp()).to_event(event_dims)


class Bernoulli(Family):
    """Independent coins; the network emits logits."""

    name = "bernoulli"

    def sample(self, params, sample_shape=()):
        probs = torch.sigmoid(params[0])
        if sample_shape:
            probs = probs.expand(tuple(sample_shape) + probs.shape)
        return torch.bernoulli(probs)

    def log_prob(self, params, value, event_dims):
        # -BCE is log p for binary values; for grey values in [0, 1] it is the usual
        # continuous relaxation that MNIST VAEs train on.
        logits = params[0]
        if value.shape != logits.shape:  # data (B, ...) under k particles (k, B, ...), or a prior's (S,)
            logits, value = torch.broadcast_tensors(logits, value)
        nll = F.binary_cross_entropy_with_logits(logits, value, reduction="none")
        return -event_sum(nll, event_dims)

    def outside_support(self, value: torch.Tensor) -> bool:
        return bool(((value != 0) & (value != 1)).any())

    def mean(self, params):
        return torch.sigmoid(params[0])

    def kl(self, q, p, event_dims):
        q_logits = q[0]
        p_logits = torch.zeros_like(q_logits) if p is None else p[0]
        q_prob = torch.sigmoid(q_logits)
        # KL of two coins written with log-sigmoids for stability.
        kl = q_prob * (F.logsigmoid(q_logits) - F.logsigmoid(p_logits)) + (1 - q_prob) * (
            F.logsigmoid(-q_logits) - F.logsigmoid(-p_logits)
        )
        return event_sum(kl, event_dims)

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        return dist.Bernoulli(logits=params[0]).to_event(event_dims)


class Categorical(Family):
    """One-hot categorical over the last event dimension; the network emits logits.

    A batch may give class indices (integers, one dimension fewer than the node's shape);
    the engine turns them into one-hot vectors.
    """

    name = "categorical"
    one_hot = True

    def sample(self, params, sample_shape=()):
        logits = params[0]
        index = torch.distributions.Categorical(logits=logits).sample(tuple(sample_shape))
        return F.one_hot(index, logits.shape[-1]).to(logits.dtype)

    def log_prob(self, params, value, event_dims):
        logp = (value * torch.log_softmax(params[0], -1)).sum(-1)
        return event_sum(logp, event_dims - 1)

    def mean(self, params):
        return torch.softmax(params[0], -1)

    def kl(self, q, p, event_dims):
        q_logp = torch.log_softmax(q[0], -1)
        if p is None:
            p_logp = torch.full_like(q_logp, -math.log(q_logp.shape[-1]))
        else:
            p_logp = torch.log_softmax(p[0], -1)
        kl = (q_logp.exp() * (q_logp - p_logp)).sum(-1)
        return event_sum(kl, event_dims - 1)

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        return dist.OneHotCategorical(logits=params[0]).to_event(event_dims - 1)


class CategoricalIndices(Family):
    """A categorical over ``classes`` values at each position of the node's shape, carried as
    class indices: a 7x7 grid of 512 codes is 49 integers, not 25,088 one-hot floats
    (``g.latent("c", "categorical", shape=(7, 7), classes=512)``). The network emits logits
    of shape ``shape + (classes,)``; values are int64 of shape ``shape``."""

    name = "categorical"
    indices = True

    def __init__(self, classes: int):
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            raise TypeError(f"classes must be an integer >= 2, got {classes!r}")
        self.classes = classes

    def param_shape(self, shape):
        return tuple(shape) + (self.classes,)

    def sample(self, params, sample_shape=()):
        return torch.distributions.Categorical(logits=params[0]).sample(tuple(sample_shape))

    def log_prob(self, params, value, event_dims):
        logits = params[0]
        if value.shape != logits.shape[:-1]:  # data (B, ...) under k particles, or a prior's (S, K)
            lead = torch.broadcast_shapes(value.shape, logits.shape[:-1])
            logits, value = logits.expand(lead + logits.shape[-1:]), value.expand(lead)
        logp = torch.log_softmax(logits, -1).gather(-1, value.long().unsqueeze(-1)).squeeze(-1)
        return event_sum(logp, event_dims)

    def mean(self, params):
        return params[0].argmax(-1)  # the mode: a mean of class indices means nothing

    def kl(self, q, p, event_dims):
        q_logp = torch.log_softmax(q[0], -1)
        p_logp = torch.full_like(q_logp, -math.log(self.classes)) if p is None else torch.log_softmax(p[0], -1)
        return event_sum((q_logp.exp() * (q_logp - p_logp)).sum(-1), event_dims)

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        return dist.Categorical(logits=params[0]).to_event(event_dims)


class RelaxedCategorical(Categorical):
    """Gumbel-softmax (concrete) relaxation of a one-hot categorical (Jang et al. 2017;
    Maddison et al. 2017), reparameterized; ``temperature`` is a node option.

    Its analytic KL is the KL of the underlying categoricals, the usual surrogate in
    Jang et al. (2017, Sec. 3), since the relaxed densities have no closed-form KL.
    """

    name = "relaxed_categorical"
    reparameterized = True

    def __init__(self, temperature: float = 0.5):
        self.temperature = float(temperature)

    def _dist(self, logits):
        return torch.distributions.RelaxedOneHotCategorical(
            torch.tensor(self.temperature, dtype=logits.dtype, device=logits.device), logits=logits
        )

    def sample(self, params, sample_shape=()):
        return self._dist(params[0]).rsample(tuple(sample_shape))

    def log_prob(self, params, value, event_dims):
        return event_sum(self._dist(params[0]).log_prob(value), event_dims - 1)

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        t = torch.tensor(self.temperature, dtype=params[0].dtype, device=params[0].device)
        return dist.RelaxedOneHotCategorical(t, logits=params[0]).to_event(event_dims - 1)


class Delta(Family):
    """A point mass: the value is the network's output itself (implicit distributions,
    deterministic encoders). It has no density to score and no KL."""

    name = "delta"
    reparameterized = True

    def sample(self, params, sample_shape=()):
        v = params[0]
        return v.expand(tuple(sample_shape) + v.shape) if sample_shape else v

    def log_prob(self, params, value, event_dims):
        return torch.zeros(value.shape[: value.dim() - event_dims], dtype=value.dtype, device=value.device)

    def mean(self, params):
        return params[0]

    def pyro_dist(self, params, event_dims):
        import pyro.distributions as dist

        return dist.Delta(params[0], event_dim=event_dims)


FAMILIES: dict[str, type[Family]] = {
    f.name: f for f in (Normal, Bernoulli, Categorical, RelaxedCategorical, Delta)
}


#: node options that configure the engine, not the family (``estimator``: see
#: :mod:`unidgm.inference.estimators`)
ENGINE_OPTIONS = ("estimator",)


def make_family(name: str, **options) -> Family:
    """The family object for ``name``; options (e.g. ``temperature``) go to its constructor,
    except the engine's (``ENGINE_OPTIONS``)."""
    cls = FAMILIES[name]
    options = {k: v for k, v in options.items() if k not in ENGINE_OPTIONS}
    if name == "categorical" and "classes" in options:
        return CategoricalIndices(**options)
    return cls(**options) if options else cls()
