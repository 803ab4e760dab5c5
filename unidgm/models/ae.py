"""The plain autoencoder: a VAE whose inference process is deterministic.

In Hu et al. (2018)'s notation the encoder x -> z is a deterministic (hollow-arrowhead)
inference edge: q(z|x) is a point mass, so the ELBO's KL term vanishes and only the
reconstruction E[-log p(x|z)] with z = f(x) remains. Without a prior on z, the model
reconstructs but cannot generate.
"""
from __future__ import annotations

from ..graph.graph import Graph
from .parts import decoder, encoder
from .registry import register
from .specs import Net, Shape, Size, Sizes, XFamily


@register("ae")
def ae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 20, hidden: Sizes = (400,),
       net: Net = "mlp") -> Graph:
    """Autoencoder (Rumelhart et al. 1986; Hinton & Salakhutdinov 2006): minimise
    -log p(x | f(x)), i.e. cross-entropy reconstruction for binary images."""
    g = Graph("ae")
    g.visible("x", x_family, shape=x_shape)
    g.latent("z", "delta", shape=(latent_dim,))
    g.generative("z", "x", decoder(latent_dim, x_family, x_shape, net, hidden))
    g.inference("x", "z", encoder(x_shape, latent_dim, net, hidden), deterministic=True)
    return g.set_objective("elbo")
