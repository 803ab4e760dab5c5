"""The ELBO of a graph with a partially observed latent: Kingma et al. (2014)'s
semi-supervised bounds, with the label summed out exactly where it is unknown.

For a categorical latent y that the batch gives for some examples (a label), the other
latents z, the generative process p and the inference process q (Kingma, Rezende, Mohamed
& Welling 2014, "Semi-supervised Learning with Deep Generative Models", Sec. 3.1.2)::

    labelled (x, y):  log p(x, y) >= E_q(z|x,y)[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)] = -L(x, y)  (Eq. 6)
    unlabelled x:     log p(x)    >= sum_y q(y|x) (-L(x, y)) + H(q(y|x))                            = -U(x)     (Eq. 7)
    J = sum_labelled L(x, y) + sum_unlabelled U(x)                                                            (Eq. 8)
    J^alpha = J + alpha * E_labelled[-log q(y|x)]                                                             (Eq. 9)

The labelled bound does not involve q(y|x), so without the classification term the
classifier learns from unlabelled examples only; Eq. 9 adds it with weight alpha. Kingma et
al. use alpha = 0.1 N on the mean over the labelled set (Sec. 3.1.2 and Appendix), that is
0.1 N / N_labelled per labelled example beside the sums over all N examples; here alpha is
that per-example weight (``classification_weight``).

**Computation.** A batch of B examples is split by the label's mask: the labelled rows run
the ordinary ELBO with y held at its value; the unlabelled rows run once with y enumerated
as a leading dimension, y = e_1..e_K of shape (K, 1, K), so every network downstream of y
sees the batch expanded over the K classes in one call ((K, B_u) rows) and L(x, k) comes
out as a (K, B_u) matrix; U(x) is its q(y|x)-weighted sum plus the entropy. q(y|x) runs once
per row. With every example labelled (a validation split) only the labelled pass runs.
Cost per unlabelled example: K passes of the networks downstream of y.

**Terms** (each a sum over the batch's rows of one kind divided by B, so that
``loss = labelled + unlabelled + alpha * classification`` and the KL weight acts inside L
and U; the bound is computed once per trace and each term reads its part): ``labelled`` (L summed over labelled rows), ``unlabelled`` (U over unlabelled rows),
``classification`` (-log q(y|x) over labelled rows), ``elbo`` (minus the unweighted bounds),
``reconstruction`` and ``kl`` (their parts, q(y|x)-weighted for unlabelled rows) and
``accuracy`` (argmax q(y|x) against the given labels, over labelled rows; 0 without any).

Limits: one partially observed latent per graph, categorical; other latents must be
reparameterized or relaxed (a score-function latent would need its surrogate inside the
sum over y, which is not implemented).
"""
from __future__ import annotations

import torch

from ..errors import GraphError
from .terms.base import Term


class SemiSupervised:
    """The compiled plan of the ELBO for one partially observed latent ``y``.

    Built by :class:`~unidgm.inference.elbo.ELBO` when it assembles its terms; ``compute``
    is its hot path, run once per trace, and :meth:`terms` the terms that read it.

    Args:
        model: the compiled model.
        y: the partially observed latent.
        kl: the ELBO's KL term over the other latents (bound; its weight and warm-up act
            inside L and U).
        classification_weight: alpha, the weight of -log q(y|x) per labelled example
            relative to its bound (0: no classification term).
    """

    def __init__(self, model, y: str, kl, classification_weight: float):
        self.y = y
        self.held = (y,)
        self.q_y = next(f for f in model.inference if f.child == y)
        self.classes = model.graph.nodes[y].shape[-1]
        self.kl = kl
        self.classification_weight = classification_weight
        self._classes = {}  # (device, dtype) -> the enumerated values e_1..e_K, shaped (K, 1, K)
        scored = [f.child for f, _ in model.score_latents]
        if scored:
            raise GraphError(f"latent '{scored[0]}' uses a score-function gradient, which the sum over the partially "
                             f"observed '{y}' does not support; give it estimator='gumbel' or a reparameterized family")

    # ------------------------------------------------------------------ the hot path
    def _bound(self, model, values: dict):
        """Per row: -log p(visible | ...), the KL of the other latents, -log p(y), and
        q(y|...)'s parameters, for values in which y is held (observed or enumerated)."""
        q = model.infer(values, held=self.held)
        rec = 0.0
        for f in model.likelihoods:
            rec = rec - f.log_prob(f.params(values), values[f.child])
        kl = torch.zeros_like(rec)
        for entry in self.kl.plan:
            kl = kl + self.kl.one(model, values, q, entry)
        return rec, kl, -model.log_p(self.y, values), q[self.y]

    def terms(self) -> list:
        """The objective's terms, each reading its part of :meth:`compute`."""
        parts = [_Part(self, "labelled", 1.0), _Part(self, "unlabelled", 1.0),
                 _Part(self, "classification", self.classification_weight)]
        return parts + [_Part(self, name, 0.0) for name in ("elbo", "reconstruction", "kl", "accuracy")]

    def compute(self, trace) -> dict:
        """Every part of the bound on the trace's batch, once per trace."""
        return trace.cached(("semi-supervised", self.y),
                            lambda: self._compute(trace.model, trace.batch, self.kl.weight_at(trace.step)))

    def _compute(self, model, batch: dict, weight: float) -> dict:
        values = model.read_batch(batch)
        size = next(iter(values.values())).shape[0]
        labels, observed = model.read_labels(batch, self.y, size)
        # The split's sizes depend on the data (one device sync); they decide the two passes.
        labelled = observed.nonzero().squeeze(1)
        unlabelled = (~observed).nonzero().squeeze(1)
        n_l, n_u = labelled.shape[0], unlabelled.shape[0]
        zero = labels.new_zeros(())
        bound = rec_sum = kl_sum = zero  # sums over rows, divided by the batch size below
        labelled_sum = unlabelled_sum = classification = accuracy = zero
        if n_l:
            part = values if n_u == 0 else {k: v[labelled] for k, v in values.items()}
            y = labels if n_u == 0 else labels[labelled]
            part[self.y] = y
            rec, kl, nlp_y, q_y = self._bound(model, part)
            per_row = rec + weight * kl + nlp_y if weight != 1.0 else rec + kl + nlp_y
            log_q = self.q_y.log_prob(q_y, y)
            labelled_sum = per_row.sum()
            classification = -log_q.sum()
            with torch.no_grad():
                bound = bound + (rec + kl + nlp_y).sum()
                rec_sum, kl_sum = rec_sum + rec.sum(), kl_sum + kl.sum()
                accuracy = (q_y[0].argmax(-1) == y.argmax(-1)).sum() / n_l
        if n_u:
            part = values if n_l == 0 else {k: v[unlabelled] for k, v in values.items()}
            part[self.y] = self._enumerated(labels)  # (K, 1, K): broadcasts against the (n_u,) rows
            rec, kl, nlp_y, q_y = self._bound(model, part)               # each (K, n_u), or broadcastable
            log_q = torch.log_softmax(q_y[0], -1).transpose(0, 1)        # (n_u, K) -> (K, n_u)
            probs = log_q.exp()
            per_row = rec + weight * kl + nlp_y if weight != 1.0 else rec + kl + nlp_y
            unlabelled_sum = (probs * (per_row + log_q)).sum()           # sum_y q(y|x) (L(x,y) + log q(y|x))
            with torch.no_grad():
                bound = bound + (probs * (rec + kl + nlp_y + log_q)).sum()
                rec_sum = rec_sum + (probs * rec).sum()
                kl_sum = kl_sum + (probs * kl).sum()
        terms = {"labelled": labelled_sum / size, "unlabelled": unlabelled_sum / size,
                 "classification": classification / size}
        with torch.no_grad():
            terms["elbo"] = -bound / size
            terms["reconstruction"] = rec_sum / size
            terms["kl"] = kl_sum / size
            terms["accuracy"] = accuracy
        return terms

    def _enumerated(self, like: torch.Tensor) -> torch.Tensor:
        """y = e_1..e_K as a leading dimension, (K, 1, K), made once per device and dtype."""
        key = (like.device, like.dtype)
        classes = self._classes.get(key)
        if classes is None:
            classes = self._classes[key] = torch.eye(self.classes, dtype=like.dtype, device=like.device).unsqueeze(1)
        return classes

    # ------------------------------------------------------------------ describe
    def describe(self, model, name: str):
        """One term as Kingma et al. write it (Eq. 6-9), from the plan: L(x, y) from the
        likelihoods, the other latents' KL terms (analytic or Monte Carlo, as the ELBO
        chose, weighted by beta) and -log p(y); U(x) from q(y|x). Returns ``(text, latex,
        where, where_latex)``."""
        from .formula import WHERE_SEP, WHERE_SEP_LATEX, Notation, join_sum, scaled

        kl_weight = self.kl.weight_label()
        where = self.kl.where()
        forms = []
        for latex in (False, True):
            nt = Notation(model.graph, latex, observed=self.held)
            parts = [nt.reconstruction(model.likelihoods)]
            parts += [scaled(kl_weight, nt.kl_term(f.edge, analytic), latex) for f, analytic in self.kl.latents]
            parts.append(nt.neg(nt.log(nt.prior(self.y))))
            reads = nt.vars(self.q_y.parents)
            big_l, big_u, big_h = (r"\mathcal{L}", r"\mathcal{U}", r"\mathcal{H}") if latex else ("L", "U", "H")
            l_xy = f"{big_l}({reads}{nt.comma}{nt.var(self.y)})"
            q_y = nt.edge(self.q_y.edge)
            labelled, unlabelled = (r"\mathrm{labelled}", r"\mathrm{unlabelled}") if latex else ("labelled",
                                                                                                  "unlabelled")
            defs = [f"{l_xy} = {join_sum(parts)}",
                    f"{big_u}({reads}) = {nt.expect(q_y, l_xy)} - {big_h}({q_y})"]
            forms.append((nt.expect(labelled, l_xy), nt.expect(unlabelled, f"{big_u}({reads})"),
                          nt.expect(labelled, nt.neg(nt.log(q_y))), defs))
        (tl, tu, tc, defs_t), (ll, lu, lc, defs_l) = forms
        where_t = WHERE_SEP.join(filter(None, [*defs_t, where[0]]))
        where_l = WHERE_SEP_LATEX.join(filter(None, [*defs_l, where[1]]))
        if name == "classification":
            return tc, lc, "", ""
        return (tl, ll, where_t, where_l) if name == "labelled" else (tu, lu, where_t, where_l)


class _Part(Term):
    """One part of the semi-supervised bound (a key of :meth:`SemiSupervised.compute`)."""

    def __init__(self, plan: SemiSupervised, name: str, weight: float):
        super().__init__(name, weight)
        self._plan = (plan,)  # a tuple: the plan is shared by the parts, not a submodule
        self._where = ("", "")

    def forward(self, trace):
        return self._plan[0].compute(trace)[self.name]

    def describe(self, model):
        text, latex, *where = self._plan[0].describe(model, self.name)
        self._where = tuple(where)
        return text, latex

    def where(self):
        return self._where
