"""A critic's density-ratio estimate of a mutual information, from a shuffled source.

The mutual information of two groups of nodes a and b under a source (the data, an
inference process run on the data) is a KL divergence between the joint and the product of
the marginals, I(a; b) = KL(p(a, b) || p(a) p(b)). A classifier T(a, b) trained by logistic
regression to tell joint samples (label 1) from samples with b shuffled across the batch
(label 0) converges to the log density ratio, T* = log p(a, b) / (p(a) p(b)) (the density-
ratio trick: Sugiyama, Suzuki & Kanamori 2012, "Density Ratio Estimation in Machine
Learning", Sec. 4; used for mutual information by Belghazi et al. 2018 and in the Wyner
model of Ryu et al.), so

    I(a; b) ~= E_joint[ T(a, b) ].

Two terms share the critic: :class:`DensityRatioCritic`, the logistic loss
``softplus(-T(joint)) + softplus(T(shuffled))`` minimised over the critic's parameters in a
phase of its own (``critic``), and :class:`MutualInformation` (``critic.estimate()``), the
estimate, reported (weight 0) or minimised as a regulariser of the source's networks.

The same trick compares any two sources (:class:`DensityRatio`): a critic trained by
logistic regression on a ``real`` source's values (label 1) against a ``fake`` one's (label 0)
converges to T* = log p_real / p_fake, and :class:`PluginDivergence` (``critic.divergence()``)
minimises a divergence estimated from it, by default the symmetric KL
KL(real || fake) + KL(fake || real) ~= E_real[T] - E_fake[T], as the variational Wyner model
matches its variational and model distributions (Ryu et al. 2022, Sec. 4; the authors' code,
``symmetric_kl_plugin`` and ``js_var``). A mutual-information critic is the case whose fake
source is the real one with some nodes shuffled (:class:`~unidgm.inference.sources.Shuffled`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError, GraphError
from ..sources import Conditional, Reconstruction, Shuffled, source_label
from .base import Term


def _check_source(term: str, source, model) -> None:
    process = source if isinstance(source, str) else getattr(source, "process", getattr(source, "source", None))
    if isinstance(source, Shuffled):
        _check_source(term, source.source, model)
        return
    if not isinstance(source, (str, Conditional, Reconstruction)):
        raise ConfigError(f"term '{term}': {source!r} is not a source; give a name ('data', 'inference', "
                          f"'generative', 'reconstruction', a process) or a Conditional, Reconstruction or Shuffled")
    if isinstance(source, Conditional):
        for n in source.given:
            node = model.graph.nodes.get(n)
            if node is None or node.role != "visible":
                raise GraphError(f"term '{term}': Conditional({source.process!r}, given={source.given!r}) gives "
                                 f"'{n}', which is not a visible node of graph '{model.graph.name}'; give the views "
                                 f"the process reads from the data")
    if process in ("data", "inference", "generative", "reconstruction", "q") or process in model.processes:
        return
    raise GraphError(f"term '{term}': source {source!r} names no process of graph '{model.graph.name}'; use "
                     f"'data', 'inference', 'generative', 'reconstruction' or one of its inference processes "
                     f"{list(model.processes)}")


class DensityRatio(Term):
    """A critic T of the density ratio log p_real / p_fake of ``nodes`` under two sources,
    trained by logistic regression: ``softplus(-T(real)) + softplus(T(fake))``, on values
    without gradients (the sources' networks get none here), in its own phase.

    Args:
        nodes: the nodes whose joint values the critic reads (flattened and concatenated).
        critic: an ``nn.Module`` from those values to one number per example.
        real, fake: the two sources (a name such as ``"inference"`` or ``"generative"``, or a
            :class:`~unidgm.inference.sources.Conditional`,
            :class:`~unidgm.inference.sources.Reconstruction` or
            :class:`~unidgm.inference.sources.Shuffled`).
        name: the critic's loss in ``model.loss``; its parameters are the group ``term_<name>``.
        phase: the phase it is minimised in (default: its name); critics naming one phase
            train together in it.
    """

    def __init__(self, nodes, critic: nn.Module, real="inference", fake="generative", name: str = "critic",
                 weight: float = 1.0, phase: str | None = None):
        super().__init__(name, weight, phase=phase or name, groups=(f"term_{name}",))
        if not isinstance(critic, nn.Module):
            raise ConfigError(f"term '{name}': the critic must be a torch.nn.Module, got {type(critic).__name__}")
        self.nodes = (nodes,) if isinstance(nodes, str) else tuple(nodes)
        self.critic, self.real, self.fake = critic, real, fake

    def bind(self, model) -> None:
        nodes = model.graph.nodes
        for n in self.nodes:
            if n not in nodes:
                raise GraphError(f"term '{self.name}': '{n}' is not a node of graph '{model.graph.name}'")
        for source in (self.real, self.fake):
            _check_source(self.name, source, model)

    def score(self, values: dict) -> torch.Tensor:
        """T(nodes) per example, shape (B,)."""
        parts = [values[n].reshape(values[n].shape[0], -1) for n in self.nodes]
        return self.critic(torch.cat(parts, -1)).reshape(-1)

    def sides(self, trace) -> tuple[dict, dict]:
        """The values of the real and the fake source on the trace."""
        return trace.source(self.real), trace.source(self.fake)

    def forward(self, trace):
        real, fake = self.sides(trace)
        real = {n: real[n].detach() for n in self.nodes}
        fake = {n: fake[n].detach() for n in self.nodes}
        return F.softplus(-self.score(real)).mean() + F.softplus(self.score(fake)).mean()

    def divergence(self, weight: float = 1.0, name: str | None = None, kind: str = "symmetric-kl",
                   phase: str | None = None) -> "PluginDivergence":
        """The term that minimises the divergence this critic estimates (see
        :class:`PluginDivergence`), over the sources' networks, in ``phase`` (None: the
        objective's last, the one that trains the model)."""
        return PluginDivergence(self, weight, name or f"divergence_{self.name}", kind, phase)

    def _symbols(self) -> str:
        return ",".join(self.nodes)

    def describe(self, model):
        t, real, fake = self._symbols(), source_label(self.real), source_label(self.fake)
        return (f"-E_[{real}][log sigmoid(T({t}))] - E_[{fake}][log(1 - sigmoid(T({t})))]",
                rf"-\mathbb{{E}}_{{\mathrm{{{_tex(real)}}}}}[\log \sigma(T({t}))] - "
                rf"\mathbb{{E}}_{{\mathrm{{{_tex(fake)}}}}}[\log(1 - \sigma(T({t})))]")


def _tex(s: str) -> str:
    return s.replace("_", r"\_")


#: a divergence from a density-ratio critic T ~= log p_real / p_fake, by name:
#: (E_real weight, E_fake weight) of T, and the divergence in words
PLUGIN_DIVERGENCES = {"symmetric-kl": (1.0, -1.0, "KL(real || fake) + KL(fake || real)"),
                      "kl": (1.0, 0.0, "KL(real || fake)"),
                      "reverse-kl": (0.0, -1.0, "KL(fake || real)")}


class PluginDivergence(Term):
    """A divergence between a :class:`DensityRatio` critic's two sources, estimated by
    plugging the critic's T ~= log p_real / p_fake into its definition and minimised over
    the sources' networks (the critic's own parameters are not this term's phase's):
    ``kind="symmetric-kl"`` (default) E_real[T] - E_fake[T]; ``"kl"`` E_real[T];
    ``"reverse-kl"`` -E_fake[T] (the authors' code of Ryu et al. 2022: ``symmetric_kl_plugin``,
    ``forward_kl_plugin``, ``reverse_kl_plugin``)."""

    def __init__(self, critic: DensityRatio, weight: float, name: str, kind: str = "symmetric-kl",
                 phase: str | None = None):
        super().__init__(name, weight, phase)
        if kind not in PLUGIN_DIVERGENCES:
            raise ConfigError(f"term '{name}': kind={kind!r} is not a plug-in divergence; use one of "
                              f"{', '.join(PLUGIN_DIVERGENCES)}")
        self._critic = (critic,)  # a tuple: the critic is a term of its own, not a submodule of this one
        self.kind = kind
        self._where = ("", "")

    def forward(self, trace):
        critic = self._critic[0]
        a, b, _ = PLUGIN_DIVERGENCES[self.kind]
        total = None
        for w, source in ((a, critic.real), (b, critic.fake)):
            if w:
                piece = w * critic.score(trace.source(source)).mean()
                total = piece if total is None else total + piece
        return total

    def where(self):
        return self._where

    def describe(self, model):
        critic = self._critic[0]
        a, b, words = PLUGIN_DIVERGENCES[self.kind]
        t, real, fake = critic._symbols(), source_label(critic.real), source_label(critic.fake)
        texts = ([f"E_[{real}][T({t})]"] if a else []) + ([f"E_[{fake}][T({t})]"] if b else [])
        latexes = ([rf"\mathbb{{E}}_{{\mathrm{{{_tex(real)}}}}}[T({t})]"] if a else []) + \
                  ([rf"\mathbb{{E}}_{{\mathrm{{{_tex(fake)}}}}}[T({t})]"] if b else [])

        def signed(parts):
            body = (parts[0] if a else "-" + parts[0]) + (f" - {parts[1]}" if a and b else "")
            return f"({body})" if a and b else body

        named = words.replace("real", real).replace("fake", fake)
        self._where = (f"T ~= log({real} / {fake}), the critic {critic.name}: {signed(texts)} ~= {named}",
                       rf"T \approx \log p_{{\mathrm{{{_tex(real)}}}}} / p_{{\mathrm{{{_tex(fake)}}}}}"
                       rf"\ \text{{(critic {_tex(critic.name)})}}")
        return signed(texts), signed(latexes)


class DensityRatioCritic(DensityRatio):
    """The critic T(a, b) of a density ratio between a source's joint and its shuffled product.

    Args:
        a, b: node names (or tuples of them) whose dependence is measured.
        critic: an ``nn.Module`` from the flattened, concatenated values of ``a`` then ``b``
            to one number per example.
        source: where (a, b) come from: ``"data"``, ``"inference"`` (q on the data) or an
            inference process's name.
        name: the critic's loss in ``model.loss``; its parameters are the group ``term_<name>``.
    """

    def __init__(self, a, b, critic: nn.Module, source: str = "inference", name: str = "critic", weight: float = 1.0,
                 phase: str | None = None):
        a = (a,) if isinstance(a, str) else tuple(a)
        b = (b,) if isinstance(b, str) else tuple(b)
        if not isinstance(source, str):
            raise ConfigError(f"term '{name}': source={source!r} must be a name: 'data', 'inference' or an "
                              f"inference process")
        super().__init__(a + b, critic, real=source, fake=Shuffled(source, b), name=name, weight=weight, phase=phase)
        self.a, self.b, self.source = a, b, source

    def bind(self, model) -> None:
        super().bind(model)
        if self.source not in ("data", "inference") and self.source not in model.processes:
            raise GraphError(f"term '{self.name}': source={self.source!r} is not a source; use 'data', 'inference' "
                             f"or one of the inference processes {list(model.processes)}")

    def joint_and_product(self, trace):
        return self.sides(trace)

    def estimate(self, weight: float = 0.0, name: str | None = None, phase: str | None = None) -> "MutualInformation":
        """The term E_joint[T(a, b)], the estimate of I(a; b) this critic gives: reported
        beside the critic's loss with weight 0 (the default), or minimised with ``weight`` in
        ``phase`` (None: the objective's) as a regulariser of the source's networks."""
        return MutualInformation(self, weight, name or f"mi_{'_'.join(self.a)}_{'_'.join(self.b)}",
                                 phase if phase is not None or weight else self.phase)

    def describe(self, model):
        a, b = ",".join(self.a), ",".join(self.b)
        return (f"-E_joint[log sigmoid(T({a};{b}))] - E_shuffled[log(1 - sigmoid(T({a};{b})))]",
                rf"-\mathbb{{E}}_{{\mathrm{{joint}}}}[\log \sigma(T({a};{b}))] - "
                rf"\mathbb{{E}}_{{\mathrm{{shuffled}}}}[\log(1 - \sigma(T({a};{b})))]")


class MutualInformation(Term):
    """E_joint[T(a, b)]: a critic's estimate of I(a; b) under its source (see the module)."""

    def __init__(self, critic: DensityRatioCritic, weight: float, name: str, phase: str | None):
        super().__init__(name, weight, phase)
        self._critic = (critic,)  # a tuple: the critic is a term of its own, not a submodule of this one

    def forward(self, trace):
        critic = self._critic[0]
        joint, _ = critic.joint_and_product(trace)
        return critic.score(joint).mean()

    def describe(self, model):
        critic = self._critic[0]
        a, b = ",".join(critic.a), ",".join(critic.b)
        return f"I({a};{b}) ~= E_joint[T({a};{b})]", rf"I({a};{b}) \approx \mathbb{{E}}_{{\mathrm{{joint}}}}[T({a};{b})]"
