"""A perceptual reconstruction term: the distance between a fixed network's features of the
data and of its reconstruction.

VQ-GAN (Esser et al. 2021, Eq. 5-6) replaces the pixel distance of VQ-VAE's reconstruction by
a perceptual one, LPIPS on VGG features (Zhang et al. 2018). This library downloads no
networks, so the term takes any frozen feature network, for digits the library's own digit
classifier (``unidgm.eval.classifier.digit_classifier(...).features``)::

    E_data[ ||phi(x) - phi(x_hat)||^2 ],  x_hat = the reconstruction (q's codes decoded by p)

summed over the features, averaged over the batch. The network's parameters are frozen
(``requires_grad=False``): the gradient reaches the autoencoder through x_hat only.
"""
from __future__ import annotations

import torch
from torch import nn

from ...errors import GraphError
from .base import Term


class Perceptual(Term):
    """``E_data ||features(x) - features(x_hat)||^2`` for the visible node ``node``.

    Args:
        node: the visible node whose reconstruction is judged.
        features: a network from the node's values to features; frozen here.
        weight, phase, name: see :class:`~unidgm.inference.terms.base.Term` (the name defaults
            to ``perceptual``; the phase to the objective's last, the one training the model).
    """

    def __init__(self, node: str, features: nn.Module, weight: float = 1.0, phase: str | None = None,
                 name: str = "perceptual"):
        super().__init__(name, weight, phase)
        if not isinstance(features, nn.Module):
            raise GraphError(f"term '{name}': features must be a torch.nn.Module, got {type(features).__name__}")
        self.node, self.features = node, features.requires_grad_(False).eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.features.eval()  # a fixed judge: no batch statistics or dropout of its own
        return self

    def bind(self, model) -> None:
        node = model.graph.nodes.get(self.node)
        if node is None or node.role != "visible" or self.node not in model.generative:
            raise GraphError(f"term '{self.name}': '{self.node}' is not a visible node that p generates; name the "
                             f"image the autoencoder reconstructs")

    def forward(self, trace):
        x = trace.values("data")[self.node]
        x_hat = trace.values("reconstruction")[self.node]
        with torch.no_grad():
            target = self.features(x)
        return (self.features(x_hat) - target).pow(2).flatten(1).sum(1).mean()

    def describe(self, model):
        x = self.node
        return (f"E_data[|phi({x}) - phi({x}_hat)|^2]",
                rf"\mathbb{{E}}_{{\mathrm{{data}}}}[\|\phi({x}) - \phi(\hat{{{x}}})\|^2]")
