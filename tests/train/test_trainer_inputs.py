"""What a user hands the Trainer and what it writes: every term in metrics.jsonl, fresh
batches for a phase's repeated steps, NumPy and float64 data, a split passed as the data,
run folders that are never replaced by accident, and TensorBoard."""

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unidgm.errors import ConfigError, DataError
from unidgm.train import Trainer


def test_metrics_hold_every_term_of_every_phase(fakes, data, quiet, tmp_path):
    Trainer(fakes.TinyVAE(), data, epochs=2, out=tmp_path, **quiet).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"train/elbo/loss", "train/elbo/elbo", "train/elbo/reconstruction", "train/elbo/kl"} <= set(records[0])
    assert records[0]["train/elbo/loss"] == pytest.approx(records[0]["train/loss"])


def test_several_phases_log_their_terms_apart(fakes, data, quiet, tmp_path):
    Trainer(fakes.TwoPhase(), data, max_steps=3, eval_every=3, monitor=None, out=tmp_path, **quiet).fit()
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert {"train/first/loss_a", "train/second/loss_b", "train/first", "train/second"} <= set(record)
    assert record["train/second"] == pytest.approx(record["train/second/loss_b"])
    assert record["train/loss"] == pytest.approx(record["train/second"])


def test_a_repeated_phase_step_draws_a_fresh_batch(fakes, quiet):
    """Gulrajani et al. 2017, Algorithm 1: every critic iteration samples real data anew."""
    data = fakes.FakeData(jitter=0.0)
    seen = []

    class Critic(fakes.TwoPhase):
        def loss(self, batch):
            if self.training:  # not the evaluations
                seen.append(batch["x"].clone())
            return super().loss(batch)

    Trainer(Critic(), data, max_steps=4, monitor=None, **quiet).fit()
    rows = {tuple(r.tolist()) for r in data.train["x"]}
    assert len(seen) == 4 * 3  # phase "first" once, phase "second" twice per step
    for step in range(4):
        first, second_a, second_b = seen[3 * step: 3 * step + 3]
        assert torch.equal(first, second_a)  # the step's own batch
        assert not torch.equal(second_a, second_b)  # the repeat reads another batch
        assert second_b.shape == second_a.shape and all(tuple(r.tolist()) in rows for r in second_b)


def test_numpy_and_float64_data_train(fakes, quiet):
    base = fakes.FakeData(jitter=0.0)
    numpy_data = SimpleNamespace(train={"x": base.train["x"].double().numpy()},
                                 val={"x": base.val["x"].double().numpy()}, test=None)
    trainer = Trainer(fakes.TinyVAE(), numpy_data, max_steps=3, **quiet)
    summary = trainer.fit()
    assert summary["steps"] == 3 and trainer._splits["train"]["x"].dtype == torch.float32
    float64 = SimpleNamespace(train={"x": base.train["x"].double()}, val=None, test=None)
    assert Trainer(fakes.TinyVAE(), float64, max_steps=2, monitor=None, **quiet).fit()["steps"] == 2


def test_a_split_passed_as_the_data_says_so(fakes, data, quiet):
    with pytest.raises(DataError, match=r"one split; pass the object holding the splits.*not Trainer\(model, "
                                        r"data\.train\)"):
        Trainer(fakes.TinyVAE(), data.train, **quiet)
    with pytest.raises(DataError, match=r"data.train\['x'\] is a str"):
        Trainer(fakes.TinyVAE(), SimpleNamespace(train={"x": "abc"}, val=None, test=None), **quiet)


def _files(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_fresh_run_never_replaces_a_run(fakes, data, quiet, tmp_path):
    Trainer(fakes.TinyVAE(), data, max_steps=3, out=tmp_path, **quiet).fit()
    before = _files(tmp_path)
    with pytest.raises(ConfigError, match=r"already holds a run \(last.pt, best.pt, metrics.jsonl\).*resume=True.*"
                                          r"overwrite=True.*new folder"):
        Trainer(fakes.TinyVAE(), data, max_steps=3, out=tmp_path, **quiet)
    with pytest.raises(ConfigError, match="batch_size"):  # a resume that does not fit is refused too
        Trainer(fakes.TinyVAE(), data, max_steps=6, out=tmp_path, resume=True, **{**quiet, "batch_size": 8})
    assert _files(tmp_path) == before
    # overwrite=True replaces it: no file of the old run is left (best.pt of another seed)
    Trainer(fakes.TinyVAE(seed=1), data, max_steps=2, out=tmp_path, overwrite=True, **quiet).fit()
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 2
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 2


def test_a_refused_monitor_writes_nothing(fakes, data, quiet, tmp_path):
    Trainer(fakes.TinyVAE(), data, max_steps=3, out=tmp_path, **quiet).fit()
    before = _files(tmp_path)
    trainer = Trainer(fakes.TinyVAE(), data, max_steps=6, out=tmp_path, resume=True, monitor="nope", **quiet)
    with pytest.raises(ConfigError, match="'monitor' = 'nope' is not a term"):
        trainer.fit()
    assert _files(tmp_path) == before


def test_tensorboard_logs_every_evaluation(fakes, data, quiet, tmp_path):
    pytest.importorskip("tensorboard")  # in the dev extra; the error without it is tested below
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(fakes.TinyVAE(), data, epochs=2, out=tmp_path, tensorboard=True, **quiet).fit()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/elbo/kl", "val/elbo"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val/elbo")] == [3, 6]


def test_tensorboard_missing_says_how_to_install(fakes, data, quiet, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    trainer = Trainer(fakes.TinyVAE(), data, epochs=1, out=tmp_path, tensorboard=True, **quiet)
    with pytest.raises(ConfigError, match=r"pip install tensorboard"):
        trainer.fit()
    with pytest.raises(ConfigError, match="tensorboard"):
        Trainer(fakes.TinyVAE(), data, epochs=1, tensorboard=True, **quiet)  # no out folder


def test_numpy_batches_reach_a_compiled_model():
    import unidgm
    from unidgm.nets import MLP

    g = unidgm.Graph("vae")
    g.visible("x", "bernoulli", shape=(6,))
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.generative("z", "x", MLP(2, [4], 6))
    g.inference("x", "z", MLP(6, [4], 4))
    model = unidgm.compile(g)
    x = np.random.default_rng(0).integers(0, 2, size=(5, 6)).astype(np.float64)
    torch.manual_seed(0)
    from_numpy = model.loss({"x": x})["loss"]
    torch.manual_seed(0)
    from_tensor = model.loss({"x": torch.as_tensor(x, dtype=torch.float32)})["loss"]
    assert from_numpy.dtype == torch.float32 and torch.equal(from_numpy, from_tensor)
    model.double()
    assert model.loss({"x": torch.as_tensor(x, dtype=torch.float32)})["loss"].dtype == torch.float64


def test_wgan_gp_critic_steps_each_read_fresh_real_data():
    import unidgm
    from unidgm.models import build

    model = unidgm.compile(build("wgan-gp", x_shape=(4,), hidden=(8,)))
    critic = next(p for p in model.phases if p.name == "discriminator")
    assert critic.steps == 5  # Gulrajani et al.'s n_critic
    data = SimpleNamespace(train={"x": torch.randn(64, 4)}, val=None, test=None)
    seen = []
    loss = model.loss

    def recording(batch, phase=None):
        if phase == "discriminator":
            seen.append(batch["x"].clone())
        return loss(batch, phase=phase)

    model.loss = recording
    Trainer(model, data, max_steps=2, batch_size=16, monitor=None, device="cpu", progress=False).fit()
    assert len(seen) == 10
    assert len({tuple(b.flatten().tolist()) for b in seen}) == 10  # no two critic steps share a batch


def test_a_budget_given_to_the_trainer_is_the_only_one(fakes, data, quiet):
    """Trainer(model, data, max_steps=N) trains N steps, not min(N, the default 10 epochs)."""
    trainer = Trainer(fakes.TinyVAE(), data, max_steps=10_000, **quiet)
    assert trainer.config.epochs is None and trainer.config.max_steps == 10_000
    assert Trainer(fakes.TinyVAE(), data, **quiet).config.epochs == 10  # no budget at all: 10 epochs
