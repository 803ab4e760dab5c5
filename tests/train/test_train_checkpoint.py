"""Checkpoints: atomic writes, weights_only loading, clear errors for bad files."""

import os

import numpy as np
import pytest
import torch

from unidgm.errors import CheckpointError
from unidgm.train import Trainer, load_checkpoint, save_checkpoint
from unidgm.train.checkpoint import REQUIRED_KEYS


def _minimal_state(model):
    return {
        "format": "unidgm-checkpoint", "version": 1, "model": model.state_dict(),
        "optimizers": {}, "step": 0, "epoch": 0, "batch_in_epoch": 0,
        "shuffle_state": torch.Generator().get_state(), "rng": {}, "best": None, "config": {},
    }


def test_atomic_write_leaves_only_the_target(tmp_path, fakes):
    path = tmp_path / "run" / "last.pt"
    for _ in range(2):  # the second write replaces the first
        save_checkpoint(path, _minimal_state(fakes.TinyVAE()))
    assert sorted(os.listdir(path.parent)) == ["last.pt"]


def test_refusing_non_plain_data_writes_nothing(tmp_path, fakes):
    state = _minimal_state(fakes.TinyVAE())
    state["extra"] = np.float64(1.0)  # a float subclass that pickles as a NumPy object
    with pytest.raises(CheckpointError, match=r"\['extra'\].*numpy"):
        save_checkpoint(tmp_path / "last.pt", state)
    assert os.listdir(tmp_path) == []


def test_trainer_checkpoint_loads_with_weights_only(tmp_path, fakes, data, quiet):
    Trainer(fakes.TinyVAE(), data, max_steps=3, out=tmp_path, **quiet).fit()
    raw = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=True)
    assert set(REQUIRED_KEYS) <= set(raw)
    assert raw["format"] == "unidgm-checkpoint" and raw["version"] == 1
    assert raw["step"] == 3 and set(raw["optimizers"]) == {"elbo"}
    assert isinstance(raw["rng"]["torch"], torch.Tensor)
    assert isinstance(raw["shuffle_state"], torch.Tensor)
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt.*does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file(tmp_path, fakes):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _minimal_state(fakes.TinyVAE()))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="last.pt.*truncated or corrupted"):
        load_checkpoint(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="noise.pt"):
        load_checkpoint(path)


def test_not_a_unidgm_checkpoint_and_missing_keys(tmp_path, fakes):
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, other)
    with pytest.raises(CheckpointError, match="other.pt.*not a unidgm checkpoint"):
        load_checkpoint(other)
    partial = tmp_path / "partial.pt"
    state = _minimal_state(fakes.TinyVAE())
    del state["rng"]
    save_checkpoint(partial, state)
    with pytest.raises(CheckpointError, match=r"partial.pt.*\['rng'\]"):
        load_checkpoint(partial)


def test_model_mismatch(tmp_path, fakes):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _minimal_state(fakes.TinyVAE(hidden=2)))
    with pytest.raises(CheckpointError, match="last.pt.*does not match the model"):
        load_checkpoint(path, fakes.TinyVAE(hidden=3))
    model = fakes.TinyVAE(seed=5)
    load_checkpoint(path, model)  # same architecture: loads


def test_resume_into_a_different_model_raises(tmp_path, fakes, data, quiet):
    Trainer(fakes.TinyVAE(hidden=2), data, max_steps=2, out=tmp_path, **quiet).fit()
    with pytest.raises(CheckpointError, match="does not match the model"):
        Trainer(fakes.TinyVAE(hidden=3), data, resume=True, out=tmp_path, **quiet)


def test_resume_without_checkpoint_says_so(tmp_path, fakes, data, quiet):
    with pytest.raises(CheckpointError, match="last.pt.*does not exist"):
        Trainer(fakes.TinyVAE(), data, resume=True, out=tmp_path, **quiet)
