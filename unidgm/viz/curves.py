"""Learning curves of a run's ``metrics.jsonl``, and several runs overlaid.

A run folder's ``metrics.jsonl`` holds one JSON object per evaluation: ``step``, ``epoch``,
``time``; ``train/<phase>/<term>``, the mean of each term of that phase's ``model.loss``
since the last evaluation; ``val/<term>`` for each validation term; ``null`` where a value
was not finite. Older runs have only ``train/loss`` and, with several phases,
``train/<phase>`` (each phase's minimised term) besides ``val/*``.

Work is done in stages over plain data: :func:`read_metrics` reads the records,
:func:`panels` and :func:`shared_keys` decide what is drawn where, the ``*_figure``
functions draw a matplotlib ``Figure`` (built without pyplot, so no backend is chosen or
changed; useful in a notebook), and the ``write_*`` functions save it, PNG, SVG or PDF by
the path's extension, atomically.

Terms of one phase differ in size and sign (a KL of 0.2 beside a reconstruction of 90 and
an ELBO of -90), so each term of a run gets its own small plot with its own y range, the
plots of a panel (a phase, or validation) grouped under the panel's title, as TensorBoard
groups scalars by prefix. Overlaid runs share a plot per metric, their sizes alike.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ConfigError, DataError

METRICS = "metrics.jsonl"
"""The name of the metrics file in a run folder."""

AXES = ("step", "epoch", "time")
"""Keys that say when a record was written rather than what was measured."""

SYMLOG_RATIO = 100.0
"""Ratio of the largest to the smallest nonzero size of the values in a plot, all of one
sign, above which its y axis is symmetric-log rather than linear (a loss falling from 5000
to 30, or two runs a hundred times apart)."""

_MARKERS_UP_TO = 60  # series of at most this many points are drawn with markers
_PLOT_SIZE = (3.4, 2.4)  # inches per plot of a run's curves
_COMPARISON_SIZE = (4.8, 3.3)  # inches per plot of overlaid runs
_COLUMNS = 4  # plots a row in a run's curves
_DPI = 110


def read_metrics(run_dir) -> list[dict]:
    """The records of ``run_dir/metrics.jsonl`` (or of ``run_dir`` itself when it is that
    file), one dict per evaluation, in the order written. A last line cut short (a run
    stopped mid-write) is skipped.

    Raises:
        DataError: the file is missing, holds no record, or has a corrupt line before the
            last one.
    """
    run_dir = Path(run_dir)
    path = run_dir if run_dir.is_file() else run_dir / METRICS
    if not path.is_file():
        raise DataError(
            f"{path} is missing: '{run_dir}' is not a run folder written by `unidgm train`; "
            "give the folder passed as --out (or Trainer's out=)."
        )
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # cut short by a crash: the run resumes without it
                break
            raise DataError(
                f"{path}, line {number}, is not JSON; the file is corrupt: delete that line "
                "to plot the others."
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{path}, line {number}, is not a JSON object; delete that line to plot the others.")
        records.append(record)
    if not records:
        raise DataError(
            f"{path} is empty: the run has not evaluated yet; plot it after its first "
            "evaluation (once per epoch, or every eval_every steps)."
        )
    return records


def panels(records: Sequence[Mapping]) -> dict[str, list[str]]:
    """What :func:`write_curves` draws: panel title -> the keys drawn in it, in order.

    - one panel per training phase, ``"train"`` for the default phase named ``train`` and
      ``"train: <phase>"`` otherwise, with that phase's ``train/<phase>/<term>`` keys;
    - for an old run without such keys, one panel ``"train"`` with ``train/<phase>`` for
      each phase, or ``train/loss`` when there is one phase (with several, ``train/loss``
      repeats the last phase and is left out);
    - a panel per other prefix (``test/*`` gives ``"test"``), ``"other"`` for numeric keys
      without one;
    - last, ``"validation"`` with the ``val/*`` keys.

    Keys come in the order they first appear; ``step``, ``epoch``, ``time`` and keys with
    no numeric value (``null`` counts as one) are left out.
    """
    keys = _metric_keys(records)
    train = [k for k in keys if k.startswith("train/")]
    by_phase = [k for k in train if k.count("/") >= 2]
    out: dict[str, list[str]] = {}
    if by_phase:
        for key in by_phase:
            phase = key.split("/", 2)[1]
            out.setdefault("train" if phase == "train" else f"train: {phase}", []).append(key)
    elif train:
        phases = [k for k in train if k != "train/loss"]
        out["train"] = phases or train
    for key in keys:
        if key.startswith(("train/", "val/")):
            continue
        out.setdefault(key.split("/", 1)[0] if "/" in key else "other", []).append(key)
    val = [k for k in keys if k.startswith("val/")]
    if val:
        out["validation"] = val
    return out


def shared_keys(runs: Mapping[str, Sequence[Mapping]]) -> list[str]:
    """The metric keys every run has, ``val/*`` first, then ``train/*``, then the rest,
    each group in the first run's order (what :func:`write_comparison` plots by default).

    Raises:
        DataError: no key is shared; the message lists each run's keys.
    """
    per_run = {label: _metric_keys(records) for label, records in runs.items()}
    first, *others = per_run.values()
    common = [k for k in first if all(k in keys for keys in others)]
    if not common:
        listing = "; ".join(f"{label}: {', '.join(keys) or 'none'}" for label, keys in per_run.items())
        raise DataError(
            f"the runs share no metric key ({listing}); choose what to compare with keys=, "
            "e.g. keys=['val/elbo']."
        )

    def group(key):
        return 0 if key.startswith("val/") else 1 if key.startswith("train/") else 2

    return sorted(common, key=group)  # stable: the first run's order within a group


def y_scale(series: Sequence[Sequence]) -> tuple[str, dict]:
    """The y scale of a plot of ``series`` (lists of values, ``None`` or NaN for a gap), as
    ``(name, kwargs)`` for ``Axes.set_yscale``: ``("linear", {})``, or ``("symlog",
    {"linthresh": t})`` when the finite nonzero values all have one sign and the largest is
    more than :data:`SYMLOG_RATIO` times the smallest in size; ``t`` is the power of ten
    at or just below the smallest size."""
    values = [v for s in series for v in s if _finite(v) and v != 0]
    if not values or (min(values) < 0 < max(values)):
        return "linear", {}
    sizes = [abs(v) for v in values]
    if max(sizes) <= SYMLOG_RATIO * min(sizes):
        return "linear", {}
    return "symlog", {"linthresh": 10.0 ** math.floor(math.log10(min(sizes)))}


def curves_figure(records: Sequence[Mapping], title: str | None = None):
    """The learning curves of one run: for each entry of :func:`panels`, a row (or rows,
    four plots a row) of small plots under the panel's title, one per term against
    ``step``, titled by the term (a term keeps its colour across panels). Terms equal up to
    sign (``val/loss`` and ``val/elbo`` of a VAE, a phase's ``loss`` and the term it
    minimises) share one plot, titled ``loss = \u2212elbo``."""
    layout = panels(records)
    if not layout:
        raise DataError(
            "the records hold no metric besides step, epoch and time; is this a "
            "metrics.jsonl written by `unidgm train`?"
        )
    grouped = {panel: _merged(records, panel, keys) for panel, keys in layout.items()}
    terms = list(dict.fromkeys(_term(panel, key) for panel, keys in layout.items() for key in keys))
    cols = min(_COLUMNS, max(len(lines) for lines in grouped.values()))
    rows = [math.ceil(len(lines) / cols) for lines in grouped.values()]
    fig = _figure((_PLOT_SIZE[0] * cols, (_PLOT_SIZE[1] + 0.35) * sum(rows) + (0.35 if title else 0)), title)
    subfigures = fig.subfigures(len(grouped), 1, height_ratios=rows, squeeze=False).ravel()
    for sub, n_rows, (panel, lines) in zip(subfigures, rows, grouped.items()):
        sub.suptitle(panel, fontsize=11, fontweight="bold", x=0.01, ha="left")
        axes = sub.subplots(n_rows, cols, squeeze=False).ravel()
        for ax, (label, (first, series)) in zip(axes, lines.items()):
            _draw(ax, label, {label: series}, {label: f"C{terms.index(first) % 10}"}, legend=False)
        for ax in axes[len(lines):]:
            ax.set_visible(False)
    return fig


def comparison_figure(runs: Mapping[str, Sequence[Mapping]], keys: Sequence[str] | None = None):
    """Several runs overlaid: one plot per key (default :func:`shared_keys`), titled by the
    key, one line per run labelled in the legend by its key in ``runs`` (a run keeps its
    colour across plots); a run without the key has no line in that plot."""
    keys = list(keys) if keys is not None else shared_keys(runs)
    if not keys:
        raise ConfigError("write_comparison: keys= is empty; name at least one metric key, e.g. 'val/loss'.")
    for key in keys:
        if not any(key in record for records in runs.values() for record in records):
            listing = "; ".join(f"{label}: {', '.join(_metric_keys(r))}" for label, r in runs.items())
            raise DataError(f"no run has the metric {key!r} ({listing}); choose keys= among these.")
    cols = 2 if len(keys) == 4 else min(len(keys), 3)
    rows = math.ceil(len(keys) / cols)
    fig = _figure((_COMPARISON_SIZE[0] * cols, _COMPARISON_SIZE[1] * rows), None)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        lines = {label: _series(records, key) for label, records in runs.items()
                 if any(key in record for record in records)}
        _draw(ax, key, lines, colours={label: f"C{i % 10}" for i, label in enumerate(runs)})
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    return fig


def write_curves(run_dir_or_records, path) -> Path:
    """Writes the learning curves of a run (its folder, its ``metrics.jsonl``, or its
    records as a list of dicts) to ``path`` (.png, .svg or .pdf) and returns the path.
    See :func:`panels` for the layout."""
    if isinstance(run_dir_or_records, (str, os.PathLike)):
        folder = Path(run_dir_or_records)
        records, title = read_metrics(folder), (folder.parent if folder.is_file() else folder).resolve().name
    else:
        records, title = list(run_dir_or_records), None
        if not records:
            raise DataError("write_curves: there are no records to plot; pass a run folder or its records.")
    return _save(curves_figure(records, title=title), path)


def write_comparison(run_dirs: Sequence, path, keys: Sequence[str] | None = None,
                     labels: Sequence[str] | None = None) -> Path:
    """Overlays several runs (e.g. wake-sleep against RWS, AAVAE against VAE) in ``path``:
    one panel per metric key, by default those every run has (``val/*`` first), one line
    per run labelled by its folder name (by as many trailing folder names as tell the runs
    apart) or by ``labels``. Returns the path.

    Raises:
        DataError: a folder is not a run, or the runs share no key (and ``keys`` is None).
        ConfigError: ``labels`` does not give one distinct label per run.
    """
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise ConfigError("write_comparison: no run folder given; pass one or more.")
    if labels is None:
        labels = run_labels(run_dirs)
    elif len(labels) != len(run_dirs) or len(set(labels)) != len(labels):
        raise ConfigError(
            f"write_comparison: labels={list(labels)} must give {len(run_dirs)} distinct "
            "labels, one per run folder, in the same order."
        )
    runs = {label: read_metrics(d) for label, d in zip(labels, run_dirs)}
    return _save(comparison_figure(runs, keys), path)


def run_labels(run_dirs: Sequence) -> list[str]:
    """Each run's folder name, or as many trailing path parts as tell the runs apart
    (``vae/seed0`` and ``aavae/seed0``); a folder given twice gets `` (2)``."""
    parts = [Path(os.path.abspath(d)).parts for d in run_dirs]
    parts = [p[:-1] if p and p[-1] == METRICS else p for p in parts]  # a metrics.jsonl given
    depth, distinct = 1, set(parts)
    while depth < max(len(p) for p in parts) and len({p[-depth:] for p in distinct}) < len(distinct):
        depth += 1
    labels = ["/".join(p[-depth:]) for p in parts]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} ({seen[label]})"
    return labels


# ---------------------------------------------------------------------- helpers


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _metric_keys(records: Sequence[Mapping]) -> list[str]:
    """Keys with numeric (or null) values, in the order they first appear, but the AXES."""
    keys: dict[str, bool] = {}
    for record in records:
        for key, value in record.items():
            if key in AXES:
                continue
            numeric = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
            keys[key] = keys.get(key, False) or numeric
    return [k for k, numeric in keys.items() if numeric]


def _term(panel: str, key: str) -> str:
    """The legend label of `key` in `panel`: the key without its panel's prefix
    (``train/elbo/kl`` -> ``kl``, ``train/generator`` -> ``generator``, ``val/kl`` -> ``kl``)."""
    if panel == "other":
        return key
    parts = key.split("/", 2)
    return parts[2] if key.startswith("train/") and len(parts) == 3 else key.split("/", 1)[-1]


def _series(records: Sequence[Mapping], key: str) -> tuple[list, list]:
    """(steps, values) of the records that have `key`; a null or non-finite value is NaN,
    a gap in the line. A record without a step counts by its position."""
    steps, values = [], []
    for i, record in enumerate(records):
        if key in record:
            v = record[key]
            steps.append(record.get("step", i))
            values.append(float(v) if _finite(v) else math.nan)
    return steps, values


def _merged(records: Sequence[Mapping], panel: str, keys: Sequence[str]) -> dict[str, tuple[str, tuple]]:
    """The plots of a panel: title -> (its first term, its (steps, values)), terms equal up
    to sign sharing one plot titled ``a = b`` or ``a = \u2212b``."""
    plots: dict[str, tuple[str, tuple]] = {}
    for key in keys:
        term, series = _term(panel, key), _series(records, key)
        match = next(((title, sign) for title, (_, other) in plots.items()
                      if (sign := _relation(other, series))), None)
        if match:  # renamed in place, so the plot keeps its position
            title, sign = match
            renamed = f"{title} = {'' if sign > 0 else chr(0x2212)}{term}"
            plots = {renamed if t == title else t: v for t, v in plots.items()}
        else:
            plots[term] = (term, series)
    return plots


def _relation(a: tuple[list, list], b: tuple[list, list]) -> int:
    """1 if the (steps, values) series `b` equals `a`, -1 if it equals `-a` (to a relative
    1e-5, gaps at the same steps), 0 otherwise or when either has no finite value."""
    if a[0] != b[0] or all(math.isnan(x) for x in a[1]) or all(math.isnan(y) for y in b[1]):
        return 0
    for sign in (1, -1):
        if all((math.isnan(x) and math.isnan(y)) or math.isclose(x, sign * y, rel_tol=1e-5, abs_tol=1e-12)
               for x, y in zip(a[1], b[1])):
            return sign
    return 0


def _figure(size: tuple[float, float], title: str | None):
    """A constrained-layout Figure of `size` inches, with `title` above everything."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=_DPI, layout="constrained")
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def _draw(ax, title: str, lines: Mapping[str, tuple[list, list]], colours: Mapping[str, str],
          legend: bool = True) -> None:
    """Draws each (steps, values) line of `lines` on `ax`, labelled by its key."""
    from matplotlib.ticker import FuncFormatter, SymmetricalLogLocator

    empty = []
    for label, (steps, values) in lines.items():
        if all(math.isnan(v) for v in values):
            empty.append(label)
        ax.plot(steps, values, color=colours.get(label), linewidth=1.4,
                marker="o" if len(values) <= _MARKERS_UP_TO else None, markersize=3.5,
                label=label if label not in empty else f"{label} (no finite value)")
    scale, kwargs = y_scale([values for _, values in lines.values()])
    if scale == "symlog":
        ax.set_yscale("symlog", linscale=0.5, **kwargs)
        ax.yaxis.set_major_locator(SymmetricalLogLocator(base=10, linthresh=kwargs["linthresh"], subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel("symlog scale", fontsize=8, color="0.4")
    ax.set_title(title if not empty or legend else f"{title} (no finite value)", fontsize=10)
    ax.set_xlabel("step", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    if legend:
        ax.legend(fontsize=8, ncols=2 if len(lines) > 5 else 1, framealpha=0.85)


def _save(fig, path) -> Path:
    """Saves `fig` to `path` atomically, in the format its extension names."""
    from unidgm.train.checkpoint import atomic_write  # here: unidgm.train imports the Trainer

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ConfigError(f"cannot write curves to '{path}': give the file a .png, .svg or .pdf extension.")
    atomic_write(path, lambda f: fig.savefig(f, format=fmt))
    return path
