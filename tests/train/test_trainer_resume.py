"""Exact resume: a run stopped and resumed gives bitwise the losses and parameters of a run
that never stopped, whether it stopped mid-epoch, at an epoch's end or on `minutes`."""

import shutil

import pytest
import torch

from unidgm.train import Trainer, load_checkpoint
from unidgm.train.metrics import MetricsLog

STEPS = 20  # 40 examples in batches of 16 -> 3 steps per epoch (16, 16, 8)


def _straight(fakes, data, quiet, tmp_path):
    recorder = fakes.Recorder()
    model = fakes.TinyVAE()
    Trainer(model, data, max_steps=STEPS, callbacks=[recorder], out=tmp_path / "straight",
            eval_every=4, **quiet).fit()
    return recorder.losses, model


def _assert_same(straight_losses, straight_model, first, second, model):
    losses = first.losses + second.losses
    assert len(losses) == len(straight_losses) == STEPS
    for step, (a, b) in enumerate(zip(losses, straight_losses), start=1):
        assert torch.equal(a, b), f"step {step}: {a.item()} != {b.item()}"
    for (name, p), q in zip(model.named_parameters(), straight_model.parameters()):
        assert torch.equal(p, q), name


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize(
    "stop, device",
    [(10, "cpu"), (9, "cpu"), pytest.param(10, "cuda", marks=CUDA)],
    ids=["mid-epoch", "epoch-end", "mid-epoch-cuda"],
)
def test_resume_is_bitwise_exact(fakes, data, quiet, tmp_path, stop, device):
    quiet = {**quiet, "device": device}
    straight_losses, straight_model = _straight(fakes, data, quiet, tmp_path)

    out = tmp_path / "stopped"
    first = fakes.Recorder()
    Trainer(fakes.TinyVAE(), data, max_steps=stop, callbacks=[first], out=out, eval_every=4,
            **quiet).fit()
    saved = load_checkpoint(out / "last.pt")
    assert saved["step"] == stop
    assert (saved["epoch"], saved["batch_in_epoch"]) == divmod(stop, 3)

    # A fresh model with other initial weights, and the RNG disturbed: the checkpoint
    # must restore everything.
    torch.manual_seed(999)
    second = fakes.Recorder()
    model = fakes.TinyVAE(seed=42)
    summary = Trainer(model, data, resume=True, out=out, max_steps=STEPS,
                      callbacks=[second]).fit()
    assert summary["steps"] == STEPS and summary["stopped_by"] == "max_steps"
    _assert_same(straight_losses, straight_model, first, second, model)


def test_minutes_stop_saves_last_and_resumes_exactly(fakes, data, quiet, tmp_path):
    straight_losses, straight_model = _straight(fakes, data, quiet, tmp_path)

    out = tmp_path / "timed"
    first = fakes.Recorder()
    summary = Trainer(fakes.TinyVAE(), data, minutes=1e-9, callbacks=[first], out=out,
                      eval_every=4, **quiet).fit()
    assert summary["stopped_by"] == "minutes"
    assert summary["steps"] == len(first.losses) >= 1
    assert load_checkpoint(out / "last.pt")["step"] == summary["steps"]

    second = fakes.Recorder()
    model = fakes.TinyVAE(seed=7)
    Trainer(model, data, resume=True, out=out, minutes=None, max_steps=STEPS,
            callbacks=[second]).fit()
    _assert_same(straight_losses, straight_model, first, second, model)


def test_resume_drops_metric_lines_after_the_checkpoint(fakes, data, quiet, tmp_path):
    out = tmp_path / "run"
    Trainer(fakes.TinyVAE(), data, max_steps=6, out=out, eval_every=4, **quiet).fit()
    shutil.copy(out / "last.pt", tmp_path / "step6.pt")
    Trainer(fakes.TinyVAE(), data, resume=True, out=out, max_steps=8).fit()
    assert [r["step"] for r in MetricsLog(out / "metrics.jsonl").read()] == [4, 6, 8]
    # Going back to the step-6 checkpoint forgets the lines written after it.
    Trainer(fakes.TinyVAE(), data, resume=tmp_path / "step6.pt", max_steps=10).fit()
    assert [r["step"] for r in MetricsLog(out / "metrics.jsonl").read()] == [4, 6, 8, 10]
