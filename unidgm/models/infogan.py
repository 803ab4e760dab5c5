"""InfoGAN: a GAN whose code c is inferred back from the generated image."""
from __future__ import annotations

from ..graph.graph import Graph
from ..nets import MLP
from .parts import discriminator, encoder, generator
from .registry import register


@register("infogan", binarize=None)
def infogan(x_shape=(1, 28, 28), noise_dim=62, categories=10, continuous=2, hidden=(256, 256), net="mlp",
            mi_weight=1.0) -> Graph:
    """InfoGAN (Chen et al. 2016, Eq. 5): the GAN game plus lambda * L_I, the variational
    lower bound of the mutual information between the codes and the generated image, read
    from the inference edge x -> c on generated samples. Codes: one categorical with
    ``categories`` values and ``continuous`` standard-normal ones (their MNIST setting:
    10 and 2, with 62 noise dimensions)."""
    g = Graph("infogan")
    g.visible("x", "normal", shape=x_shape)
    g.latent("z", "normal", shape=(noise_dim,), prior="standard")
    g.latent("c", "categorical", shape=(categories,), prior="standard")
    codes = ["z", "c"]
    if continuous:
        g.latent("s", "normal", shape=(continuous,), prior="standard")
        codes.append("s")
    g.generative(codes, "x", generator(noise_dim + categories + continuous, x_shape, net, hidden), deterministic=True)
    g.adversarial("x", discriminator(x_shape, net, hidden))
    g.inference("x", "c", encoder(x_shape, categories, net, hidden))           # q(c|x)
    if continuous:
        g.inference("x", "s", MLP(_size(x_shape), list(hidden), 2 * continuous))  # q(s|x)
    return g.set_objective("adversarial", mi_weight=mi_weight)


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n
