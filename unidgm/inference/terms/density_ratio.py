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
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError, GraphError
from .base import Term


class DensityRatioCritic(Term):
    """The critic T(a, b) of a density ratio between a source's joint and its shuffled product.

    Args:
        a, b: node names (or tuples of them) whose dependence is measured.
        critic: an ``nn.Module`` from the flattened, concatenated values of ``a`` then ``b``
            to one number per example.
        source: where (a, b) come from: ``"data"``, ``"inference"`` (q on the data) or an
            inference process's name.
        name: the critic's loss in ``model.loss``; its parameters are the group ``term_<name>``.
    """

    def __init__(self, a, b, critic: nn.Module, source: str = "inference", name: str = "critic", weight: float = 1.0):
        super().__init__(name, weight, phase=name, groups=(f"term_{name}",))
        if not isinstance(critic, nn.Module):
            raise ConfigError(f"term '{name}': the critic must be a torch.nn.Module, got {type(critic).__name__}")
        self.a = (a,) if isinstance(a, str) else tuple(a)
        self.b = (b,) if isinstance(b, str) else tuple(b)
        self.critic = critic
        self.source = source

    def bind(self, model) -> None:
        nodes = model.graph.nodes
        for n in self.a + self.b:
            if n not in nodes:
                raise GraphError(f"term '{self.name}': '{n}' is not a node of graph '{model.graph.name}'")
        if self.source not in ("data", "inference") and self.source not in model.processes:
            raise GraphError(f"term '{self.name}': source={self.source!r} is not a source; use 'data', 'inference' "
                             f"or one of the inference processes {list(model.processes)}")

    def score(self, values: dict) -> torch.Tensor:
        """T(a, b) per example, shape (B,)."""
        parts = [values[n].reshape(values[n].shape[0], -1) for n in self.a + self.b]
        return self.critic(torch.cat(parts, -1)).reshape(-1)

    def joint_and_product(self, trace):
        return trace.values(self.source), trace.shuffled(self.source, self.b)

    def forward(self, trace):
        joint, product = self.joint_and_product(trace)
        # The critic learns the ratio of the source as it is; the source's networks get no gradient here.
        joint = {n: joint[n].detach() for n in self.a + self.b}
        product = {n: product[n].detach() for n in self.a + self.b}
        return F.softplus(-self.score(joint)).mean() + F.softplus(self.score(product)).mean()

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
