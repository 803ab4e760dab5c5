"""Learning curves from metrics.jsonl: reading, the panel layout, the figures, comparisons."""
import json

import matplotlib
import matplotlib.image
import pytest

from unidgm.errors import ConfigError, DataError
from unidgm.viz.curves import (comparison_figure, curves_figure, panels, read_metrics, run_labels, shared_keys,
                               write_comparison, write_curves, y_scale)


def _vae(step, loss=100.0):
    return {"step": step, "epoch": step / 10, "time": 0.1 * step, "train/loss": loss,
            "train/train/loss": loss, "train/train/reconstruction": loss - 20, "train/train/kl": 20.0,
            "val/loss": loss - 1, "val/elbo": -(loss - 1), "val/reconstruction": loss - 21, "val/kl": 20.0}


def _adversarial(step):
    return {"step": step, "epoch": 1.0, "time": 1.0, "train/loss": 0.7,
            "train/discriminator": 1.38, "train/generator": 0.7,
            "train/discriminator/loss": 1.38, "train/discriminator/discriminator": 1.38,
            "train/generator/loss": 0.7, "train/generator/generator": 0.7, "train/generator/reconstruction": 30.0,
            "val/loss": 0.7, "val/discriminator": 1.3, "val/divergence": -1.3, "val/accuracy": 0.5}


def _old(step):
    return {"step": step, "epoch": 1.0, "time": 1.0, "train/loss": 5.7, "train/wake": 14.2, "train/sleep": 5.7,
            "val/wake": 14.0, "val/elbo": -8.6, "val/sleep": 5.8, "val/loss": 19.8}


def _run(folder, records, tail=""):
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return folder


def _titles(fig):
    return [ax.get_title() for ax in fig.axes if ax.get_visible()]


# --------------------------------------------------------------------- reading


def test_read_metrics_skips_a_last_line_cut_short(tmp_path):
    run = _run(tmp_path / "vae", [_vae(10), _vae(20)], tail='{"step": 30, "train/lo')
    assert [r["step"] for r in read_metrics(run)] == [10, 20]
    assert read_metrics(run / "metrics.jsonl") == read_metrics(run)


def test_read_metrics_says_what_is_wrong_with_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"metrics.jsonl is missing: '.*nothing' is not a run folder"):
        read_metrics(tmp_path / "nothing")
    with pytest.raises(DataError, match="is empty"):
        read_metrics(_run(tmp_path / "empty", []))
    with pytest.raises(DataError, match="is empty"):
        read_metrics(_run(tmp_path / "cut", [], tail='{"step": 1'))
    bad = _run(tmp_path / "bad", [_vae(1)], tail='not json\n' + json.dumps(_vae(2)) + "\n")
    with pytest.raises(DataError, match="line 2"):
        read_metrics(bad)


# ---------------------------------------------------------------------- panels


def test_panels_of_one_phase():
    assert panels([_vae(10), _vae(20)]) == {
        "train": ["train/train/loss", "train/train/reconstruction", "train/train/kl"],
        "validation": ["val/loss", "val/elbo", "val/reconstruction", "val/kl"],
    }


def test_panels_of_two_adversarial_phases():
    assert panels([_adversarial(5)]) == {
        "train: discriminator": ["train/discriminator/loss", "train/discriminator/discriminator"],
        "train: generator": ["train/generator/loss", "train/generator/generator", "train/generator/reconstruction"],
        "validation": ["val/loss", "val/discriminator", "val/divergence", "val/accuracy"],
    }


def test_panels_of_old_runs():
    assert panels([_old(4)]) == {"train": ["train/wake", "train/sleep"],
                                 "validation": ["val/wake", "val/elbo", "val/sleep", "val/loss"]}
    single = [{"step": 1, "epoch": 1.0, "time": 0.1, "train/loss": 5.0, "val/loss": 4.0, "val/kl": 1.0}]
    assert panels(single) == {"train": ["train/loss"], "validation": ["val/loss", "val/kl"]}
    assert panels([{"step": 1, "train/loss": 5.0}]) == {"train": ["train/loss"]}


def test_panels_keep_null_keys_and_drop_non_numbers():
    records = [{"step": 1, "train/loss": None, "val/kl": None, "val/note": "x", "test/loss": 2.0, "lr": 0.1},
               {"step": 2, "train/loss": 3.0, "val/kl": 1.0, "val/note": "y", "test/loss": 1.0, "lr": 0.1}]
    assert panels(records) == {"train": ["train/loss"], "test": ["test/loss"], "other": ["lr"],
                               "validation": ["val/kl"]}


def test_y_scale():
    assert y_scale([[100.0, 90.0], [20.0, 18.0]]) == ("linear", {})
    assert y_scale([[-100.0, 0.01]]) == ("linear", {})  # both signs: a log scale would hide zero
    assert y_scale([[5000.0, 300.0, 30.0, None]]) == ("symlog", {"linthresh": 10.0})
    assert y_scale([[None], []]) == ("linear", {})


# --------------------------------------------------------------------- figures


def test_write_curves_writes_a_png_of_sensible_size(tmp_path):
    run = _run(tmp_path / "vae", [_vae(10 * i, 150.0 - i) for i in range(1, 30)])
    path = write_curves(run, tmp_path / "out" / "curves.png")
    assert path == tmp_path / "out" / "curves.png" and path.read_bytes()[:4] == b"\x89PNG"
    image = matplotlib.image.imread(path)
    assert 600 <= image.shape[1] <= 2000 and 400 <= image.shape[0] <= 2000
    assert image[..., :3].std() > 0.05  # not a blank page
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no temporary file left


def test_one_plot_per_term_titled_by_the_term_with_equal_terms_merged():
    fig = curves_figure([_vae(10, 120.0), _vae(20, 110.0)], title="vae")
    assert _titles(fig) == ["loss", "reconstruction", "kl", "loss = \u2212elbo", "reconstruction", "kl"]
    assert [sub.get_suptitle() for sub in fig.subfigs] == ["train", "validation"]
    assert all(ax.get_xlabel() == "step" for ax in fig.axes if ax.get_visible())
    adversarial = curves_figure([_adversarial(5), _adversarial(10)])
    assert _titles(adversarial) == ["loss = discriminator", "loss = generator", "reconstruction",
                                    "loss", "discriminator = \u2212divergence", "accuracy"]


def test_a_single_evaluation_plots_as_markers(tmp_path):
    fig = curves_figure([_old(3)])
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert lines and all(line.get_marker() == "o" and len(line.get_xdata()) == 1 for line in lines)
    path = write_curves([_old(3)], tmp_path / "one.svg")
    assert "<svg" in path.read_text()


def test_nulls_leave_gaps_and_a_term_never_finite_is_marked(tmp_path):
    records = [_vae(10), _vae(20), _vae(30)]
    records[1]["val/kl"] = None
    for r in records:
        r["train/train/kl"] = None
    fig = curves_figure(records)
    titles = _titles(fig)
    assert "kl (no finite value)" in titles
    kl = next(ax for ax in fig.axes if ax.get_title() == "kl")  # the validation one
    assert [str(v) for v in kl.get_lines()[0].get_ydata()] == ["20.0", "nan", "20.0"]
    assert matplotlib.image.imread(write_curves(records, tmp_path / "nulls.png")).shape[1] > 300


def test_write_curves_refuses_what_it_cannot_plot(tmp_path):
    with pytest.raises(DataError, match="no records"):
        write_curves([], tmp_path / "c.png")
    with pytest.raises(DataError, match="no metric besides step"):
        write_curves([{"step": 1, "epoch": 1.0, "time": 0.1}], tmp_path / "c.png")
    with pytest.raises(ConfigError, match=r"\.png, \.svg or \.pdf"):
        write_curves([_vae(1)], tmp_path / "c.jpeg")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ comparisons


def test_comparison_lines_are_labelled_by_folder_name(tmp_path):
    ws = _run(tmp_path / "ws", [_old(10), _old(20)])
    rws = _run(tmp_path / "rws", [{"step": s, "train/loss": 4.0, "val/loss": 18.0, "val/elbo": -8.0, "val/iwae": -7.9}
                                  for s in (10, 20)])
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, to read back
        path = write_comparison([ws, rws], tmp_path / "cmp.svg")
    text = path.read_text()
    assert ">ws<" in text and ">rws<" in text and "val/elbo" in text
    fig = comparison_figure({"ws": read_metrics(ws), "rws": read_metrics(rws)})
    assert _titles(fig) == ["val/elbo", "val/loss", "train/loss"]
    assert all([t.get_text() for t in ax.get_legend().get_texts()] == ["ws", "rws"] for ax in fig.axes
               if ax.get_visible())
    png = write_comparison([ws, rws], tmp_path / "cmp.png", keys=["val/loss"], labels=["wake-sleep", "RWS"])
    assert matplotlib.image.imread(png).shape[1] > 300


def test_no_shared_key_says_what_each_run_has(tmp_path):
    a = _run(tmp_path / "a", [{"step": 1, "val/elbo": -3.0}])
    b = _run(tmp_path / "b", [{"step": 1, "val/iwae": -2.0}])
    with pytest.raises(DataError, match=r"a: val/elbo; b: val/iwae.*keys="):
        write_comparison([a, b], tmp_path / "c.png")
    with pytest.raises(DataError, match="no run has the metric 'val/kl'"):
        write_comparison([a, b], tmp_path / "c.png", keys=["val/kl"])
    path = write_comparison([a, b], tmp_path / "c.png", keys=["val/elbo", "val/iwae"])  # one line each
    assert path.is_file()
    assert shared_keys({"a": [_vae(1)], "b": [_vae(1)]})[:4] == ["val/loss", "val/elbo", "val/reconstruction", "val/kl"]


def test_labels_tell_runs_of_the_same_folder_name_apart(tmp_path):
    assert run_labels([tmp_path / "vae" / "seed0", tmp_path / "aavae" / "seed0"]) == ["vae/seed0", "aavae/seed0"]
    assert run_labels([tmp_path / "x", tmp_path / "x"]) == ["x", "x (2)"]
    run = _run(tmp_path / "r", [_vae(1)])
    with pytest.raises(ConfigError, match="2 distinct labels"):
        write_comparison([run, run], tmp_path / "c.png", labels=["one"])
