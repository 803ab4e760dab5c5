"""The conditional VAE: the label y is a visible parent of both processes."""
from __future__ import annotations

import math

from ..graph.graph import Graph
from ..nets import ConvEncoder
from .parts import decoder, encoder
from .registry import register
from .specs import Net, Shape, Size, Sizes, XFamily


@register("cvae")
def cvae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", num_classes: Size = 10, latent_dim: Size = 20,
         hidden: Sizes = (400,), net: Net = "mlp") -> Graph:
    """Conditional VAE (Sohn et al. 2015, Eq. 4; Kingma et al. 2014's M2 with y observed):
    maximise E_q(z|x,y)[log p(x|z,y)] - KL(q(z|x,y) || N(0, I)). The label is given (the
    model conditions on it and does not explain it); sampling takes it as ``given``."""
    g = Graph("cvae")
    g.visible("x", x_family, shape=x_shape)
    g.visible("y", "categorical", shape=(num_classes,), given=True)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative(["z", "y"], "x", decoder(latent_dim + num_classes, x_family, x_shape, net, hidden))
    if net == "conv" and len(x_shape) == 3:  # the image goes through convolutions, the label joins after
        g.inference(["x", "y"], "z", ConvEncoder(tuple(x_shape), 2 * latent_dim, hidden=hidden[-1],
                                                 image="x", extra_features=num_classes), combine="dict")
    else:
        g.inference(["x", "y"], "z", encoder((math.prod(x_shape) + num_classes,), 2 * latent_dim, "mlp", hidden))
    return g.set_objective("elbo")
