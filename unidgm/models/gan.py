"""Generative adversarial networks: an implicit generator z -> x (a deterministic edge, the
hollow arrowhead) and an adversary on x that tells data from generated samples.

In Hu et al. (2018, Sec. 3.2)'s reading, the generator is a conditional p_theta(x | y)
given the indicator y, and training minimises KL(p_theta || q^r) for the reversed
discriminator q^r; the divergence option picks the game (Nowozin et al. 2016's f-GANs,
Wasserstein-GP, hinge).
"""
from __future__ import annotations

from ..graph.graph import Graph
from .parts import discriminator, generator
from .registry import register
from .specs import Divergence, Dropout, FDivergenceName, Flag, Net, Shape, Size, Sizes, Weight


def _gan_graph(name, x_shape, latent_dim, hidden, net, dropout=0.3, batch_norm=True) -> Graph:
    # The generator widens along ``hidden`` with batch norm, the discriminator narrows
    # along it with dropout: the MLP GAN that trains on MNIST's 60k (and our 11k) images
    # without the discriminator winning outright (Goodfellow et al. 2014 used dropout in D).
    g = Graph(name)
    g.visible("x", "normal", shape=x_shape)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", generator(latent_dim, x_shape, net, hidden, batch_norm=batch_norm),
                 deterministic=True)                                                    # x = G(z)
    g.adversarial("x", discriminator(x_shape, net, tuple(reversed(hidden)), dropout=dropout))  # q_psi(y|x)
    return g


@register("gan", binarize=None)
def gan(x_shape: Shape = (1, 28, 28), latent_dim: Size = 64, hidden: Sizes = (256, 512, 1024), net: Net = "mlp",
        divergence: Divergence = "ns-gan", d_steps: Size = 1, dropout: Dropout = 0.3, batch_norm: Flag = True) -> Graph:
    """GAN (Goodfellow et al. 2014, Eq. 1) with the non-saturating generator loss (their
    Sec. 3; Hu et al. 2018, Eq. 5); ``net="conv"`` gives a small DCGAN (Radford et al. 2016).
    ``dropout`` in the discriminator and ``batch_norm`` in the generator keep the MLP game
    on images balanced; on 2-D toys the plain game (0 and False) is the classic setting."""
    return _gan_graph("gan", x_shape, latent_dim, hidden, net, dropout, batch_norm).set_objective(
        "adversarial", divergence=divergence, d_steps=d_steps)


@register("fgan", binarize=None)
def fgan(x_shape: Shape = (1, 28, 28), latent_dim: Size = 64, hidden: Sizes = (256, 512, 1024), net: Net = "mlp",
         divergence: FDivergenceName = "js") -> Graph:
    """f-GAN (Nowozin et al. 2016, Eq. 6): the variational divergence minimisation game for
    ``divergence`` in kl, reverse-kl, pearson, hellinger, js (their Table 2)."""
    return _gan_graph("fgan", x_shape, latent_dim, hidden, net).set_objective("adversarial", divergence=divergence)


@register("wgan-gp", binarize=None)
def wgan_gp(x_shape: Shape = (1, 28, 28), latent_dim: Size = 64, hidden: Sizes = (256, 256), net: Net = "mlp",
            penalty: Weight = 10.0, d_steps: Size = 5) -> Graph:
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017, Alg. 1: lambda = 10,
    five critic steps per generator step)."""
    # no dropout or batch norm: the gradient penalty is the critic's regulariser, and
    # batch statistics would make the critic's gradient depend on the batch (their Sec. 4)
    return _gan_graph("wgan-gp", x_shape, latent_dim, hidden, net, dropout=0.0, batch_norm=False).set_objective(
        "adversarial", divergence="wgan-gp", divergence_options={"penalty": penalty}, d_steps=d_steps)
