"""A gated PixelCNN over a grid of discrete codes ([1]), the autoregressive prior of VQ-VAE ([3]).

The model factorises a ``(B, H, W)`` grid of code indices in ``[0, K)`` in raster order,
``p(x) = prod_{i,j} p(x_ij | x_<ij, condition)``; :meth:`GatedPixelCNN.forward` gives the
``(B, K, H, W)`` logits of every factor in one pass (teacher forcing). The network, as in [1]
Sec. 2.1-2.2 and Fig. 2:

- the codes are embedded (``nn.Embedding(K, channels)``) and pass through ``layers`` gated layers,
  ``tanh(W_f * x) ⊙ sigmoid(W_g * x)`` ([1] Eq. 2), each with two stacks;
- the vertical stack, a ``(k//2 + 1) x k`` convolution over the rows at and above row i, is
  unmasked; it feeds the horizontal stack shifted down one row, so that (i, j) hears rows < i
  across the kernel's full width (above-right included: no blind spot);
- the horizontal stack, a ``1 x (k//2 + 1)`` convolution over row i at and left of column j, is
  masked 'A' in the first layer (the code being predicted excluded) and 'B' after ([2] Sec. 3.4),
  with a residual connection in every layer but the first;
- a ReLU, 1x1, ReLU, 1x1 head turns the last horizontal features into logits.

Conditioning ([1] Sec. 2.3) adds to each gate's pre-activations, in both stacks: a class (an index
or a one-hot vector, ``condition_classes``) through a learned bias ``V^T h``, and/or a spatial map
(such as VQ-VAE-2's top codes, [4]: indices embedded with ``condition_codes``, or ``condition_channels``
floats) through ``condition_layers`` unmasked 3x3 residual convolutions at the map's own size (the
location-preserving network ``s = m(h)`` of [1]), nearest upsampling to ``(H, W)`` and a 1x1
convolution ``V * s``. The condition is not autoregressive: by default ``m`` is deep enough that
every position of the map reaches every output position.

Cost: :meth:`~GatedPixelCNN.forward` and :meth:`~GatedPixelCNN.log_prob` are one pass of ``layers``
convolutions over the grid; :meth:`~GatedPixelCNN.sample` draws the H*W codes one at a time, H*W
forward passes (the condition is processed once).

References:
    [1] van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves, Kavukcuoglu. Conditional Image
        Generation with PixelCNN Decoders. NeurIPS 2016.
    [2] van den Oord, Kalchbrenner, Kavukcuoglu. Pixel Recurrent Neural Networks. ICML 2016.
    [3] van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation Learning. NeurIPS 2017.
    [4] Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity Images with VQ-VAE-2.
        NeurIPS 2019.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError, GraphError
from .transformer import draw_categorical

# A condition: a class (int64 (B,) or float (B, C)), a map (int64 (B, h, w) or float (B, Cc, h, w)),
# or, for a model built with both, the pair (class, map).
Condition = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


def _gate(x: torch.Tensor) -> torch.Tensor:
    """[1] Eq. 2: ``(B, 2C, ...) -> (B, C, ...)``, ``tanh(first half) * sigmoid(second half)``."""
    f, g = x.chunk(2, 1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    """One gated layer of both stacks ([1] Fig. 2) over ``(B, C, H, W)`` features.

    Invariants (checked by the tests through gradients): the vertical output at row i depends on
    input rows <= i only, and is read by the horizontal stack one row down; the horizontal output
    at (i, j) depends on the codes before (i, j) in raster order only.
    """

    def __init__(self, channels: int, kernel_size: int, first: bool):
        super().__init__()
        self.k, self.first = kernel_size // 2, first
        self.vertical = nn.Conv2d(channels, 2 * channels, (self.k + 1, kernel_size))  # rows i-k..i, cols j-k..j+k
        self.horizontal = nn.Conv2d(channels, 2 * channels, (1, self.k + 1))          # row i, cols j-k..j
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        mask = torch.ones_like(self.horizontal.weight)
        if first:
            mask[..., -1] = 0  # mask 'A': column j, the code being predicted, is unseen; 'B' keeps it
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, v: torch.Tensor, h: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.k
        v_pre = self.vertical(F.pad(v, (k, k, k, 0)))                                       # (B, 2C, H, W)
        h_pre = F.conv2d(F.pad(h, (k, 0)), self.horizontal.weight * self.mask, self.horizontal.bias)  # (B, 2C, H, W)
        # Down one row: row i of the horizontal stack hears the vertical stack's rows < i only.
        h_pre = h_pre + self.vertical_to_horizontal(F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1])
        if bias is not None:  # (B, 4C, H or 1, W or 1): the condition's share of each gate
            bias_v, bias_h = bias.chunk(2, 1)
            v_pre, h_pre = v_pre + bias_v, h_pre + bias_h
        h_out = self.horizontal_out(_gate(h_pre))                                          # (B, C, H, W)
        # No residual in the first layer: its input h is the embedding of the code being predicted.
        return _gate(v_pre), (h_out if self.first else h + h_out)


class GatedPixelCNN(nn.Module):
    """An autoregressive model of ``(B, H, W)`` int64 code grids in ``[0, codebook_size)``.

    ``forward(codes, condition=None)`` gives logits ``(B, K, H, W)``, those at (i, j) a function
    of the codes before (i, j) in raster order and of all the condition; ``log_prob`` their
    log-likelihood per grid ``(B,)``; ``sample`` new grids. Any ``H, W`` work; the defaults suit
    the 7x7 code grids of an MNIST VQ-VAE.

    Args:
        codebook_size: the number K of codes.
        channels: the width of both stacks and of the code embedding.
        layers: the number of gated layers; after the first, each with kernel 3 widens the
            receptive field by one row and one column (with the defaults, 5 layers see every
            earlier code of a 7x7 grid).
        kernel_size: the (odd) kernel k of the layers after the first.
        first_kernel_size: the (odd) kernel of the first, mask-'A' layer.
        condition_classes: C, for a class condition per grid, given as int64 indices ``(B,)`` or
            float (one-hot) vectors ``(B, C)``; added as a learned bias in every gate.
        condition_size: ``(h, w)`` (or one int for a square map) of a spatial condition map;
            setting it, ``condition_channels`` or ``condition_codes`` turns the map on.
        condition_codes: K_top, for a map of int64 codes ``(B, h, w)``, embedded into
            ``condition_channels``; without it the map is float ``(B, condition_channels, h, w)``.
        condition_channels: the map's channels; None derives ``channels`` for an embedded map.
        condition_layers: unmasked 3x3 residual convolutions over the map before it is upsampled;
            None derives ``max(h, w) - 1``, the fewest by which every map position reaches every
            output; 0 leaves each output hearing only the map cells upsampled onto it or onto
            positions before it.

    With both a class and a map, ``condition`` is the pair ``(classes, map)``.
    """

    def __init__(self, codebook_size: int, *, channels: int = 64, layers: int = 8, kernel_size: int = 3,
                 first_kernel_size: int = 5, condition_classes: int | None = None,
                 condition_size: int | tuple[int, int] | None = None, condition_codes: int | None = None,
                 condition_channels: int | None = None, condition_layers: int | None = None):
        super().__init__()
        spatial = condition_size is not None or condition_codes is not None or condition_channels is not None
        # Defaults derived in one block, then every option checked.
        if spatial and condition_channels is None and condition_codes is not None:
            condition_channels = channels
        if isinstance(condition_size, int) and not isinstance(condition_size, bool):
            condition_size = (condition_size, condition_size)
        if spatial and condition_size is not None and condition_layers is None and _is_sizes(condition_size):
            condition_layers = max(condition_size) - 1

        for name, value in (("codebook_size", codebook_size), ("channels", channels), ("layers", layers),
                            ("condition_classes", condition_classes), ("condition_codes", condition_codes),
                            ("condition_channels", condition_channels)):
            if value is not None and not _is_positive(value):
                raise ConfigError(f"GatedPixelCNN: {name} must be a positive integer, got {value!r}; "
                                  f"pass {name}=1 or more")
        for name, value in (("kernel_size", kernel_size), ("first_kernel_size", first_kernel_size)):
            if not _is_positive(value) or value < 3 or value % 2 == 0:
                raise ConfigError(f"GatedPixelCNN: {name} must be an odd integer >= 3, got {value!r}; "
                                  f"[1] uses 3 after a larger first layer (the default is 5)")
        if spatial:
            if condition_size is None or not _is_sizes(condition_size):
                raise ConfigError(f"GatedPixelCNN: a spatial condition needs condition_size=(h, w), two positive "
                                  f"integers (or one), got {condition_size!r}; pass the condition map's height and "
                                  f"width")
            if condition_channels is None:
                raise ConfigError("GatedPixelCNN: a float condition map needs condition_channels=Cc, its number of "
                                  "channels; for a map of code indices pass condition_codes=K_top instead")
            if isinstance(condition_layers, bool) or not isinstance(condition_layers, int) or condition_layers < 0:
                raise ConfigError(f"GatedPixelCNN: condition_layers must be an integer >= 0 or None (derived from "
                                  f"condition_size), got {condition_layers!r}")
        elif condition_layers is not None:
            raise ConfigError("GatedPixelCNN: condition_layers is set but there is no spatial condition; pass "
                              "condition_size=(h, w) with condition_channels= or condition_codes=, or drop "
                              "condition_layers")

        self.codebook_size, self.channels, self.n_layers = codebook_size, channels, layers
        self.kernel_size, self.first_kernel_size = kernel_size, first_kernel_size
        self.condition_classes = condition_classes
        self.condition_size = tuple(condition_size) if spatial else None
        self.condition_codes, self.condition_channels = condition_codes, condition_channels
        self.condition_layers = condition_layers

        self.embed = nn.Embedding(codebook_size, channels)
        self.layers = nn.ModuleList(GatedLayer(channels, first_kernel_size if n == 0 else kernel_size, first=n == 0)
                                    for n in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, codebook_size, 1))
        # Every layer's condition biases at once: per layer, 2C for the vertical gate then 2C for the horizontal.
        bias_channels = layers * 4 * channels
        self.class_bias = nn.Linear(condition_classes, bias_channels, bias=False) if condition_classes else None
        self.condition_embed = nn.Embedding(condition_codes, condition_channels) if condition_codes else None
        self.condition_net, self.map_bias = None, None
        if spatial:
            widths = [condition_channels] + [channels] * condition_layers
            self.condition_net = nn.ModuleList(nn.Conv2d(a, channels, 3, padding=1) for a in widths[:-1])
            self.map_bias = nn.Conv2d(widths[-1], bias_channels, 1, bias=False)

    def extra_repr(self) -> str:
        return (f"codebook_size={self.codebook_size}, channels={self.channels}, layers={self.n_layers}, "
                f"kernel_size={self.kernel_size}, first_kernel_size={self.first_kernel_size}, "
                f"condition_classes={self.condition_classes}, condition_size={self.condition_size}, "
                f"condition_codes={self.condition_codes}, condition_channels={self.condition_channels}, "
                f"condition_layers={self.condition_layers}")

    def forward(self, codes: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """Logits ``(B, K, H, W)`` of every code given the codes before it (teacher forcing)."""
        self._check_codes(codes)
        B, H, W = codes.shape
        return self._logits(codes, self._biases(condition, B, H, W))

    def log_prob(self, codes: torch.Tensor, condition: Condition = None) -> torch.Tensor:
        """``log p(codes | condition) = sum_ij log softmax(logits)_ij[codes_ij]``, per grid ``(B,)``."""
        logits = self(codes, condition)
        return -F.cross_entropy(logits, codes, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], condition: Condition | int = None, temperature: float = 1.0,
               top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` grids of ``shape = (H, W)``, int64 ``(n, H, W)``, drawn in raster order, H*W passes.

        Each code is drawn from ``softmax(logits / temperature)``, restricted to the ``top_k``
        most likely codes when given (``top_k=1`` is the greedy path). ``condition`` is per grid
        (batch ``n``); a class may also be one int for all. The draws come from ``generator``
        (on the model's device) in raster order. Eval mode during sampling; the mode is restored.
        """
        if not _is_positive(n):
            raise ConfigError(f"GatedPixelCNN.sample: n must be a positive integer, got {n!r}")
        if not _is_sizes(shape):
            raise ConfigError(f"GatedPixelCNN.sample: shape must be (H, W), two positive integers, got {shape!r}; "
                              f"an MNIST VQ-VAE's code grid is shape=(7, 7)")
        if not (isinstance(temperature, (int, float)) and 0.0 < temperature < math.inf):
            raise ConfigError(f"GatedPixelCNN.sample: temperature must be positive and finite, got {temperature!r}; "
                              f"for the most likely codes pass top_k=1")
        if top_k is not None and not (_is_positive(top_k) and top_k <= self.codebook_size):
            raise ConfigError(f"GatedPixelCNN.sample: top_k must be None or an integer in [1, {self.codebook_size}] "
                              f"(codebook_size), got {top_k!r}")
        device = self.embed.weight.device
        if isinstance(condition, int) and not isinstance(condition, bool) and self.class_bias is not None:
            condition = torch.full((n,), condition, dtype=torch.long, device=device)

        training = self.training
        self.train(False)
        try:
            H, W = shape
            biases = self._biases(condition, n, H, W)  # the condition is processed once
            codes = torch.zeros(n, H, W, dtype=torch.long, device=device)
            for i in range(H):
                for j in range(W):
                    # Codes at and after (i, j) are placeholders that the logits at (i, j) never see.
                    logits = self._logits(codes, biases)[:, :, i, j] / temperature           # (n, K)
                    if top_k is not None:
                        kth = logits.topk(top_k, 1).values[:, -1:]                           # (n, 1)
                        logits = logits.masked_fill(logits < kth, -math.inf)
                    codes[:, i, j] = draw_categorical(logits.softmax(1), generator)
        finally:
            self.train(training)
        return codes

    def _logits(self, codes: torch.Tensor, biases: list[torch.Tensor | None]) -> torch.Tensor:
        x = self.embed(codes).permute(0, 3, 1, 2)                # (B, H, W, C) -> (B, C, H, W)
        v, h = x, x
        for layer, bias in zip(self.layers, biases):
            v, h = layer(v, h, bias)
        return self.head(h)                                      # (B, K, H, W)

    def _biases(self, condition: Condition, batch: int, H: int, W: int) -> list[torch.Tensor | None]:
        """Each layer's condition bias, ``(B, 4C, H, W)`` (or ``(B, 4C, 1, 1)`` for a class alone)."""
        classes, cmap = self._split(condition, batch)
        if classes is None and cmap is None:
            return [None] * self.n_layers
        bias = 0
        if classes is not None:
            bias = self.class_bias(classes)[:, :, None, None]                        # (B, L*4C, 1, 1)
        if cmap is not None:
            s = cmap
            for n, conv in enumerate(self.condition_net):                            # (B, Cc or C, h, w)
                s = conv(s) if n == 0 else s + conv(torch.relu(s))
            # A 1x1 convolution commutes with nearest upsampling, so it runs at the map's size.
            bias = bias + F.interpolate(self.map_bias(s), size=(H, W), mode="nearest")  # (B, L*4C, H, W)
        return list(bias.chunk(self.n_layers, 1))

    def _split(self, condition: Condition, batch: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The checked class ``(B, C)`` and map ``(B, Cc, h, w)`` floats of ``condition``, or None."""
        has_class, has_map = self.class_bias is not None, self.map_bias is not None
        if not (has_class or has_map):
            if condition is not None:
                raise GraphError("GatedPixelCNN: a condition was given but the model is unconditional; build it with "
                                 "condition_classes=C or a spatial condition (condition_size=...), or pass "
                                 "condition=None")
            return None, None
        wanted = " and ".join(w for w, on in (("a class", has_class), ("a spatial map", has_map)) if on)
        if condition is None:
            raise GraphError(f"GatedPixelCNN: the model is conditioned on {wanted}; pass condition="
                             + ("(classes, map)" if has_class and has_map else "..."))
        if has_class and has_map:
            if not (isinstance(condition, (tuple, list)) and len(condition) == 2):
                raise GraphError(f"GatedPixelCNN: the model is conditioned on {wanted}; pass condition=(classes, map), "
                                 f"got {type(condition).__name__}")
            classes, cmap = condition
        else:
            classes, cmap = (condition, None) if has_class else (None, condition)
        return (self._check_classes(classes, batch) if has_class else None,
                self._check_map(cmap, batch) if has_map else None)

    def _check_codes(self, codes: torch.Tensor) -> None:
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3 or 0 in codes.shape:
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise GraphError(f"GatedPixelCNN: codes must be a (B, H, W) grid, got {shape}; pass the quantizer's "
                             f"indices (B, H, W), not the codes' vectors")
        if codes.dtype != torch.long:
            raise GraphError(f"GatedPixelCNN: codes must be int64 indices, got dtype {codes.dtype}; pass codes.long()")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise GraphError(f"GatedPixelCNN: codes must lie in [0, {self.codebook_size}) (codebook_size), got values "
                             f"in [{int(codes.min())}, {int(codes.max())}]; build the model with codebook_size equal "
                             f"to the quantizer's")

    def _check_classes(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        C = self.condition_classes
        ok = isinstance(y, torch.Tensor) and (
            (y.dtype == torch.long and y.shape == (batch,) and bool(((y >= 0) & (y < C)).all()))
            or (y.is_floating_point() and y.shape == (batch, C)))
        if not ok:
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise GraphError(f"GatedPixelCNN: the class condition must be int64 indices ({batch},) in [0, {C}) or "
                             f"float one-hot vectors ({batch}, {C}), one per grid, got {got}")
        return F.one_hot(y, C).to(self.embed.weight.dtype) if y.dtype == torch.long else y

    def _check_map(self, m: torch.Tensor, batch: int) -> torch.Tensor:
        h, w = self.condition_size
        if self.condition_embed is not None:
            ok = (isinstance(m, torch.Tensor) and m.dtype == torch.long and m.shape == (batch, h, w)
                  and bool(((m >= 0) & (m < self.condition_codes)).all()))
            expected = f"int64 codes ({batch}, {h}, {w}) in [0, {self.condition_codes}) (condition_codes)"
        else:
            ok = (isinstance(m, torch.Tensor) and m.is_floating_point()
                  and m.shape == (batch, self.condition_channels, h, w))
            expected = f"floats ({batch}, {self.condition_channels}, {h}, {w}) (condition_channels, condition_size)"
        if not ok:
            got = f"{m.dtype} {tuple(m.shape)}" if isinstance(m, torch.Tensor) else type(m).__name__
            raise GraphError(f"GatedPixelCNN: the condition map must be {expected}, one per grid, got {got}; "
                             f"build the model with the map's condition_size, condition_codes or condition_channels")
        return self.condition_embed(m).permute(0, 3, 1, 2) if self.condition_embed is not None else m  # (B, Cc, h, w)


def _is_positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_sizes(values) -> bool:
    return isinstance(values, (tuple, list)) and len(values) == 2 and all(_is_positive(v) for v in values)
