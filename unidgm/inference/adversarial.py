"""Adversarial objectives compiled from a graph's adversarial edges (Hu et al. 2018, Sec. 3).

Each adversarial edge is a discriminator q_psi(y | v) against an indicator y that tells
which of two processes produced v (``edge.real``, y = 1, against ``edge.fake``). Training
alternates two phases:

- **discriminator** (parameter group ``adversarial``): minimise the divergence's
  discriminator loss on detached values of both sides (plus a gradient penalty for
  Wasserstein-GP);
- **generator** (groups ``generative`` and ``inference``): minimise the divergence's
  generator loss on the sides whose values depend on those parameters, plus every term the
  rest of the graph defines:

  * reconstruction: -log p(v | parents) for each visible v with an explicit likelihood,
    with the latent parents inferred by q from the data (AAE, AAVAE);
  * KL(q(z | .) || p(z)) for each latent with a stochastic q and a prior (AAVAE's ELBO),
    except latents an adversary already matches to their prior (the AAE's codes);
  * mutual information: -log q(c | x) on generated samples for each latent c whose
    inference edge reads an implicitly generated visible x (InfoGAN, Chen et al. 2016,
    Eq. 5: the variational lower bound L_I(G, Q) of I(c; G(z, c))).

Two of Hu et al.'s transferred techniques are read off the graph too. An adversary on a
visible node with an explicit, non-reparameterizable likelihood (a VAE's Bernoulli image)
cannot pass gradients through samples, so it acts as in the adversary-activated VAE: the
generated samples join the data as extra training examples, each weighted by the
discriminator's belief that it is real. With ``importance_weights=k`` the non-saturating
generator loss of each group of k samples is reweighted by the normalised importance
weights D(x) / (1 - D(x)) = exp(v) (the importance-weighted GAN). Both follow Hu et al.'s
description (Sec. 4); the paper's exact equations were not at hand when this was written.

The objective assembles these as term objects (:mod:`unidgm.inference.terms.adversarial`:
``Discriminator``, ``DivergenceEstimate``, ``Generator``, ``CodeLikelihood``, with the
reconstruction and Monte Carlo KL as ``MeanLikelihood`` and ``MeanKL`` and the bound as a
``Report`` of them), which the :class:`~unidgm.inference.objective.Objective` base sums per
phase and describes.
"""
from __future__ import annotations

from typing import Annotated

import networkx as nx

from ..errors import ConfigError, GraphError
from ..options import Flag, Option, Size, Steps, Weight, checks_options
from .divergences import DIVERGENCES, make_divergence
from .objective import Objective, Phase
from .terms import Report
from .terms.adversarial import (AdversarialEdge, CodeLikelihood, Discriminator, DivergenceEstimate,
                                Generator, MeanKL, MeanLikelihood, ganin_weight, has_estimate, importance_weighted)

#: a divergence's name (see :mod:`unidgm.inference.divergences`)
Divergence = Annotated[str, Option(choices=DIVERGENCES)]
#: a divergence's options, checked by the divergence
DivergenceOptions = Annotated[dict, Option(dict, example={"penalty": 10.0})]
#: the importance-weighted GAN's group size (0: off)
GroupSize = Annotated[int, Option(int, low=2, also=(0,), help="samples weighted together; 0: off")]
LearningRate = Annotated[float, Option(float, low=0, open_low=True, example=1e-3)]


class Adversarial(Objective):
    """Alternating adversarial objective over every adversarial edge of the graph.

    Args:
        divergence: ``"ns-gan"`` (default), ``"gan"``, the f-GANs ``"kl"``, ``"reverse-kl"``,
            ``"pearson"``, ``"hellinger"``, ``"js"``, ``"wgan-gp"`` or ``"hinge"``.
        divergence_options: options of the divergence (e.g. ``{"penalty": 10}``).
        d_steps: discriminator steps per generator step.
        adversarial_weight: weight of the generator-side adversarial terms; 0 switches the
            adversaries off (and their phase), e.g. domain adaptation's source-only baseline.
        reconstruction_weight, kl_weight, mi_weight: weights of the other terms (0: off).
        importance_weights: k > 1 reweights the generator's loss within groups of k
            samples by normalised importance weights (the importance-weighted GAN).
        warmup: steps over which the generator-side adversarial weight rises from 0 to
            ``adversarial_weight`` on Ganin et al. (2016, Sec. 5.2.2)'s schedule
            ``2 / (1 + exp(-10 p)) - 1`` with p = step / warmup, so the other terms (a
            classifier, a reconstruction) shape the features before the adversary pulls
            on them; 0: the full weight from the start.
        generator_lr: a learning rate for the generative and inference groups beside the
            discriminators' (``TrainConfig.lr_groups``); None: one rate for all. Chen et
            al. (2016) train InfoGAN's G and Q at 1e-3 and D at 2e-4.
        discriminator_lr: a learning rate for the discriminators' group beside the others;
            None: the objective's (2e-4). Esser et al. (2021) train VQ-GAN's autoencoder and
            discriminator at one rate.
        start: the generator-side adversarial term joins from this training step on (0
            before: VQ-GAN's ``disc_start``, so that the autoencoder reconstructs first).
        adaptive_weight: balance the adversarial term's gradient against the rest of the
            generator phase's loss (the reconstruction, a perceptual term) at the last layer
            of the network generating each judged node: Esser et al. (2021)'s adaptive
            weight, Eq. 7, times ``adaptive_factor`` (their 0.8), reported as
            ``adaptive_weight``.
    """

    name = "adversarial"
    # Radford et al. (2016), Sec. 4: Adam with learning rate 2e-4 and beta1 = 0.5.
    optimizer_defaults = {"lr": 2e-4, "betas": (0.5, 0.999)}
    #: the batch need only give the nodes the game's terms read
    strict_batch = False

    @checks_options
    def __init__(self, divergence: Divergence = "ns-gan", divergence_options: DivergenceOptions | None = None,
                 d_steps: Size = 1, adversarial_weight: Weight = 1.0, reconstruction_weight: Weight = 1.0,
                 kl_weight: Weight = 1.0, mi_weight: Weight = 1.0, importance_weights: GroupSize = 0,
                 warmup: Steps = 0, generator_lr: LearningRate | None = None,
                 discriminator_lr: LearningRate | None = None, start: Steps = 0,
                 adaptive_weight: Flag = False, adaptive_factor: Weight = 0.8):
        super().__init__()
        self.start, self.adaptive, self.adaptive_factor = int(start), bool(adaptive_weight), float(adaptive_factor)
        rates = {} if generator_lr is None else {"generative": float(generator_lr), "inference": float(generator_lr)}
        if discriminator_lr is not None:
            rates["adversarial"] = float(discriminator_lr)
        if rates:
            self.optimizer_defaults = {**self.optimizer_defaults, "lr_groups": rates}
        self.divergence = make_divergence(divergence, **(divergence_options or {}))
        if importance_weights and self.divergence.name != "ns-gan":
            raise ConfigError(f"adversarial: importance_weights reweights the non-saturating GAN's generator loss; "
                              f"use divergence='ns-gan', not {self.divergence.name!r}")
        self.adversarial_weight = float(adversarial_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.kl_weight = float(kl_weight)
        self.mi_weight = float(mi_weight)
        self.importance_weights = int(importance_weights)
        self.warmup = int(warmup)
        self.phases = [Phase("generator", ("generative", "inference"), "loss")]
        if self.adversarial_weight:
            self.phases.insert(0, Phase("discriminator", ("adversarial",), "discriminator", steps=int(d_steps)))

    def weight(self) -> float:
        """The generator-side adversarial weight at the current step (see ``warmup``)."""
        return ganin_weight(self.adversarial_weight, self.warmup, self.step)

    # ------------------------------------------------------------------ compile time
    def assemble(self, model) -> list:
        """The game's terms, read off the graph's adversarial edges and the rest of it:
        the discriminators' loss (and their divergence estimate, at evaluation); in the
        generator phase the reconstruction of each explicit likelihood, the Monte Carlo KL of
        each latent with a stochastic q and a prior that no adversary matches, the codes'
        -log q(c|x) on generated samples, and the generator's loss, in that order."""
        graph = model.graph
        edges = graph.edges_of("adversarial")
        if not edges:
            raise GraphError(f"graph '{graph.name}' has no adversarial edge, so the 'adversarial' objective has "
                             f"nothing to compile; add g.adversarial(node, discriminator) or use objective='elbo'")
        self.adversaries = [AdversarialEdge(model, e) for e in edges]
        self._check_gradients(model)
        if all(a.weights_likelihood for a in self.adversaries):
            # An adversary that only weighs likelihoods (AAVAE) leaves a VAE's training:
            # the VAE's optimizer settings (Adam, 1e-3), not the GAN's.
            self.optimizer_defaults = {}
        if self.importance_weights and any(a.weights_likelihood for a in self.adversaries):
            raise ConfigError("adversarial: importance_weights applies to implicit generators (deterministic "
                              "edges); this graph's adversary sees an explicit likelihood")
        # Latents whose prior an adversary already enforces get no KL (the AAE's codes).
        matched = {n for a in self.adversaries if a.sides[0][0] == "generative" and a.sides[1][0] == "inference"
                   for n in a.nodes if graph.nodes[n].role == "latent"}
        self.likelihoods = [f for f in model.likelihoods if not f.deterministic]
        for f in self.likelihoods:
            for p in f.parents:
                node = graph.nodes[p]
                if node.role == "latent" and not any(q.child == p for q in model.inference):
                    raise GraphError(f"edge {f.edge.name} is an explicit likelihood, but its parent '{p}' has no "
                                     f"inference edge to infer it from data; add g.inference(<parents>, '{p}', net)")
        implicit = {f.child for f in model.likelihoods if f.deterministic}
        codes = self._mi_children(model, implicit)
        self.kl = [f for f in model.inference if not f.deterministic and f.child not in matched
                   and f.child not in codes
                   and (graph.nodes[f.child].prior is not None or f.child in model.generative)]
        self.mi = [f for f in model.inference if f.child in codes]
        # One draw of the generative process serves every term that reads it: InfoGAN's
        # code posterior scores the very samples the adversary judges.
        generated = {n for a in self.adversaries for n in a.nodes}
        generated |= {n for f in self.mi for n in (f.child, *f.parents)}
        self.generated = tuple(sorted(generated))
        for a in self.adversaries:
            a.generated = self.generated
        for x in implicit:
            if not any(x in a.nodes for a in self.adversaries):
                raise GraphError(f"visible '{x}' is generated by a deterministic edge (an implicit distribution) that "
                                 f"no adversarial edge sees, so nothing trains it; add g.adversarial('{x}', D)")
        self.monitor = "elbo" if self.likelihoods and not matched and all(
            not f.deterministic for f in model.inference) and not self.mi else None

        terms = []
        if self.adversarial_weight:
            terms.append(Discriminator(self.adversaries, self.divergence))
            if has_estimate(self.divergence):
                terms.append(DivergenceEstimate(self.divergence))
        if self.likelihoods:
            terms.append(MeanLikelihood(weight=self.reconstruction_weight, phase="generator"))
            if self.kl:  # Monte Carlo for every latent, on q's draw
                terms.append(MeanKL([(f, False) for f in self.kl], weight=self.kl_weight, phase="generator"))
            if self.monitor == "elbo":
                terms.append(Report("elbo", ("reconstruction", "kl") if self.kl else ("reconstruction",),
                                         phase="generator"))
        if self.mi:
            terms.append(CodeLikelihood(self.mi, self.generated, weight=self.mi_weight))
        if self.adversarial_weight:
            terms.append(Generator(self.adversaries, self.divergence, self.adversarial_weight, self.warmup,
                                   self.importance_weights, self.likelihoods, self.kl,
                                   self.reconstruction_weight, self.kl_weight, start=self.start,
                                   adaptive=self.adaptive, adaptive_factor=self.adaptive_factor))
        return terms

    def _check_gradients(self, model) -> None:
        """Refuse an adversary whose generator-side gradient would have to pass through a
        discrete sample of q: the game differentiates through the judged values, and a
        categorical or Bernoulli draw passes no gradient (a score-function estimator acts
        only in the ELBO and IWAE bounds), so q would silently never learn from the adversary."""
        if not self.adversarial_weight:
            return
        draws = {f.child: est for f, est in model.q_plan}
        q_graph = model.graph.process("inference")
        for a in self.adversaries:
            for (process, _), trainable in zip(a.sides, a.trainable):
                if process not in ("inference", "reconstruction") or not trainable:
                    continue
                reached = set(a.nodes) | {n for v in a.nodes for n in nx.ancestors(q_graph, v)}
                for f in model.inference:
                    if f.child not in reached or f.deterministic or f.family.reparameterized:
                        continue
                    if draws.get(f.child) is None:
                        raise GraphError(
                            f"adversarial edge {a.edge.name}: its gradient reaches q through samples of '{f.child}', "
                            f"a {f.family.name} latent whose draws pass no gradient; declare it with "
                            f"estimator='gumbel' (a relaxation that does) or the relaxed_categorical family")

    @staticmethod
    def _mi_children(model, implicit) -> set:
        """Latents with a prior whose q reads an implicitly generated visible node."""
        return {f.child for f in model.inference if not f.deterministic and set(f.parents) & implicit
                and model.graph.nodes[f.child].prior is not None}

    def importance_weighted(self, v_fake):
        """The importance-weighted GAN's generator loss on ``v_fake`` in groups of
        ``importance_weights`` (see :func:`~unidgm.inference.terms.adversarial.importance_weighted`)."""
        return importance_weighted(v_fake, self.importance_weights)

    def __repr__(self):
        return f"adversarial({self.divergence.name})"

