"""Held-out log-likelihood by importance sampling, and the held-out ELBO.

log p(x) is estimated with k draws from the inference network used as a proposal::

    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)

(Burda et al. 2016, Eq. 8 and Sec. 5; Rezende et al. 2014, App. E). The estimate is a
lower bound in expectation that tightens as k grows; k = 1000 is the common report for
MNIST. Particles are processed in chunks so memory stays bounded for large k.
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigError, DataError


def _check_support(model, data: dict, what: str) -> None:
    """Refuse values a likelihood cannot score as a probability (grey images under a
    Bernoulli node give a relaxation, not log p(x)); say how to binarize them."""
    for f in model.likelihoods:
        value = data.get(f.child)
        if value is not None and torch.is_tensor(value) and f.family.outside_support(value):
            raise DataError(
                f"{what}: data['{f.child}'] holds values other than 0 and 1, but node '{f.child}' is "
                f"{f.family.name}, whose log-likelihood is defined for binary values only; binarize the "
                f"images first as `unidgm eval` does, e.g. torch.manual_seed(0); held_out = data.prepare(data.test) "
                f"(a Bernoulli draw per pixel), or torch.bernoulli(x)")


def _batches(data: dict, batch_size: int):
    n = next(iter(data.values())).shape[0]
    for i in range(0, n, batch_size):
        yield {k: v[i:i + batch_size] for k, v in data.items()}, min(batch_size, n - i)


@torch.no_grad()
def log_likelihood(model, data: dict, k: int = 1000, batch_size: int = 100, chunk: int = 250) -> float:
    """Mean importance-sampled log p(x) over ``data`` (a dict of tensors), in nats. Binary
    images only under a Bernoulli likelihood: grey values raise `DataError`."""
    if k < 1:
        raise ConfigError(f"k (importance samples) must be >= 1, got {k}")
    _check_support(model, data, "log_likelihood")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch, b in _batches(data, batch_size):
            parts = []
            for start in range(0, k, chunk):
                parts.append(model.log_weights(batch, min(chunk, k - start)))  # (chunk, B)
            logw = torch.cat(parts, 0)
            total += (torch.logsumexp(logw, 0) - math.log(k)).sum().item()
            count += b
    finally:
        model.train(was_training)
    return total / count


@torch.no_grad()
def elbo(model, data: dict, batch_size: int = 500) -> float:
    """Mean single-sample ELBO, log p(x, z) - log q(z | x) with z ~ q, over ``data``."""
    _check_support(model, data, "elbo")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch, b in _batches(data, batch_size):
            total += model.log_weights(batch, 1).sum().item()
            count += b
    finally:
        model.train(was_training)
    return total / count
