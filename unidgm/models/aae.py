"""Adversarial autoencoder: an autoencoder whose code distribution an adversary matches to
the prior."""
from __future__ import annotations

from ..graph.graph import Graph
from .parts import decoder, discriminator, encoder
from .registry import register
from .specs import Net, Shape, Size, Sizes, XFamily


@register("aae")
def aae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 8,
        hidden: Sizes = (512, 512), net: Net = "mlp") -> Graph:
    """Adversarial autoencoder (Makhzani et al. 2016, Sec. 2): reconstruction
    -log p(x | z = E(x)) plus a GAN on z with the prior as real and the aggregated posterior
    as fake. Hu et al. (2018, Sec. 3.3) obtain it from InfoGAN by swapping x and z."""
    g = Graph("aae")
    g.visible("x", x_family, shape=x_shape)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", decoder(latent_dim, x_family, x_shape, net, hidden))          # p(x|z)
    g.inference("x", "z", encoder(x_shape, latent_dim, net, hidden), deterministic=True)  # z = E(x)
    g.adversarial("z", discriminator((latent_dim,), "mlp", hidden))                        # prior vs q(z)
    return g.set_objective("adversarial")
