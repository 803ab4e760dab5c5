"""The convolutional encoder and decoder of VQ-VAE (van den Oord et al. 2017, Sec. 4.1), sized
for small images.

[1] Sec. 4.1: "The encoder consists of 2 strided convolutional layers with stride 2 and window
size 4 x 4, followed by two residual 3 x 3 blocks (implemented as ReLU, 3x3 conv, ReLU, 1x1
conv), all having 256 hidden units. The decoder similarly has two residual 3 x 3 blocks,
followed by two transposed convolutions with stride 2 and window size 4 x 4." Here the number
of stride-2 steps and the width are options: two steps and 64 channels take a 28x28 digit to
a 7x7 grid of codes in a few milliseconds a batch on a CPU.

References:
    [1] van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation Learning. NeurIPS 2017.
    [2] Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity Images with VQ-VAE-2.
        NeurIPS 2019.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class ResidualStack(nn.Module):
    """``blocks`` residual blocks ``x + conv1x1(relu(conv3x3(relu(x))))`` ([1] Sec. 4.1), then a
    ReLU; the shape is unchanged."""

    def __init__(self, channels: int, blocks: int = 2, hidden: int | None = None):
        super().__init__()
        hidden = hidden or channels // 2 or 1
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                                                  nn.Conv2d(hidden, channels, 1)) for _ in range(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return torch.relu(x)


def _check(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def halvings(size, steps: int, who: str) -> list[tuple[int, int]]:
    """The spatial sizes ``[size, ceil(size / 2), ...]`` of ``steps`` stride-2 steps that round
    up: a 28x28 digit goes 28, 14, 7, 4, so three steps give a 4x4 grid that sees every row."""
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in size)):
        raise ConfigError(f"{who}: size must be the image's (height, width), two positive integers, got {size!r}")
    sizes = [tuple(size)]
    for _ in range(steps):
        sizes.append(tuple(-(-n // 2) for n in sizes[-1]))
    return sizes


class DownsamplingEncoder(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, H / 2^downsamples, W / 2^downsamples)``:
    ``downsamples`` stride-2 4x4 convolutions, a 3x3 convolution, ``blocks`` residual blocks and a
    1x1 convolution to ``out_channels`` (the code size D of a quantizer that follows).

    Each step halves a size rounding down (7 -> 3: the last row is never seen) unless ``size``,
    the input's (H, W), is given: then an odd size is padded by 2 instead of 1, so each step
    rounds up (7 -> 4, :func:`halvings`); even sizes are treated alike either way.

    With ``condition_channels``, ``forward(x, condition)`` also reads a map of that many channels
    at the output's size (VQ-VAE-2's top codes, [2] Fig. 2a) concatenated before the residual
    blocks; ``forward`` then takes a dict ``{"x": image, <name>: map}`` (an edge with
    ``combine="dict"``) or the two tensors.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64, downsamples: int = 2, blocks: int = 2,
                 condition_channels: int = 0, image: str = "x", size: tuple[int, int] | None = None):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                                 ("hidden", hidden, 1), ("downsamples", downsamples, 1), ("blocks", blocks, 0),
                                 ("condition_channels", condition_channels, 0)):
            _check(f"DownsamplingEncoder: {name}", value, low)
        sizes = halvings(size, downsamples, "DownsamplingEncoder") if size is not None else None
        layers, c = [], in_channels
        for i in range(downsamples):
            width = hidden if i == downsamples - 1 else max(hidden // 2, 1)
            padding = 1 if sizes is None else tuple(1 + n % 2 for n in sizes[i])   # odd: (n + 4 - 4) // 2 + 1
            layers += [nn.Conv2d(c, width, 4, stride=2, padding=padding), nn.ReLU()]
            c = width
        self.down = nn.Sequential(*layers, nn.Conv2d(c, hidden, 3, padding=1))
        self.image, self.condition_channels = image, condition_channels
        self.merge = nn.Conv2d(hidden + condition_channels, hidden, 1) if condition_channels else nn.Identity()
        self.residual = ResidualStack(hidden, blocks)
        self.out = nn.Conv2d(hidden, out_channels, 1)

    def forward(self, x, condition: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(x, dict):
            x, condition = x[self.image], next((v for k, v in x.items() if k != self.image), None)
        h = self.down(x)
        if self.condition_channels:
            if condition is None or condition.shape[-2:] != h.shape[-2:]:
                raise ConfigError(f"DownsamplingEncoder: condition_channels={self.condition_channels} needs a "
                                  f"condition map of spatial size {tuple(h.shape[-2:])}, got "
                                  f"{None if condition is None else tuple(condition.shape)}")
            h = self.merge(torch.cat([h, condition], 1))
        return self.out(self.residual(h))


class UpsamplingDecoder(nn.Module):
    """``(B, in_channels, h, w) -> (B, out_channels, h * 2^upsamples, w * 2^upsamples)``: a 3x3
    convolution, ``blocks`` residual blocks and ``upsamples`` stride-2 4x4 transposed
    convolutions ([1] Sec. 4.1); the output is unsquashed (a Bernoulli's logits, a mean).
    ``size``, the output's (H, W), makes each step the inverse of a :class:`DownsamplingEncoder`
    step that rounds up (4 -> 7 -> 14 -> 28 for a 4x4 grid of a digit: an odd size is reached
    with padding 2 and one row of output padding); ``crop`` trims the output instead."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64, upsamples: int = 2, blocks: int = 2,
                 crop: tuple[int, int] | None = None, size: tuple[int, int] | None = None):
        super().__init__()
        for name, value, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                                 ("hidden", hidden, 1), ("upsamples", upsamples, 1), ("blocks", blocks, 0)):
            _check(f"UpsamplingDecoder: {name}", value, low)
        if crop is not None and size is not None:
            raise ConfigError("UpsamplingDecoder: give size (each step sized exactly) or crop (trim the output), "
                              "not both")
        targets = halvings(size, upsamples, "UpsamplingDecoder")[-2::-1] if size is not None else None
        self.inp = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.residual = ResidualStack(hidden, blocks)
        layers, c = [], hidden
        for i in range(upsamples):
            last = i == upsamples - 1
            width = out_channels if last else max(hidden // 2, 1)
            odd = (0, 0) if targets is None else tuple(n % 2 for n in targets[i])
            # (n - 1) * 2 - 2 * padding + 4 + output_padding: 2n for padding 1, 2n - 1 for padding 2 and 1
            layers.append(nn.ConvTranspose2d(c, width, 4, stride=2, padding=tuple(1 + o for o in odd),
                                             output_padding=odd))
            if not last:
                layers.append(nn.ReLU())
            c = width
        self.up = nn.Sequential(*layers)
        self.crop = None if crop is None else tuple(crop)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.up(self.residual(self.inp(z)))
        if self.crop is not None:
            out = out[..., : self.crop[0], : self.crop[1]]
        return out
