"""An objective's description of itself, term by term (house rule 4: the formula a model
prints is derived from the terms it computes, never written beside them).

Each objective's :meth:`~unidgm.inference.objective.Objective.describe` walks the plan it
built in ``bind`` (the likelihood factors, the KL estimators, the adversaries, ...) and
returns one :class:`Term` per computed term: the same list that decides what ``terms()``
computes decides what the formula says.

The symbols come from the graph through :class:`Notation`, once in plain text and once in
LaTeX:

- ``p(x|z)`` / ``p_\\theta(x \\mid z)`` is a generative edge, ``q(z|x)`` / ``q_\\phi(z \\mid x)``
  an inference edge, ``p(z)`` a prior;
- a deterministic edge is a function of its parents, substituted where its child is read:
  ``G(z)`` (generative) and ``E(x)`` (inference), e.g. an autoencoder's ``log p(x|E(x))``
  and a GAN's ``D(G(z))``; where one process has several, the child's name is a subscript;
- ``E_q(z|x)[...]`` is an expectation over the inference process run on the data (its
  stochastic latents, given the visible nodes it reads), ``E_p(z)[...]`` one over the
  generative process (its stochastic nodes, marginally), ``E_data[...]`` one over the batch;
- ``D`` (or ``V`` for an f-GAN's raw output) is the discriminator q_psi of an adversarial
  edge, see the divergences' ``discriminator_formula``/``generator_formula``.

The text form uses ASCII operators (``log``, ``KL(a || b)``, ``sum_i``); names keep the
graph's spelling.
"""
from __future__ import annotations

import re
from collections import Counter
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
        weight: the term's weight in that loss (1 unless an option scales it): the phase's
            loss is the sum of ``weight * loss(batch)[name]`` over its terms. A string is a
            weight that changes during training (e.g. ``"beta_t"``, defined in ``where``).
        where: definitions the term's symbols need, in plain text ("" when none), several
            joined by ``WHERE_SEP`` ("; ").
        where_latex: the same definitions in LaTeX, joined by ``WHERE_SEP_LATEX``.
        steps: optimizer steps of the phase per training step (e.g. WGAN-GP's 5 critic steps).
    """

    name: str
    text: str
    latex: str
    phase: str
    groups: tuple[str, ...]
    weight: float | str = 1.0
    where: str = ""
    where_latex: str = ""
    steps: int = 1


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
    def names(self) -> tuple[str, ...]:
        """The terms' keys in ``model.loss(batch)``, in order."""
        return tuple(t.name for t in self.terms)

    @property
    def text(self) -> str:
        lines = []
        for phase, terms in self.phases().items():
            head = f"{phase} (updates {', '.join(terms[0].groups)}"
            head += f"; {terms[0].steps} steps per training step)" if terms[0].steps > 1 else ")"
            lines.append(f"{head}: minimise " + join_sum([_weighted(t, t.text) for t in terms]))
        wheres = _unique(piece for t in self.terms for piece in t.where.split(WHERE_SEP))
        if wheres:
            lines.append("where " + WHERE_SEP.join(wheres))
        return "\n".join(lines)

    @property
    def latex(self) -> str:
        lines = []
        for phase, terms in self.phases().items():
            params = ", ".join(_GROUP_SYMBOLS.get(g, r"\mathrm{" + _tex_escape(g) + "}") for g in terms[0].groups)
            lines.append(r"\mathcal{L}_{\mathrm{" + _tex_escape(phase) + "}}(" + params + ") &= "
                         + join_sum([_weighted(t, t.latex, latex=True) for t in terms]))
        wheres = _unique(piece for t in self.terms for piece in t.where_latex.split(WHERE_SEP_LATEX))
        if wheres:
            lines.append(r"&\text{where } " + WHERE_SEP_LATEX.join(wheres))
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"

    def __str__(self) -> str:
        return self.text

    def _repr_latex_(self) -> str:
        return "$$" + self.latex + "$$"


#: how several definitions are joined in ``Term.where`` (text) and ``Term.where_latex``
WHERE_SEP, WHERE_SEP_LATEX = "; ", r",\quad "

_GROUP_SYMBOLS = {"generative": r"\theta", "inference": r"\phi", "adversarial": r"\psi"}


def _unique(items) -> list[str]:
    out = []
    for s in items:
        if s and s not in out:
            out.append(s)
    return out


def _tex_escape(s: str) -> str:
    return s.replace("_", r"\_")


def join_sum(parts: list[str]) -> str:
    """``a + b``, written ``a - c`` where a part starts with a minus sign."""
    if not parts:
        return "0"
    out = parts[0]
    for p in parts[1:]:
        out += " - " + p[1:] if p.startswith("-") else " + " + p
    return out


def _needs_parens(body: str) -> bool:
    """Whether ``body`` is a sum at its top level (or starts with a sign)."""
    if body.startswith("-"):
        return True
    depth = 0
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "+-" and body[i - 1:i] == " " and body[i + 1:i + 2] == " ":
            return True
    return False


def paren(body: str, latex: bool = False) -> str:
    """``(body)`` where ``body`` is a sum or starts with a sign, else ``body``."""
    if not _needs_parens(body):
        return body
    return r"\left(" + body + r"\right)" if latex else "(" + body + ")"


def _weighted(term: Term, body: str, latex: bool = False) -> str:
    return scaled(term.weight, body, latex)


def scaled(w: float | str, body: str, latex: bool = False) -> str:
    """``w * body`` (parenthesised where needed); ``body`` alone for w = 1."""
    if isinstance(w, str):
        symbol = w if not latex else w.replace("beta", r"\beta").replace("lambda", r"\lambda").replace(
            "alpha", r"\alpha")
        return f"{symbol}\\,{paren(body, True)}" if latex else f"{symbol} * {paren(body, False)}"
    if w == 1:
        return body
    if w == -1:
        return "-" + paren(body, latex)
    return f"{w:g}\\,{paren(body, True)}" if latex else f"{w:g} * {paren(body, False)}"


# ----------------------------------------------------------------------------- notation

def tex_name(name: str) -> str:
    """A node's name in LaTeX: ``z1`` -> ``z_{1}``, ``y_x`` -> ``y_{x}``,
    ``x_target`` -> ``x_{\\mathrm{target}}``, ``feat`` -> ``\\mathrm{feat}``."""
    m = re.fullmatch(r"([A-Za-z])(\d*)(?:_(\w+))?", name)
    if m is None:
        return r"\mathrm{" + _tex_escape(name) + "}"
    letter, digits, sub = m.groups()
    parts = ([digits] if digits else []) + ([tex_name(sub) if len(sub) == 1 or re.fullmatch(r"[A-Za-z]\d*", sub)
                                             else r"\mathrm{" + _tex_escape(sub) + "}"] if sub else [])
    return letter + ("_{" + ",".join(parts) + "}" if parts else "")


@dataclass(frozen=True)
class Side:
    """One side of an adversarial edge in symbols: the expectation it is taken under and
    the discriminator's arguments there, in text or LaTeX (``latex``). ``tag`` names the
    adversary where a graph has several. Divergences write their losses with it."""

    expectation: str
    args: str
    latex: bool = False
    tag: str = ""

    def expect(self, body: str) -> str:
        return _expect(self.expectation, body, self.latex)

    def call(self, letter: str, args: str | None = None) -> str:
        """The critic ``letter`` (``D``, ``V``) on this side's arguments: ``D(x)``, ``D_\\psi(x)``."""
        args = self.args if args is None else args
        if self.latex:
            sub = r"\psi" + ("," + tex_name(self.tag) if self.tag else "")
            return f"{letter}_{{{sub}}}({args})"
        return f"{letter}{'_' + self.tag if self.tag else ''}({args})"

    def log(self, body: str) -> str:
        return (r"\log " if self.latex else "log ") + body

    def log1m(self, body: str) -> str:
        """log(1 - body)."""
        return r"\log\left(1 - " + body + r"\right)" if self.latex else f"log(1 - {body})"


def _expect(sub: str, body: str, latex: bool) -> str:
    if not sub:
        return body
    if latex:
        return r"\mathbb{E}_{" + sub + r"}\left[" + body + r"\right]"
    return f"E_{sub}[{body}]"


class Notation:
    """The symbols of one graph's variables and processes, in plain text or LaTeX.

    Objectives build each term once with ``Notation(graph)`` and once with
    ``Notation(graph, latex=True)``, so the two forms cannot disagree. ``observed`` names
    latents to read as given values (a partially observed label where the batch has it).
    """

    def __init__(self, graph, latex: bool = False, observed=()):
        self.graph = graph
        self.latex = latex
        self.observed = frozenset(observed)
        self.bar = r" \mid " if latex else "|"
        self.comma = ", " if latex else ","
        several = Counter(e.kind for e in graph.edges if e.deterministic)
        self._fn = {}
        for e in graph.edges:
            if e.deterministic:
                letter, param = ("G", r"\theta") if e.kind == "generative" else ("E", r"\phi")
                tag = e.child if several[e.kind] > 1 else ""
                if latex:
                    self._fn[e] = f"{letter}_{{{param}{',' + tex_name(tag) if tag else ''}}}"
                else:
                    self._fn[e] = letter + ("_" + tag if tag else "")

    # ------------------------------------------------------------------ atoms
    def var(self, name: str) -> str:
        return tex_name(name) if self.latex else name

    def vars(self, names) -> str:
        return self.comma.join(self.var(n) for n in names)

    def particle(self, name: str, i: str = "i") -> str:
        """The i-th of several draws of a variable: ``z^(i)``."""
        return f"{self.var(name)}^{{({i})}}" if self.latex else f"{name}^({i})"

    def dist(self, kind: str, child: str, parents: str = "", learned: bool = True) -> str:
        """``p(child|parents)`` for ``kind`` generative (theta), inference (phi) or
        adversarial (psi); ``child`` and ``parents`` are already symbols."""
        letter = "p" if kind in ("generative", "prior") else "q"
        cond = self.bar + parents if parents else ""
        if self.latex:
            param = {"generative": r"\theta", "inference": r"\phi", "adversarial": r"\psi"}.get(kind)
            sub = f"_{{{param}}}" if param and learned else ""
            return f"{letter}{sub}({child}{cond})"
        return f"{letter}({child}{cond})"

    def edge(self, e, args: str | None = None, child: str | None = None) -> str:
        """An edge's distribution, its parents written ``args`` (default: their names)."""
        return self.dist(e.kind, self.var(e.child) if child is None else child,
                         self.vars(e.parents) if args is None else args)

    def prior(self, z: str, child: str | None = None) -> str:
        learned = self.graph.nodes[z].prior == "learned"
        return self.dist("generative" if learned else "prior", self.var(z) if child is None else child)

    def fn(self, e) -> str:
        """A deterministic edge's function symbol, ``G``/``E`` (``G_\\theta``/``E_\\phi``)."""
        return self._fn[e]

    def call(self, e, args: str) -> str:
        return f"{self.fn(e)}({args})"

    def log(self, body: str) -> str:
        return (r"\log " if self.latex else "log ") + body

    def neg(self, body: str) -> str:
        return "-" + paren(body, self.latex)

    def expect(self, sub: str, body: str) -> str:
        return _expect(sub, body, self.latex)

    def kl(self, a: str, b: str) -> str:
        if self.latex:
            return r"\mathrm{KL}\left(" + a + r" \,\middle\|\, " + b + r"\right)"
        return f"KL({a} || {b})"

    def data(self) -> str:
        return r"p_{\mathrm{data}}" if self.latex else "data"

    def sigmoid(self, body: str) -> str:
        return rf"\sigma({body})" if self.latex else f"sigmoid({body})"

    # ------------------------------------------------------------------ values of nodes
    def value(self, name: str, process: str = "inference", rename: dict | None = None,
              particle: str | None = None) -> str:
        """Node ``name``'s value under ``process`` (``"data"``, ``"inference"``,
        ``"generative"``): deterministic edges are substituted (``E(x)``, ``G(z)``), visible
        nodes read from the batch keep their (renamed) names, sampled nodes theirs (as the
        ``particle``-th draw when given)."""
        rename = rename or {}
        node = self.graph.nodes[name]
        if process == "reconstruction" and node.role == "visible" and self.graph.edge_into(name, "generative"):
            e = self.graph.edge_into(name, "generative")  # the mean of p given q's codes of the data
            inner = self.values(e.parents, "inference", rename, particle)
            return (rf"\bar{{{self.var(name)}}}({inner})" if self.latex else f"mean_p({name}|{inner})")
        if (node.role == "visible" and (process != "generative" or node.given)) or name in self.observed:
            return self.var(rename.get(name, name))
        kind = "inference" if process != "generative" else "generative"
        e = self.graph.edge_into(name, kind)
        if e is not None and e.deterministic:
            return self.call(e, self.values(e.parents, process, rename, particle))
        return self.particle(name, particle) if particle else self.var(name)

    def values(self, names, process: str = "inference", rename: dict | None = None,
               particle: str | None = None) -> str:
        return self.comma.join(self.value(n, process, rename, particle) for n in names)

    def sampled(self, names, process: str = "inference", rename: dict | None = None):
        """The nodes a value of ``names`` under ``process`` is drawn over: the stochastic
        latents (and, for the inference process, the visible nodes it reads; for the
        generative process, the given nodes it conditions on), in declaration order.

        The inference process is followed back to the data (``q(z1, z2|x)``); the generative
        process stops at stochastic nodes, whose marginal is meant (``p(x)``, ``p(z)``)."""
        rename = rename or {}
        drawn, read, seen = set(), set(), set()
        stack = list(names)
        kind = "inference" if process != "generative" else "generative"
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            node = self.graph.nodes[n]
            if (node.role == "visible" and (process != "generative" or node.given)) or n in self.observed:
                read.add(n)
                continue
            e = self.graph.edge_into(n, kind)
            if e is None or not e.deterministic:
                drawn.add(n)
                if kind == "generative" or e is None:
                    continue
            stack.extend(e.parents)
        order = list(self.graph.nodes)
        drawn = [n for n in order if n in drawn]
        read = [n for n in order if n in read]
        if kind == "generative":
            import networkx as nx

            process_graph = self.graph.process("generative")
            given = {a for n in drawn for a in nx.ancestors(process_graph, n) if self.graph.nodes[a].given}
            read = [n for n in order if n in given or n in read]
        return drawn, [rename.get(n, n) for n in read]

    def scope(self, names, process: str = "inference", rename: dict | None = None) -> str:
        """The subscript of an expectation over the values of ``names`` under ``process``:
        ``q(z|x)``, ``p(z)``, ``data``, or "" where nothing is random (an autoencoder's code)."""
        if process == "data":
            return self.data()
        drawn, read = self.sampled(names, process, rename)
        if not drawn:
            return self.data() if process != "generative" or read else ""
        if process != "generative":
            return self.dist("inference", self.vars(drawn), self.vars(read))
        nodes = self.graph.nodes
        learned = any(nodes[n].prior == "learned" or self.graph.edge_into(n, "generative") for n in drawn)
        return self.dist("generative" if learned else "prior", self.vars(drawn), self.vars(read))

    def draws(self, names, process: str, k) -> str:
        """The subscript of an expectation over ``k`` independent draws of the values of
        ``names``: ``z^(1:5)~q(z|x)``."""
        drawn, _ = self.sampled(names, process)
        group = self.vars(drawn) if len(drawn) == 1 else "(" + self.vars(drawn) + ")"
        particles = f"{group}^{{(1:{k})}}" if self.latex else f"{group}^(1:{k})"
        return particles + (r" \sim " if self.latex else "~") + self.scope(names, process)

    # ------------------------------------------------------------------ recurring terms
    def reconstruction(self, likelihoods) -> str:
        """``-E_q(z|x)[log p(x|z)]`` for the likelihood factors (or edges) given, the
        latents inferred by q from the data; deterministic codes substituted."""
        logs = [self.log(self.edge(f.edge if hasattr(f, "edge") else f, self.values(f.parents)))
                for f in likelihoods]
        parents = [p for f in likelihoods for p in f.parents]
        body = " + ".join(logs)
        sub = self.scope(parents)
        return self.neg(self.expect(sub if sub != self.data() else "", body))

    def kl_term(self, q_edge, analytic: bool, standard: bool = False) -> str:
        """The KL of one latent's posterior from its prior (or generative edge): in closed
        form, ``KL(q(z|x) || p(z))`` (inside an expectation over any sampled q-parents),
        or its one-sample Monte Carlo estimate ``E_q[log q(z|x) - log p(z)]``; with
        ``standard``, from the family's standard prior whatever p says."""
        z = q_edge.child
        gen = None if standard else self.graph.edge_into(z, "generative")
        q = self.edge(q_edge, self.values(q_edge.parents))
        p = self.edge(gen, self.values(gen.parents)) if gen is not None else self.prior(z)
        p_parents = gen.parents if gen is not None else ()
        if analytic:
            sub = self.scope(list(q_edge.parents) + list(p_parents))
            return self.expect(sub if sub != self.data() else "", self.kl(q, p))
        sub = self.scope([z, *q_edge.parents, *p_parents])
        return self.expect(sub, self.log(q) + " - " + self.log(p))


__all__ = ["WHERE_SEP", "WHERE_SEP_LATEX", "Formula", "Notation", "Side", "Term", "join_sum", "paren", "scaled",
           "tex_name"]
