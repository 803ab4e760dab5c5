"""The adversary-activated VAE: a VAE whose degenerate adversary on x is switched on."""
from __future__ import annotations

from ..graph.graph import Graph
from ..transforms import activate_adversary
from .parts import discriminator
from .registry import register
from .specs import Net, Shape, Size, Sizes, Weight, XFamily
from .vae import vae


@register("aavae")
def aavae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 20, hidden: Sizes = (400,),
          net: Net = "mlp", adversarial_weight: Weight = 1.0) -> Graph:
    """Adversary-activated VAE (Hu et al. 2018, Sec. 4): Hu et al. read the VAE as a GAN-like
    model whose adversary is perfect; activating a learned one lets generated samples
    serve as extra training data, each weighted by the discriminator's belief that it is
    real, beside the usual ELBO on the data. Built as ``activate_adversary(vae, "x")``."""
    return activate_adversary(vae(x_shape=x_shape, x_family=x_family, latent_dim=latent_dim, hidden=hidden, net=net),
                              "x", discriminator(x_shape, net, (256, 256)), name="aavae",
                              adversarial_weight=adversarial_weight)
