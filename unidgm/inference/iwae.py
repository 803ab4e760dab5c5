"""The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, Eq. 8).

With k draws z_1..z_k ~ q_phi(z | x)::

    L_k(x) = E[ log (1/k) sum_i p_theta(x, z_i) / q_phi(z_i | x) ]

L_1 is the ELBO, L_k increases with k and tends to log p(x). ``terms["loss"]`` is the
batch mean of -L_k; ``terms["elbo"]`` the mean single-particle bound over the same draws.
The encoder runs once per example; the k particles ride as a leading dimension.
Non-reparameterizable latents get the score-function gradient with the bound as the
learning signal (Mnih & Rezende 2016 without their per-sample baselines).
"""
from __future__ import annotations

import math

import torch

from typing import Annotated

from ..errors import GraphError
from ..options import Option, checks_options
from .objective import Objective, Phase

#: the number of importance samples per example
Particles = Annotated[int, Option(int, low=1, help="the number of importance samples")]


class IWAE(Objective):
    """Negative importance-weighted bound with ``k`` particles."""

    name = "iwae"

    @checks_options
    def __init__(self, k: Particles = 5):
        super().__init__()
        self.k = int(k)
        self._log_k = math.log(self.k)
        self.phases = [Phase("iwae", ("generative", "inference"), "loss")]

    def bind(self, model) -> None:
        for e in model.graph.edges_of("adversarial"):
            raise GraphError(f"adversarial edge {e.name}: the 'iwae' objective has no adversarial terms")
        inferred = {f.child for f in model.inference}
        for z in model.latents:
            if z not in inferred:
                raise GraphError(f"latent '{z}' has no inference edge, but the IWAE bound needs q({z}|...); "
                                 f"add g.inference(<parents>, '{z}', net)")
        for f in model.inference:
            if f.deterministic:
                raise GraphError(f"edge {f.edge.name} is deterministic; the IWAE bound needs a density for q")
        for z, est in model.estimators.items():
            if est.name == "enumerate":
                raise GraphError(f"latent '{z}': estimator='enumerate' sums over its classes in the ELBO, which the "
                                 f"IWAE bound does not; use objective='elbo' or estimator='score-baseline'")

    def terms(self, model, batch):
        values = model.read_batch(batch)
        q = model.infer(values, particles=self.k)
        logw = model.weigh(values, q)  # (k, B)
        bound = torch.logsumexp(logw, 0) - self._log_k
        loss = model.score_function(-bound, values, q, particle_dims=1).mean()
        with torch.no_grad():
            return {"loss": loss, "iwae": -loss.detach(), "elbo": logw.mean()}

    def describe(self, model):
        """The bound L_k over every inferred latent, from ``k`` and the compiled plan: the
        likelihoods and latents p scores, and the visible nodes q reads. ``terms["iwae"]``
        is L_k itself, so it enters the loss with weight -1."""
        from .formula import Formula, Notation, Term

        phase = self.phases[0]
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
        return Formula(repr(self), (Term("iwae", forms[0], forms[1], phase.name, phase.groups, -1.0),))

    def __repr__(self):
        return f"iwae(k={self.k})"
