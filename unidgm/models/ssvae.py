"""The semi-supervised VAE: Kingma et al. (2014)'s M2, whose label is partially observed."""
from __future__ import annotations

import math

from ..graph.graph import Graph
from ..nets import MLP, ConvEncoder
from .parts import decoder, encoder, param_shape
from .registry import register
from .specs import Flag, Net, Shape, Size, Sizes, Weight, XFamily


@register("ssvae")
def ssvae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", num_classes: Size = 10, latent_dim: Size = 50,
          hidden: Sizes = (500, 500), net: Net = "mlp", batch_norm: Flag = True,
          classification_weight: Weight = 50.0) -> Graph:
    """Semi-supervised VAE, model M2 of Kingma, Rezende, Mohamed & Welling (2014),
    "Semi-supervised Learning with Deep Generative Models", Sec. 3.1.2.

    p(y) uniform, p(z) = N(0, I), p(x|y,z); q(y|x) a classifier and q(z|x,y). The label y
    is partially observed: a labelled example (x, y) maximises the bound -L(x, y) on
    log p(x, y) (Eq. 6), an unlabelled x the bound -U(x) = sum_y q(y|x) (-L(x, y)) +
    H(q(y|x)) on log p(x) (Eq. 7), the sum over y done exactly; J = sum L + sum U (Eq. 8)
    plus the classification term alpha * E_labelled[-log q(y|x)] (Eq. 9), since q(y|x) does
    not appear in L. ``classification_weight`` is alpha per labelled example beside its
    bound: their alpha = 0.1 N weighs the mean over the labelled set, 0.1 N / N_labelled =
    50 per example for their 50,000 training images and 100 labels.

    Networks: MLPs with hidden layers of 500 units and a 50-dimensional z, as in the paper,
    but two hidden layers rather than one, ReLU rather than softplus, and batch
    normalisation of the hidden layers (``batch_norm``): on our 11,484 MNIST training
    images (against their 50,000) these reached a 100-label test error of 10.8% in 40
    epochs where the paper's single layer without normalisation stayed near 13% (README,
    "Semi-supervised learning"). ``hidden=(500,), batch_norm=False`` is the paper's M2.
    The batch gives y as class indices with -1 for unlabelled examples
    (``unidgm.data.semi_supervised``; ``unidgm train ssvae --labels 100``).
    """
    g = Graph("ssvae")
    g.visible("x", x_family, shape=x_shape)
    g.latent("y", "categorical", shape=(num_classes,), prior="standard", partially_observed=True)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    size, hidden = math.prod(x_shape), list(hidden)
    if net == "conv" and len(x_shape) == 3:  # the image goes through convolutions, the label joins after
        g.generative(["y", "z"], "x", decoder(num_classes + latent_dim, x_family, x_shape, net, hidden))
        g.inference("x", "y", encoder(x_shape, num_classes, net, hidden))
        g.inference(["x", "y"], "z", ConvEncoder(tuple(x_shape), 2 * latent_dim, hidden=hidden[-1], image="x",
                                                 extra_features=num_classes), combine="dict")
    else:
        out = math.prod(param_shape(x_family, x_shape))
        g.generative(["y", "z"], "x", MLP(num_classes + latent_dim, hidden[::-1], out, batch_norm=batch_norm))  # p(x|y,z)
        g.inference("x", "y", MLP(size, hidden, num_classes, batch_norm=batch_norm))                          # q(y|x)
        g.inference(["x", "y"], "z", MLP(size + num_classes, hidden, 2 * latent_dim, batch_norm=batch_norm))  # q(z|x,y)
    return g.set_objective("elbo", classification_weight=classification_weight)
