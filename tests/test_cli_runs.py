"""Run folders from the command line: never lost, readable afterwards (curves, describe,
render, plot), and what a newcomer sees off a terminal."""
import hashlib
import json

import pytest

from unidgm.cli import main

SMALL = ["--data", "digits", "--quiet", "--set", "hidden=(16,)", "--latent-dim", "3"]


def _files(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "vae", "--epochs", "2", "--out", str(out), *SMALL]) == 0
    return out


def test_train_writes_curves(run):
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"train/elbo/reconstruction", "train/elbo/kl", "val/elbo"} <= set(record)


def test_a_run_folder_is_never_lost(run, capsys):
    before = _files(run)
    # a second fresh run into the folder
    assert main(["train", "vae", "--epochs", "1", "--out", str(run), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err and err.count("\n") == 1
    # a resume whose model options differ from run.json
    assert main(["train", "vae", "--epochs", "3", "--out", str(run), "--resume", "--data", "digits", "--quiet",
                 "--set", "hidden=(16,)", "--latent-dim", "4"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "model_options" in err and "latent_dim" in err
    # a resume whose batch size differs from the checkpoint's
    assert main(["train", "vae", "--epochs", "3", "--out", str(run), "--resume", "--batch-size", "64", *SMALL]) == 2
    assert "batch_size" in capsys.readouterr().err
    assert _files(run) == before


def test_overwrite_replaces_every_file_of_the_old_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", "--epochs", "1", "--out", str(out), *SMALL]) == 0
    assert main(["eval", str(out), "--k", "2", "--limit", "10"]) == 0
    assert (out / "eval.json").exists()
    assert main(["train", "ae", "--epochs", "1", "--out", str(out), "--overwrite", "--data", "digits", "--quiet",
                 "--set", "hidden=(16,)"]) == 0
    assert not (out / "eval.json").exists()  # the old run's figures went with it
    assert json.loads((out / "run.json").read_text())["model"] == "ae"
    assert main(["train", "vae", "--epochs", "1", "--out", str(out), "--resume", "--overwrite", *SMALL]) == 2


def test_describe_and_render_read_a_run_folder(run, tmp_path, capsys):
    assert main(["describe", str(run)]) == 0
    text = capsys.readouterr().out
    # the model as trained: the digits' 8x8 images and the run's 3 latent dimensions, not the defaults
    assert "x  visible    bernoulli (1, 8, 8)" in text and "z  latent     normal (3,)" in text
    assert main(["render", str(run), "-o", str(tmp_path / "d.dot")]) == 0
    assert "digraph" in (tmp_path / "d.dot").read_text()
    assert main(["describe", str(run), "--set", "latent_dim=5"]) == 2
    assert "run folder" in capsys.readouterr().err


def test_plot_overlays_two_runs(run, tmp_path, capsys):
    other = tmp_path / "iwae"
    assert main(["train", "iwae", "--epochs", "1", "--k", "2", "--out", str(other), *SMALL]) == 0
    assert main(["plot", str(run), str(other), "-o", str(tmp_path / "both.png")]) == 0
    assert (tmp_path / "both.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(run), "-o", str(tmp_path / "one.svg")]) == 0
    assert (tmp_path / "one.svg").read_text().lstrip().startswith("<?xml")
