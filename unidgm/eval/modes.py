"""Mode coverage and sample quality on 2-D Gaussian mixtures (ring of 8, grid of 25).

The protocol of Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit
Variational Learning", NeurIPS 2017, Sec. 5.1, reused by Lin et al., "PacGAN", NeurIPS
2018, on the same ring and grid (the ring is that of Metz et al., "Unrolled Generative
Adversarial Networks", ICLR 2017; the grid that of Dumoulin et al., "Adversarially Learned
Inference", ICLR 2017):

* a sample is **high quality** if it lies within ``threshold`` (3) standard deviations of
  its nearest mixture centre (Euclidean distance <= threshold * std);
* a mode is **captured** if it is the nearest centre of at least one high-quality sample.

VEEGAN reports both numbers for 2,500 samples, averaged over five runs. `min_count`
generalises the "at least one" rule (default 1, VEEGAN's) to a stricter count, for example
to discount a mode hit by one or two stray samples in very large sample sets.
"""

from __future__ import annotations

import torch

from unidgm.errors import ConfigError, DataError


def mode_metrics(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    threshold: float = 3.0,
    min_count: int = 1,
) -> dict[str, float | int]:
    """Modes captured and share of high-quality samples (VEEGAN, Sec. 5.1).

    Args:
        samples: (N, D) generated points, e.g. 2,500 samples of a generator.
        centers: (M, D) mixture means, e.g. ``data.meta["centers"]`` of ``ring8``/``grid25``.
        std: the components' standard deviation, e.g. ``data.meta["std"]``.
        threshold: a sample within ``threshold * std`` of its nearest centre is high
            quality (VEEGAN: 3).
        min_count: a mode is covered when at least this many high-quality samples have it
            as their nearest centre (VEEGAN: 1).

    Returns:
        ``{"modes_covered": int, "high_quality_share": float}``; the share is in [0, 1].
    """
    samples = torch.as_tensor(samples).detach()
    centers = torch.as_tensor(centers).detach()
    if samples.dim() != 2 or samples.shape[0] == 0:
        raise DataError(
            f"mode_metrics: samples have shape {tuple(samples.shape)}; expected (N, D) with "
            "N >= 1, e.g. 2,500 generated points of shape (2500, 2)."
        )
    if centers.dim() != 2 or centers.shape[1] != samples.shape[1] or centers.shape[0] == 0:
        raise DataError(
            f"mode_metrics: centers have shape {tuple(centers.shape)} for samples of shape "
            f"{tuple(samples.shape)}; expected (M, {samples.shape[1]}), e.g. "
            "data.meta['centers']."
        )
    if not std > 0 or not threshold > 0:
        raise ConfigError(
            f"mode_metrics: std={std} and threshold={threshold} must both be > 0; pass "
            "data.meta['std'] of the mixture."
        )
    if min_count < 1:
        raise ConfigError(f"mode_metrics: min_count={min_count} must be >= 1 (VEEGAN uses 1).")
    samples = samples.to(torch.float64).cpu()
    centers = centers.to(torch.float64).cpu()
    distance, nearest = torch.cdist(samples, centers).min(dim=1)  # (N,), (N,)
    good = distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=centers.shape[0])  # (M,)
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "high_quality_share": float(good.double().mean()),
    }
