"""An objective's description of itself, term by term (house rule 4: the formula a model
prints is derived from the terms it computes, never written beside them).

Each objective's :meth:`~unidgm.inference.objective.Objective.describe` walks the plan it
built in ``bind`` (the likelihood factors, the KL estimators, the adversaries, ...) and
returns one :class:`Term` per computed term: the same list that decides what ``terms()``
computes decides what the formula says.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    """One term of a compiled objective.

    Attributes:
        name: the key of the term in ``model.loss(batch)`` (e.g. ``"reconstruction"``).
        text: the term in plain text, e.g. ``-E_q(z|x)[log p(x|z)]``.
        latex: the same term in LaTeX.
        phase: the phase whose loss contains it (e.g. ``"elbo"``, ``"discriminator"``).
        groups: the parameter groups that phase updates.
        weight: the term's weight in that loss (1 unless an option scales it).
    """

    name: str
    text: str
    latex: str
    phase: str
    groups: tuple[str, ...]
    weight: float | str = 1.0


@dataclass(frozen=True)
class Formula:
    """A compiled objective as the sum of its terms, per phase: what each phase minimises."""

    objective: str
    terms: tuple[Term, ...] = field(default_factory=tuple)

    def phases(self) -> dict[str, list[Term]]:
        """Terms grouped by phase, in the order the phases first appear."""
        out: dict[str, list[Term]] = {}
        for t in self.terms:
            out.setdefault(t.phase, []).append(t)
        return out

    @property
    def text(self) -> str:
        lines = []
        for phase, terms in self.phases().items():
            groups = ", ".join(terms[0].groups)
            lines.append(f"{phase} (updates {groups}): minimise " + " + ".join(_weighted(t, t.text) for t in terms))
        return "\n".join(lines)

    @property
    def latex(self) -> str:
        lines = []
        for phase, terms in self.phases().items():
            lines.append(r"\mathcal{L}_{\mathrm{" + phase + "}} &= "
                         + " + ".join(_weighted(t, t.latex, latex=True) for t in terms))
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def __str__(self) -> str:
        return self.text

    def _repr_latex_(self) -> str:
        return "$$" + self.latex + "$$"


def _weighted(term: Term, body: str, latex: bool = False) -> str:
    if term.weight == 1.0 or term.weight == 1:
        return body
    w = term.weight
    if isinstance(w, str):
        w = w if not latex else w.replace("beta", r"\beta").replace("lambda", r"\lambda")
    else:
        w = f"{w:g}"
    return f"{w} * ({body})" if not latex else f"{w}\\left({body}\\right)"
