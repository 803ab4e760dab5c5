"""Tiny stand-ins for a compiled model and a DataSplits, shared by the trainer tests.

They implement exactly the interface the Trainer relies on (``loss``, ``parameter_groups``,
``phases``, ``set_schedule_step``; ``train``/``val``/``test`` and ``prepare``), and draw
noise from torch's global RNG so that a resume which forgot an RNG state would show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch
from torch import nn


@dataclass(frozen=True)
class Phase:
    """Same fields as the compiled model's Phase."""

    name: str
    groups: tuple[str, ...]
    loss: str
    steps: int = 1


class TinyVAE(nn.Module):
    """A 2-D Gaussian VAE with a 2-D latent and linear maps; the KL term is warmed up over
    `warmup` global steps through `set_schedule_step`."""

    phases = [Phase("elbo", ("generative", "inference"), "loss")]

    def __init__(self, seed: int = 0, hidden: int = 2, warmup: int = 5):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.encoder = nn.Linear(2, 2 * hidden)
        self.decoder = nn.Linear(hidden, 2)
        self.log_sigma = nn.Parameter(torch.zeros(2))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=generator))
        self.warmup = warmup
        self.schedule_step = 0

    def set_schedule_step(self, step: int) -> None:
        self.schedule_step = step

    def parameter_groups(self):
        return {
            "generative": [*self.decoder.parameters(), self.log_sigma],
            "inference": list(self.encoder.parameters()),
            "adversarial": [],  # an empty group, which the Trainer must skip
        }

    def loss(self, batch):
        x = batch["x"]
        loc, log_scale = self.encoder(x).chunk(2, dim=-1)
        z = loc + log_scale.exp() * torch.randn_like(loc)
        x_loc = self.decoder(z)
        sigma = self.log_sigma.exp()
        reconstruction = (
            -0.5 * ((x - x_loc) / sigma) ** 2 - self.log_sigma - 0.5 * math.log(2 * math.pi)
        ).sum(-1)
        kl = 0.5 * (loc**2 + (2 * log_scale).exp() - 1 - 2 * log_scale).sum(-1)
        weight = min(1.0, (self.schedule_step + 1) / self.warmup)
        elbo = (reconstruction - kl).mean()
        return {
            "loss": -(reconstruction - weight * kl).mean(),
            "elbo": elbo,
            "reconstruction": reconstruction.mean(),
            "kl": kl.mean(),
        }


class NaNVAE(TinyVAE):
    """A TinyVAE whose loss turns NaN from global step `nan_at` (0-based) on."""

    def __init__(self, nan_at: int, **kwargs):
        super().__init__(**kwargs)
        self.nan_at = nan_at

    def loss(self, batch):
        terms = super().loss(batch)
        if self.training and self.schedule_step >= self.nan_at:
            terms["loss"] = terms["loss"] * float("nan")
            terms["kl"] = terms["kl"] * float("nan")
        return terms


class TwoPhase(nn.Module):
    """Two groups, each phase minimising a term that depends on both: phase "first" steps
    group "a" once, phase "second" steps group "b" twice. Each `loss` call records the
    parameters it saw, so a test can tell what each phase changed."""

    phases = [Phase("first", ("a",), "loss_a"), Phase("second", ("b",), "loss_b", steps=2)]

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor([1.0, -1.0]))
        self.b = nn.Parameter(torch.tensor([0.5, 2.0]))
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def parameter_groups(self):
        return {"a": [self.a], "b": [self.b]}

    def loss(self, batch):
        self.seen.append((self.a.detach().clone(), self.b.detach().clone()))
        x = batch["x"]
        noise = 0.1 * torch.randn_like(x)
        loss_a = ((x + noise - self.a - 0.5 * self.b) ** 2).sum(-1).mean()
        loss_b = ((x - 2 * self.b + 0.3 * self.a) ** 2).sum(-1).mean()
        return {"loss": loss_a + loss_b, "loss_a": loss_a, "loss_b": loss_b}


class FakeData:
    """train/val/test dicts of tensors and a `prepare` that jitters x with torch's global
    RNG, like dynamic binarization does."""

    def __init__(self, n_train: int = 40, n_val: int = 24, seed: int = 123, jitter: float = 0.05):
        generator = torch.Generator().manual_seed(seed)
        centers = torch.tensor([[2.0, 0.0], [-2.0, 1.0]])

        def draw(n):
            which = torch.randint(0, 2, (n,), generator=generator)
            return {"x": centers[which] + 0.3 * torch.randn(n, 2, generator=generator)}

        self.train = draw(n_train)
        self.val = draw(n_val) if n_val else {}
        self.test = {}
        self.jitter = jitter

    def prepare(self, batch):
        return {"x": batch["x"] + self.jitter * torch.randn_like(batch["x"])}


class Recorder:
    """A callback keeping every step's loss and the names of the events it saw."""

    def __init__(self):
        self.losses: list[torch.Tensor] = []
        self.events: list[str] = []
        self.evaluations: list[dict] = []

    def on_fit_start(self, trainer):
        self.events.append("fit_start")

    def on_step_end(self, trainer, step, terms):
        self.losses.append(terms["loss"].detach().clone())

    def on_evaluate(self, trainer, metrics):
        self.evaluations.append(metrics)

    def on_fit_end(self, trainer, summary):
        self.events.append("fit_end")


@pytest.fixture
def fakes():
    """The classes above, through a fixture rather than an import: conftest modules are not
    meant to be imported, and this keeps the tests independent of pytest's import mode."""
    return SimpleNamespace(
        Phase=Phase, TinyVAE=TinyVAE, NaNVAE=NaNVAE, TwoPhase=TwoPhase, FakeData=FakeData,
        Recorder=Recorder,
    )


@pytest.fixture
def data():
    return FakeData()


@pytest.fixture
def quiet():
    """Options every test uses: CPU, no progress bar, small batches."""
    return {"device": "cpu", "progress": False, "batch_size": 16, "eval_batch_size": 10}
