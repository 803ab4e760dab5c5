"""Divergences for adversarial edges: a discriminator's raw outputs in, two losses out.

An adversarial edge of a schematic graph (Hu et al. 2018) compares the values of some nodes
under a "real" process P (e.g. the data) with their values under a "fake" process Q (e.g.
the generator). A discriminator D maps each example to one raw number ``v`` (shape
``(B,)``); the engine computes ``v_real = D(real)`` and ``v_fake = D(fake)`` and asks a
:class:`Divergence` for

- ``discriminator_loss(v_real, v_fake)``: minimised over D's parameters;
- ``generator_loss(v_fake, v_real=None)``: minimised over the parameters that produced the
  values. ``v_real`` is passed only when the real side also depends on generator-side
  parameters (BiGAN's real pair ``(x, E(x))``); with ``v_real=None`` only the fake side's
  term is returned (a GAN, whose real side is data);
- ``estimate(v_real, v_fake)``: the variational estimate of the divergence between P and Q
  that the current D gives, or None where the game estimates none (hinge);
- ``gradient_penalty(critic, real, fake)``: WGAN-GP's penalty, which the engine adds to the
  discriminator loss when ``penalty_weight > 0``.

Every loss is a mean over examples. The families, by name (:data:`DIVERGENCES`):

- f-GANs (Nowozin, Cseke & Tomioka 2016, Eq. 6 and Table 2): ``"kl"``, ``"reverse-kl"``,
  ``"pearson"``, ``"hellinger"`` (squared Hellinger), ``"js"``. D's output passes through an
  output activation ``T = g_f(v)`` and the game's value is

      V(T) = E_P[T(x)] - E_Q[f*(T(x))]  <=  D_f(P || Q) = E_Q[f(p(x) / q(x))],

  with equality at ``T* = f'(p / q)``. D maximises V (``discriminator_loss = -V``) and
  ``estimate`` is V. The generator minimises V (``generator="minimax"``) or, by default,
  the "alternative" objective of Nowozin et al. Sec. 3.2, see below.
- GANs (Goodfellow et al. 2014, Eq. 1): ``"gan"`` and ``"ns-gan"`` are the f-GAN of
  ``f(u) = u log u - (u + 1) log(u + 1)`` with ``T = log sigmoid(v)``, so V is the GAN value
  ``E_P[log sigmoid(v)] + E_Q[log(1 - sigmoid(v))] = 2 JSD(P, Q) - log 4`` at the optimal D.
  ``"gan"`` is its minimax generator; ``"ns-gan"`` (the default) the non-saturating one
  (Goodfellow et al. 2014, Sec. 3), which Hu et al. (2018, Eq. 4-5, Sec. 3.2) read as the
  generator fitting D's *reversed* label distribution q^r: binary cross-entropy with the
  labels flipped, ``-E_Q[log sigmoid(v_fake)] - E_P[log(1 - sigmoid(v_real))]``.
- ``"wgan-gp"``: the Wasserstein-1 critic with gradient penalty (Gulrajani et al. 2017,
  Alg. 1 and Eq. 3); ``estimate = E_P[v] - E_Q[v]``, the critic's estimate of W1(P, Q).
- ``"hinge"``: the hinge game (Lim & Ye 2017; Miyato et al. 2018, Eq. 16-17).

The generator's two sides (f-GANs and GANs). Minimax minimises the whole value V: the fake
side's ``-E_Q[f*(T)]`` and, with ``v_real``, the real side's ``+E_P[T]``. Its fake-side
gradient vanishes where D confidently rejects the fakes (Goodfellow's point).
The alternative (the default) swaps the roles of ``T`` and ``f*(T)`` on both sides:

    generator_loss = -E_Q[T(v_fake)]  +  E_P[f*(T(v_real))]     (second term with v_real)

The fake side is Nowozin et al.'s Sec. 3.2 objective (maximise ``E_Q[g_f(v)]``). The real
side is its mirror image, chosen so that, for the GAN's f, the whole loss is exactly the
flipped-label cross-entropy of ``"ns-gan"`` (Hu et al.'s q^r on both sides); for ``"js"`` it
is ``"ns-gan"``'s loss minus ``2 log 2`` (minus ``log 2`` on the fake side alone). Both
sides still descend V: ``f*`` is non-decreasing on the activation's range (its derivative
``(f')^{-1}(T)`` is the estimated ratio p/q >= 0), and at the optimal D the swapped and the
minimax terms have equal gradients where ``p = q``. The real side's minimax term
``E_P[T]`` would saturate exactly where the fake side's does, on examples D is sure about.

Numerics: every ``f*(g_f(v))`` is written in a stable closed form of ``v`` (softplus,
expm1) rather than composed, see :meth:`FDivergence.conjugate_of_activation`.

References:
    1. I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
    2. S. Nowozin, B. Cseke, R. Tomioka, "f-GAN: Training Generative Neural Samplers using
       Variational Divergence Minimization", NeurIPS 2016.
    3. I. Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
    4. J. H. Lim, J. C. Ye, "Geometric GAN", arXiv:1705.02894, 2017.
    5. T. Miyato et al., "Spectral Normalization for Generative Adversarial Networks",
       ICLR 2018.
    6. Z. Hu, Z. Yang, R. Salakhutdinov, E. P. Xing, "On Unifying Deep Generative Models",
       ICLR 2018.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, GraphError
from ..options import Option, Weight, checks_options

_LOG2 = math.log(2.0)
_GENERATORS = ("alternative", "minimax")
#: an f-GAN's generator loss
Generator = Annotated[str, Option(choices=_GENERATORS)]


class Divergence:
    """Base class: the losses of one adversarial game on a discriminator's raw outputs.

    Subclasses set ``name`` and fill :meth:`discriminator_loss` and :meth:`generator_loss`;
    :meth:`estimate` defaults to None. ``penalty_weight > 0`` asks the engine to add
    :meth:`gradient_penalty` to the discriminator's loss.
    """

    name: str = ""
    #: weight of the gradient penalty; 0 switches it off (the engine skips the call)
    penalty_weight: float = 0.0

    def discriminator_loss(self, v_real: Tensor, v_fake: Tensor) -> Tensor:  # pragma: no cover
        """The loss D minimises, a scalar mean over examples."""
        raise NotImplementedError

    def generator_loss(self, v_fake: Tensor,
                       v_real: Tensor | None = None) -> Tensor:  # pragma: no cover
        """The loss the generator side minimises; ``v_real`` only when the real side depends
        on generator-side parameters."""
        raise NotImplementedError

    def estimate(self, v_real: Tensor, v_fake: Tensor) -> Tensor | None:
        """The divergence D(P_real || P_fake) that the current D estimates (detached), or
        None where the game gives no estimate."""
        return None

    # -------------------------------------------------------------- as formulas
    # The losses in symbols, for ``CompiledModel.formula()``: ``real`` and ``fake`` are
    # :class:`~unidgm.inference.formula.Side` objects giving each side's expectation and
    # the discriminator's arguments there, in text or LaTeX (``real.latex``). The numeric
    # methods above are what is computed; these say the same in the paper's notation.

    def discriminator_formula(self, real, fake) -> str:  # pragma: no cover - interface
        """The discriminator's loss, e.g. ``-E_data[log D(x)] - E_p(z)[log(1 - D(G(z)))]``."""
        raise NotImplementedError(f"divergence {self.name!r} does not write its losses as formulas")

    def generator_formula(self, real, fake, with_real: bool = False) -> str:  # pragma: no cover
        """The generator's loss; ``with_real`` adds the real side's term (as ``v_real`` does)."""
        raise NotImplementedError(f"divergence {self.name!r} does not write its losses as formulas")

    def formula_where(self, side) -> str:
        """Definitions the formulas' symbols need (text or LaTeX, as ``side.latex``), or ""."""
        return ""

    def gradient_penalty(self, critic: Callable[[Tensor], Tensor], real: Tensor,
                         fake: Tensor) -> Tensor:
        """``penalty_weight * E[(||grad_x critic(x_hat)||_2 - 1)^2]`` (Gulrajani et al. 2017,
        Eq. 3) at ``x_hat = eps * real + (1 - eps) * fake``, ``eps ~ U(0, 1)`` per example.

        ``real`` and ``fake`` are the critic's inputs, ``(B, d)`` (any ``(B, ...)`` works:
        the gradient is flattened per example). They are detached, so the penalty trains
        the critic only; the gradient is taken with ``create_graph=True`` so that the
        penalty is differentiable w.r.t. the critic's parameters.
        """
        if real.shape != fake.shape or real.dim() < 2:
            raise GraphError(f"gradient_penalty needs real and fake critic inputs of one "
                             f"shape (B, d); got {tuple(real.shape)} and {tuple(fake.shape)}: "
                             f"flatten both sides of the adversarial edge the same way")
        eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1),
                         dtype=real.dtype, device=real.device)       # (B, 1, ...)
        x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        out = critic(x_hat)                                            # (B,)
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        norm = grad.flatten(1).norm(dim=1)                             # (B,)
        return self.penalty_weight * (norm - 1).pow(2).mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# ----------------------------------------------------------------------------- f-GANs

class FDivergence(Divergence):
    """The f-GAN game of Nowozin et al. (2016, Eq. 6) for one convex generator function f.

    ``V = E_P[g_f(v)] - E_Q[f*(g_f(v))]`` is a lower bound on ``D_f(P || Q)``, tight at the
    optimal D; D maximises it and :meth:`estimate` returns it. Subclasses give ``f``, the
    output activation :meth:`activation` (g_f), the Fenchel conjugate :meth:`conjugate`
    (f*) from Nowozin et al.'s Table 2, and, where composing them is unstable, a closed form
    of :meth:`conjugate_of_activation`.

    Args:
        generator: ``"alternative"`` (default; Nowozin et al. Sec. 3.2, mirrored on the real
            side, see the module docstring) or ``"minimax"`` (minimise V itself).
    """

    @checks_options
    def __init__(self, generator: Generator = "alternative"):
        self.generator = generator

    def f(self, u: Tensor) -> Tensor:  # pragma: no cover - interface
        """The generator function f (convex, f(1) = 0), so ``D_f = E_Q[f(p/q)]``."""
        raise NotImplementedError

    def activation(self, v: Tensor) -> Tensor:  # pragma: no cover - interface
        """Output activation g_f: raw outputs to the domain of f*."""
        raise NotImplementedError

    def conjugate(self, t: Tensor) -> Tensor:  # pragma: no cover - interface
        """Fenchel conjugate ``f*(t) = sup_u (u t - f(u))`` on its domain."""
        raise NotImplementedError

    def conjugate_of_activation(self, v: Tensor) -> Tensor:
        """``f*(g_f(v))``; subclasses override it with a numerically stable form."""
        return self.conjugate(self.activation(v))

    def value(self, v_real: Tensor, v_fake: Tensor) -> Tensor:
        """The variational objective ``V = E_P[g_f(v_real)] - E_Q[f*(g_f(v_fake))]``."""
        return self.activation(v_real).mean() - self.conjugate_of_activation(v_fake).mean()

    def discriminator_loss(self, v_real: Tensor, v_fake: Tensor) -> Tensor:
        """``-V``: D maximises the variational lower bound."""
        return -self.value(v_real, v_fake)

    def generator_loss(self, v_fake: Tensor, v_real: Tensor | None = None) -> Tensor:
        """Minimax: ``-E_Q[f*(T)] (+ E_P[T])``; alternative: ``-E_Q[T] (+ E_P[f*(T)])``,
        with ``T = g_f(v)`` and the bracketed real-side term only when ``v_real`` is given."""
        if self.generator == "minimax":
            loss = -self.conjugate_of_activation(v_fake).mean()
            if v_real is not None:
                loss = loss + self.activation(v_real).mean()
        else:
            loss = -self.activation(v_fake).mean()
            if v_real is not None:
                loss = loss + self.conjugate_of_activation(v_real).mean()
        return loss

    def estimate(self, v_real: Tensor, v_fake: Tensor) -> Tensor:
        """V, a lower bound on ``D_f(P_real || P_fake)``; detached."""
        return self.value(v_real, v_fake).detach()

    #: g_f(v) and f*(t) in text and LaTeX (Nowozin et al. 2016, Table 2), for the formulas
    activation_text = activation_latex = conjugate_text = conjugate_latex = ""

    def _t(self, side) -> str:
        """T = g_f(V(args))."""
        return f"g_f({side.call('V')})"

    def _conj_t(self, side) -> str:
        """f*(T) = f*(g_f(V(args)))."""
        return (r"f^*" if side.latex else "f*") + f"({self._t(side)})"

    def discriminator_formula(self, real, fake) -> str:
        """``-V = -E_P[g_f(V)] + E_Q[f*(g_f(V))]``."""
        return "-" + real.expect(self._t(real)) + " + " + fake.expect(self._conj_t(fake))

    def generator_formula(self, real, fake, with_real: bool = False) -> str:
        if self.generator == "minimax":
            loss = "-" + fake.expect(self._conj_t(fake))
            return loss + (" + " + real.expect(self._t(real)) if with_real else "")
        loss = "-" + fake.expect(self._t(fake))
        return loss + (" + " + real.expect(self._conj_t(real)) if with_real else "")

    def formula_where(self, side) -> str:
        if side.latex:
            return rf"g_f(v) = {self.activation_latex},\ f^*(t) = {self.conjugate_latex}\ \text{{({self.name})}}"
        return (f"g_f(v) = {self.activation_text}, f*(t) = {self.conjugate_text} ({self.name}), "
                f"V: the discriminator's raw output")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, generator={self.generator!r})"


class KL(FDivergence):
    """Kullback-Leibler ``KL(P || Q)``: ``f(u) = u log u``, ``g_f(v) = v``,
    ``f*(t) = exp(t - 1)`` (Nowozin et al. 2016, Table 2)."""

    name = "kl"

    activation_text, activation_latex = 'v', 'v'
    conjugate_text, conjugate_latex = 'exp(t - 1)', 'e^{t - 1}'

    def f(self, u):
        return torch.special.xlogy(u, u)

    def activation(self, v):
        return v

    def conjugate(self, t):
        return torch.exp(t - 1)


class ReverseKL(FDivergence):
    """Reverse Kullback-Leibler ``KL(Q || P)``: ``f(u) = -log u``, ``g_f(v) = -exp(-v)``,
    ``f*(t) = -1 - log(-t)``, so ``f*(g_f(v)) = v - 1`` (Nowozin et al. 2016, Table 2)."""

    name = "reverse-kl"

    activation_text, activation_latex = '-exp(-v)', '-e^{-v}'
    conjugate_text, conjugate_latex = '-1 - log(-t)', '-1 - \\log(-t)'

    def f(self, u):
        return -torch.log(u)

    def activation(self, v):
        return -torch.exp(-v)

    def conjugate(self, t):
        return -1 - torch.log(-t)

    def conjugate_of_activation(self, v):
        return v - 1


class Pearson(FDivergence):
    """Pearson chi-squared ``E_Q[(p/q - 1)^2]``: ``f(u) = (u - 1)^2``, ``g_f(v) = v``,
    ``f*(t) = t^2 / 4 + t`` (Nowozin et al. 2016, Table 2)."""

    name = "pearson"

    activation_text, activation_latex = 'v', 'v'
    conjugate_text, conjugate_latex = 't^2/4 + t', '\\tfrac{1}{4}t^2 + t'

    def f(self, u):
        return (u - 1) ** 2

    def activation(self, v):
        return v

    def conjugate(self, t):
        return t * t / 4 + t


class SquaredHellinger(FDivergence):
    """Squared Hellinger ``E_Q[(sqrt(p/q) - 1)^2]``: ``f(u) = (sqrt(u) - 1)^2``,
    ``g_f(v) = 1 - exp(-v)``, ``f*(t) = t / (1 - t)``, so ``f*(g_f(v)) = exp(v) - 1``
    (Nowozin et al. 2016, Table 2)."""

    name = "hellinger"

    activation_text, activation_latex = '1 - exp(-v)', '1 - e^{-v}'
    conjugate_text, conjugate_latex = 't/(1 - t)', '\\frac{t}{1 - t}'

    def f(self, u):
        return (torch.sqrt(u) - 1) ** 2

    def activation(self, v):
        return -torch.expm1(-v)

    def conjugate(self, t):
        return t / (1 - t)

    def conjugate_of_activation(self, v):
        return torch.expm1(v)


class JensenShannon(FDivergence):
    """Jensen-Shannon as Nowozin et al. (2016, Tables 1-2) define it:
    ``f(u) = u log u - (u + 1) log((u + 1) / 2)``, ``g_f(v) = log 2 - log(1 + exp(-v))``,
    ``f*(t) = -log(2 - exp(t))``, so ``f*(g_f(v)) = softplus(v) - log 2``.

    With this f, ``D_f(P || Q) = KL(P || M) + KL(Q || M) = 2 JSD(P, Q)`` for
    ``M = (P + Q) / 2`` (Table 1 prints a factor 1/2 that its f does not carry); it lies in
    ``[0, log 4]``.
    """

    name = "js"

    activation_text, activation_latex = 'log 2 - log(1 + exp(-v))', '\\log 2 - \\log(1 + e^{-v})'
    conjugate_text, conjugate_latex = '-log(2 - exp(t))', '-\\log(2 - e^{t})'

    def f(self, u):
        return torch.special.xlogy(u, u) - torch.special.xlogy(u + 1, (u + 1) / 2)

    def activation(self, v):
        return _LOG2 + F.logsigmoid(v)

    def conjugate(self, t):
        return -torch.log(2 - torch.exp(t))

    def conjugate_of_activation(self, v):
        return F.softplus(v) - _LOG2


class GAN(FDivergence):
    """The GAN game (Goodfellow et al. 2014, Eq. 1) as the f-GAN of
    ``f(u) = u log u - (u + 1) log(u + 1)``, ``g_f(v) = log sigmoid(v)``,
    ``f*(t) = -log(1 - exp(t))``, so ``f*(g_f(v)) = softplus(v) = -log(1 - sigmoid(v))``
    (Nowozin et al. 2016, Table 2, "GAN").

    D maximises ``E_P[log sigmoid(v)] + E_Q[log(1 - sigmoid(v))]``, i.e. minimises the
    binary cross-entropy with real labelled 1 and fake 0; at the optimal D the value is
    ``2 JSD(P, Q) - log 4``, which :meth:`estimate` returns. ``generator="minimax"`` is
    ``"gan"``; ``"alternative"`` is ``"ns-gan"``, the non-saturating generator
    (Goodfellow et al. 2014, Sec. 3): cross-entropy with the labels flipped, Hu et al.'s
    (2018, Eq. 4-5) reversed distribution q^r. Use :func:`make_divergence` to get either.
    """

    @checks_options
    def __init__(self, generator: Generator = "alternative"):
        super().__init__(generator)
        self.name = "gan" if generator == "minimax" else "ns-gan"

    def f(self, u):
        return torch.special.xlogy(u, u) - torch.special.xlogy(u + 1, u + 1)

    def activation(self, v):
        return F.logsigmoid(v)

    def conjugate(self, t):
        return -torch.log1p(-torch.exp(t))

    def conjugate_of_activation(self, v):
        return F.softplus(v)

    # The GAN's formulas in D = sigmoid(V) = q_psi(y=1|.), Hu et al.'s discriminator.
    def discriminator_formula(self, real, fake) -> str:
        return "-" + real.expect(real.log(real.call("D"))) + " - " + fake.expect(fake.log1m(fake.call("D")))

    def generator_formula(self, real, fake, with_real: bool = False) -> str:
        if self.generator == "minimax":
            loss = fake.expect(fake.log1m(fake.call("D")))
            return loss + (" + " + real.expect(real.log(real.call("D"))) if with_real else "")
        loss = "-" + fake.expect(fake.log(fake.call("D")))
        return loss + (" - " + real.expect(real.log1m(real.call("D"))) if with_real else "")

    def formula_where(self, side) -> str:
        return sigmoid_where(side)


# ----------------------------------------------------------------- integral probability

class WassersteinGP(Divergence):
    """Wasserstein-1 with gradient penalty (WGAN-GP; Gulrajani et al. 2017, Alg. 1).

    The critic maximises ``E_P[v] - E_Q[v]`` (its loss ``E_Q[v_fake] - E_P[v_real]``) under
    a soft 1-Lipschitz constraint, the penalty of :meth:`gradient_penalty` (Eq. 3), which
    the engine adds; ``estimate`` is ``E_P[v] - E_Q[v]``, the critic's estimate of
    ``W1(P, Q)`` (Kantorovich-Rubinstein). The generator minimises ``-E_Q[v_fake]``
    (``+ E_P[v_real]`` when the real side has generator parameters): the same value as the
    critic's, with the opposite sign.

    Args:
        penalty: the penalty weight lambda; 10 in the paper; 0 switches it off.
    """

    name = "wgan-gp"

    @checks_options
    def __init__(self, penalty: Weight = 10.0):
        self.penalty_weight = float(penalty)

    def discriminator_loss(self, v_real, v_fake):
        return v_fake.mean() - v_real.mean()

    def generator_loss(self, v_fake, v_real=None):
        loss = -v_fake.mean()
        if v_real is not None:
            loss = loss + v_real.mean()
        return loss

    def estimate(self, v_real, v_fake):
        """``E_P[v] - E_Q[v]``, the critic's estimate of W1(P_real, P_fake); detached."""
        return (v_real.mean() - v_fake.mean()).detach()

    def discriminator_formula(self, real, fake) -> str:
        loss = fake.expect(fake.call("D")) + " - " + real.expect(real.call("D"))
        if not self.penalty_weight:
            return loss
        if real.latex:
            hat = r"\hat{x}"
            penalty = (rf"{self.penalty_weight:g}\,\mathbb{{E}}_{{{hat}}}\left[\left(\left\| \nabla_{{{hat}}} "
                       rf"{real.call('D', hat)} \right\|_2 - 1\right)^2\right]")
        else:
            penalty = f"{self.penalty_weight:g} * E_x_hat[(||grad {real.call('D', 'x_hat')}||_2 - 1)^2]"
        return loss + " + " + penalty

    def generator_formula(self, real, fake, with_real: bool = False) -> str:
        return _critic_generator_formula(real, fake, with_real)

    def formula_where(self, side) -> str:
        if not self.penalty_weight:
            return ""
        if side.latex:
            return (r"\hat{x} = \epsilon\, x_{\mathrm{real}} + (1 - \epsilon)\, x_{\mathrm{fake}},\ "
                    r"\epsilon \sim U(0, 1)")
        return "x_hat = eps * x_real + (1 - eps) * x_fake, eps ~ U(0, 1), between the critic's inputs"

    def __repr__(self) -> str:
        return f"WassersteinGP(name={self.name!r}, penalty={self.penalty_weight})"


class Hinge(Divergence):
    """The hinge game (Lim & Ye 2017; Miyato et al. 2018, Eq. 16-17).

    D minimises ``E_P[relu(1 - v_real)] + E_Q[relu(1 + v_fake)]``; the generator minimises
    ``-E_Q[v_fake]`` (``+ E_P[v_real]`` when the real side has generator parameters).
    ``estimate`` is None.
    """

    name = "hinge"

    def discriminator_loss(self, v_real, v_fake):
        return F.relu(1 - v_real).mean() + F.relu(1 + v_fake).mean()

    def generator_loss(self, v_fake, v_real=None):
        loss = -v_fake.mean()
        if v_real is not None:
            loss = loss + v_real.mean()
        return loss

    def discriminator_formula(self, real, fake) -> str:
        fmax = r"\max" if real.latex else "max"
        return (real.expect(f"{fmax}(0, 1 - {real.call('D')})") + " + "
                + fake.expect(f"{fmax}(0, 1 + {fake.call('D')})"))

    def generator_formula(self, real, fake, with_real: bool = False) -> str:
        return _critic_generator_formula(real, fake, with_real)


def _critic_generator_formula(real, fake, with_real: bool) -> str:
    """``-E_Q[D] (+ E_P[D])``: the generator side of the Wasserstein and hinge games."""
    return "-" + fake.expect(fake.call("D")) + (" + " + real.expect(real.call("D")) if with_real else "")


def sigmoid_where(side) -> str:
    """The definition of D = sigmoid(V), the discriminator's probability q_psi(y=1|.) that
    its input is real (Hu et al. 2018, Sec. 3), in text or LaTeX."""
    if side.latex:
        return r"D_\psi = \sigma(V_\psi) = q_\psi(y = 1 \mid \cdot)"
    return "D = sigmoid(V), the discriminator's probability q(y=1|.) that its input is real"


# ----------------------------------------------------------------------------- registry

#: name -> (class, fixed constructor arguments); the remaining arguments are the options
_REGISTRY: dict[str, tuple[type, dict]] = {
    "gan": (GAN, {"generator": "minimax"}),
    "ns-gan": (GAN, {"generator": "alternative"}),
    "kl": (KL, {}),
    "reverse-kl": (ReverseKL, {}),
    "pearson": (Pearson, {}),
    "hellinger": (SquaredHellinger, {}),
    "js": (JensenShannon, {}),
    "wgan-gp": (WassersteinGP, {}),
    "hinge": (Hinge, {}),
}

#: every divergence name :func:`make_divergence` accepts
DIVERGENCES: tuple[str, ...] = tuple(_REGISTRY)


def make_divergence(name: str = "ns-gan", **options) -> Divergence:
    """The divergence called ``name`` (one of :data:`DIVERGENCES`) with its options:
    ``generator`` (``"alternative"`` or ``"minimax"``) for the f-GANs, ``penalty`` for
    ``"wgan-gp"``, none for the others.

    Raises:
        ConfigError: for an unknown name (listing the names) or an option the divergence
            does not take (listing those it does).
    """
    if name not in _REGISTRY:
        raise ConfigError(f"unknown divergence {name!r}; choose one of {', '.join(DIVERGENCES)}")
    cls, fixed = _REGISTRY[name]
    accepted = sorted(set(inspect.signature(cls).parameters) - set(fixed))
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"divergence {name!r} has no option {', '.join(unknown)}; "
                          f"its options are {', '.join(accepted) or 'none'}")
    return cls(**fixed, **options)


__all__ = ["DIVERGENCES", "Divergence", "FDivergence", "GAN", "Hinge", "JensenShannon", "KL",
           "Pearson", "ReverseKL", "SquaredHellinger", "WassersteinGP", "make_divergence"]
