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

This module also holds the machinery reweighted wake-sleep shares: drawing q's samples
held fixed, scoring them under p and q, and dreaming.

References:
    Hinton, Dayan, Frey & Neal (1995), "The wake-sleep algorithm for unsupervised neural
    networks", Science 268.
    Dayan, Hinton, Neal & Zemel (1995), "The Helmholtz machine", Neural Computation 7.
    Bornschein & Bengio (2015), "Reweighted wake-sleep", ICLR.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError, GraphError
from .formula import Formula, Notation, Term
from .objective import Objective, Phase, require_likelihoods


class WakeSleep(Objective):
    """Wake-sleep: a wake phase for theta on q's draws, a sleep phase for phi on p's dreams."""

    name = "wake-sleep"

    def __init__(self):
        super().__init__()
        self.phases = [Phase("wake", ("generative",), "wake"), Phase("sleep", ("inference",), "sleep")]

    # ------------------------------------------------------------------ compile time
    def bind(self, model) -> None:
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
        nodes = graph.nodes
        self._given = tuple(n for n, node in nodes.items() if node.given)
        self._first_visible = next(n for n, node in nodes.items() if node.role == "visible")
        # log p(x, h) = sum of the likelihoods and of each latent's prior or generative edge.
        self._latents = tuple(f.child for f in model.inference)

    # ------------------------------------------------------------------ shared machinery
    @staticmethod
    def draw(model, values: dict, particles: int | None = None) -> dict:
        """Runs q on ``values`` (in place) with every draw held fixed (no gradient through
        a sample); returns each latent's q parameters, which carry phi's gradient."""
        return model.run(values, particles=particles, estimators=False, detach=True)

    def log_joint(self, model, values: dict) -> torch.Tensor:
        """log p_theta(x, h) per example (and particle)."""
        log_p = 0.0
        for f in model.likelihoods:
            log_p = log_p + f.log_prob(f.params(values), values[f.child])
        for z in self._latents:
            log_p = log_p + model.log_p(z, values)
        return log_p

    @staticmethod
    def log_q(model, values: dict, q: dict) -> torch.Tensor:
        """log q_phi(h | x) per example (and particle) at the values q drew."""
        log_q = 0.0
        for f in model.inference:
            log_q = log_q + f.log_prob(q[f.child], values[f.child])
        return log_q

    def dream(self, model, batch: dict) -> dict:
        """As many draws (h, x) ~ p_theta as the batch has examples (no gradient), with
        the batch's ``given`` nodes."""
        try:
            n = batch[self._first_visible].shape[0]
            given = {g: batch[g] for g in self._given}
        except KeyError as e:
            raise GraphError(f"the batch has no '{e.args[0]}', a visible node of graph '{model.graph.name}'") from None
        except AttributeError:
            raise GraphError("the batch must map each visible node to a tensor") from None
        return model.sample(n, given=given, mean=False)

    def sleep(self, model, batch: dict) -> torch.Tensor:
        """-log q_phi(h | x) on dreams, averaged: the sleep phase's loss (sleep-phi)."""
        values = self.dream(model, batch)
        log_q = 0.0
        for f in model.inference:
            log_q = log_q + f.log_prob(f.params(values), values[f.child])
        return -log_q.mean()

    # ------------------------------------------------------------------ the terms
    def terms(self, model, batch, phase: str | None = None):
        if phase not in (None, "wake", "sleep"):
            raise ConfigError(f"{self.name}: unknown phase {phase!r}; its phases are wake and sleep")
        terms = {}
        if phase != "sleep":
            values = model.read_batch(batch)
            q = self.draw(model, values)
            log_p = self.log_joint(model, values)
            terms["wake"] = -log_p.mean()
            with torch.no_grad():
                terms["elbo"] = (log_p - self.log_q(model, values, q)).mean()
        if phase != "wake":
            terms["sleep"] = self.sleep(model, batch)
        terms["loss"] = terms.get("wake", 0.0) + terms.get("sleep", 0.0)
        return terms

    # ------------------------------------------------------------------ the formula
    def describe(self, model) -> Formula:
        body = {"wake": self._wake_text, "sleep": self._sleep_text}
        terms = []
        for phase in self.phases:
            text, latex = (body[phase.name](model, Notation(model.graph, latex=t)) for t in (False, True))
            terms.append(Term(phase.loss, text, latex, phase.name, phase.groups))
        return Formula(self.name, tuple(terms))

    def _joint_logs(self, model, n) -> str:
        """``log p(h2) + log p(h1|h2) + log p(x|h1)``, in the generative process's order."""
        parts = []
        for name in model.generative_order:
            if name in model.generative and (name in self._latents or model.graph.nodes[name].role == "visible"):
                parts.append(n.log(n.edge(model.generative[name].edge)))
            elif name in self._latents:
                parts.append(n.log(n.prior(name)))
        return " + ".join(parts)

    def _q_logs(self, model, n) -> str:
        return " + ".join(n.log(n.edge(f.edge)) for f in model.inference)

    def _wake_text(self, model, n) -> str:
        """-E_q(h|x)[log p(x, h)]: the wake phase (q's draw held fixed)."""
        return n.neg(n.expect(n.scope(self._latents), self._joint_logs(model, n)))

    def _sleep_text(self, model, n) -> str:
        """-E_p(x,h)[log q(h|x)]: the sleep phase, on dreams."""
        nodes = [name for name in model.generative_order if name in self._latents or
                 (model.graph.nodes[name].role == "visible" and not model.graph.nodes[name].given)]
        return n.neg(n.expect(n.scope(nodes, "generative"), self._q_logs(model, n)))

    def __repr__(self):
        return self.name
