"""Gradient estimators for the latents q samples: one per latent, chosen at compile time.

An objective such as the ELBO is an expectation E_q(z|x)[f(z)] whose gradient with respect
to q's parameters phi needs an estimator, since z is sampled. Each stochastically inferred
latent gets one:

``"reparameterized"``
    z = g_phi(eps) with parameter-free noise eps, so grad E[f(z)] = E[grad f(g_phi(eps))]
    (Kingma & Welling 2014, Sec. 2.4; Rezende et al. 2014). Unbiased and usually of low
    variance; only for families with a reparameterization (``normal``,
    ``relaxed_categorical``, ``delta``).
``"score"``
    The score function (REINFORCE, Williams 1992; Ranganath et al. 2014, Eq. 3):
    grad E[f(z)] = E[f(z) grad log q(z)], written as the surrogate
    ``f + (log q - stop(log q)) * stop(f)`` whose value is f. Unbiased for any family, of
    high variance.
``"score-baseline"``
    The score function with a baseline b subtracted from the learning signal:
    E[(f(z) - b) grad log q(z)] is the same gradient whenever b does not depend on z,
    since E[grad log q(z)] = 0, and has lower variance when b tracks f (Williams 1992's
    reinforcement baseline; Mnih & Gregor 2014, "centering the learning signal"). The default
    baseline is a running mean of the signal (an exponential moving average, debiased as
    Adam's moments are); ``baseline="learned"`` adds NVIL's input-dependent baseline
    b_psi(parents), a small MLP on the parents of the latent's inference edge trained by
    the loss (f - c - b_psi)^2 (Mnih & Gregor 2014's input-dependent baseline).
``"gumbel"``
    The Gumbel-softmax / concrete relaxation of a discrete latent (Jang et al. 2017, Eq. 2;
    Maddison et al. 2017, the Concrete distribution and, for a Bernoulli, its binary form
    sigmoid((logits + log u - log(1 - u)) / tau)): z = softmax((logits + g) / tau) with
    Gumbel noise g, reparameterized. The gradient is that of the relaxed objective, so it
    is *biased*; the bias shrinks as the temperature tau goes to 0 (and the variance grows). Temperature schedule of Jang et al.'s
    (2017) experiments: tau_t = max(min_temperature, temperature * exp(-anneal_rate * t)),
    t the global training step rounded down to a multiple of ``anneal_every``; or, with
    ``schedule="cosine"``, Ramesh et al. (2021, Sec. 2.1)'s cosine annealing from
    ``temperature`` to ``min_temperature`` over ``anneal_steps`` steps,
    tau_t = min + (tau_0 - min) (1 + cos(pi min(1, t / anneal_steps))) / 2. The relaxed
    value is scored by the discrete family's log-probability (a cross-entropy, exact at
    one-hot values); relaxation happens only in training mode, so evaluation
    (``model.eval()``: the validation ELBO, importance-sampled log-likelihoods) scores
    exact discrete draws.

**Choosing.** ``None`` (the default) picks ``"reparameterized"`` where the family allows it
and ``"score-baseline"`` (running mean) elsewhere. A latent overrides the choice in its
declaration, ``g.latent("c", "categorical", shape=(10,), prior="standard",
estimator="gumbel")``, and a compile call overrides any latent's,
``unidgm.compile(g, "elbo", estimators={"c": "score"})``. A choice is a name, a dict
``{"name": "gumbel", "temperature": 2.0}`` (JSON-friendly: ``--objective-option`` and
``run.json`` carry it) or an estimator object (``Gumbel(temperature=2.0)``), copied per
latent.

Estimators act where an objective differentiates through q's samples: the ELBO and the IWAE
bound. Wake-sleep and reweighted wake-sleep never do (their samples are held fixed) and
ignore them, as do the adversarial objective's terms.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GraphError
from ..options import Layers, Option, Rate, Size, Weight, checks_options

#: the estimator names a latent or compile call may give
NAMES = ("reparameterized", "score", "score-baseline", "gumbel", "enumerate")
BASELINES = (None, "running-mean", "learned")
_EPS = 1e-6

Baseline = Annotated[str, Option(choices=tuple(b for b in BASELINES if b is not None))]
Decay = Annotated[float, Option(float, low=0, high=1, open_high=True)]
#: the Gumbel temperature's annealing schedule
GumbelSchedule = Annotated[str, Option(choices=("exponential", "cosine"))]
# An estimator's bad option is a bad node option: GraphError, as the latent's other errors.
_checks = checks_options(owner=lambda self: f"{self.name} estimator", error=GraphError)


class Estimator(nn.Module):
    """Base class: one latent's gradient estimator. Subclasses set ``name`` and fill
    :meth:`check`, and :meth:`sample` (``draws``) or :meth:`surrogate` (``scores``)."""

    name: str = ""
    #: whether it adds a score-function surrogate to the per-example objective
    scores: bool = False
    #: whether its training draws are relaxed values rather than the family's (Gumbel-softmax)
    relaxes: bool = False

    def __init__(self):
        super().__init__()
        #: whether it draws the latent itself (else the family's own sample is used)
        self.draws = False
        #: the global training step (``CompiledModel.set_schedule_step``)
        self.step = 0

    def check(self, latent: str, family) -> None:
        """Refuses a family the estimator cannot serve (GraphError naming the latent)."""

    def sample(self, factor, params, particles):  # pragma: no cover - interface
        raise NotImplementedError

    def surrogate(self, factor, signal, log_q, values, particle_dims):  # pragma: no cover - interface
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""


class Enumerate(Estimator):
    """No estimate at all: the ELBO sums over the latent's classes exactly, weighting each by
    q(c|x), as Pyro's enumeration does (``TraceEnum_ELBO``) and as Kingma et al. (2014) sum
    out an unknown label: sum_c q(c|x) [L(x, c) + log q(c|x)] with L the bound given c. Exact
    gradients, at K passes of the networks below c; for a small one-hot categorical latent
    (its shape ``(K,)``). The semi-supervised label is such a latent, observed where the batch
    gives it."""

    name = "enumerate"

    def check(self, latent, family):
        if family.name != "categorical" or family.indices:
            raise GraphError(f"latent '{latent}': estimator='enumerate' sums over the classes of a one-hot "
                             f"categorical latent of shape (K,), and '{latent}' is {family.name}"
                             + (" of class indices" if family.indices else "")
                             + "; use estimator='score-baseline' or 'gumbel'")


class Reparameterized(Estimator):
    """The pathwise gradient through z = g_phi(eps): nothing to add, the family's sample
    already carries it."""

    name = "reparameterized"

    def check(self, latent, family):
        if not family.reparameterized:
            raise GraphError(
                f"latent '{latent}': estimator='reparameterized' needs a family with a reparameterization "
                f"(normal, relaxed_categorical, delta), and '{family.name}' has none; use estimator='score-baseline' "
                f"(unbiased) or, for a discrete latent, estimator='gumbel' (a relaxation)")


class ScoreFunction(Estimator):
    """The score-function gradient, optionally with a baseline.

    Args:
        baseline: None (plain REINFORCE), ``"running-mean"`` (centre the signal by its
            running mean) or ``"learned"`` (running mean plus NVIL's input-dependent b(parents)).
        decay: the running mean's decay per step (Mnih & Gregor 2014 use 0.8-0.9).
        hidden: hidden layers of the learned baseline's MLP (NVIL: one of 100 units).
    """

    name = "score"
    scores = True

    @_checks
    def __init__(self, baseline: Baseline | None = None, decay: Decay = 0.9, hidden: Layers = (100,)):
        super().__init__()
        self.baseline = baseline
        self.decay = float(decay)
        self.hidden = tuple(int(h) for h in hidden)
        if baseline is not None:
            # Debiased exponential moving average of the learning signal: mean = ema / weight.
            self.register_buffer("ema", torch.zeros(()))
            self.register_buffer("ema_weight", torch.zeros(()))
        self.net = None

    def check(self, latent, family):
        pass

    def bind(self, factor) -> None:
        """Compile-time set-up for the latent's inference edge: detach reparameterizable
        draws (the score function replaces the pathwise gradient), build a learned baseline."""
        self.draws = factor.family.reparameterized
        if self.baseline == "learned":
            if not factor.concat:
                raise GraphError(f"latent '{factor.child}': a learned baseline reads the parents of {factor.edge.name} "
                                 f"concatenated, but the edge uses combine='dict'; use baseline='running-mean'")
            from ..nets import MLP

            self.net = MLP(sum(factor.parent_sizes), list(self.hidden), 1, activation=nn.Tanh)

    def sample(self, factor, params, particles):
        return factor.sample(params, particles).detach()

    def centre(self) -> torch.Tensor:
        """The running mean of the learning signal (0 before the first update)."""
        return self.ema / self.ema_weight.clamp_min(1e-12)

    def surrogate(self, factor, signal, log_q, values, particle_dims):
        """The zero-valued terms whose gradient is the (centred) score-function estimate:
        ``(log q - stop(log q)) * stop(f - b)``, plus, for a learned baseline, its
        regression loss ``(f - c - b)^2 - stop(...)``. ``signal`` is f per example,
        ``log_q`` carries ``particle_dims`` leading particle dimensions."""
        extra = None
        if self.baseline is None:
            centred = signal
        else:
            centred = signal - self.centre()  # the mean before this batch: independent of its z
            if self.net is not None:
                x, lead = factor.inputs(values)
                b = self.net(x.detach()).reshape(lead)
                residual = centred - b
                extra = residual.pow(2)
                extra = extra - extra.detach()
                centred = residual
            if self.training and torch.is_grad_enabled():
                with torch.no_grad():
                    self.ema.mul_(self.decay).add_((1 - self.decay) * signal.mean())
                    self.ema_weight.mul_(self.decay).add_(1 - self.decay)
        out = (log_q - log_q.detach()) * centred.detach()
        for _ in range(particle_dims):
            out = out.sum(0)
        if extra is not None:
            while extra.dim() > out.dim():  # the baseline's particles, where its parents have them
                extra = extra.sum(0)
            out = out + extra
        return out

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # A checkpoint without the running mean (written before baselines existed, or by
        # an objective that never used them) loads with the baseline at its start.
        start = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        missing_keys[start:] = [k for k in missing_keys[start:] if k not in (prefix + "ema", prefix + "ema_weight")]

    def extra_repr(self):
        if self.baseline is None:
            return ""
        return f"baseline={self.baseline}, decay={self.decay}"


class Gumbel(Estimator):
    """The Gumbel-softmax (concrete) relaxation of a categorical or Bernoulli latent.

    Args:
        temperature: tau at step 0 (Jang et al. 2017: 1).
        min_temperature: the floor of the annealing schedule (Jang et al.: 0.5); None: no floor.
        anneal_rate: r of tau_t = max(min, tau_0 exp(-r t)) (Jang et al.: 1e-5; 0: constant).
        anneal_every: the schedule changes every that many steps (Jang et al.: 500).
        schedule: ``"exponential"`` (Jang et al.'s, above) or ``"cosine"`` (Ramesh et al.'s).
        anneal_steps: the length of the cosine schedule (DALL-E: 150,000 updates).
    """

    name = "gumbel"
    relaxes = True

    @_checks
    def __init__(self, temperature: Rate = 1.0, min_temperature: Rate | None = 0.5, anneal_rate: Weight = 1e-5,
                 anneal_every: Size = 500, schedule: GumbelSchedule = "exponential", anneal_steps: Size = 150_000):
        super().__init__()
        if schedule == "cosine" and min_temperature is None:
            raise GraphError("estimator 'gumbel': schedule='cosine' anneals to min_temperature; give one, e.g. "
                             "min_temperature=0.0625 (DALL-E's 1/16)")
        self.schedule, self.anneal_steps = schedule, int(anneal_steps)
        self.temperature = float(temperature)
        self.min_temperature = None if min_temperature is None else float(min_temperature)
        self.anneal_rate = float(anneal_rate)
        self.anneal_every = int(anneal_every)
        self.draws = True
        self._bernoulli = False

    def check(self, latent, family):
        if family.name not in ("categorical", "bernoulli"):
            raise GraphError(f"latent '{latent}': estimator='gumbel' relaxes discrete latents (categorical, "
                             f"bernoulli), and '{latent}' is {family.name}; drop the option (its default is "
                             f"{'reparameterized' if family.reparameterized else 'score-baseline'})")
        if family.indices:
            raise GraphError(f"latent '{latent}': estimator='gumbel' relaxes one-hot values, and '{latent}' carries "
                             f"class indices (classes=...); declare it without classes= (one-hot values) to relax "
                             f"it, or use estimator='score-baseline'")
        self._bernoulli = family.name == "bernoulli"

    def current_temperature(self) -> float:
        """tau at the current step (Jang et al. 2017's annealing schedule, or the cosine one)."""
        if self.schedule == "cosine":
            done = min(1.0, self.step / self.anneal_steps)
            return self.min_temperature + (self.temperature - self.min_temperature) * 0.5 * (1 + math.cos(math.pi * done))
        if not self.anneal_rate:
            return self.temperature
        t = (self.step // self.anneal_every) * self.anneal_every
        tau = self.temperature * math.exp(-self.anneal_rate * t)
        return max(self.min_temperature, tau) if self.min_temperature is not None else tau

    def sample(self, factor, params, particles):
        if not self.training:
            return factor.sample(params, particles)
        logits = params[0]
        if particles and logits.dim() == factor.event_dims + 1:
            logits = logits.expand((particles,) + logits.shape)
        u = torch.rand_like(logits).clamp_(_EPS, 1 - _EPS)
        tau = self.current_temperature()
        if self._bernoulli:
            # binary concrete: sigmoid((logits + log u - log(1 - u)) / tau)
            return torch.sigmoid((logits + u.log() - torch.log1p(-u)) / tau)
        return F.softmax((logits - torch.log(-u.log())) / tau, -1)

    def extra_repr(self):
        if self.schedule == "cosine":
            return (f"temperature={self.temperature}, min_temperature={self.min_temperature}, schedule=cosine, "
                    f"anneal_steps={self.anneal_steps}")
        return (f"temperature={self.temperature}, min_temperature={self.min_temperature}, "
                f"anneal_rate={self.anneal_rate}, anneal_every={self.anneal_every}")


def make_estimator(spec, latent: str) -> Estimator:
    """An estimator object from a name, a dict ``{"name": ..., **options}`` or an
    estimator object (copied, so latents never share state)."""
    if isinstance(spec, Estimator):
        return copy.deepcopy(spec)
    options = {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        spec = options.pop("name", None)
    if spec not in NAMES:
        raise GraphError(f"latent '{latent}': unknown estimator {spec!r}; use one of {', '.join(NAMES)}, None "
                         f"(automatic), a dict {{'name': ..., **options}} or an estimator object")
    try:
        if spec == "reparameterized":
            return Reparameterized(**options)
        if spec == "score":
            return ScoreFunction(**{"baseline": None, **options})
        if spec == "score-baseline":
            return ScoreFunction(**{"baseline": "running-mean", **options})
        if spec == "enumerate":
            return Enumerate(**options)
        return Gumbel(**options)
    except TypeError as e:
        raise GraphError(f"latent '{latent}': bad options {options} for estimator {spec!r}: {e}") from None
    except GraphError as e:  # an option's value: say whose
        raise GraphError(f"latent '{latent}': {e}") from None


def resolve_estimators(model, overrides: Mapping | None = None):
    """Each stochastically inferred latent's estimator: the compile call's override, else
    the node's ``estimator`` option, else the automatic choice. Returns ``(estimators,
    score_latents, draws)``: a ModuleDict by latent, the (factor, estimator) pairs that add
    a score-function surrogate, and per inference factor (in q's order) the estimator
    that draws its samples or None (the family's sample)."""
    graph = model.graph
    nodes = graph.nodes
    overrides = dict(overrides or {})
    # A partially observed latent is observed or summed over exactly, never sampled in training.
    stochastic = {f.child: f for f in model.inference if not f.deterministic and not nodes[f.child].partially_observed}
    for name in overrides:
        if name not in stochastic:
            raise GraphError(_not_estimated(graph, name, "estimators={...}"))
    for name, node in nodes.items():
        if node.options.get("estimator") is not None and name not in stochastic and name not in overrides:
            raise GraphError(_not_estimated(graph, name, "estimator="))
    estimators = nn.ModuleDict()
    for z, f in stochastic.items():
        spec = overrides[z] if z in overrides else nodes[z].options.get("estimator")
        if spec is None:
            spec = "reparameterized" if f.family.reparameterized else "score-baseline"
        est = make_estimator(spec, z)
        est.check(z, f.family)
        if isinstance(est, ScoreFunction):
            est.bind(f)
        estimators[z] = est
    score_latents = [(f, estimators[f.child]) for f in model.inference if f.child in stochastic
                     and estimators[f.child].scores]
    draws = [estimators[f.child] if f.child in stochastic and estimators[f.child].draws else None
             for f in model.inference]
    return estimators, score_latents, draws


def score_surrogate(score_latents, per_example, values: dict, q: dict, particle_dims: int = 0):
    """``per_example`` plus each score-function latent's zero-valued surrogate: the value
    is unchanged and the gradient is the estimator's (see :class:`ScoreFunction`)."""
    signal = per_example.detach()
    out = per_example
    for f, est in score_latents:
        log_q = f.log_prob(q[f.child], values[f.child])
        out = out + est.surrogate(f, signal, log_q, values, particle_dims)
    return out


def _not_estimated(graph, name: str, where: str) -> str:
    node = graph.nodes.get(name)
    if node is None:
        return f"{where}: '{name}' is not a node of graph '{graph.name}'; name a latent that q infers"
    edge = graph.edge_into(name, "inference")
    why = ("it is not a latent" if node.role != "latent" else
           "it has no inference edge" if edge is None else
           "it is partially observed (observed or summed over its classes, never sampled)" if node.partially_observed
           else f"its inference edge {edge.name} is deterministic")
    return (f"{where}: node '{name}' gets no gradient estimator, since {why}; estimators apply to latents that q "
            f"samples, so drop the option for '{name}'")
