"""BiGAN / ALI: an adversary on the joint (x, z) of the generative and inference processes."""
from __future__ import annotations

import math

from ..graph.graph import Graph
from .parts import discriminator, encoder, generator
from .registry import register
from .specs import Net, Shape, Size, Sizes


@register("bigan", binarize=None)
def bigan(x_shape: Shape = (1, 28, 28), latent_dim: Size = 64, hidden: Sizes = (256, 256), net: Net = "mlp") -> Graph:
    """BiGAN (Donahue et al. 2017, Eq. 3) / ALI (Dumoulin et al. 2017): the discriminator
    tells (x, E(x)) for data x from (G(z), z) for prior z; generator and encoder fool it."""
    g = Graph("bigan")
    g.visible("x", "normal", shape=x_shape)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", generator(latent_dim, x_shape, net, hidden), deterministic=True)  # x = G(z)
    g.inference("x", "z", encoder(x_shape, latent_dim, net, hidden), deterministic=True)     # z = E(x)
    g.adversarial(["x", "z"], discriminator((math.prod(x_shape) + latent_dim,), "mlp", hidden))
    return g.set_objective("adversarial")
