"""Isola et al.'s PatchGAN discriminator (pix2pix, 2017, Sec. 3.2.2), sized for small images:
it judges each patch of an image rather than the whole, one logit per patch, which VQ-GAN
(Esser et al. 2021, Sec. 3.1) uses to judge its reconstructions.

References:
    Isola, Zhu, Zhou, Efros. Image-to-Image Translation with Conditional Adversarial Networks.
    CVPR 2017.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class PatchDiscriminator(nn.Module):
    """``(B, C, H, W) -> (B, h * w)``: ``layers`` stride-2 4x4 convolutions (``channels``,
    doubling; LeakyReLU 0.2, batch norm after all but the first, as pix2pix's C64-C128), then a
    stride-1 3x3 convolution to one logit per patch, flattened. A 28x28 digit with two layers
    gives a 7x7 grid of patches, each seeing an 18x18 window. Declare its edge with
    ``g.adversarial("x", D, outputs=D.patches)``.
    """

    def __init__(self, in_shape: tuple[int, int, int], channels: int = 64, layers: int = 2):
        super().__init__()
        if len(in_shape) != 3:
            raise ConfigError(f"PatchDiscriminator: in_shape must be (channels, height, width), got {in_shape}")
        for name, value in (("channels", channels), ("layers", layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"PatchDiscriminator: {name} must be a positive integer, got {value!r}")
        c, h, w = in_shape
        blocks, width = [], channels
        for i in range(layers):
            blocks.append(nn.Conv2d(c, width, 4, stride=2, padding=1, bias=i == 0))
            if i:
                blocks.append(nn.BatchNorm2d(width))
            blocks.append(nn.LeakyReLU(0.2))
            c, width, h, w = width, width * 2, h // 2, w // 2
        if h < 1 or w < 1:
            raise ConfigError(f"PatchDiscriminator: {layers} stride-2 layers leave no patches of an image "
                              f"{tuple(in_shape)}; use fewer layers")
        self.net = nn.Sequential(*blocks, nn.Conv2d(c, 1, 3, padding=1))
        #: the number of patches judged per image, the edge's ``outputs``
        self.patches = h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)
