"""DALL-E's discrete VAE (Ramesh et al. 2021, Sec. 2.1): an image as a grid of codebook
indices drawn through the Gumbel-softmax relaxation, and a learned prior over the grid.

The graph, VQ-VAE's shape with a stochastic code in place of a quantizer::

    q:  x --q_phi(z|x): Gumbel-softmax over K--> z --argmax--> c
    p:  c ~ p_psi(c) (PixelCNN)  --one-hot--> z --D_theta--> x

Stage 1 maximises the ELBO with each cell's KL taken from the uniform prior over the codebook
(``kl_reference="standard"``): Ramesh et al. train the dVAE against the uniform prior and fit
the transformer prior afterwards. The KL weight beta rises from 0 on a cosine schedule and
the relaxation's temperature falls from 1 to 1/16 on another (their Sec. 2.1 and Appendix A.2:
beta to 6.6 over 5,000 updates, tau to 1/16 over 150,000; here to ``beta`` over
``beta_warmup`` steps and to ``min_temperature`` over ``temperature_steps``, sized for the
1,600 autoencoder steps of 30 epochs on MNIST's 12,000 training images). Evaluation reads the
hard codes, c = argmax of q's logits, and decodes them through p (``model.eval()`` draws no
relaxed values). Stage 2 fits the prior to q's codes with the autoencoder frozen.

References:
    Ramesh, Pavlov, Goh, Gray, Voss, Radford, Chen, Sutskever. Zero-Shot Text-to-Image
    Generation. ICML 2021.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..graph.graph import Graph
from ..inference.terms import PriorFit
from ..nets import DownsamplingEncoder
from ..nets.onehot import ArgmaxIndices, OneHot
from .registry import register
from .specs import Rate, Shape, Size, Sizes, Steps, Weight
from .vqvae import Likelihood, Prior, Share, grid_of, image_decoder, prior_network, stages


class CellLogits(nn.Module):
    """An encoder's ``(B, K, H, W)`` output as the logits of a categorical per cell, ``(B, H, W, K)``."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).movedim(1, -1)


class FromOneHot(nn.Module):
    """A decoder of ``(B, K, H, W)`` maps reading one-hot cells ``(B, H, W, K)``."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.movedim(-1, 1))


def discrete_vae(name: str, x_shape, likelihood: str, codebook_size: int, width: int, downsamples: int,
                 temperature: float, min_temperature: float, temperature_steps: int,
                 prior: Callable[[Graph, tuple], object]) -> Graph:
    """The discrete VAE's graph, its prior's edges declared by ``prior(g, grid)`` after the
    autoencoder's networks are built (DALL-E's graph is this one with a caption in the prior)."""
    grid = grid_of(x_shape, downsamples, name)
    g = Graph(name)
    g.visible("x", likelihood, shape=x_shape)
    g.latent("z", "categorical", shape=grid + (codebook_size,),
             estimator={"name": "gumbel", "temperature": temperature, "min_temperature": min_temperature,
                        "schedule": "cosine", "anneal_steps": temperature_steps})
    g.latent("c", "categorical", shape=grid, classes=codebook_size)
    encoder = CellLogits(DownsamplingEncoder(x_shape[0], codebook_size, width, downsamples,
                                              size=tuple(x_shape[1:])))
    decoder = FromOneHot(image_decoder(codebook_size, likelihood, x_shape, width, downsamples))
    g.inference("x", "z", encoder)                                                   # q_phi(z|x), relaxed
    g.inference("z", "c", ArgmaxIndices(), deterministic=True)                       # c = argmax z
    prior(g, grid)                                                                   # p_psi(c | ...)
    g.generative("c", "z", OneHot(codebook_size), deterministic=True)                # z = onehot(c)
    g.generative("z", "x", decoder)                                                  # p_theta(x|z)
    return g


@register("dvae", binarize=None)
def dvae(x_shape: Shape = (1, 28, 28), likelihood: Likelihood = "bernoulli", codebook_size: Size = 128,
         hidden: Sizes = (64,), downsamples: Size = 2, beta: Weight = 0.1, beta_warmup: Steps = 500,
         temperature: Rate = 1.0, min_temperature: Rate = 1 / 16, temperature_steps: Size = 1500,
         prior: Prior = "pixelcnn", prior_channels: Size = 32, prior_layers: Size = 6,
         prior_share: Share = 0.4) -> Graph:
    """DALL-E's discrete VAE (Ramesh et al. 2021, Sec. 2.1): a 7x7 grid of ``codebook_size``
    codes for a 28x28 digit, relaxed by Gumbel-softmax with a cosine-annealed temperature,
    the KL to the uniform prior weighted by a cosine-warmed beta, then a PixelCNN (or
    ``prior="transformer"``) prior fitted to the hard codes in a second stage. beta weighs the
    KL to the uniform prior against 784 pixels' likelihoods: 0.1 keeps each cell's code nearly
    deterministic, so that the hard codes decode as well as the relaxed ones (beta = 1 leaves q
    close to uniform and its hard codes far from its draws)."""
    g = discrete_vae(
        "dvae", x_shape, likelihood, codebook_size, hidden[-1], downsamples, temperature, min_temperature,
        temperature_steps,
        lambda g, grid: g.generative([], "c", prior_network(prior, codebook_size, grid, prior_channels, prior_layers),
                                     density=True, name="prior"))                         # p_psi(c)
    return g.set_objective("elbo", kl_weight=beta, warmup=beta_warmup, kl_schedule="cosine",
                           kl_reference="standard", terms=[PriorFit("c")], stages=stages(prior_share))
