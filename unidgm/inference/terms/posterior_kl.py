"""The KL divergence between two inference processes' posteriors of one latent.

JMVAE-kl (Suzuki, Nakayama & Matsuo 2016, "Joint Multimodal Learning with Deep Generative
Models", Eq. 4) trains the unimodal encoders q_x(z|x) and q_y(z|y) towards the joint one
q(z|x,y) by adding alpha * [KL(q(z|x,y) || q_x(z|x)) + KL(q(z|x,y) || q_y(z|y))] to the
negative ELBO; the Wyner model (Ryu et al.) matches its conditional encoders the same way.
This term is one such KL, per example, averaged over the batch:

    KL( q_a(z | pa_a) || q_b(z | pa_b) )

in closed form where the family has one (Gaussians: Kingma & Welling 2014, App. B,
generalised to two Gaussians), else by one Monte Carlo draw z ~ q_a of
log q_a(z) - log q_b(z). Both processes read the batch; the draw of q_a is the trace's.
"""
from __future__ import annotations

from ...errors import GraphError
from ...graph.families import Family
from .base import Term


class PosteriorKL(Term):
    """``KL(q_a(z|.) || q_b(z|.))`` for latent ``latent`` between processes ``a`` and ``b``.

    Args:
        latent: the latent both processes explain.
        a, b: the processes (``"q"``, ``"q_x"``, ...); the KL is of ``a`` from ``b``.
        weight, phase, name: see :class:`~unidgm.inference.terms.base.Term`; the name
            defaults to ``kl_<a>_<b>``.
    """

    def __init__(self, latent: str, a: str, b: str, weight: float = 1.0, phase: str | None = None,
                 name: str | None = None):
        super().__init__(name or f"kl_{a}_{b}", weight, phase)
        self.latent, self.a, self.b = latent, a, b

    def bind(self, model) -> None:
        self._factors = []
        for process in (self.a, self.b):
            factors = [f for f in model.processes.get(process, ()) if f.child == self.latent]
            if not factors:
                raise GraphError(f"term '{self.name}': process '{process}' has no edge into '{self.latent}'; "
                                 f"declare g.inference(<parents>, '{self.latent}', net, process='{process}')")
            if factors[0].deterministic:
                raise GraphError(f"term '{self.name}': {factors[0].edge.name} is deterministic, so it has no "
                                 f"density to compare; make it stochastic")
            self._factors.append(factors[0])
        family = model.families[self.latent]
        self._analytic = type(family).kl is not Family.kl  # the family has a closed form
        self._family = family

    def forward(self, trace):
        fa, fb = self._factors
        qa = trace.q_params(process=self.a)
        qb = trace.q_params(process=self.b)
        if self._analytic:
            kl = self._family.kl(qa[self.latent], qb[self.latent], fa.event_dims)
        else:
            z = trace.values("inference" if self.a == "q" else self.a)[self.latent]
            kl = fa.log_prob(qa[self.latent], z) - fb.log_prob(qb[self.latent], z)
        return kl.mean()

    def describe(self, model):
        fa, fb = self._factors

        def dist(f, latex):
            letter = f.edge.process
            if latex:
                letter = letter if "_" not in letter else letter.split("_", 1)[0] + "_{" + letter.split("_", 1)[1] + "}"
                return rf"{letter}({self.latent} \mid {', '.join(f.parents)})"
            return f"{letter}({self.latent}|{','.join(f.parents)})"

        text = f"KL({dist(fa, False)} || {dist(fb, False)})"
        latex = rf"\mathrm{{KL}}\left({dist(fa, True)} \,\|\, {dist(fb, True)}\right)"
        return text, latex
