"""The importance-weighted GAN: Hu et al.'s transfer of the IWAE's importance weights to GANs."""
from __future__ import annotations

from typing import Annotated

from ..graph.graph import Graph
from ..transforms import importance_weight
from .gan import gan
from .registry import register
from .specs import Net, Option, Shape, Size, Sizes

#: how many generated samples are weighted together (one is no weighting)
Group = Annotated[int, Option(int, low=2, help="samples weighted together")]


@register("iwgan", binarize=None)
def iwgan(x_shape: Shape = (1, 28, 28), latent_dim: Size = 64, hidden: Sizes = (256, 512, 1024), net: Net = "mlp",
          k: Group = 4) -> Graph:
    """Importance-weighted GAN (Hu et al. 2018, Sec. 4): the GAN whose generator loss
    weights each group of k samples by normalised importance weights D(x)/(1 - D(x)),
    transferred from the IWAE. Built as ``importance_weight(gan, k)``; the weights
    reweight the non-saturating generator loss, so the divergence is pinned to
    ``"ns-gan"`` whatever the GAN's default."""
    return importance_weight(gan(x_shape=x_shape, latent_dim=latent_dim, hidden=hidden, net=net,
                                 divergence="ns-gan"), k, name="iwgan")
