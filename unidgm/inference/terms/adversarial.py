"""The terms of an adversarial game (Hu et al. 2018, Sec. 3), as the adversarial objective
assembles them from a graph's adversarial edges (:mod:`unidgm.inference.adversarial`).

Each adversarial edge is a discriminator q_psi(y | v) against an indicator y that tells which
of two processes produced v (:class:`AdversarialEdge`: ``edge.real``, y = 1, against
``edge.fake``). The terms:

- :class:`Discriminator` (phase ``discriminator``, its loss): the divergence's discriminator
  loss summed over the adversaries, on values drawn without gradients (a draw of their own,
  apart from the generator's), plus the gradient penalty of a Wasserstein-GP game;
- :class:`DivergenceEstimate` (``divergence``, reported at evaluation only): the divergence
  the current discriminators estimate, where the game gives one;
- :class:`Generator` (phase ``generator``): the divergence's generator loss on the sides whose
  values depend on the generator's parameters, weighted by ``adversarial_weight`` on Ganin et
  al. (2016)'s warm-up schedule; with ``importance_weights=k`` the importance-weighted GAN's
  reweighting; on an adversary of explicit, non-reparameterizable visible nodes the
  adversary-activated VAE's weighted likelihoods;
- :class:`CodeLikelihood` (``mutual_information``): -log q(c | x) on generated samples
  (InfoGAN, Chen et al. 2016, Eq. 5: the variational lower bound L_I(G, Q) of I(c; G(z, c)));
- :class:`MeanLikelihood` and :class:`MeanKL`: the reconstruction and (Monte Carlo) KL of
  the generator phase, as batch means (the reported bound is a :class:`~.base.Report` of them).

The generator phase's terms are scalars (``per_example = False``, batch means), so that its
loss sums ``reconstruction + kl + mutual_information + generator`` as batch means, in that
order, and adds no score-function surrogate (the game differentiates through its samples).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ..factor import Factor
from .base import Term
from .kl import KL
from .likelihood import Likelihood


def ganin_weight(weight: float, warmup: int, step: int) -> float:
    """``weight`` at training step ``step`` on Ganin et al. (2016, Sec. 5.2.2)'s schedule
    ``2 / (1 + exp(-10 p)) - 1``, p = step / warmup, for ``step < warmup``; 0 ``warmup``: ``weight``."""
    if warmup and step < warmup:
        return weight * (2.0 / (1.0 + math.exp(-10.0 * step / warmup)) - 1.0)
    return weight


def importance_weighted(v_fake: torch.Tensor, k: int) -> torch.Tensor:
    """Non-saturating generator loss with each group of k samples reweighted by normalised
    importance weights w_i = D(x_i) / (1 - D(x_i)) = exp(v_i) (no gradient through the
    weights), as IWAE weights its particles."""
    n = (v_fake.shape[0] // k) * k
    if n == 0:
        raise ConfigError(f"importance_weights={k} needs batches of at least {k} examples")
    v = v_fake[:n].reshape(-1, k)
    w = torch.softmax(v.detach(), -1)
    return (w * -F.logsigmoid(v)).sum(-1).mean()


class AdversarialEdge:
    """One adversarial edge at run time: its discriminator and its two sides.

    Attributes:
        edge: the graph's edge; ``nodes`` the nodes it compares.
        sides: ``((real process, inputs), (fake process, inputs))``.
        generated: the generative nodes drawn once for every term that reads them.
        trainable: per side, whether its values carry generator-side gradients.
        weights_likelihood: the adversary acts through likelihood weights (AAVAE).
    """

    def __init__(self, model, edge):
        nodes = dict(model.graph.nodes)
        self.edge = edge
        self.factor = Factor(edge, nodes, model.families[edge.child])
        self.nodes = edge.parents
        self.sides = ((edge.real, edge.real_inputs), (edge.fake, edge.fake_inputs))
        self.generated = edge.parents  # the objective widens it so every term shares one draw
        self.trainable = tuple(depends_on_parameters(model, process, edge.parents) for process, _ in self.sides)
        # An adversary on explicit, non-reparameterizable visible nodes acts through
        # likelihood weights (AAVAE) rather than through the generator's samples.
        self.weights_likelihood = edge.fake == "generative" and all(
            nodes[n].role == "visible" and n in model.generative and not model.generative[n].deterministic
            and not model.generative[n].family.reparameterized for n in edge.parents)

    def values(self, trace, side: int, grad: bool = True) -> dict:
        """The values of one side (0: real, 1: fake) on the trace; ``grad=False``: a draw of
        their own, without gradients (the discriminator's)."""
        process, inputs = self.sides[side]
        return trace.values(process, inputs, self.generated if process == "generative" else None, grad=grad)

    def critic(self, values: dict) -> torch.Tensor:
        """The discriminator's raw output v per example, shape (B,)."""
        return self.factor.params(values)[0].reshape(-1)


def depends_on_parameters(model, process: str, nodes) -> bool:
    """Whether values of ``nodes`` under ``process`` carry gradients to the generative or
    inference parameters (the data carries none; a standard prior alone carries none)."""
    if process == "data":
        return False
    if process == "reconstruction":  # decoded by p from codes q inferred
        return True
    if process == "inference":
        return any(f.child in nodes for f in model.inference) or any(
            model.graph.nodes[n].role == "latent" for n in nodes)
    return any(n in model.generative or n in model.learned_priors for n in nodes)


def has_estimate(divergence) -> bool:
    """Whether the divergence estimates itself from a discriminator's outputs."""
    from ..divergences import Divergence

    return type(divergence).estimate is not Divergence.estimate


def _sides(adversaries, nt) -> list:
    """Each adversary's (real, fake) :class:`~unidgm.inference.formula.Side` in ``nt``'s symbols."""
    from ..formula import Side

    several = len(adversaries) > 1
    return [[Side(nt.scope(a.nodes, process, dict(inputs)), nt.values(a.nodes, process, dict(inputs)), nt.latex,
                  "_".join(a.nodes) if several else "") for process, inputs in a.sides] for a in adversaries]


def _joined(wheres, latex: bool) -> str:
    from ..formula import WHERE_SEP, WHERE_SEP_LATEX

    return (WHERE_SEP_LATEX if latex else WHERE_SEP).join(dict.fromkeys(filter(None, wheres)))


_CRITICS = ("adversarial", "critics")  # the trace's cache: the discriminators' outputs, per adversary


class Discriminator(Term):
    """The discriminators' loss: ``sum_a discriminator_loss(v_real, v_fake)`` (plus the
    gradient penalty where the divergence has one and gradients are enabled), on values of
    both sides drawn without gradients, a draw apart from the one the generator's terms read.

    Args:
        adversaries: the :class:`AdversarialEdge` of the graph.
        divergence: the game's :class:`~unidgm.inference.divergences.Divergence`.
    """

    def __init__(self, adversaries, divergence, name: str = "discriminator", weight: float = 1.0,
                 phase: str | None = "discriminator"):
        super().__init__(name, weight, phase)
        self.adversaries, self.divergence = list(adversaries), divergence
        self._where = ("", "")

    def forward(self, trace):
        total, critics = None, []
        div = self.divergence
        for a in self.adversaries:
            real, fake = a.values(trace, 0, grad=False), a.values(trace, 1, grad=False)
            v_real, v_fake = a.critic(real), a.critic(fake)
            critics.append((v_real, v_fake))
            loss = div.discriminator_loss(v_real, v_fake)
            if div.penalty_weight and torch.is_grad_enabled():  # evaluation runs without gradients
                x_real, _ = a.factor.inputs(real)
                x_fake, _ = a.factor.inputs(fake)
                shape = x_real.shape[1:]
                loss = loss + div.gradient_penalty(lambda t, a=a, shape=shape: a.factor.net(
                    t.reshape((-1,) + shape)).reshape(-1), x_real.flatten(1), x_fake.flatten(1))
            total = loss if total is None else total + loss
        trace.cached(_CRITICS, lambda: critics)
        return total

    def describe(self, model):
        from ..formula import Notation, join_sum

        forms, wheres = [], []
        for latex in (False, True):
            nt = Notation(model.graph, latex)
            sides = _sides(self.adversaries, nt)
            forms.append(join_sum([self.divergence.discriminator_formula(real, fake) for real, fake in sides]))
            wheres.append(_joined([self.divergence.formula_where(real) for real, _ in sides], latex))
        self._where = tuple(wheres)
        return forms[0], forms[1]

    def where(self):
        return self._where


class DivergenceEstimate(Term):
    """The divergence the current discriminators estimate, summed over the adversaries,
    from the outputs :class:`Discriminator` computed on the same trace (so it follows it in
    its phase). Reported at evaluation only (``diagnostic``), never minimised."""

    diagnostic = True

    def __init__(self, divergence, name: str = "divergence", phase: str | None = "discriminator"):
        super().__init__(name, 0.0, phase)
        self.divergence = divergence

    def forward(self, trace):
        total = None
        for v_real, v_fake in trace.cached(_CRITICS, list):
            estimate = self.divergence.estimate(v_real, v_fake)
            if estimate is not None:
                total = estimate if total is None else total + estimate
        return total

    def describe(self, model):
        name = self.divergence.name
        return f"estimate of the {name} divergence", rf"\widehat{{D}}_{{\mathrm{{{name}}}}}"


class Generator(Term):
    """The generator side of the game, summed over the adversaries: the divergence's
    generator loss, with the real side joining where its values carry generator gradients
    (BiGAN's encoder, domain adaptation's source features); with ``importance_weights=k``
    the importance-weighted GAN's loss; on an adversary of explicit, non-reparameterizable
    visible nodes (``a.weights_likelihood``) the adversary-activated VAE's reconstruction +
    KL of generated samples, each weighted by the discriminator's belief that it is real.

    Args:
        adversaries, divergence: as :class:`Discriminator`'s.
        weight: ``adversarial_weight``; ``warmup``: steps of Ganin et al.'s schedule of it.
        importance_weights: k of the importance-weighted GAN (0: off).
        likelihoods, kl: the stochastic likelihood factors and the q factors with a
            (Monte Carlo) KL, which weighted likelihoods score.
        reconstruction_weight, kl_weight: their weights there.
    """

    def __init__(self, adversaries, divergence, weight: float = 1.0, warmup: int = 0, importance_weights: int = 0,
                 likelihoods=(), kl=(), reconstruction_weight: float = 1.0, kl_weight: float = 1.0,
                 name: str = "generator", phase: str | None = "generator", start: int = 0,
                 adaptive: bool = False, adaptive_factor: float = 0.8):
        super().__init__(name, weight, phase)
        self.adversaries, self.divergence = list(adversaries), divergence
        self.warmup, self.importance_weights = int(warmup), int(importance_weights)
        self.likelihoods, self.kl = list(likelihoods), list(kl)
        self.reconstruction_weight, self.kl_weight = float(reconstruction_weight), float(kl_weight)
        self.start, self.adaptive, self.adaptive_factor = int(start), bool(adaptive), float(adaptive_factor)
        #: the objective weighs it by :meth:`balance` against the rest of its phase's loss,
        #: reporting the weight under ``weight_key``
        self.balanced, self.weight_key = self.adaptive, "adaptive_weight"
        # the last adaptive weight, for evaluation (no gradients to take norms of)
        self.register_buffer("last_adaptive_weight", torch.tensor(float(adaptive_factor)), persistent=False)
        self._where = ("", "")

    def keys(self):
        return (self.name, self.weight_key) if self.adaptive else (self.name,)

    def bind(self, model) -> None:
        if not self.adaptive:
            return
        # Esser et al. (2021), Eq. 7: the gradients' norms at the last layer of the decoder, here
        # the last weight of each judged node's generative network
        self.layers = []
        for a in self.adversaries:
            for n in a.nodes:
                f = model.generative.get(n)
                weights = [p for p in (f.net.parameters() if f is not None else ()) if p.dim() > 1 and p.requires_grad]
                if not weights:
                    raise ConfigError(f"adversarial: adaptive_weight balances gradients at the last layer of the "
                                      f"network generating '{n}', and '{n}' has none; drop adaptive_weight")
                self.layers.append(weights[-1])

    def weight_at(self, step: int) -> float:
        """Ganin et al.'s schedule of the weight; 0 before ``start``."""
        if step < self.start:
            return 0.0
        return ganin_weight(self.weight, self.warmup, step - self.start)

    def weight_label(self):
        return "lambda_t" if self.warmup or self.start or self.adaptive else self.weight

    def where(self):
        return self._where

    def fooling_loss(self, v_fake: torch.Tensor, v_real: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's loss on the discriminator's outputs: the divergence's, or the
        importance-weighted GAN's with ``importance_weights``."""
        if self.importance_weights:
            return importance_weighted(v_fake, self.importance_weights)
        return self.divergence.generator_loss(v_fake, v_real)

    def forward(self, trace):
        model = trace.model
        total = None
        for a in self.adversaries:
            loss = self._weighted_likelihood(model, a, trace) if a.weights_likelihood else self._fool(a, trace)
            total = loss if total is None else total + loss
        return total

    def balance(self, reference: torch.Tensor, adversarial: torch.Tensor) -> torch.Tensor:
        """Esser et al. (2021), Eq. 7: the weight ``adaptive_factor * ||grad_L reference|| /
        (||grad_L adversarial|| + 1e-4)``, the ratio clamped to [0, 1e4], without gradient, at
        the last layers L of the networks generating the judged nodes; ``reference`` is the rest
        of the phase's loss (the reconstruction and perceptual terms: a quantizer's commitment
        has no gradient at the decoder). Without gradients (evaluation): the last weight."""
        if torch.is_grad_enabled() and reference.requires_grad and adversarial.requires_grad:
            g_ref = torch.autograd.grad(reference, self.layers, retain_graph=True, allow_unused=True)
            g_adv = torch.autograd.grad(adversarial, self.layers, retain_graph=True, allow_unused=True)
            zero = torch.zeros((), device=adversarial.device)
            norm = lambda grads: torch.sqrt(sum((g.pow(2).sum() for g in grads if g is not None), zero))  # noqa: E731
            ratio = (norm(g_ref) / (norm(g_adv) + 1e-4)).clamp(0.0, 1e4).detach()
            self.last_adaptive_weight.copy_(self.adaptive_factor * ratio)
        return self.last_adaptive_weight.clone()

    def _fool(self, a: AdversarialEdge, trace) -> torch.Tensor:
        v_fake = a.critic(a.values(trace, 1))
        v_real = a.critic(a.values(trace, 0)) if a.trainable[0] else None
        return self.fooling_loss(v_fake, v_real)

    def _weighted_likelihood(self, model, a: AdversarialEdge, trace) -> torch.Tensor:
        """AAVAE: the reconstruction + KL of generated samples, each weighted by the
        discriminator's probability that it is real (Hu et al. 2018, Sec. 4)."""
        with torch.no_grad():
            fake = a.values(trace, 1)
            weight = torch.sigmoid(a.critic(fake))
        values = {n: fake[n] for n in a.nodes}
        for name, v in trace.batch.items():
            if name in model.graph.nodes and model.graph.nodes[name].given:
                values[name] = model.read_node(name, v)
        q = model.infer(values)
        rec = 0.0
        for f in self.likelihoods:
            rec = rec - f.log_prob(f.params(values), values[f.child])
        kl = torch.zeros_like(rec)
        for f in self.kl:
            kl = kl + f.log_prob(q[f.child], values[f.child]) - model.log_p(f.child, values)
        return (weight * (self.reconstruction_weight * rec + self.kl_weight * kl)).mean()

    def describe(self, model):
        from ..divergences import sigmoid_where
        from ..formula import Notation, join_sum, paren, scaled

        forms, wheres = [], []
        div = self.divergence
        for latex in (False, True):
            nt = Notation(model.graph, latex)
            parts, where = [], []
            for a, (real, fake) in zip(self.adversaries, _sides(self.adversaries, nt)):
                if a.weights_likelihood:  # AAVAE: generated samples as data, weighted by D
                    inner = [scaled(self.reconstruction_weight, nt.reconstruction(self.likelihoods), latex)]
                    if self.kl and self.kl_weight:
                        inner.append(scaled(self.kl_weight, join_sum([nt.kl_term(f.edge, analytic=False)
                                                                       for f in self.kl]), latex))
                    times = r"\, " if latex else " * "
                    parts.append(fake.expect(fake.call("D") + times + paren(join_sum(inner), latex)))
                    where += [sigmoid_where(fake), r"\text{no gradient through } D_\psi" if latex
                              else "no gradient through the weight D"]
                elif self.importance_weights:  # IWGAN: normalised importance weights D/(1 - D)
                    k = self.importance_weights
                    d_i = fake.call("D", nt.values(a.nodes, a.sides[1][0], dict(a.sides[1][1]), particle="i"))
                    body = (rf"\sum_{{i=1}}^{{{k}}} w_i \log {d_i}" if latex else f"sum_i w_i log {d_i}")
                    parts.append("-" + nt.expect(nt.draws(a.nodes, a.sides[1][0], k), body))
                    where += [sigmoid_where(fake),
                              rf"w_i = \frac{{r_i}}{{\sum_j r_j}},\ r_i = \frac{{{d_i}}}{{1 - {d_i}}}\ "
                              rf"\text{{(no gradient)}}" if latex else
                              f"w_i = r_i / sum_j r_j, r_i = {d_i} / (1 - {d_i}) in groups of {k} (no gradient)"]
                else:
                    parts.append(div.generator_formula(real, fake, with_real=a.trainable[0]))
                    where.append(div.formula_where(real))
            if self.adaptive:  # Esser et al.'s Eq. 7
                ref = r"\mathcal{L}_{rest}" if latex else "L_rest"
                where.append(rf"\lambda_t = {self.adaptive_factor:g}\,\frac{{\|\nabla_{{G_L}} {ref}\|}}"
                             rf"{{\|\nabla_{{G_L}} \mathcal{{L}}_{{GAN}}\| + 10^{{-4}}}}"
                             + (rf"\ (t \geq {self.start},\ \text{{else}}\ 0)" if self.start else "") if latex else
                             f"lambda_t = {self.adaptive_factor:g} * |grad_L {ref}| / (|grad_L L_GAN| + 1e-4) "
                             f"at the decoder's last layer L, clamped to [0, 1e4], L_rest the phase's other terms"
                             + (f", from step {self.start} (0 before)" if self.start else ""))
            elif self.start:
                where.append(rf"\lambda_t = {self.weight:g}\ (t \geq {self.start},\ \text{{else}}\ 0)" if latex
                             else f"lambda_t = {self.weight:g} from step {self.start} (0 before)")
            if self.warmup:  # the weight follows the schedule of ``weight_at``
                w, warmup = self.weight, self.warmup
                where.append(rf"\lambda_t = {w:g}\left(\frac{{2}}{{1 + e^{{-10 t/{warmup}}}}} - 1\right)"
                             rf"\ (t < {warmup})" if latex else
                             f"lambda_t = {w:g} * (2 / (1 + exp(-10 t/{warmup})) - 1) at training step t < {warmup}, "
                             f"then {w:g}")
            forms.append(join_sum(parts))
            wheres.append(_joined(where, latex))
        self._where = tuple(wheres)
        return forms[0], forms[1]


class CodeLikelihood(Term):
    """``-log q(c | x)`` on generated samples, summed over the codes c whose inference edge
    reads an implicitly generated visible x (InfoGAN's L_I); the batch mean.

    Args:
        codes: the q factors of the codes.
        generated: the generative nodes of the draw shared with the adversaries.
    """

    def __init__(self, codes, generated: tuple, name: str = "mutual_information", weight: float = 1.0,
                 phase: str | None = "generator"):
        super().__init__(name, weight, phase)
        self.codes, self.generated = list(codes), tuple(generated)

    def forward(self, trace):
        gen = trace.values("generative", (), self.generated)
        total = None
        for f in self.codes:
            nll = -f.log_prob(f.params(gen), gen[f.child])
            total = nll if total is None else total + nll
        return total.mean()

    def describe(self, model):
        from ..formula import Notation

        forms = []
        for latex in (False, True):
            nt = Notation(model.graph, latex)
            logs = [nt.log(nt.edge(f.edge, nt.values(f.parents, "generative"), nt.value(f.child, "generative")))
                    for f in self.codes]
            nodes = [n for f in self.codes for n in (f.child, *f.parents)]
            forms.append(nt.neg(nt.expect(nt.scope(nodes, "generative"), " + ".join(logs))))
        return forms[0], forms[1]


class MeanLikelihood(Likelihood):
    """:class:`~unidgm.inference.terms.likelihood.Likelihood` as its batch mean (a scalar
    term), without parts."""

    per_example = False

    def __init__(self, name: str = "reconstruction", weight: float = 1.0, phase: str | None = None,
                 source: str = "inference", nodes: tuple | None = None):
        super().__init__(name, weight, phase, source, nodes, report_parts=False)

    def forward(self, trace):
        return super().forward(trace).mean()


class MeanKL(KL):
    """:class:`~unidgm.inference.terms.kl.KL` summed over its latents, as its batch mean (a
    scalar term), reported and written as one term."""

    per_example = False

    def keys(self):
        return (self.name,)

    def forward(self, trace):
        values = trace.values(self.source)
        q = trace.q_params()
        model = trace.model
        total = None
        for entry in self.plan:
            f, _, _, analytic, _ = entry
            if analytic:
                k = self.one(model, values, q, entry)
                total = k if total is None else total + k
                continue
            z = f.child  # the one-draw estimate: (total + log q) - log p
            log_q = f.log_prob(q[z], values[z])
            total = log_q - model.log_p(z, values) if total is None else total + log_q - model.log_p(z, values)
        return total.mean()

    def describe(self, model):
        from ..formula import Notation, join_sum

        return tuple(join_sum([Notation(model.graph, latex).kl_term(f.edge, analytic)
                               for f, analytic in self.latents]) for latex in (False, True))
