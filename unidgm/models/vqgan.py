"""VQ-GAN (Esser et al. 2021, "Taming Transformers", Sec. 3.1-3.2): VQ-VAE's graph with an
adversary that judges its reconstructions patch by patch, and a transformer prior over the
codes.

    q:  x --Q(E(x))--> z_q --nearest code--> c
    p:  c ~ p_psi(c) (causal transformer)  --e_c--> z_q --G--> x
    adversary: a PatchGAN D on x, data against the reconstruction (q's codes decoded by p)

Stage 1, their Eq. 5-7: the reconstruction (here the Bernoulli cross-entropy of MNIST's grey
pixels) plus a perceptual term (in LPIPS's place, Johnson et al.'s feature reconstruction loss
on the library's digit classifier's convolutions, as nothing is downloaded), the commitment term, and the
generator's hinge loss against D weighted by the adaptive lambda of Eq. 7 (the ratio of the
other terms' and the adversarial term's gradient norms at the decoder's last layer, clamped,
times 0.8), switched on after ``adversarial_start`` steps; D minimises the hinge loss on
patches. Stage 2 fits the prior to the frozen codes. Every part is the engine's: the
``reconstruction`` source of the adversarial edge, the ``Perceptual`` term, the objective's
``adaptive_weight`` and ``start`` options, ``outputs=`` of a patch discriminator.

References:
    Esser, Rombach, Ommer. Taming Transformers for High-Resolution Image Synthesis. CVPR 2021.
    Isola, Zhu, Zhou, Efros. Image-to-Image Translation with Conditional Adversarial Networks.
    CVPR 2017.
    Johnson, Alahi, Fei-Fei. Perceptual Losses for Real-Time Style Transfer and
    Super-Resolution. ECCV 2016.
    Zhang, Isola, Efros, Shechtman, Wang. The Unreasonable Effectiveness of Deep Features as a
    Perceptual Metric. CVPR 2018.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..graph.graph import Graph
from ..inference.terms import Perceptual, PriorFit
from ..nets import PatchDiscriminator
from .registry import register
from .specs import Flag, Rate, Shape, Size, Sizes, Steps, Weight
from .vqvae import Likelihood, Prior, Share, codebook_terms, prior_network, quantized_autoencoder


class ClassifierFeatures(nn.Module):
    """The feature reconstruction loss's features (Johnson, Alahi, Fei-Fei 2016, Eq. 2) of the
    library's digit classifier, frozen: the ReLU maps of its two convolutions, each divided by
    the square root of its size C*H*W, so that the squared distance of two images' features is
    each map's mean squared difference, summed over the maps.

    Not LPIPS's unit-normalised channel vectors (Zhang et al. 2018): on digits most locations
    are blank, where normalising blows a faint blur up to a unit vector (0.02 of pixel noise
    then costs as much as a VQ-VAE's whole reconstruction error). They are the convolutional
    maps, not the fully connected features that the FID reads (``unidgm.eval.frechet``).
    The classifier (``digit_classifier(data)``, trained on first use and cached) is loaded at
    the first call, not when the graph is built, so that declaring the model needs no data; it
    is a fixed judge outside the model's state (a checkpoint does not carry it, the cache
    rebuilds it exactly)."""

    def __init__(self, data: str):
        super().__init__()
        self.data = data
        self._classifier: tuple = ()  # a tuple: not a submodule, so not in the state dict

    def _convolutions(self, device) -> nn.Module:
        if not self._classifier:
            from ..eval.classifier import digit_classifier

            with torch.enable_grad():  # a first call may train it, whatever the caller's mode
                self._classifier = (digit_classifier(self.data).requires_grad_(False),)
        classifier = self._classifier[0]
        if next(classifier.parameters()).device != device:
            self._classifier = (classifier.to(device),)
        return self._classifier[0].conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, maps = x, []
        for layer in self._convolutions(x.device):
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                maps.append(h.flatten(1) / math.sqrt(h[0].numel()))
        return torch.cat(maps, 1)

    def extra_repr(self) -> str:
        return f"data={self.data!r}"


def digit_features(x_shape) -> nn.Module:
    """The digit classifier's features for images of ``x_shape``: MNIST's for 28x28, the
    embedded digits' for 8x8."""
    data = {(1, 28, 28): "mnist", (1, 8, 8): "digits"}.get(tuple(x_shape))
    if data is None:
        raise ConfigError(f"model 'vqgan': the perceptual term uses the library's digit classifier, which reads "
                          f"(1, 28, 28) or (1, 8, 8) images, not {tuple(x_shape)}; set perceptual_weight=0")
    return ClassifierFeatures(data)


@register("vqgan", binarize=None)
def vqgan(x_shape: Shape = (1, 28, 28), likelihood: Likelihood = "bernoulli", codebook_size: Size = 128,
          code_dim: Size = 32, hidden: Sizes = (64,), downsamples: Size = 3, beta: Weight = 0.25, ema: Flag = True,
          decay: Share = 0.99, disc_channels: Size = 64, disc_layers: Size = 2, perceptual_weight: Weight = 1.0,
          adversarial_start: Steps = 500, adaptive_factor: Weight = 0.8, prior: Prior = "transformer",
          prior_channels: Size = 64, prior_layers: Size = 4, prior_share: Share = 0.4,
          lr: Rate = 1e-3, discriminator_lr: Rate = 2e-4) -> Graph:
    """VQ-GAN (Esser et al. 2021, Eq. 5-7): the VQ-VAE's autoencoder, with codes coarser than
    VQ-VAE's (``downsamples=3``: a 4x4 grid of a 28x28 digit, against VQ-VAE's 7x7), and a
    PatchGAN adversary on its reconstructions (hinge loss, Esser et al.'s adaptive weight from
    ``adversarial_start`` on), a perceptual term on the digit classifier's features, and a
    causal transformer prior (``prior="pixelcnn"``: a PixelCNN) fitted in a second stage; the
    autoencoder and the prior train at ``lr``, the critic at ``discriminator_lr`` (Adam, beta1 = 0.5)."""
    g = quantized_autoencoder(
        "vqgan", x_shape, likelihood, codebook_size, code_dim, hidden[-1], downsamples, ema, decay,
        lambda g, grid: g.generative([], "c", prior_network(prior, codebook_size, grid, prior_channels, prior_layers),
                                     density=True, name="prior"))                       # p_psi(c)
    critic = PatchDiscriminator(tuple(x_shape), disc_channels, disc_layers)
    g.adversarial("x", critic, fake="reconstruction", outputs=critic.patches)      # D(patches of x)
    terms = codebook_terms("z_q", ema, beta)
    if perceptual_weight:
        # the reconstruction is summed over pixels and the feature loss is a mean, as Esser et
        # al.'s L1 and LPIPS are: per pixel, the two weigh as theirs do
        terms.append(Perceptual("x", digit_features(x_shape), weight=perceptual_weight * math.prod(x_shape)))
    recipe = ({"phases": ["discriminator", "generator"], "share": 1.0 - prior_share},
              {"phases": ["prior"], "share": prior_share})
    # the autoencoder and its prior at VQ-VAE's rate (Adam, 1e-3); the critic at DCGAN's 2e-4
    # (``discriminator_lr``): at 1e-3, Esser et al.'s one rate, the game swung wider here
    return g.set_objective("adversarial", divergence="hinge", start=adversarial_start, adaptive_weight=True,
                           adaptive_factor=adaptive_factor, generator_lr=lr, discriminator_lr=discriminator_lr,
                           terms=terms + [PriorFit("c")], stages=recipe)
