"""The KL term of a bound: each latent's posterior against its prior.

For each latent z that a stochastic edge of q explains (Kingma & Welling 2014, Eq. 3, its
second term; Rezende et al. 2014)::

    KL( q_phi(z | .) || p_theta(z | .) )

per example, summed over the latents, with one estimator per latent chosen at compile time
by the objective: analytic (the family's closed form) or Monte Carlo,
``log q(z|.) - log p(z|.)`` at the trace's draw. With several latents, each one's part is
reported as ``<name>_<latent>``.

The weight may follow a warm-up from 0 to ``weight`` over ``warmup`` steps: linear (Bowman
et al. 2016; Sonderby et al. 2016), beta_t = weight * min(1, t / warmup), or cosine (Ramesh et
al. 2021, Sec. 2.1: DALL-E's discrete VAE), beta_t = weight * (1 - cos(pi min(1, t / warmup))) / 2.

With ``reference="standard"`` each latent's KL is taken from its family's standard prior (the
uniform categorical, N(0, I)) whatever p says: DALL-E's first stage, which trains the
autoencoder against the uniform prior over the codebook before the learned prior is fitted to
its codes (Ramesh et al. 2021, Sec. 2.1-2.2).
"""
from __future__ import annotations

import math

import torch

from .base import Term


class KL(Term):
    """``sum_z KL(q(z|.) || p(z|.))`` per example.

    Args:
        latents: ``[(q factor, analytic)]`` in q's order, as the objective planned them.
        name, weight, phase: see :class:`~unidgm.inference.terms.base.Term`.
        warmup: steps of the warm-up of the weight (0: none).
        schedule: the warm-up's shape, ``"linear"`` or ``"cosine"``.
        source: the process whose draws the Monte Carlo estimates read (``"inference"``).
        reference: ``"model"`` (p's prior or generative edge) or ``"standard"`` (each
            family's standard prior).
    """

    per_example = True

    def __init__(self, latents, name: str = "kl", weight: float = 1.0, phase: str | None = None,
                 warmup: int = 0, source: str = "inference", schedule: str = "linear", reference: str = "model"):
        super().__init__(name, weight, phase)
        self.latents = list(latents)
        self.warmup = int(warmup)
        self.schedule, self.reference = schedule, reference
        self.source = source

    def bind(self, model) -> None:
        self.plan = []
        for f, analytic in self.latents:
            z = f.child
            gen = None if self.reference == "standard" else model.generative.get(z)
            # the family's standard prior has a closed form of its own (``p=None``)
            standard = self.reference == "standard" or (gen is None and model.graph.nodes[z].prior == "standard")
            self.plan.append((f, gen, model.families[z], analytic, standard))

    def keys(self):
        if len(self.latents) > 1:
            return (self.name,) + tuple(f"{self.name}_{f.child}" for f, _ in self.latents)
        return (self.name,)

    def weight_at(self, step: int) -> float:
        if not self.warmup:
            return self.weight
        done = min(1.0, step / self.warmup)
        if self.schedule == "cosine":
            return self.weight * 0.5 * (1.0 - math.cos(math.pi * done))
        return self.weight * done

    def weight_label(self):
        return "beta_t" if self.warmup else self.weight

    def where(self):
        if not self.warmup:
            return "", ""
        if self.schedule == "cosine":
            return (f"beta_t = {self.weight:g} * (1 - cos(pi min(1, t/{self.warmup}))) / 2 at training step t",
                    rf"\beta_t = {self.weight:g} (1 - \cos(\pi \min(1, t/{self.warmup}))) / 2")
        return (f"beta_t = {self.weight:g} * min(1, t/{self.warmup}) at training step t",
                rf"\beta_t = {self.weight:g} \min(1, t/{self.warmup})")

    def one(self, model, values: dict, q: dict, entry) -> torch.Tensor:
        """One latent's per-example KL (or its one-draw estimate) at ``values`` given q's parameters."""
        f, gen, family, analytic, standard = entry
        z = f.child
        qp = q[z]
        if not analytic:
            if self.reference == "standard":  # zeros in the output layout: N(0, I), uniform
                v = values[z]
                params = tuple(t.to(v.device, v.dtype) for t in family.prior_params(model.graph.nodes[z].shape))
                return f.log_prob(qp, v) - family.log_prob(params, v, f.event_dims)
            return f.log_prob(qp, values[z]) - model.log_p(z, values)
        if gen is not None:
            return family.kl(qp, gen.params(values), f.event_dims)
        if standard:
            return family.kl(qp, None, f.event_dims)
        return family.kl(qp, model.prior_params(z), f.event_dims)

    def forward(self, trace):
        values = trace.values(self.source)
        q = trace.q_params()
        model = trace.model
        total, parts = None, {}
        for entry in self.plan:
            k = self.one(model, values, q, entry)
            total = k if total is None else total + k
            parts[entry[0].child] = k
        if total is None:  # no latent has a KL (an autoencoder): reported as 0
            like = next(iter(values.values()))
            return torch.zeros(trace.size, dtype=like.dtype, device=like.device)
        if len(parts) > 1:
            out = {f"{self.name}_{n}": v for n, v in parts.items()}
            out[self.name] = total
            return out
        return total

    def describe(self, model):
        from ..formula import Notation

        standard = self.reference == "standard"
        forms = [[Notation(model.graph, latex).kl_term(f.edge, analytic, standard) for f, analytic in self.latents]
                 for latex in (False, True)]
        if len(self.latents) == 1:
            return forms[0][0], forms[1][0]
        return [(f"{self.name}_{f.child}", text, latex) for (f, _), text, latex in zip(self.latents, *forms)]
