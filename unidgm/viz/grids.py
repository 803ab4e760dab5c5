"""Pictures a person would rather look at than read: image grids and 2-D scatter plots,
written as PNG with matplotlib (imported here, where it is used)."""
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


def image_grid(images: torch.Tensor, nrow: int, pad: int = 1) -> torch.Tensor:
    """Tiles ``(N, C, H, W)`` images into one ``(H', W', C)`` array, ``nrow`` per row."""
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = images[i]
    return grid.permute(1, 2, 0).clamp(0, 1)


def save_image_grid(path, images: torch.Tensor, nrow: int) -> Path:
    """Writes a grid of ``(N, C, H, W)`` images in [0, 1] as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow)
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
