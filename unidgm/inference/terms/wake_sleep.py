"""The wake and sleep terms of the Helmholtz machine's training (Hinton, Dayan, Frey & Neal
1995) and their reweighted forms (Bornschein & Bengio 2015).

No gradient passes through a sample in any of them (the trace's ``held`` draws of q and its
``dream`` of p), so every latent may be discrete:

- :class:`Wake`: ``-E_q(h|x)[log p_theta(x, h)]`` on q's draw held fixed (the wake-phase rule);
  ``elbo`` reports the single-draw bound ``log p(x, h) - log q(h | x)`` beside it;
- :class:`Sleep`: ``-E_p(x,h)[log q_phi(h | x)]`` on dreams (the sleep-phase rule; sleep-phi);
- :class:`ReweightedWake`: wake-theta, ``-log (1/K) sum_k w_k`` with w_k = p(x, h_k) / q(h_k | x)
  over K held draws (q fixed in w_k), reporting ``iwae`` and ``elbo``;
- :class:`ReweightedWakePhi`: wake-phi, ``-sum_k wbar_k log q(h_k | x)`` with the normalised
  weights held fixed (Bornschein & Bengio 2015, Sec. 3.1).
"""
from __future__ import annotations

import math

import torch

from .base import Term


def log_joint(model, values: dict) -> torch.Tensor:
    """log p_theta(x, h) per example (and particle): the likelihoods and each latent's prior
    or generative edge."""
    log_p = 0.0
    for f in model.likelihoods:
        log_p = log_p + f.log_prob(f.params(values), values[f.child])
    for f in model.inference:
        log_p = log_p + model.log_p(f.child, values)
    return log_p


def log_q(model, values: dict, q: dict) -> torch.Tensor:
    """log q_phi(h | x) per example (and particle) at the values q drew."""
    total = 0.0
    for f in model.inference:
        total = total + f.log_prob(q[f.child], values[f.child])
    return total


class Wake(Term):
    """``-log p(x, h)`` at q's held draw, batch mean; ``elbo`` beside it."""

    def __init__(self, name: str = "wake", weight: float = 1.0, phase: str | None = "wake"):
        super().__init__(name, weight, phase)

    def keys(self):
        return (self.name, "elbo")

    def forward(self, trace):
        model = trace.model
        values, q = trace.held()
        log_p = log_joint(model, values)
        with torch.no_grad():
            elbo = (log_p - log_q(model, values, q)).mean()
        return {self.name: -log_p.mean(), "elbo": elbo}

    def describe(self, model):
        from ..formula import Notation

        return tuple(_wake_text(model, Notation(model.graph, latex=t)) for t in (False, True))


class Sleep(Term):
    """``-log q(h | x)`` on dreams (h, x) ~ p, batch mean (sleep-phi)."""

    def __init__(self, name: str = "sleep", weight: float = 1.0, phase: str | None = "sleep"):
        super().__init__(name, weight, phase)

    def forward(self, trace):
        values = trace.dream()
        total = 0.0
        for f in trace.model.inference:
            total = total + f.log_prob(f.params(values), values[f.child])
        return -total.mean()

    def describe(self, model):
        from ..formula import Notation

        return tuple(_sleep_text(model, Notation(model.graph, latex=t)) for t in (False, True))


def _weights(trace, k: int):
    """The K held draws of q's log p(x, h_k), log q(h_k | x) and log weights (q fixed in
    them), computed once per trace for wake-theta and wake-phi."""
    def compute():
        model = trace.model
        values, q = trace.held(k)
        lp = log_joint(model, values)        # (K, B), theta's gradient
        lq = log_q(model, values, q)         # (K, B), phi's gradient
        return lp, lq, lp - lq.detach()
    return trace.cached(("rws weights", k), compute)


class ReweightedWake(Term):
    """Wake-theta: ``-log (1/K) sum_k w_k``, batch mean; ``iwae`` and ``elbo`` beside it."""

    part = "wake_theta"  # its formula in ``_rws_texts``

    def __init__(self, k: int, name: str = "wake_theta", weight: float = 1.0, phase: str | None = None):
        super().__init__(name, weight, phase)
        self.k = int(k)
        self._log_k = math.log(self.k)

    def keys(self):
        return (self.name, "iwae", "elbo")

    def bind(self, model):
        self._forms = [_rws_texts(model, self.k, latex)[self.part] for latex in (False, True)]  # (body, where)

    def forward(self, trace):
        _, _, log_w = _weights(trace, self.k)
        bound = torch.logsumexp(log_w, 0) - self._log_k
        with torch.no_grad():
            reports = {"iwae": bound.mean().detach(), "elbo": log_w.mean().detach()}
        return {self.name: -bound.mean(), **reports}

    def describe(self, model):
        return self._forms[0][0], self._forms[1][0]

    def where(self):
        return self._forms[0][1], self._forms[1][1]


class ReweightedWakePhi(ReweightedWake):
    """Wake-phi: ``-sum_k wbar_k log q(h_k | x)``, batch mean, the weights held fixed."""

    part = "wake_phi"

    def __init__(self, k: int, name: str = "wake_phi", weight: float = 1.0, phase: str | None = None):
        super().__init__(k, name, weight, phase)

    def keys(self):
        return (self.name,)

    def forward(self, trace):
        _, lq, log_w = _weights(trace, self.k)
        weights = torch.softmax(log_w.detach(), 0)
        return -(weights * lq).sum(0).mean()


# ---------------------------------------------------------------------- the formulas
def _latents(model):
    return tuple(f.child for f in model.inference)


def _joint_logs(model, n) -> str:
    """``log p(h2) + log p(h1|h2) + log p(x|h1)``, in the generative process's order."""
    latents = _latents(model)
    parts = []
    for name in model.generative_order:
        if name in model.generative and (name in latents or model.graph.nodes[name].role == "visible"):
            parts.append(n.log(n.edge(model.generative[name].edge)))
        elif name in latents:
            parts.append(n.log(n.prior(name)))
    return " + ".join(parts)


def _q_logs(model, n) -> str:
    return " + ".join(n.log(n.edge(f.edge)) for f in model.inference)


def _wake_text(model, n) -> str:
    """-E_q(h|x)[log p(x, h)]: the wake phase (q's draw held fixed)."""
    return n.neg(n.expect(n.scope(_latents(model)), _joint_logs(model, n)))


def _sleep_text(model, n) -> str:
    """-E_p(x,h)[log q(h|x)]: the sleep phase, on dreams."""
    latents = _latents(model)
    nodes = [name for name in model.generative_order if name in latents or
             (model.graph.nodes[name].role == "visible" and not model.graph.nodes[name].given)]
    return n.neg(n.expect(n.scope(nodes, "generative"), _q_logs(model, n)))


def _rws_texts(model, k: int, latex: bool) -> dict:
    """Each reweighted term's body and its ``where`` definitions, in one notation."""
    from ..formula import Notation

    n = Notation(model.graph, latex=latex)
    latents = _latents(model)
    visible = [f.child for f in model.likelihoods]
    p = n.dist("generative", n.comma.join([n.var(x) for x in visible] + [n.particle(h, "k") for h in latents]))
    q_read = sorted({r for f in model.inference for r in f.parents if r not in latents},
                    key=list(model.graph.nodes).index)
    q = n.dist("inference", n.comma.join(n.particle(h, "k") for h in latents), n.vars(q_read))
    draws = n.draws(latents, "inference", k)
    if n.latex:
        w_def = rf"w_k = \frac{{{p}}}{{{q}}},\ \bar w_k = \frac{{w_k}}{{\sum_j w_j}}"
        theta = n.neg(n.expect(draws, rf"\log \frac{{1}}{{{k}}} \sum_{{k=1}}^{{{k}}} w_k"))
        phi = n.neg(n.expect(draws, r"\sum_k \bar w_k " + n.log(q)))
        w_def += r"\ (q \text{ fixed in } w_k,\ \bar w_k \text{ fixed in wake-}\phi)"
    else:
        w_def = f"w_k = {p} / {q}, wbar_k = w_k / sum_j w_j (q fixed in w_k, wbar_k fixed in wake_phi)"
        theta = n.neg(n.expect(draws, f"log (1/{k}) sum_k w_k"))
        phi = n.neg(n.expect(draws, "sum_k wbar_k " + n.log(q)))
    return {"wake_theta": (theta, w_def), "wake_phi": (phi, w_def)}
