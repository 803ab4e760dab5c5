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

from typing import Annotated

from ..errors import GraphError
from ..options import Option, checks_options
from .objective import Objective, Phase
from .terms.importance import ImportanceBound

#: the number of importance samples per example
Particles = Annotated[int, Option(int, low=1, help="the number of importance samples")]


class IWAE(Objective):
    """Negative importance-weighted bound with ``k`` particles."""

    name = "iwae"

    @checks_options
    def __init__(self, k: Particles = 5):
        super().__init__()
        self.k = int(k)
        self.phases = [Phase("iwae", ("generative", "inference"), "loss")]

    def assemble(self, model) -> list:
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
        return [ImportanceBound(self.k)]

    def __repr__(self):
        return f"iwae(k={self.k})"
