"""A VAE with two stochastic layers: z2 -> z1 -> x."""
from __future__ import annotations

from typing import Annotated

from ..errors import ConfigError
from ..graph.graph import Graph
from ..nets import MLP
from .parts import decoder, encoder
from .registry import register
from .specs import Net, Option, Shape, Sizes, XFamily

#: (z1, z2): the sizes of the two stochastic layers
TwoLayers = Annotated[tuple[int, int], Option(tuple, length=2)]


@register("hvae")
def hvae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dims: TwoLayers = (64, 32),
         hidden: Sizes = (400,), net: Net = "mlp") -> Graph:
    """Two-layer hierarchical VAE (Burda et al. 2016, Sec. 5's two-stochastic-layer
    architecture; Rezende et al. 2014): p(z2) p(z1|z2) p(x|z1) with q(z1|x) q(z2|z1).
    The KL of z2 is analytic; that of z1 is Monte Carlo, since p(z1|z2) reads a z2 that q
    samples from z1."""
    d1, d2 = latent_dims
    if hidden[-1] < 2:  # the networks between z1 and z2 have hidden[-1] // 2 units
        raise ConfigError(f"model 'hvae': hidden[-1] must be >= 2, since the networks between z1 and z2 have "
                          f"hidden[-1] // 2 units; got hidden={hidden!r}; e.g. hidden=(400,)")
    g = Graph("hvae")
    g.visible("x", x_family, shape=x_shape)
    g.latent("z1", "normal", shape=(d1,))
    g.latent("z2", "normal", shape=(d2,), prior="standard")
    g.generative("z2", "z1", MLP(d2, [hidden[-1] // 2], 2 * d1))      # p(z1|z2): a learned prior
    g.generative("z1", "x", decoder(d1, x_family, x_shape, net, hidden))
    g.inference("x", "z1", encoder(x_shape, 2 * d1, net, hidden))
    g.inference("z1", "z2", MLP(d1, [hidden[-1] // 2], 2 * d2))
    return g.set_objective("elbo")
