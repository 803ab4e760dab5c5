"""Fréchet distance between Gaussians fitted to network features, and the classifier-feature
FID built on it.

The Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2) is::

    d^2 = |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))

(Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", NeurIPS 2017, Eq. 6; Dowson & Landau, J. Multivariate Anal. 1982). FID fits
the Gaussians to a network's penultimate features of real and generated images. Heusel et
al. use Inception-v3's 2,048 pool features on natural images; for digits, `fid` uses the
features of the small `DigitClassifier` (`unidgm.eval.classifier`), so its values are
comparable only with other classifier-feature FIDs computed by the same classifier.

The matrix square root uses ``scipy.linalg.sqrtm`` with the usual numerical fixes of the
reference implementation (bioinf-jku/TTUR, mseitzer/pytorch-fid): when the product is
singular and the root is not finite, ``eps * I`` is added to both covariances; imaginary
parts from round-off are dropped when tiny and refused when not. Like any estimate from
samples, FID is biased upwards for small sample sizes: compare values computed from the
same number of images (Binkowski et al., "Demystifying MMD GANs", ICLR 2018, App. D).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

from unidgm.errors import ConfigError, DataError

# Largest |imaginary part| of the root's diagonal accepted as round-off (reference value).
IMAGINARY_TOLERANCE = 1e-3


def _as_array(value, name: str, ndim: int) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise DataError(
            f"frechet_distance: {name} has shape {array.shape}; expected "
            f"{'a vector (D,)' if ndim == 1 else 'a square matrix (D, D)'}."
        )
    return array


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al.
    2017, Eq. 6). Means (D,) and covariances (D, D) may be NumPy arrays or tensors; the
    sum is computed in float64. `eps` is the ridge added when the product is singular."""
    mu1, mu2 = _as_array(mu1, "mu1", 1), _as_array(mu2, "mu2", 1)
    sigma1, sigma2 = _as_array(sigma1, "sigma1", 2), _as_array(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataError(
            f"frechet_distance: shapes mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 "
            f"{mu2.shape}, sigma2 {sigma2.shape} disagree; both Gaussians need the same "
            "dimension D: means (D,) and covariances (D, D)."
        )
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # A singular product makes sqrtm warn; the result is checked and fixed below.
        warnings.simplefilter("ignore")
        root = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(root).all():
            ridge = eps * np.eye(d)
            root = linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    if not np.isfinite(root).all():
        raise DataError(
            "frechet_distance: the square root of sigma1 @ sigma2 is not finite even with "
            f"eps={eps}; check the covariances for NaN or infinite values."
        )
    if np.iscomplexobj(root):
        largest = np.max(np.abs(np.diagonal(root).imag))
        if largest > IMAGINARY_TOLERANCE:
            raise DataError(
                "frechet_distance: the square root of sigma1 @ sigma2 has imaginary parts "
                f"up to {largest:.3g}; the covariances are far from positive semi-definite "
                "or too ill-conditioned. Estimate them from more samples than feature "
                "dimensions, or raise eps."
            )
        root = root.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(root)
    return float(value)


@torch.no_grad()
def feature_statistics(
    classifier: torch.nn.Module, images: torch.Tensor, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D), float64 NumPy arrays, of
    ``classifier.features(images)``; the covariance is the unbiased sample covariance
    (divisor N - 1), as in the reference FID code."""
    if batch_size < 1:
        raise ConfigError(f"feature_statistics: batch_size={batch_size} must be >= 1.")
    if images.dim() < 2 or images.shape[0] < 2:
        raise DataError(
            f"feature_statistics: images of shape {tuple(images.shape)}; a covariance needs "
            "at least 2 images (N, ...), and FID needs thousands to be meaningful."
        )
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    try:
        parts = [
            classifier.features(images[i : i + batch_size].to(device)).double().cpu()
            for i in range(0, images.shape[0], batch_size)
        ]
    finally:
        classifier.train(was_training)
    features = torch.cat(parts).numpy()  # (N, D)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fid(
    classifier: torch.nn.Module,
    real_images: torch.Tensor,
    fake_images: torch.Tensor,
    batch_size: int = 500,
) -> float:
    """Classifier-feature FID: the Fréchet distance between Gaussians fitted to the
    classifier's penultimate features of `real_images` and of `fake_images` (Heusel et al.
    2017, Eq. 6, with `DigitClassifier` features in place of Inception's). Give both sets
    the same scale as the classifier's training data (grey values in [0, 1]) and, to
    compare runs, the same number of images."""
    mu1, sigma1 = feature_statistics(classifier, real_images, batch_size)
    mu2, sigma2 = feature_statistics(classifier, fake_images, batch_size)
    return frechet_distance(mu1, sigma1, mu2, sigma2)
