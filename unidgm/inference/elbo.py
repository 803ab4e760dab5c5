"""The evidence lower bound (Kingma & Welling 2014; Rezende et al. 2014).

For visible x and latents z with generative process p_theta and inference process q_phi::

    ELBO(x) = E_q[ log p_theta(x | z) ]  -  KL( q_phi(z | x) || p_theta(z) )

summed over every visible node with a likelihood and every latent with a density under q.
``terms["loss"]`` is the batch mean of ``reconstruction + beta_t * KL`` where ``beta_t``
is the KL weight (beta-VAE, Higgins et al. 2017) ramped up linearly over ``warmup`` steps
(Bowman et al. 2016; Sonderby et al. 2016). ``terms["elbo"]`` is the unweighted bound.

KL estimator per latent z, chosen at compile time:

- analytic, ``KL(q(z|.) || p(z|.))`` in closed form, where the family has one and neither
  z's q-parents nor its p-parents are sampled downstream of z in q (otherwise integrating
  z out in closed form would ignore their dependence on z);
- Monte Carlo, ``log q(z|.) - log p(z|.)`` at the sampled z, elsewhere or with
  ``kl="mc"``. With every KL Monte Carlo, the loss times the batch size equals Pyro's
  ``Trace_ELBO`` loss on the same draws; with analytic KLs it equals ``TraceMeanField_ELBO``.

Latents whose family has no reparameterization (``categorical``, ``bernoulli``) get the
score-function gradient (``CompiledModel.score_function``): the loss's value is unchanged
and its gradient is unbiased.

Latents with a deterministic inference edge (autoencoders) contribute no KL: q is a point
mass and its entropy term is dropped, which leaves the plain reconstruction objective.

A partially observed latent (a label known for some examples, ``g.latent(...,
partially_observed=True)``) turns the bound into Kingma et al. (2014)'s semi-supervised
objective: observed where the batch gives it, summed over its classes under q elsewhere,
plus the classification term ``classification_weight * -log q(y|x)`` on labelled examples
(see :mod:`unidgm.inference.semi_supervised`).
"""
from __future__ import annotations

from typing import Annotated

import networkx as nx
import torch

from ..errors import ConfigError, GraphError
from ..options import Option, Steps, Weight, checks_options
from .objective import Objective, Phase, require_likelihoods

_KL_MODES = ("auto", "analytic", "mc")
KLMode = Annotated[str, Option(choices=_KL_MODES)]


class ELBO(Objective):
    """Negative ELBO with an optional KL weight and linear warm-up.

    Args:
        kl_weight: beta, the weight of the KL term (1 is the ELBO; >1 a beta-VAE).
        warmup: steps over which the weight ramps linearly from 0 to ``kl_weight``
            (0: no warm-up).
        kl: ``"auto"`` (analytic where valid), ``"analytic"`` (required; an error where it
            is not available) or ``"mc"`` (Monte Carlo everywhere).
        classification_weight: for a graph with a partially observed latent y, alpha of
            Kingma et al. (2014, Eq. 9) per labelled example: the weight of -log q(y|x)
            beside the example's bound (their alpha = 0.1 N on the mean over the labelled
            set is 0.1 N / N_labelled per example). None: 1 where the graph has such a
            latent; 0 switches the term off.
    """

    name = "elbo"
    supports_partially_observed = True

    @checks_options
    def __init__(self, kl_weight: Weight = 1.0, warmup: Steps = 0, kl: KLMode = "auto",
                 classification_weight: Weight | None = None):
        super().__init__()
        self.classification_weight = None if classification_weight is None else float(classification_weight)
        self.semi_supervised = None  # the plan for a partially observed latent, set in bind
        self.kl_weight = float(kl_weight)
        self.warmup = int(warmup)
        self.kl_mode = kl
        self.phases = [Phase("elbo", ("generative", "inference"), "loss")]

    def weight(self) -> float:
        if self.warmup:
            return self.kl_weight * min(1.0, self.step / self.warmup)
        return self.kl_weight

    def bind(self, model) -> None:
        graph = model.graph
        for e in graph.edges_of("adversarial"):
            raise GraphError(f"adversarial edge {e.name}: the '{self.name}' objective has no adversarial terms; "
                             f"compile with objective='adversarial' (the default for a graph with adversaries), "
                             f"which adds the likelihood and KL terms of the other edges, or remove the edge")
        inferred = {f.child for f in model.inference}
        for z in model.latents:
            if z not in inferred:
                raise GraphError(f"latent '{z}' has no inference edge, but the ELBO needs q({z}|...); add "
                                 f"g.inference(<parents>, '{z}', net)")
        require_likelihoods(model, "the ELBO")
        q_graph = graph.process("inference")
        self._kl = []
        self.kl_analytic: dict[str, bool] = {}  # latent -> closed-form KL (else Monte Carlo), for describe()
        # Latents summed over exactly: a partially observed label where the batch lacks it, and
        # any latent whose estimator is "enumerate" everywhere.
        summed = list(model.partially_observed) + [z for z, est in model.estimators.items()
                                                   if est.name == "enumerate" and z not in model.partially_observed]
        for f in model.inference:
            z = f.child
            if f.deterministic or z in summed:
                continue
            gen = model.generative.get(z)
            if gen is None and graph.nodes[z].prior is None:
                raise GraphError(f"latent '{z}' is inferred but has neither a prior nor a generative edge, so the "
                                 f"ELBO has no p({z}); give it prior='standard' or a generative edge")
            downstream = nx.descendants(q_graph, z)
            p_parents = gen.parents if gen is not None else ()
            valid = not (downstream & (set(p_parents) | set(f.parents)))
            has_closed_form = _has_kl(model.families[z])
            if self.kl_mode == "analytic" and not (valid and has_closed_form):
                why = ("its family has no closed-form KL" if not has_closed_form else
                       f"its parents depend on '{z}' under q")
                raise ConfigError(f"kl='analytic': latent '{z}' cannot use an analytic KL ({why}); use kl='auto'")
            analytic = self.kl_mode != "mc" and valid and has_closed_form
            self._kl.append((z, _KLTerm(model, f, gen, analytic)))
            self.kl_analytic[z] = analytic
        self.semi_supervised = None
        if len(summed) > 1:
            raise GraphError(f"latents {', '.join(map(repr, summed))} are all summed over (partially observed or "
                             f"estimator='enumerate'); the ELBO sums over one such latent, so declare one (a joint "
                             f"code can be one categorical over the combinations) or give the others another estimator")
        if summed:
            from .semi_supervised import SemiSupervised

            labelled = bool(model.partially_observed)
            if not labelled and self.classification_weight is not None:
                raise ConfigError(f"elbo: classification_weight weighs -log q(y|x) on labelled examples, and "
                                  f"'{summed[0]}' is enumerated without labels; drop the option or declare it "
                                  f"g.latent(..., partially_observed=True)")
            weight = (1.0 if labelled else 0.0) if self.classification_weight is None else self.classification_weight
            self.semi_supervised = SemiSupervised(model, summed[0], self._kl, weight)
            if labelled:
                self.monitor = None  # no held-out score that would use more labels than training has
        elif self.classification_weight is not None:
            raise ConfigError(f"elbo: classification_weight weighs -log q(y|x) for a partially observed latent y, "
                              f"and graph '{graph.name}' has none; drop the option or declare the label with "
                              f"g.latent(..., partially_observed=True)")

    def terms(self, model, batch):
        if self.semi_supervised is not None:
            return self.semi_supervised.terms(model, batch, self.weight())
        values = model.read_batch(batch)
        q = model.infer(values)
        rec = None
        parts = {}
        for f in model.likelihoods:
            nll = -f.log_prob(f.params(values), values[f.child])
            rec = nll if rec is None else rec + nll
            parts[f.child] = nll
        kl = None
        kls = {}
        for z, term in self._kl:
            k = term(values, q[z])
            kl = k if kl is None else kl + k
            kls[z] = k
        w = self.weight()
        if kl is None:
            per_example = rec
        elif w == 1.0:
            per_example = rec + kl
        else:
            per_example = rec + w * kl
        terms = {"loss": model.score_function(per_example, values, q).mean()}
        with torch.no_grad():
            terms["reconstruction"] = rec.mean()
            terms["kl"] = kl.mean() if kl is not None else torch.zeros_like(terms["reconstruction"])
            terms["elbo"] = -(terms["reconstruction"] + terms["kl"])
            if len(parts) > 1:
                terms.update({f"reconstruction_{n}": v.mean() for n, v in parts.items()})
            if len(kls) > 1:
                terms.update({f"kl_{n}": v.mean() for n, v in kls.items()})
        return terms

    def describe(self, model):
        """The negative ELBO term by term, read off the plan ``bind`` built: one
        reconstruction term over ``model.likelihoods`` and one KL term per latent in
        ``self._kl``, analytic or Monte Carlo as ``bind`` chose, weighted by beta."""
        from .formula import Formula, Notation, Term

        phase = self.phases[0]
        q_edges = {f.child: f.edge for f in model.inference}
        weight = "beta_t" if self.warmup else self.kl_weight
        where = (f"beta_t = {self.kl_weight:g} * min(1, t/{self.warmup}) at training step t",
                 rf"\beta_t = {self.kl_weight:g} \min(1, t/{self.warmup})") if self.warmup else ("", "")
        if self.semi_supervised is not None:
            return Formula(repr(self), tuple(self.semi_supervised.describe(model, phase, weight, where)))
        forms = []
        for latex in (False, True):
            nt = Notation(model.graph, latex)
            forms.append([nt.reconstruction(model.likelihoods)]
                         + [nt.kl_term(q_edges[z], self.kl_analytic[z]) for z, _ in self._kl])
        terms = [Term("reconstruction", forms[0][0], forms[1][0], phase.name, phase.groups, 1.0)]
        if self.kl_weight:
            for (z, _), text, latex in zip(self._kl, forms[0][1:], forms[1][1:]):
                name = "kl" if len(self._kl) == 1 else f"kl_{z}"
                terms.append(Term(name, text, latex, phase.name, phase.groups, weight, *where))
        return Formula(repr(self), tuple(terms))

    def __repr__(self):
        extra = f", kl_weight={self.kl_weight}" if self.kl_weight != 1.0 else ""
        extra += f", warmup={self.warmup}" if self.warmup else ""
        if self.classification_weight is not None:
            extra += f", classification_weight={self.classification_weight:g}"
        return f"{self.name}(kl={self.kl_mode}{extra})"


def _has_kl(family) -> bool:
    from ..graph.families import Family

    return type(family).kl is not Family.kl


class _KLTerm:
    """(values, q_params) -> per-example KL of one latent (or its one-sample estimate).

    An object rather than a closure, so that ``copy.deepcopy(model)`` copies the factors it
    reads with the model (a closure would keep computing with the original's networks)."""

    __slots__ = ("model", "f", "gen", "family", "dims", "analytic", "standard")

    def __init__(self, model, f, gen, analytic: bool):
        self.model, self.f, self.gen, self.analytic = model, f, gen, analytic
        self.family = model.families[f.child]
        self.dims = f.event_dims
        # the family's standard prior has a closed form of its own (``p=None``)
        self.standard = gen is None and model.graph.nodes[f.child].prior == "standard"

    def __call__(self, values, qp):
        z = self.f.child
        if not self.analytic:
            return self.f.log_prob(qp, values[z]) - self.model.log_p(z, values)
        if self.gen is not None:
            return self.family.kl(qp, self.gen.params(values), self.dims)
        if self.standard:
            return self.family.kl(qp, None, self.dims)
        return self.family.kl(qp, self.model.prior_params(z), self.dims)
