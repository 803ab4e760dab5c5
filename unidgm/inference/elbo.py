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

from ..errors import ConfigError, GraphError
from ..options import Option, Steps, Weight, checks_options
from .objective import Objective, Phase, require_likelihoods

_KL_MODES = ("auto", "analytic", "mc")
KLMode = Annotated[str, Option(choices=_KL_MODES)]
#: the warm-up's shape (see :class:`~unidgm.inference.terms.KL`)
KLSchedule = Annotated[str, Option(choices=("linear", "cosine"))]
#: what each latent's KL is taken from: p's prior or edge, or the family's standard prior
KLReference = Annotated[str, Option(choices=("model", "standard"))]


class ELBO(Objective):
    """Negative ELBO with an optional KL weight and linear warm-up.

    Args:
        kl_weight: beta, the weight of the KL term (1 is the ELBO; >1 a beta-VAE).
        warmup: steps over which the weight ramps from 0 to ``kl_weight`` (0: no warm-up).
        kl_schedule: the ramp's shape, ``"linear"`` (Bowman et al. 2016) or ``"cosine"``
            (Ramesh et al. 2021's discrete VAE).
        kl_reference: ``"model"`` (each latent's prior or generative edge in p) or
            ``"standard"`` (its family's standard prior, whatever p says: the
            uniform prior of DALL-E's first stage, Ramesh et al. 2021, Sec. 2.1, while a
            learned prior over the codes waits for its own stage).
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
                 classification_weight: Weight | None = None, kl_schedule: KLSchedule = "linear",
                 kl_reference: KLReference = "model"):
        super().__init__()
        self.kl_schedule, self.kl_reference = kl_schedule, kl_reference
        self.classification_weight = None if classification_weight is None else float(classification_weight)
        self.kl_weight = float(kl_weight)
        self.warmup = int(warmup)
        self.kl_mode = kl
        self.phases = [Phase("elbo", ("generative", "inference"), "loss")]

    def weight(self) -> float:
        """beta_t, the KL weight at the current step."""
        if self.warmup:
            return self.kl_weight * min(1.0, self.step / self.warmup)
        return self.kl_weight

    def assemble(self, model) -> list:
        """Reconstruction, KL and the reported bound; with a latent summed over exactly (a
        partially observed label, an enumerated code), Kingma et al.'s labelled and
        unlabelled bounds and the classification term instead."""
        from .terms import KL, Likelihood, Report

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
        latents = []
        # Latents summed over exactly: a partially observed label where the batch lacks it, and
        # any latent whose estimator is "enumerate" everywhere.
        summed = list(model.partially_observed) + [z for z, est in model.estimators.items()
                                                   if est.name == "enumerate" and z not in model.partially_observed]
        for f in model.inference:
            z = f.child
            if f.deterministic or z in summed:
                continue
            gen = None if self.kl_reference == "standard" else model.generative.get(z)
            if gen is None and graph.nodes[z].prior is None and self.kl_reference != "standard":
                raise GraphError(f"latent '{z}' is inferred but has neither a prior nor a generative edge, so the "
                                 f"ELBO has no p({z}); give it prior='standard' or a generative edge")
            downstream = nx.descendants(q_graph, z)
            p_parents = gen.parents if gen is not None else ()
            valid = not (downstream & (set(p_parents) | set(f.parents)))
            # a density network (an autoregressive prior) has no parameters for a closed form
            has_closed_form = _has_kl(model.families[z]) and not (gen is not None and gen.density)
            if self.kl_mode == "analytic" and not (valid and has_closed_form):
                why = ("its family has no closed-form KL" if not has_closed_form else
                       f"its parents depend on '{z}' under q")
                raise ConfigError(f"kl='analytic': latent '{z}' cannot use an analytic KL ({why}); use kl='auto'")
            latents.append((f, self.kl_mode != "mc" and valid and has_closed_form))
        #: latent -> closed-form KL (else Monte Carlo)
        self.kl_analytic = {f.child: analytic for f, analytic in latents}
        # an ELBO without KL terms (an autoencoder) still reports kl = 0
        kl = KL(latents, weight=self.kl_weight if latents else 0.0, warmup=self.warmup, schedule=self.kl_schedule,
                reference=self.kl_reference)
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
            kl.bind(model)
            if labelled:
                self.monitor = None  # no held-out score that would use more labels than training has
            return SemiSupervised(model, summed[0], kl, weight).terms()
        if self.classification_weight is not None:
            raise ConfigError(f"elbo: classification_weight weighs -log q(y|x) for a partially observed latent y, "
                              f"and graph '{graph.name}' has none; drop the option or declare the label with "
                              f"g.latent(..., partially_observed=True)")
        return [Likelihood(), kl, Report("elbo", ("reconstruction", "kl"))]

    def __repr__(self):
        extra = f", kl_weight={self.kl_weight}" if self.kl_weight != 1.0 else ""
        extra += f", warmup={self.warmup}" if self.warmup else ""
        extra += f", kl_schedule={self.kl_schedule}" if self.kl_schedule != "linear" else ""
        extra += f", kl_reference={self.kl_reference}" if self.kl_reference != "model" else ""
        if self.classification_weight is not None:
            extra += f", classification_weight={self.classification_weight:g}"
        return f"{self.name}(kl={self.kl_mode}{extra})"


def _has_kl(family) -> bool:
    from ..graph.families import Family

    return type(family).kl is not Family.kl
