"""The importance-weighted GAN: Hu et al.'s transfer of the IWAE's importance weights to GANs."""
from __future__ import annotations

from ..graph.graph import Graph
from ..graph.transforms import importance_weight
from .gan import gan
from .registry import register


@register("iwgan", binarize=None)
def iwgan(x_shape=(1, 28, 28), latent_dim=64, hidden=(256, 512, 1024), net="mlp", k=4) -> Graph:
    """Importance-weighted GAN (Hu et al. 2018, Sec. 4): the GAN whose generator loss
    weights each group of k samples by normalised importance weights D(x)/(1 - D(x)),
    transferred from the IWAE. Built as ``importance_weight(gan, k)``; the weights
    reweight the non-saturating generator loss, so the divergence is pinned to
    ``"ns-gan"`` whatever the GAN's default."""
    return importance_weight(gan(x_shape=x_shape, latent_dim=latent_dim, hidden=hidden, net=net,
                                 divergence="ns-gan"), k, name="iwgan")
