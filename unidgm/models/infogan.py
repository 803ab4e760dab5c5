"""InfoGAN: a GAN whose code c is inferred back from the generated image."""
from __future__ import annotations

import torch
from torch import nn

from ..graph.graph import Graph
from ..nets import ConvDecoder, ConvEncoder
from .parts import discriminator, generator
from .registry import register
from .specs import Count, Divergence, Net, Shape, Size, Sizes, Weight


@register("infogan", binarize=None)
def infogan(x_shape: Shape = (1, 28, 28), noise_dim: Size = 62, categories: Size = 10, continuous: Count = 2,
            hidden: Sizes = (256, 512, 1024), net: Net = "conv", mi_weight: Weight = 1.0,
            divergence: Divergence | None = None) -> Graph:
    """InfoGAN (Chen et al. 2016, Eq. 5): the GAN game plus lambda * L_I, the variational
    lower bound of the mutual information between the codes and the generated image, read
    from the inference edge x -> c on generated samples. Codes: one categorical with
    ``categories`` values and ``continuous`` standard-normal ones (their MNIST setting:
    10 and 2, with 62 noise dimensions); q of a continuous code is a Gaussian of unit
    scale (the fixed standard deviation of their released code), so L_I cannot be won by
    shrinking q's scale.

    ``net="conv"`` (the default) gives the networks of their Table 1 for MNIST: G a
    1024-unit layer, a 7x7x128 map and two 4x4 transposed convolutions (64 channels, then
    the image), batch norm throughout; D two 4x4 stride-2 convolutions (64, 128 channels)
    and a 1024-unit layer with leaky ReLUs and batch norm; the non-saturating game, G and q
    at learning rate 1e-3 and D at 2e-4, as theirs. q reads the image through an MLP.
    With ``net="mlp"`` the generator widens along ``hidden`` with batch norm and the
    discriminator narrows along it under spectral normalisation (Miyato et al. 2018),
    playing the hinge game; on MNIST its code stays far from the digit classes (README).
    ``divergence`` None picks the game of the net."""
    g = Graph("infogan")
    g.visible("x", "normal", shape=x_shape)
    g.latent("z", "normal", shape=(noise_dim,), prior="standard")
    g.latent("c", "categorical", shape=(categories,), prior="standard")
    codes = ["z", "c"]
    if continuous:
        g.latent("s", "normal", shape=(continuous,), prior="standard")
        codes.append("s")
    q_hidden = tuple(reversed(hidden))[1:] or hidden
    options = {}
    if net == "conv" and len(x_shape) == 3:  # Chen et al. (2016), Table 1
        G = nn.Sequential(ConvDecoder(noise_dim + categories + continuous, tuple(x_shape), channels=64, hidden=1024,
                                      batch_norm=True), nn.Sigmoid())
        D = ConvEncoder(tuple(x_shape), 1, channels=64, hidden=1024, batch_norm=True, negative_slope=0.1)
        q_hidden, options = (512, 256), {"generator_lr": 1e-3}
        divergence = divergence or "ns-gan"
    else:
        G = generator(noise_dim + categories + continuous, x_shape, net, hidden, batch_norm=True)
        D = discriminator(x_shape, net, tuple(reversed(hidden)), spectral_norm=True)
        divergence = divergence or "hinge"
    g.generative(codes, "x", G, deterministic=True)                                              # x = G(z, c, s)
    g.adversarial("x", D)                                                                        # q_psi(y|x)
    g.inference("x", "c", discriminator(x_shape, "mlp", q_hidden, out_features=categories))      # q(c|x)
    if continuous:
        g.inference("x", "s", nn.Sequential(discriminator(x_shape, "mlp", q_hidden, out_features=continuous),
                                             UnitScale()))                                       # q(s|x)
    return g.set_objective("adversarial", mi_weight=mi_weight, divergence=divergence, **options)


class UnitScale(nn.Module):
    """Appends a log-scale of zero to a Gaussian's location: q(s|x) = N(loc(x), I)."""

    def forward(self, loc):
        return torch.cat([loc, torch.zeros_like(loc)], -1)
