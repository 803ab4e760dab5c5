"""Small convolutional encoder and decoder for images whose sides divide by 4
(MNIST's 28x28, the digits' 8x8): two stride-2 convolutions each way, in the style of the
DCGAN (Radford et al. 2016) and the convolutional VAEs of the same era."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError


def _check(shape, who):
    if len(shape) != 3 or shape[1] % 4 or shape[2] % 4:
        raise ConfigError(f"{who}: image shape must be (channels, height, width) with sides divisible by 4, got {shape}")


class ConvEncoder(nn.Module):
    """``(B, C, H, W) -> (B, out_features)``: two stride-2 convolutions and a linear head.

    With ``image`` set, it reads a dict of parents (an edge declared with
    ``combine="dict"``): the image under that key goes through the convolutions and the
    other parents (``extra_features`` numbers, flattened, e.g. a one-hot label) join the
    features before the head, as in a conditional VAE's q(z | x, y).

    ``batch_norm`` normalises the second convolution and the hidden layer, and
    ``negative_slope`` makes the activations leaky: with ``channels=64, hidden=1024,
    batch_norm=True, negative_slope=0.1`` this is the discriminator of Chen et al. (2016,
    InfoGAN, Table 1) for MNIST.
    """

    def __init__(self, in_shape: tuple[int, int, int], out_features: int, channels: int = 32, hidden: int = 256,
                 image: str | None = None, extra_features: int = 0, batch_norm: bool = False,
                 negative_slope: float = 0.0):
        super().__init__()
        _check(in_shape, "ConvEncoder")
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        self.image = image
        act = (lambda: nn.LeakyReLU(negative_slope)) if negative_slope else nn.ReLU
        # Normalisation layers only where asked, so the layers' names stay those of older checkpoints.
        norm = (lambda layer: [layer]) if batch_norm else (lambda layer: [])
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, 4, 2, 1), act(),                                                  # (channels, H/2, W/2)
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), *norm(nn.BatchNorm2d(2 * channels)), act(),  # (2 channels, H/4, W/4)
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(2 * channels * (h // 4) * (w // 4) + extra_features, hidden),
                                  *norm(nn.BatchNorm1d(hidden)), act(), nn.Linear(hidden, out_features))

    def forward(self, x):
        extra = None
        if isinstance(x, dict):
            extra = [v.flatten(1) for k, v in x.items() if k != self.image]
            x = x[self.image]
        if x.dim() == 2:  # a flat vector of an image-shaped node
            x = x.reshape((-1,) + self.in_shape)
        h = self.features(x)
        if extra:
            h = torch.cat([h, *extra], -1)
        return self.head(h)


class ConvDecoder(nn.Module):
    """``(B, in_features) -> (B, *out_shape)``: a linear stem and two stride-2 transposed
    convolutions. ``out_shape`` is the parameter layout, e.g. ``(2, 28, 28)`` for the loc
    and log-scale of a one-channel image. ``batch_norm`` normalises every hidden layer: with
    ``channels=64, hidden=1024, batch_norm=True`` this is the generator of Chen et al.
    (2016, InfoGAN, Table 1) for MNIST."""

    def __init__(self, in_features: int, out_shape: tuple[int, int, int], channels: int = 32, hidden: int = 256,
                 batch_norm: bool = False):
        super().__init__()
        _check(out_shape, "ConvDecoder")
        c, h, w = out_shape
        self.stem_shape = (2 * channels, h // 4, w // 4)
        size = math.prod(self.stem_shape)
        norm = (lambda layer: [layer]) if batch_norm else (lambda layer: [])  # names as in older checkpoints
        self.stem = nn.Sequential(nn.Linear(in_features, hidden), *norm(nn.BatchNorm1d(hidden)), nn.ReLU(),
                                  nn.Linear(hidden, size), *norm(nn.BatchNorm1d(size)), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), *norm(nn.BatchNorm2d(channels)), nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, 2, 1),                                             # (C, H, W)
        )

    def forward(self, z):
        return self.up(self.stem(z.flatten(1)).reshape((-1,) + self.stem_shape))


class LeNetFeatures(nn.Module):
    """``(B, C, H, W) -> (B, 48 * H/4 * W/4)``: the feature extractor of Ganin et al.
    (2016, Sec. 5.2.2)'s MNIST experiments, two 5x5 convolutions (32 and 48 channels), each
    followed by a ReLU and 2x2 max-pooling: 28x28 -> (48, 4, 4), 768 features, as theirs.
    Images smaller than 20 pixels a side (the 8x8 digits) are padded so the maps keep a
    size (-> (48, H/4, W/4)). The features are the flattened maps, which both the label
    predictor and the domain classifier read."""

    def __init__(self, in_shape: tuple[int, int, int], channels: tuple[int, int] = (32, 48)):
        super().__init__()
        _check(in_shape, "LeNetFeatures")
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        pad = 0 if min(h, w) >= 20 else 2
        side = (lambda n: ((n + 2 * pad - 4) // 2 + 2 * pad - 4) // 2)
        self.out_features = channels[1] * side(h) * side(w)
        self.net = nn.Sequential(
            nn.Conv2d(c, channels[0], 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),            # (32, 12, 12) for 28x28
            nn.Conv2d(channels[0], channels[1], 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),  # (48, 4, 4)
            nn.Flatten(),
        )

    def forward(self, x):
        if x.dim() == 2:  # a flat vector of an image-shaped node
            x = x.reshape((-1,) + self.in_shape)
        return self.net(x)
