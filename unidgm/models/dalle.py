"""A DALL-E-style caption-to-image model (Ramesh et al. 2021): the discrete VAE's image codes
and one causal transformer over a caption's tokens followed by the image's codes.

    q:  x --Gumbel-softmax--> z --argmax--> c                     (the dVAE, as ``dvae``)
    p:  t ~ p_psi(t);  c ~ p_psi(c | t);  c --one-hot--> z --D--> x
        (one transformer over [t; c] for both density edges)

Stage 1 trains the dVAE (the ELBO with the KL to the uniform prior, cosine schedules, as
``dvae``; the caption's -log p(t) is part of that bound). Stage 2 fits the transformer to the
frozen codes and the captions by maximum likelihood, the text and image cross-entropies each
normalised by its number of tokens and weighted 1/8 and 7/8 (their Sec. 2.2). A caption draws
an image: ``model.sample(n, given={"t": tokens})``, or ``unidgm sample DIR --caption "..."``.

References:
    Ramesh, Pavlov, Goh, Gray, Voss, Radford, Chen, Sutskever. Zero-Shot Text-to-Image
    Generation. ICML 2021.
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from ..graph.graph import Graph
from ..inference.terms import PriorFit
from ..nets.captioned import CaptionTransformer, ImageDensity, TextDensity
from .dvae import discrete_vae
from .registry import register
from .specs import Count, Dropout, Rate, Shape, Size, Sizes, Steps, Weight
from .vqvae import Likelihood, Share, stages


@register("dalle", binarize=None)
def dalle(x_shape: Shape = (1, 28, 28), caption_shape: Shape = (6, 35), likelihood: Likelihood = "bernoulli",
          codebook_size: Size = 128, hidden: Sizes = (64,), downsamples: Size = 2, beta: Weight = 0.1,
          beta_warmup: Steps = 500, temperature: Rate = 1.0, min_temperature: Rate = 1 / 16,
          temperature_steps: Size = 1500, d_model: Size = 128, heads: Size = 4, layers: Size = 4,
          text_weight: Weight = 1 / 8, image_weight: Weight = 7 / 8, prior_share: Share = 0.64,
          dropout: Dropout = 0.1, top_k: Count = 0, sample_temperature: Rate = 1.0) -> Graph:
    """DALL-E (Ramesh et al. 2021, Sec. 2): the discrete VAE of ``dvae`` over a 7x7 grid of
    ``codebook_size`` codes, and one causal transformer over a caption (``caption_shape`` =
    (tokens, vocabulary), read from the data: ``--data mnist-captions``) then the codes.
    Images are drawn from the ``top_k`` most likely codes at each position (0: all) at
    ``sample_temperature``; ``dropout`` is the transformer's."""
    length, vocab = caption_shape
    if top_k > codebook_size:
        raise ConfigError(f"model 'dalle': top_k={top_k} exceeds codebook_size={codebook_size}; give at most "
                          f"{codebook_size} (0 draws from every code)")

    def caption_prior(g, grid):
        joint = CaptionTransformer(vocab, length, codebook_size, grid, d_model=d_model, heads=heads, layers=layers,
                                   dropout=dropout, top_k=top_k, temperature=sample_temperature)
        g.visible("t", "categorical", shape=(length,), classes=vocab)
        g.generative([], "t", TextDensity(joint), density=True, name="text_prior")   # p_psi(t)
        g.generative("t", "c", ImageDensity(joint), density=True, name="prior")      # p_psi(c | t)

    g = discrete_vae("dalle", x_shape, likelihood, codebook_size, hidden[-1], downsamples, temperature,
                     min_temperature, temperature_steps, caption_prior)
    grid = g.nodes["c"].shape
    # each cross-entropy per token, then weighted 1/8 (text) and 7/8 (image), Ramesh et al. Sec. 2.2
    terms = [PriorFit("t", weight=text_weight / length),
             PriorFit("c", weight=image_weight / math.prod(grid), codes="mode")]  # the argmax codes
    return g.set_objective("elbo", kl_weight=beta, warmup=beta_warmup, kl_schedule="cosine",
                           kl_reference="standard", terms=terms, stages=stages(prior_share))
