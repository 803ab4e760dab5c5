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
"""
from __future__ import annotations

import math
from typing import Annotated

import networkx as nx
import torch
import torch.nn.functional as F

from ..errors import ConfigError, GraphError
from .divergences import DIVERGENCES, make_divergence
from .factor import Factor
from ..options import Option, Size, Steps, Weight, checks_options
from .objective import Objective, Phase
from .sources import Trace

#: a divergence's name (see :mod:`unidgm.inference.divergences`)
Divergence = Annotated[str, Option(choices=DIVERGENCES)]
#: a divergence's options, checked by the divergence
DivergenceOptions = Annotated[dict, Option(dict, example={"penalty": 10.0})]
#: the importance-weighted GAN's group size (0: off)
GroupSize = Annotated[int, Option(int, low=2, also=(0,), help="samples weighted together; 0: off")]
LearningRate = Annotated[float, Option(float, low=0, open_low=True, example=1e-3)]


class AdversarialEdge:
    """One adversarial edge at run time: its discriminator and its two sides."""

    def __init__(self, model, edge):
        nodes = dict(model.graph.nodes)
        self.edge = edge
        self.factor = Factor(edge, nodes, model.families[edge.child])
        self.nodes = edge.parents
        self.sides = ((edge.real, edge.real_inputs), (edge.fake, edge.fake_inputs))
        self.generated = edge.parents  # the objective widens it so every term shares one draw
        self.trainable = tuple(_depends_on_parameters(model, process, edge.parents) for process, _ in self.sides)
        # An adversary on explicit, non-reparameterizable visible nodes acts through
        # likelihood weights (AAVAE) rather than through the generator's samples.
        self.weights_likelihood = edge.fake == "generative" and all(
            nodes[n].role == "visible" and n in model.generative and not model.generative[n].deterministic
            and not model.generative[n].family.reparameterized for n in edge.parents)

    def values(self, trace: Trace, side: int) -> dict:
        process, inputs = self.sides[side]
        return trace.values(process, inputs, self.generated if process == "generative" else None)

    def critic(self, values: dict) -> torch.Tensor:
        """The discriminator's raw output v per example, shape (B,)."""
        return self.factor.params(values)[0].reshape(-1)


def _depends_on_parameters(model, process: str, nodes) -> bool:
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
    """

    name = "adversarial"
    # Radford et al. (2016), Sec. 4: Adam with learning rate 2e-4 and beta1 = 0.5.
    optimizer_defaults = {"lr": 2e-4, "betas": (0.5, 0.999)}

    @checks_options
    def __init__(self, divergence: Divergence = "ns-gan", divergence_options: DivergenceOptions | None = None,
                 d_steps: Size = 1, adversarial_weight: Weight = 1.0, reconstruction_weight: Weight = 1.0,
                 kl_weight: Weight = 1.0, mi_weight: Weight = 1.0, importance_weights: GroupSize = 0,
                 warmup: Steps = 0, generator_lr: LearningRate | None = None):
        super().__init__()
        if generator_lr is not None:
            self.optimizer_defaults = {**self.optimizer_defaults,
                                       "lr_groups": {"generative": float(generator_lr), "inference": float(generator_lr)}}
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
        if self.warmup and self.step < self.warmup:
            return self.adversarial_weight * (2.0 / (1.0 + math.exp(-10.0 * self.step / self.warmup)) - 1.0)
        return self.adversarial_weight

    # ------------------------------------------------------------------ compile time
    def bind(self, model) -> None:
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

    # ------------------------------------------------------------------ the terms
    def terms(self, model, batch, phase: str | None = None):
        trace = Trace(model, batch)
        if phase == "discriminator":
            return self._discriminator(trace)
        if phase == "generator":
            return self._generator(model, trace)
        terms = self._generator(model, trace)
        if self.adversarial_weight:
            terms.update(self._discriminator(Trace(model, batch), diagnostics=True))
        return terms

    def _discriminator(self, trace: Trace, diagnostics: bool = False) -> dict:
        """The discriminators' loss; with ``diagnostics`` (evaluation) also the divergence
        estimates, which training does not need."""
        total, estimates = 0.0, []
        div = self.divergence
        for a in self.adversaries:
            with torch.no_grad():
                real, fake = a.values(trace, 0), a.values(trace, 1)
            v_real, v_fake = a.critic(real), a.critic(fake)
            loss = div.discriminator_loss(v_real, v_fake)
            if div.penalty_weight and torch.is_grad_enabled():  # evaluation runs without gradients
                x_real, _ = a.factor.inputs(real)
                x_fake, _ = a.factor.inputs(fake)
                shape = x_real.shape[1:]
                loss = loss + div.gradient_penalty(lambda t: a.factor.net(t.reshape((-1,) + shape)).reshape(-1),
                                                   x_real.flatten(1), x_fake.flatten(1))
            total = total + loss
            if diagnostics:
                with torch.no_grad():
                    estimate = div.estimate(v_real, v_fake)
                if estimate is not None:
                    estimates.append(estimate)
        terms = {"discriminator": total}
        if estimates:
            terms["divergence"] = sum(estimates)
        return terms

    def _generator(self, model, trace: Trace) -> dict:
        loss = 0.0
        terms = {}
        if self.likelihoods:
            values = trace.values("inference")
            rec, kl = self._elbo_parts(model, values, trace.q_params())
            terms["reconstruction"] = rec.mean()
            loss = loss + self.reconstruction_weight * terms["reconstruction"]
            if self.kl:
                terms["kl"] = kl.mean()
                loss = loss + self.kl_weight * terms["kl"]
            if self.monitor == "elbo":
                terms["elbo"] = -(rec + kl).mean().detach()
        if self.mi:
            gen = trace.values("generative", (), self.generated)
            mi = sum(-f.log_prob(f.params(gen), gen[f.child]) for f in self.mi)
            terms["mutual_information"] = mi.mean()
            loss = loss + self.mi_weight * terms["mutual_information"]
        if self.adversarial_weight:
            adv = 0.0
            for a in self.adversaries:
                adv = adv + (self._weighted_likelihood(model, a, trace) if a.weights_likelihood
                             else self._fool(a, trace))
            terms["generator"] = adv
            loss = loss + self.weight() * adv
        terms["loss"] = loss if isinstance(loss, torch.Tensor) else torch.zeros(())
        return terms

    def _fool(self, a: AdversarialEdge, trace: Trace) -> torch.Tensor:
        """The divergence's generator loss; the real side joins only when its values carry
        generator gradients (BiGAN's encoder, domain adaptation's source features)."""
        v_fake = a.critic(a.values(trace, 1))
        v_real = a.critic(a.values(trace, 0)) if a.trainable[0] else None
        if self.importance_weights:
            return self.importance_weighted(v_fake)
        return self.divergence.generator_loss(v_fake, v_real)

    def importance_weighted(self, v_fake: torch.Tensor) -> torch.Tensor:
        """Non-saturating generator loss with each group of k samples reweighted by
        normalised importance weights w_i = D(x_i) / (1 - D(x_i)) = exp(v_i) (no gradient
        through the weights), as IWAE weights its particles."""
        k = self.importance_weights
        n = (v_fake.shape[0] // k) * k
        if n == 0:
            raise ConfigError(f"importance_weights={k} needs batches of at least {k} examples")
        v = v_fake[:n].reshape(-1, k)
        w = torch.softmax(v.detach(), -1)
        return (w * -F.logsigmoid(v)).sum(-1).mean()

    def _weighted_likelihood(self, model, a: AdversarialEdge, trace: Trace) -> torch.Tensor:
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
        rec, kl = self._elbo_parts(model, values, q)
        return (weight * (self.reconstruction_weight * rec + self.kl_weight * kl)).mean()

    def _elbo_parts(self, model, values: dict, q: dict):
        """Per-example -log p(visible | latents) and the one-sample KL estimate."""
        rec = 0.0
        for f in self.likelihoods:
            rec = rec - f.log_prob(f.params(values), values[f.child])
        kl = torch.zeros_like(rec)
        for f in self.kl:
            kl = kl + f.log_prob(q[f.child], values[f.child]) - model.log_p(f.child, values)
        return rec, kl

    # ------------------------------------------------------------------ the formula
    def describe(self, model):
        """The game phase by phase, read off the plan ``bind`` built: each adversary's
        sides (``a.sides``) and the divergence's losses on them, the likelihoods
        (``self.likelihoods``), KLs (``self.kl``) and codes (``self.mi``), the options'
        weights; zero-weighted terms are left out, as they are switched off."""
        from .formula import Formula, Notation, Term

        phases = {p.name: p for p in self.phases}
        text, latex = (self._describe_terms(Notation(model.graph, flag)) for flag in (False, True))
        terms = tuple(Term(name, body, tex, phase, phases[phase].groups, weight, where, where_tex, phases[phase].steps)
                      for (name, phase, weight, body, where), (_, _, _, tex, where_tex) in zip(text, latex))
        return Formula(repr(self), terms)

    def _describe_terms(self, nt) -> list[tuple]:
        """(loss key, phase, weight, formula, definitions) per term, in ``nt``'s symbols."""
        from .divergences import sigmoid_where
        from .formula import WHERE_SEP, WHERE_SEP_LATEX, Side, join_sum, paren, scaled

        sep = WHERE_SEP_LATEX if nt.latex else WHERE_SEP
        several = len(self.adversaries) > 1
        sides = [[Side(nt.scope(a.nodes, process, dict(inputs)), nt.values(a.nodes, process, dict(inputs)), nt.latex,
                       "_".join(a.nodes) if several else "") for process, inputs in a.sides] for a in self.adversaries]
        div, out = self.divergence, []
        if self.adversarial_weight:
            out.append(("discriminator", "discriminator", 1.0,
                        join_sum([div.discriminator_formula(real, fake) for real, fake in sides]),
                        sep.join(dict.fromkeys(filter(None, (div.formula_where(real) for real, _ in sides))))))
        if self.likelihoods and self.reconstruction_weight:
            out.append(("reconstruction", "generator", self.reconstruction_weight,
                        nt.reconstruction(self.likelihoods), ""))
        if self.kl and self.kl_weight:
            out.append(("kl", "generator", self.kl_weight,
                        join_sum([nt.kl_term(f.edge, analytic=False) for f in self.kl]), ""))
        if self.mi and self.mi_weight:  # -log q(c|x) on generated samples
            logs = [nt.log(nt.edge(f.edge, nt.values(f.parents, "generative"), nt.value(f.child, "generative")))
                    for f in self.mi]
            nodes = [n for f in self.mi for n in (f.child, *f.parents)]
            out.append(("mutual_information", "generator", self.mi_weight,
                        nt.neg(nt.expect(nt.scope(nodes, "generative"), " + ".join(logs))), ""))
        if self.adversarial_weight:
            parts, wheres = [], []
            for a, (real, fake) in zip(self.adversaries, sides):
                if a.weights_likelihood:  # AAVAE: generated samples as data, weighted by D
                    inner = [scaled(self.reconstruction_weight, nt.reconstruction(self.likelihoods), nt.latex)]
                    if self.kl and self.kl_weight:
                        inner.append(scaled(self.kl_weight, join_sum([nt.kl_term(f.edge, analytic=False)
                                                                       for f in self.kl]), nt.latex))
                    times = r"\, " if nt.latex else " * "
                    parts.append(fake.expect(fake.call("D") + times + paren(join_sum(inner), nt.latex)))
                    wheres += [sigmoid_where(fake), r"\text{no gradient through } D_\psi" if nt.latex
                               else "no gradient through the weight D"]
                elif self.importance_weights:  # IWGAN: normalised importance weights D/(1 - D)
                    k = self.importance_weights
                    d_i = fake.call("D", nt.values(a.nodes, a.sides[1][0], dict(a.sides[1][1]), particle="i"))
                    body = (rf"\sum_{{i=1}}^{{{k}}} w_i \log {d_i}" if nt.latex else f"sum_i w_i log {d_i}")
                    parts.append("-" + nt.expect(nt.draws(a.nodes, a.sides[1][0], k), body))
                    wheres += [sigmoid_where(fake),
                               rf"w_i = \frac{{r_i}}{{\sum_j r_j}},\ r_i = \frac{{{d_i}}}{{1 - {d_i}}}\ "
                               rf"\text{{(no gradient)}}" if nt.latex else
                               f"w_i = r_i / sum_j r_j, r_i = {d_i} / (1 - {d_i}) in groups of {k} (no gradient)"]
                else:
                    parts.append(div.generator_formula(real, fake, with_real=a.trainable[0]))
                    wheres.append(div.formula_where(real))
            weight = self.adversarial_weight
            warmup = getattr(self, "warmup", 0)
            if warmup:  # the weight follows the schedule of ``self.weight()``
                weight, w = "lambda_t", self.adversarial_weight
                wheres.append(rf"\lambda_t = {w:g}\left(\frac{{2}}{{1 + e^{{-10 t/{warmup}}}}} - 1\right)"
                              rf"\ (t < {warmup})" if nt.latex else
                              f"lambda_t = {w:g} * (2 / (1 + exp(-10 t/{warmup})) - 1) at training step t < {warmup}, "
                              f"then {w:g}")
            out.append(("generator", "generator", weight, join_sum(parts),
                        sep.join(dict.fromkeys(filter(None, wheres)))))
        return out

    def __repr__(self):
        return f"adversarial({self.divergence.name})"

