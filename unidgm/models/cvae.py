"""The conditional VAE: the label y is a visible parent of both processes."""
from __future__ import annotations

import math

from ..graph.graph import Graph
from ..nets import MLP
from .parts import param_shape
from .registry import register


@register("cvae")
def cvae(x_shape=(1, 28, 28), x_family="bernoulli", num_classes=10, latent_dim=20, hidden=(400,)) -> Graph:
    """Conditional VAE (Sohn et al. 2015, Eq. 4; Kingma et al. 2014's M2 with y observed):
    maximise E_q(z|x,y)[log p(x|z,y)] - KL(q(z|x,y) || N(0, I)). The label is given (the
    model conditions on it and does not explain it); sampling takes it as ``given``."""
    g = Graph("cvae")
    g.visible("x", x_family, shape=x_shape)
    g.visible("y", "categorical", shape=(num_classes,), given=True)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    x_size = math.prod(x_shape)
    g.generative(["z", "y"], "x", MLP(latent_dim + num_classes, list(reversed(hidden)),
                                      math.prod(param_shape(x_family, x_shape))))
    g.inference(["x", "y"], "z", MLP(x_size + num_classes, list(hidden), 2 * latent_dim))
    return g.set_objective("elbo")
