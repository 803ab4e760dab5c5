"""InfoGAN: a GAN whose code c is inferred back from the generated image."""
from __future__ import annotations

import torch
from torch import nn

from ..graph.graph import Graph
from .parts import discriminator, generator
from .registry import register


@register("infogan", binarize=None)
def infogan(x_shape=(1, 28, 28), noise_dim=62, categories=10, continuous=2, hidden=(256, 512, 1024), net="mlp",
            mi_weight=1.0, divergence="hinge") -> Graph:
    """InfoGAN (Chen et al. 2016, Eq. 5): the GAN game plus lambda * L_I, the variational
    lower bound of the mutual information between the codes and the generated image, read
    from the inference edge x -> c on generated samples. Codes: one categorical with
    ``categories`` values and ``continuous`` standard-normal ones (their MNIST setting:
    10 and 2, with 62 noise dimensions); q of a continuous code is a Gaussian of unit
    scale (the fixed standard deviation of their released code), so L_I cannot be won by
    shrinking q's scale.

    The generator widens along ``hidden`` with batch norm; the discriminator narrows along
    it under spectral normalisation (Miyato et al. 2018) and plays the hinge game, which on
    our 11k MNIST images trains where the non-saturating game lets D win outright."""
    g = Graph("infogan")
    g.visible("x", "normal", shape=x_shape)
    g.latent("z", "normal", shape=(noise_dim,), prior="standard")
    g.latent("c", "categorical", shape=(categories,), prior="standard")
    codes = ["z", "c"]
    if continuous:
        g.latent("s", "normal", shape=(continuous,), prior="standard")
        codes.append("s")
    q_hidden = tuple(reversed(hidden))[1:] or hidden
    g.generative(codes, "x", generator(noise_dim + categories + continuous, x_shape, net, hidden, batch_norm=True),
                 deterministic=True)                                                         # x = G(z, c, s)
    g.adversarial("x", discriminator(x_shape, net, tuple(reversed(hidden)), spectral_norm=True))  # q_psi(y|x)
    g.inference("x", "c", discriminator(x_shape, net, q_hidden, out_features=categories))        # q(c|x)
    if continuous:
        g.inference("x", "s", nn.Sequential(discriminator(x_shape, net, q_hidden, out_features=continuous),
                                             UnitScale()))                                       # q(s|x)
    return g.set_objective("adversarial", mi_weight=mi_weight, divergence=divergence)


class UnitScale(nn.Module):
    """Appends a log-scale of zero to a Gaussian's location: q(s|x) = N(loc(x), I)."""

    def forward(self, loc):
        return torch.cat([loc, torch.zeros_like(loc)], -1)
