"""Wake-sleep (Hinton, Dayan, Frey & Neal 1995) compiled from a graph's generative and
inference edges.

The generative process p_theta(x, h) and the inference (recognition) process q_phi(h | x) of
a Helmholtz machine (Dayan et al. 1995) train each other in two alternating phases:

- **wake** (parameter group ``generative``): run q on the data, h ~ q_phi(h | x), hold the
  draw fixed and minimise ``-log p_theta(x, h)``; its expected gradient is that of the ELBO
  with respect to theta (Hinton et al. 1995, the wake-phase rule);
- **sleep** (group ``inference``): "dream" (h, x) ~ p_theta from the generative process and
  minimise ``-log q_phi(h | x)``, i.e. fit q to p's own posterior by the inclusive
  KL(p(h | x) || q(h | x)) (Hinton et al. 1995, the sleep-phase rule; Bornschein & Bengio
  2015, their review of wake-sleep).

No gradient passes through a sample, so every latent may be discrete (a sigmoid belief
net's binary units) and no gradient estimator is needed (the latents' ``estimator``
options are ignored). The price: the sleep phase minimises the "wrong" KL and trains q on
dreams rather than data, and the two phases follow no common objective; reweighted
wake-sleep (:mod:`unidgm.inference.rws`) is the fix.

Terms: ``wake`` and ``sleep`` (each phase's loss), ``loss`` (their sum, for evaluation)
and ``elbo``, the single-sample bound log p(x, h) - log q(h | x) on the wake draw, which
the Trainer monitors. Phases: ``wake`` then ``sleep``, each with its own optimizer (and
fresh draws: the sleep phase dreams from the p the wake phase just updated).

Requirements, checked at compile time: no adversarial edge; every latent has a stochastic
inference edge (the wake phase samples it) and a prior or a generative edge (the sleep
phase dreams it); every visible node that is not ``given`` has a stochastic likelihood.
``given`` nodes (labels) are read from the batch in both phases.

The terms (:mod:`unidgm.inference.terms.wake_sleep`) are shared with reweighted wake-sleep.

References:
    Hinton, Dayan, Frey & Neal (1995), "The wake-sleep algorithm for unsupervised neural
    networks", Science 268.
    Dayan, Hinton, Neal & Zemel (1995), "The Helmholtz machine", Neural Computation 7.
    Bornschein & Bengio (2015), "Reweighted wake-sleep", ICLR.
"""
from __future__ import annotations

from ..errors import GraphError
from .objective import Objective, Phase, require_likelihoods
from .terms.wake_sleep import Sleep, Wake


class WakeSleep(Objective):
    """Wake-sleep: a wake phase for theta on q's draws, a sleep phase for phi on p's dreams."""

    name = "wake-sleep"

    def __init__(self):
        super().__init__()
        self.phases = [Phase("wake", ("generative",), "wake"), Phase("sleep", ("inference",), "sleep")]

    # ------------------------------------------------------------------ compile time
    def check(self, model) -> None:
        """The graph suits wake-sleep: every latent is sampled by a stochastic q (wake) and
        dreamt by a prior or a stochastic generative edge (sleep); raises GraphError."""
        graph = model.graph
        for e in graph.edges_of("adversarial"):
            raise GraphError(f"adversarial edge {e.name}: the '{self.name}' objective has no adversarial terms; remove "
                             f"the edge or use objective='adversarial'")
        inferred = {f.child: f for f in model.inference}
        for z in model.latents:
            f = inferred.get(z)
            if f is None:
                raise GraphError(f"latent '{z}' has no inference edge, but the wake phase samples it from q; add "
                                 f"g.inference(<parents>, '{z}', net)")
            if f.deterministic:
                raise GraphError(f"edge {f.edge.name} is deterministic, but {self.name} needs the density q({z}|...) "
                                 f"for the sleep phase; make it stochastic (drop deterministic=True)")
            gen = model.generative.get(z)
            if gen is None and graph.nodes[z].prior is None:
                raise GraphError(f"latent '{z}' has neither a prior nor a generative edge, so the sleep phase cannot "
                                 f"dream it; give it prior='standard' (or 'learned') or a generative edge")
            if gen is not None and gen.deterministic:
                raise GraphError(f"edge {gen.edge.name} is deterministic, but the wake phase needs the density "
                                 f"p({z}|...); make it stochastic (drop deterministic=True)")
        require_likelihoods(model, "the wake phase")

    def assemble(self, model) -> list:
        self.check(model)
        return [Wake(), Sleep()]

    def __repr__(self):
        return self.name
