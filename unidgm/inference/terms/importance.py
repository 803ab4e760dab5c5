"""The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, Eq. 8) as a term.

With k draws z_1..z_k ~ q_phi(z | x) of the trace (q runs once per example; the particles
ride as a leading dimension)::

    L_k(x) = log (1/k) sum_i p_theta(x, z_i) / q_phi(z_i | x)

per example, a bound the phase maximises (``maximise``): its loss takes -L_k, and
non-reparameterizable latents get the score-function gradient with -L_k as the learning
signal (``Trace.surrogate``). ``elbo`` reports the mean single-particle bound over the same
draws.
"""
from __future__ import annotations

import math

import torch

from .base import Term


class ImportanceBound(Term):
    """``L_k(x)`` per example, reported as ``iwae``, with ``elbo`` beside it."""

    per_example = True
    maximise = True

    def __init__(self, k: int, name: str = "iwae", weight: float = 1.0, phase: str | None = None):
        super().__init__(name, weight, phase)
        self.k = int(k)
        self._log_k = math.log(self.k)

    def keys(self):
        return (self.name, "elbo")

    def forward(self, trace):
        values = trace.values("inference", particles=self.k)
        logw = trace.model.weigh(values, trace.q_params(particles=self.k))  # (k, B)
        return {self.name: torch.logsumexp(logw, 0) - self._log_k, "elbo": logw}

    def describe(self, model):
        """L_k over every inferred latent: the likelihoods and latents p scores, and the
        visible nodes q reads."""
        from ..formula import Notation

        latents = [f.child for f in model.inference]
        explained = [f.child for f in model.likelihoods]
        nodes = model.graph.nodes
        given = [n for n in nodes if nodes[n].given and any(n in f.parents for f in model.generative.values())]
        forms = []
        for latex in (False, True):
            nt = Notation(model.graph, latex)
            _, read = nt.sampled(latents)
            particles = nt.comma.join(nt.particle(z) for z in latents)
            p = nt.dist("generative", nt.comma.join(filter(None, (nt.vars(explained), particles))), nt.vars(given))
            q = nt.dist("inference", particles, nt.vars(read))
            if latex:
                body = rf"\log \frac{{1}}{{{self.k}}} \sum_{{i=1}}^{{{self.k}}} \frac{{{p}}}{{{q}}}"
            else:
                body = f"log 1/{self.k} sum_i {p}/{q}"
            forms.append(nt.expect(nt.draws(latents, "inference", self.k), body))
        return forms[0], forms[1]
