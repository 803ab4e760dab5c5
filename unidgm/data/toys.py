"""2-D toy distributions on which mode collapse and coverage can be seen and counted.

- `ring8`: 8 Gaussians equally spaced on a circle of radius 2, std 0.02 (Metz, Poole,
  Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017, sec. 3.1).
- `grid25`: 25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std 0.05 (Srivastava, Valkov,
  Russell, Gutmann & Sutton, "VEEGAN", NeurIPS 2017, sec. 5.1).
- `swissroll`: the 2-D swiss roll, coordinates (t cos t, t sin t) for t in [1.5 pi, 4.5 pi]
  as in scikit-learn's ``make_swiss_roll`` (its x and z), scaled to about [-2, 2]
  (Sohl-Dickstein et al., "Deep Unsupervised Learning using Nonequilibrium
  Thermodynamics", ICML 2015, fig. 1).

Each returns a `DataSplits` with one key ``"x"`` of shape (N, 2), family ``"normal"``; the
mixtures also keep ``meta["centers"]`` (modes x 2 tensor) and ``meta["std"]`` for
"modes covered" metrics. All points come from one ``torch.Generator`` seeded with `seed`.
"""

from __future__ import annotations

import math

import torch

from unidgm.data.splits import DataSplits
from unidgm.errors import DataError

NUM_TRAIN = 20_000
NUM_VAL = 2_000
NUM_TEST = 2_000
# t in [1.5 pi, 4.5 pi] (scikit-learn's range) reaches |coordinate| <= 4.5 pi; this scale
# maps that onto [-2, 2].
SWISSROLL_SCALE = 2.0 / (4.5 * math.pi)


def _sizes(name: str, n: int, n_val: int, n_test: int) -> tuple[int, int, int]:
    if n < 1 or n_val < 0 or n_test < 0:
        raise DataError(
            f"dataset {name!r}: sizes n={n}, n_val={n_val}, n_test={n_test} must be n >= 1 "
            "and n_val, n_test >= 0."
        )
    return n, n_val, n_test


def _splits(name: str, x: torch.Tensor, sizes: tuple[int, int, int], meta: dict) -> DataSplits:
    """Cut (total, 2) points into train/val/test in that order."""
    train, val, test = torch.split(x, list(sizes))
    return DataSplits(
        name=name,
        train={"x": train},
        val={"x": val},
        test={"x": test},
        shapes={"x": (2,)},
        families={"x": "normal"},
        binarize=None,
        meta=meta,
    )


def gaussian_mixture(
    name: str, centers: torch.Tensor, std: float, sizes: tuple[int, int, int], seed: int
) -> DataSplits:
    """Equal-weight mixture of isotropic Gaussians with the given (modes, 2) `centers`."""
    generator = torch.Generator().manual_seed(seed)
    total = sum(sizes)
    mode = torch.randint(len(centers), (total,), generator=generator)
    x = centers[mode] + std * torch.randn(total, 2, generator=generator)
    return _splits(name, x, sizes, {"centers": centers, "std": float(std)})


def ring8(
    n: int = NUM_TRAIN,
    n_val: int = NUM_VAL,
    n_test: int = NUM_TEST,
    std: float = 0.02,
    radius: float = 2.0,
    seed: int = 0,
) -> DataSplits:
    """8 Gaussians equally spaced on a circle of `radius`; `n` training points."""
    sizes = _sizes("ring8", n, n_val, n_test)
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).to(torch.float32)
    return gaussian_mixture("ring8", centers, std, sizes, seed)


def grid25(
    n: int = NUM_TRAIN,
    n_val: int = NUM_VAL,
    n_test: int = NUM_TEST,
    std: float = 0.05,
    seed: int = 0,
) -> DataSplits:
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}^2; `n` training points."""
    sizes = _sizes("grid25", n, n_val, n_test)
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(ticks, ticks)  # (25, 2)
    return gaussian_mixture("grid25", centers, std, sizes, seed)


def swissroll(
    n: int = NUM_TRAIN,
    n_val: int = NUM_VAL,
    n_test: int = NUM_TEST,
    noise: float = 0.05,
    seed: int = 0,
) -> DataSplits:
    """2-D swiss roll scaled to about [-2, 2], with Gaussian `noise` (std, in the scaled
    units) added to each coordinate; `n` training points."""
    sizes = _sizes("swissroll", n, n_val, n_test)
    generator = torch.Generator().manual_seed(seed)
    total = sum(sizes)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(total, generator=generator))
    x = SWISSROLL_SCALE * torch.stack([t * t.cos(), t * t.sin()], dim=1)
    x = x + noise * torch.randn(total, 2, generator=generator)
    return _splits("swissroll", x, sizes, {"noise": float(noise)})
