"""One causal transformer over a caption's tokens followed by an image's codes (DALL-E, Ramesh
et al. 2021, Sec. 2.2), seen by the graph as two density edges that share it: p(t) into the
caption node and p(c | t) into the code node.

The sequence is the L caption tokens (ids ``[0, V)``, each padding position its own token, as
the captions of :mod:`unidgm.data.captions` are) then the H*W image codes in raster order (ids
``[V, V + K)``), one softmax over both vocabularies. ``TextDensity`` scores and draws captions
(the first L positions); ``ImageDensity`` scores an image's codes given its caption (the last
H*W positions of the same forward pass) and draws them after the caption as a prefix, only
image tokens allowed.

References:
    Ramesh, Pavlov, Goh, Gray, Voss, Radford, Chen, Sutskever. Zero-Shot Text-to-Image
    Generation. ICML 2021.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import GraphError
from .transformer import CausalTransformer


class CaptionTransformer(nn.Module):
    """A :class:`~unidgm.nets.CausalTransformer` over ``text_length`` caption tokens of
    ``text_vocab`` and a ``grid`` of ``codebook_size`` image codes.

    ``top_k`` and ``temperature`` are how image codes are drawn: from the ``top_k`` most likely
    codes at each position (0: all of them), at that softmax temperature; DALLE-pytorch draws
    from the top half (its ``filter_thres=0.5``), Ramesh et al. rerank draws with CLIP instead."""

    def __init__(self, text_vocab: int, text_length: int, codebook_size: int, grid: tuple[int, ...], *,
                 d_model: int = 128, heads: int = 4, layers: int = 4, dropout: float = 0.0, top_k: int = 0,
                 temperature: float = 1.0):
        super().__init__()
        self.top_k, self.temperature = int(top_k), float(temperature)
        self.text_vocab, self.text_length = text_vocab, text_length
        self.codebook_size, self.grid = codebook_size, tuple(grid)
        self.transformer = CausalTransformer(text_vocab + codebook_size, text_length + math.prod(grid),
                                             d_model=d_model, heads=heads, layers=layers, dropout=dropout)

    def _text(self, t: torch.Tensor) -> torch.Tensor:
        if t.dim() != 2 or t.shape[1] != self.text_length:
            raise GraphError(f"CaptionTransformer: captions must be ({t.shape[0] if t.dim() else 'B'}, "
                             f"{self.text_length}) token ids, got {tuple(t.shape)}")
        return t.long()

    def text_log_prob(self, t: torch.Tensor) -> torch.Tensor:
        """log p(t), per caption ``(B,)``: the caption's positions alone (nothing after them is seen)."""
        return self.transformer.log_prob(self._text(t))

    def image_log_prob(self, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log p(c | t), per image ``(B,)``: the image positions of one pass over caption then codes."""
        t = self._text(t)
        codes = c.flatten(1).long() + self.text_vocab
        tokens = torch.cat([t, codes], 1)
        logp = self.transformer(tokens).log_softmax(-1)[:, self.text_length:]        # (B, HW, V + K)
        return logp.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(-1)

    @torch.no_grad()
    def sample_text(self, n: int, **options) -> torch.Tensor:
        """``n`` captions, ``(n, L)``, only text tokens drawn."""
        return self.transformer.sample(n, self.text_length, allowed=(0, self.text_vocab), **options)

    @torch.no_grad()
    def sample_image(self, t: torch.Tensor, **options) -> torch.Tensor:
        """Codes ``(n, *grid)`` drawn after the captions ``t`` ``(n, L)``, only image tokens drawn."""
        t = self._text(t)
        options = {"top_k": self.top_k or None, "temperature": self.temperature, **options}
        codes = self.transformer.sample(t.shape[0], math.prod(self.grid), prefix=t,
                                        allowed=(self.text_vocab, self.text_vocab + self.codebook_size), **options)
        return (codes - self.text_vocab).reshape((t.shape[0],) + self.grid)


class TextDensity(nn.Module):
    """The density network of the edge into the caption node: p(t) from ``joint``."""

    def __init__(self, joint: CaptionTransformer):
        super().__init__()
        self.joint = joint

    def log_prob(self, t: torch.Tensor, condition=None) -> torch.Tensor:
        return self.joint.text_log_prob(t)

    def sample(self, n: int, shape, condition=None) -> torch.Tensor:
        return self.joint.sample_text(n)


class ImageDensity(nn.Module):
    """The density network of the edge caption -> codes: p(c | t) from ``joint``."""

    def __init__(self, joint: CaptionTransformer):
        super().__init__()
        self.joint = joint

    def log_prob(self, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.joint.image_log_prob(c, t)

    def sample(self, n: int, shape, t: torch.Tensor) -> torch.Tensor:
        return self.joint.sample_image(t)
