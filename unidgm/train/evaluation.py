"""Evaluation: the mean of every term of ``model.loss`` over a split.

Evaluation runs with ``model.eval()`` and ``torch.no_grad()`` and draws from its own random
stream, seeded by the run's seed inside `torch.random.fork_rng`: two evaluations of the same
weights give the same numbers (so val curves and best-checkpoint choices are not noise), and
the training stream is left exactly where it was, which exact resume relies on.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


@contextlib.contextmanager
def evaluating(model: nn.Module, device: torch.device, seed: int):
    """Eval mode, no gradients and a forked RNG seeded by `seed`; all undone on exit."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.default_generator.manual_seed(seed)
            for index in devices:
                torch.cuda.default_generators[index].manual_seed(seed)
            yield
    finally:
        model.train(was_training)


def mean_terms(model, tensors, prepare, batch_size: int, device, seed: int) -> dict[str, float]:
    """Every scalar term of ``model.loss`` averaged over the rows of `tensors` (a non-empty
    dict of tensors), each batch weighted by its size, so a last partial batch counts for
    what it holds. One device sync at the end."""
    n = int(next(iter(tensors.values())).shape[0])
    totals: dict[str, torch.Tensor] = {}
    with evaluating(model, device, seed):
        for start in range(0, n, batch_size):
            batch = prepare({k: v[start : start + batch_size] for k, v in tensors.items()})
            rows = min(batch_size, n - start)
            for key, value in model.loss(batch).items():
                if value.numel() == 1:  # diagnostics that are not scalars are not averaged
                    value = value.detach().double().reshape(()) * rows
                    totals[key] = totals[key] + value if key in totals else value
    if not totals:
        return {}
    values = (torch.stack(list(totals.values())) / n).tolist()
    return dict(zip(totals, values))


def term_names(model, tensors, prepare, device, seed: int) -> list[str]:
    """The names of the terms ``model.loss`` returns, from a two-row probe batch."""
    with evaluating(model, device, seed):
        return list(model.loss(prepare({k: v[:2] for k, v in tensors.items()})))
