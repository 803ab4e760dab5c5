"""Pictures a person would rather look at than read: image grids and 2-D scatter plots,
written as PNG with matplotlib (imported here, where it is used).

Grids of small images are upscaled by nearest neighbour to a readable width, with one-pixel
mid-grey lines between the cells."""
from __future__ import annotations

import math
from pathlib import Path

import torch


def as_images(x: torch.Tensor, image_shape=None) -> torch.Tensor | None:
    """``x`` as ``(N, C, H, W)`` images, or None when it is not image-like. Flat vectors
    whose size is a square (784, 64) are read as one-channel square images."""
    x = x.detach().float().cpu()
    if image_shape is not None:
        return x.reshape((-1,) + tuple(image_shape))
    if x.dim() == 4:
        return x
    if x.dim() == 2:
        side = math.isqrt(x.shape[1])
        if side * side == x.shape[1] and side >= 4:
            return x.reshape(-1, 1, side, side)
    return None


SEPARATOR = 0.5
"""Grey level of the one-pixel lines between cells (and of empty cells): mid grey, which
stands out against black and against white, so that neither white-on-black digits nor
black-on-white strokes run into their neighbours."""

MIN_WIDTH = 256
"""Width in pixels below which :func:`save_image_grid` upscales a grid: an 8-wide grid of
8x8 digits (73 px) is unreadable on screen as written."""


def upscale_factor(width: int, ncol: int, pad: int = 1, min_width: int = MIN_WIDTH) -> int:
    """The smallest integer factor by which ``ncol`` cells of ``width`` pixels must be
    upscaled, with ``ncol + 1`` separators of ``pad`` pixels kept as they are, for the grid
    to be at least ``min_width`` pixels wide; 1 when it already is."""
    lines = (ncol + 1) * pad
    return max(1, math.ceil((min_width - lines) / (ncol * width)))


def image_grid(images: torch.Tensor, nrow: int, pad: int = 1, scale: int = 1) -> torch.Tensor:
    """Tiles ``(N, C, H, W)`` images into one ``(H', W', C)`` array in [0, 1], ``nrow`` per row.

    Each image is upscaled ``scale`` times by nearest neighbour (every pixel becomes a
    ``scale x scale`` block); the ``pad``-pixel lines around and between cells are not
    scaled and are mid grey (:data:`SEPARATOR`), as are the cells left empty in the last row.
    """
    if scale != 1:
        images = images.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), SEPARATOR)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid.permute(1, 2, 0).clamp(0, 1)


def save_image_grid(path, images: torch.Tensor, nrow: int, min_width: int = MIN_WIDTH) -> Path:
    """Writes a grid of ``(N, C, H, W)`` images in [0, 1] as a PNG, ``nrow`` per row.

    Cells are upscaled by the integer factor :func:`upscale_factor` gives (nearest
    neighbour, so each pixel stays a sharp square) until the grid is at least ``min_width``
    pixels wide; the separators stay one pixel. An 8-wide grid of 8x8 digits is upscaled
    x4 (265 px), of 28x28 MNIST x2 (457 px); a grid already wide enough is left as is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = images.detach().float().cpu()
    scale = upscale_factor(images.shape[-1], nrow, min_width=min_width)
    grid = image_grid(images, nrow, scale=scale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if grid.shape[-1] == 1:
        plt.imsave(path, grid[..., 0].numpy(), cmap="gray", vmin=0, vmax=1)
    else:
        plt.imsave(path, grid.numpy())
    return path


def save_scatter(path, points: torch.Tensor, reference: torch.Tensor | None = None, title: str = "") -> Path:
    """Writes a scatter of 2-D ``points`` (over grey ``reference`` points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        r = reference.detach().cpu()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.7", label="data")
    p = points.detach().cpu()
    ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:blue", label="model")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
