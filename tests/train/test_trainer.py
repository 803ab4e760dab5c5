"""The Trainer's loop: metrics, best checkpoint, NaN handling, phases, per-group lr, events."""

import json
import math

import pytest
import torch

from unidgm.errors import ConfigError, DataError, TrainingError
from unidgm.train import TrainConfig, Trainer, load_checkpoint


def test_metrics_lines_and_config_json(fakes, data, quiet, tmp_path):
    summary = Trainer(fakes.TinyVAE(), data, epochs=4, out=tmp_path, **quiet).fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == [3, 6, 9, 12]  # once per epoch of 3 steps
    assert [r["epoch"] for r in records] == [1.0, 2.0, 3.0, 4.0]
    for record in records:
        keys = {"step", "epoch", "time", "train/loss", "val/loss", "val/elbo", "val/kl"}
        assert keys <= set(record)
        assert all(math.isfinite(v) for v in record.values())
    # saved as resolved: the model (no training_defaults) gets the library's lr, betas and monitor
    assert TrainConfig.from_dict(json.loads((tmp_path / "config.json").read_text())) == TrainConfig(
        epochs=4, out=str(tmp_path), lr=1e-3, betas=(0.9, 0.999), monitor="elbo", **quiet
    )
    assert summary["steps"] == 12 and summary["stopped_by"] == "epochs"
    assert summary["paths"]["best"] == str(tmp_path / "best.pt")


@pytest.mark.parametrize("monitor, mode", [("elbo", "max"), ("kl", "min")])
def test_best_checkpoint_tracks_the_monitored_term(fakes, data, quiet, tmp_path, monitor, mode):
    Trainer(fakes.TinyVAE(), data, max_steps=24, eval_every=2, lr=0.05, monitor=monitor,
            monitor_mode=mode, out=tmp_path, **quiet).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    values = [r[f"val/{monitor}"] for r in records]
    pick = max if mode == "max" else min
    best_record = records[values.index(pick(values))]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == best_record["step"]
    assert best["best"] == pytest.approx(pick(values))
    assert load_checkpoint(tmp_path / "last.pt")["best"] == best["best"]
    # best.pt holds the weights that produced that value.
    model = fakes.TinyVAE()
    load_checkpoint(tmp_path / "best.pt", model)
    trainer = Trainer(model, data, **quiet)
    value = trainer.evaluate("val")[monitor]
    assert value == pytest.approx(best_record[f"val/{monitor}"], rel=1e-6)


def test_unknown_monitor_fails_before_training(fakes, data, quiet, tmp_path):
    trainer = Trainer(fakes.TinyVAE(), data, monitor="accuracy", out=tmp_path, **quiet)
    with pytest.raises(ConfigError, match="'monitor'.*'accuracy'.*'elbo'"):
        trainer.fit()
    assert trainer.global_step == 0


@pytest.mark.parametrize("log_every, eval_every, last_good", [(1, 2, 4), (50, 3, 3)])
def test_nan_loss_stops_and_keeps_last_good_checkpoints(
    fakes, data, quiet, tmp_path, log_every, eval_every, last_good
):
    model = fakes.NaNVAE(nan_at=5)  # the 6th step is the first non-finite one
    trainer = Trainer(model, data, max_steps=20, log_every=log_every, eval_every=eval_every,
                      out=tmp_path, **quiet)
    with pytest.raises(TrainingError, match="step 6") as info:
        trainer.fit()
    message = str(info.value)
    assert "kl" in message and str(tmp_path / "last.pt") in message
    for name in ("last.pt", "best.pt"):
        state = load_checkpoint(tmp_path / name)
        assert state["step"] <= last_good
        assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert load_checkpoint(tmp_path / "last.pt")["step"] == last_good


def test_two_phases_each_step_only_their_group(fakes, data, quiet):
    model = fakes.TwoPhase()
    trainer = Trainer(model, data, optimizer="sgd", lr=0.1, **quiet)
    assert set(trainer.optimizers) == {"first", "second"}
    a0, b0 = model.a.detach().clone(), model.b.detach().clone()
    terms = trainer.step({"x": data.train["x"][:8]})
    assert set(terms) == {"loss", "loss_a", "loss_b"} and trainer.global_step == 1
    # loss calls: before "first", then before each of the two "second" steps.
    assert len(model.seen) == 3
    (a_1, b_1), (a_2, b_2), (a_3, b_3) = model.seen
    assert torch.equal(a_1, a0) and torch.equal(b_1, b0)
    assert not torch.equal(a_2, a_1) and torch.equal(b_2, b_1)  # "first" moved a only
    assert torch.equal(a_3, a_2) and not torch.equal(b_3, b_2)  # "second" moved b only
    assert torch.equal(model.a, a_3) and not torch.equal(model.b, b_3)


def test_multi_phase_fit_reports_each_phase(fakes, data, quiet, tmp_path):
    Trainer(fakes.TwoPhase(), data, max_steps=6, eval_every=3, monitor="loss",
            monitor_mode="min", out=tmp_path, **quiet).fit()
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"train/loss", "train/first", "train/second", "val/loss_a"} <= set(record)


def test_per_group_learning_rates(fakes, data, quiet):
    model = fakes.TinyVAE()
    trainer = Trainer(model, data, lr=1e-2, lr_groups={"inference": 0.0}, **quiet)
    (group_gen, group_inf) = trainer.optimizers["elbo"].param_groups  # the empty group skipped
    assert (group_gen["group"], group_gen["lr"]) == ("generative", 1e-2)
    assert (group_inf["group"], group_inf["lr"]) == ("inference", 0.0)
    encoder = [p.detach().clone() for p in model.encoder.parameters()]
    decoder = [p.detach().clone() for p in model.decoder.parameters()]
    for _ in range(3):
        trainer.step({"x": data.train["x"][:8]})
    assert all(torch.equal(p, q) for p, q in zip(model.encoder.parameters(), encoder))
    assert not all(torch.equal(p, q) for p, q in zip(model.decoder.parameters(), decoder))


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_lr_schedule_follows_the_budget(fakes, data, quiet, schedule):
    """The learning rate at step t of T is lr * (1 + cos(pi t/T)) / 2 (cosine) or
    lr * (1 - t/T) (linear), for each group from its own rate."""
    class Rates:
        def __init__(self):
            self.seen = []

        def on_step_end(self, trainer, step, terms):
            self.seen.append([g["lr"] for g in trainer.optimizers["elbo"].param_groups])

    rates, T = Rates(), 8
    Trainer(fakes.TinyVAE(), data, max_steps=T, lr=1e-2, lr_groups={"inference": 4e-3}, lr_schedule=schedule,
            callbacks=[rates], **quiet).fit()
    for t, (gen, inf) in enumerate(rates.seen):
        factor = 0.5 * (1 + math.cos(math.pi * t / T)) if schedule == "cosine" else 1 - t / T
        assert gen == pytest.approx(1e-2 * factor) and inf == pytest.approx(4e-3 * factor)
    assert len(rates.seen) == T and rates.seen[-1][0] < 1e-2 * 0.2


def test_lr_schedule_over_epochs_and_minutes(fakes, data, quiet):
    trainer = Trainer(fakes.TinyVAE(), data, epochs=2, minutes=10.0, lr_schedule="linear", **quiet)
    trainer.fit()
    assert trainer.budget_fraction() == 1.0  # two epochs done: the nearest limit
    assert trainer.optimizers["elbo"].param_groups[0]["lr"] < 1e-3 / trainer.steps_per_epoch * 1.01
    with pytest.raises(ConfigError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")


def test_events_and_schedule_step(fakes, data, quiet):
    class OnlyEnd:  # defines one event: the others must not be looked for
        def __init__(self):
            self.summary = None

        def on_fit_end(self, trainer, summary):
            self.summary = summary

    recorder, only_end = fakes.Recorder(), OnlyEnd()
    model = fakes.TinyVAE()
    Trainer(model, data, max_steps=5, eval_every=2, callbacks=[recorder, only_end], **quiet).fit()
    assert recorder.events == ["fit_start", "fit_end"]
    assert len(recorder.losses) == 5
    assert [m["step"] for m in recorder.evaluations] == [2, 4, 5]
    assert only_end.summary["steps"] == 5
    assert model.schedule_step == 4  # set before each step: 0, 1, ..., 4


def test_evaluate_is_repeatable_and_leaves_training_untouched(fakes, data, quiet):
    model = fakes.TinyVAE()
    trainer = Trainer(model, data, **quiet)
    model.train()
    torch.manual_seed(3)
    before = torch.get_rng_state()
    first, second = trainer.evaluate("val"), trainer.evaluate()
    assert first == second and set(first) == {"loss", "elbo", "reconstruction", "kl"}
    assert torch.equal(torch.get_rng_state(), before) and model.training
    with pytest.raises(DataError, match="data.test is empty"):
        trainer.evaluate("test")


def test_evaluate_weights_batches_by_size(data, quiet):
    class Mean(torch.nn.Module):  # deterministic: the term is the batch mean of x[:, 0]
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def loss(self, batch):
            return {"loss": self.w * batch["x"][:, 0].mean()}

    data.prepare = lambda batch: batch
    trainer = Trainer(Mean(), data, **quiet)  # 24 rows in batches of 10, 10, 4
    expected = data.val["x"][:, 0].double().mean().item()
    assert trainer.evaluate()["loss"] == pytest.approx(expected, abs=1e-6)


def test_no_val_split_still_logs_and_saves(fakes, quiet, tmp_path):
    data = fakes.FakeData(n_val=0)
    summary = Trainer(fakes.TinyVAE(), data, epochs=2, out=tmp_path, **quiet).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6] and "train/loss" in records[0]
    assert summary["best"] is None and (tmp_path / "last.pt").exists()
    assert not (tmp_path / "best.pt").exists()


def test_grad_clip_and_optimizers_run(fakes, data, quiet):
    for optimizer in ("adam", "adamw", "sgd"):
        summary = Trainer(fakes.TinyVAE(), data, max_steps=3, optimizer=optimizer,
                          grad_clip=0.5, **quiet).fit()
        assert summary["steps"] == 3 and math.isfinite(summary["best"])


def test_step_never_reads_values_back(fakes, data, quiet, monkeypatch):
    """The hot path must not sync with the device: no .item() or .tolist() in a step."""
    trainer = Trainer(fakes.TinyVAE(), data, optimizer="sgd", **quiet)
    batch = {"x": data.train["x"][:8]}

    def forbidden(*args, **kwargs):
        raise AssertionError("a training step read a tensor value back")

    monkeypatch.setattr(torch.Tensor, "item", forbidden)
    monkeypatch.setattr(torch.Tensor, "tolist", forbidden)
    for _ in range(3):
        trainer.step(batch)
    assert trainer.global_step == 3


@pytest.mark.parametrize("limits", [{"max_steps": 4}, {"minutes": 1e-9}])
def test_progress_bar_over_steps_or_time(fakes, data, quiet, capsys, limits):
    options = {**quiet, "progress": True, "log_every": 1}
    Trainer(fakes.TinyVAE(), data, **limits, **options).fit()
    err = capsys.readouterr().err
    assert ("step" if "max_steps" in limits else "s") in err and "loss=" in err
