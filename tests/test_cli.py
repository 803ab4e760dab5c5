"""The `unidgm` command end to end on the embedded digits, and its error messages."""
import json
import subprocess
import sys

import pytest

from unidgm.cli import main


def test_help_of_every_command(capsys):
    for argv in (["--help"], ["list", "--help"], ["train", "--help"], ["sample", "--help"], ["eval", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    assert "--minutes" in capsys.readouterr().out


def test_list_names_the_catalogue(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("ae", "vae", "beta-vae", "iwae", "cvae", "hvae"):
        assert f"\n{name} " in "\n" + out


def test_train_sample_eval_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", "--data", "digits", "--epochs", "2", "--seed", "1", "--out", str(out),
                 "--quiet", "--set", "hidden=(32,)", "--latent-dim", "4"]) == 0
    for f in ("run.json", "config.json", "metrics.jsonl", "best.pt", "last.pt", "samples.png",
              "reconstructions.png", "traversal.png"):
        assert (out / f).stat().st_size > 0, f
    assert json.loads((out / "run.json").read_text())["model_options"] == {"hidden": [32], "latent_dim": 4}
    capsys.readouterr()
    assert main(["sample", str(out), "-o", str(tmp_path / "s.png"), "--n", "16"]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["eval", str(out), "--k", "20"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["examples"] == 297 and result["k"] == 20
    # The importance-sampled estimate is tighter than the ELBO on the same test set.
    assert result["test_elbo"] < result["test_log_likelihood"] < 0


def test_train_iwae_and_cvae_options(tmp_path, capsys):
    assert main(["train", "iwae", "--k", "3", "--epochs", "1", "--out", str(tmp_path / "i"), "--quiet",
                 "--set", "hidden=(16,)"]) == 0
    assert json.loads((tmp_path / "i" / "run.json").read_text())["objective_options"] == {"k": 3}
    assert main(["train", "cvae", "--epochs", "1", "--out", str(tmp_path / "c"), "--quiet",
                 "--set", "hidden=(16,)"]) == 0


def test_errors_are_one_line_with_the_fix(tmp_path, capsys):
    assert main(["train", "vea", "--epochs", "1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown model 'vea'" in capsys.readouterr().err
    assert main(["train", "vae", "--data", "cifar", "--out", str(tmp_path / "x")]) == 2
    assert "--data 'cifar'" in capsys.readouterr().err
    assert main(["train", "vae", "--set", "latent_dim", "--out", str(tmp_path / "x")]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["train", "vae", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "data-dir" in capsys.readouterr().err


def test_console_script_module_runs():
    r = subprocess.run([sys.executable, "-m", "unidgm.cli", "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "vae" in r.stdout


def _eval(capsys, run, *extra):
    capsys.readouterr()
    assert main(["eval", str(run), "--limit", "200", *extra]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_gan_on_the_ring_reports_modes(tmp_path, capsys):
    run = tmp_path / "gan"
    assert main(["train", "gan", "--data", "ring8", "--epochs", "1", "--out", str(run), "--quiet",
                 "--latent-dim", "2", "--set", "hidden=(32,)"]) == 0
    assert (run / "samples.png").exists() and not (run / "best.pt").exists()  # no held-out score: last.pt
    result = _eval(capsys, run)
    assert 0 <= result["modes_covered"] <= 8 and 0 <= result["high_quality_share"] <= 1
    assert "test_log_likelihood" not in result


def test_infogan_reports_code_accuracy_and_fid(tmp_path, capsys):
    run = tmp_path / "infogan"
    assert main(["train", "infogan", "--data", "digits", "--epochs", "1", "--out", str(run), "--quiet",
                 "--set", "hidden=(32,)", "--set", "noise_dim=4"]) == 0
    assert json.loads((run / "run.json").read_text())["binarize"] is None  # grey images for an implicit model
    assert (run / "codes.png").read_bytes()[:4] == b"\x89PNG"  # Chen et al.'s Fig. 2
    result = _eval(capsys, run)
    assert 0 < result["code_accuracy"] <= 1 and result["fid"] > 0
    assert 0 < result["generated_code_accuracy"] <= 1


def test_domain_adaptation_and_its_baseline(tmp_path, capsys):
    for flag, name in (([], "ada"), (["--source-only"], "so")):
        run = tmp_path / name
        assert main(["train", "ada", "--data", "digits", "--epochs", "15", "--lr", "1e-3", "--out", str(run), "--quiet",
                     "--set", "hidden=(32,)", *flag]) == 0
        result = _eval(capsys, run)
        assert 0 <= result["target_accuracy"] <= 1 and result["source_accuracy"] > 0.3  # chance is 0.1
    assert json.loads((tmp_path / "so" / "run.json").read_text())["objective_options"] == {"adversarial_weight": 0.0}


def test_domain_shift_flag_picks_the_target_domain(tmp_path):
    run = tmp_path / "inv"
    assert main(["train", "ada", "--data", "digits", "--epochs", "1", "--out", str(run), "--quiet",
                 "--set", "hidden=(16,)", "--domain-shift", "invert"]) == 0
    assert json.loads((run / "run.json").read_text())["domain_shift"] == "invert"
    colour = tmp_path / "color"
    assert main(["train", "ada", "--data", "digits", "--epochs", "1", "--out", str(colour), "--quiet",
                 "--set", "hidden=(16,)"]) == 0
    assert json.loads((colour / "run.json").read_text())["domain_shift"] == "color"  # the model's default


def test_semi_supervised_vae_with_a_few_labels(tmp_path, capsys):
    run = tmp_path / "ssvae"
    assert main(["train", "ssvae", "--data", "digits", "--labels", "50", "--epochs", "1", "--seed", "2", "--out",
                 str(run), "--quiet", "--set", "hidden=(32,)", "--latent-dim", "4"]) == 0
    assert json.loads((run / "run.json").read_text())["labels"] == 50
    for f in ("last.pt", "samples.png", "reconstructions.png", "analogies.png"):
        assert (run / f).stat().st_size > 0, f
    assert not (run / "best.pt").exists()  # no held-out choice that would read more labels than the 50
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= metrics[-1]["val/accuracy"] <= 1 and metrics[-1]["val/unlabelled"] == 0  # validation is labelled
    result = _eval(capsys, run, "--k", "5")
    assert 0 <= result["test_error"] <= 1 and result["test_log_likelihood"] < 0
    assert main(["train", "vae", "--labels", "10", "--epochs", "1", "--out", str(tmp_path / "v"), "--quiet"]) == 2
    assert "--labels 10: model 'vae' has no partially observed label" in capsys.readouterr().err
