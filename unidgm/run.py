"""A run: which model, which data, which options, saved as ``run.json`` beside its
checkpoints, so ``unidgm sample DIR`` and ``unidgm eval DIR`` rebuild exactly what was
trained. The one config object of STYLE rule 7; the CLI overrides its fields."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import CheckpointError, ConfigError


@dataclass
class RunConfig:
    """Everything a run needs besides the training-loop options (``TrainConfig``)."""

    model: str = "vae"                       # a catalogue name (``unidgm list``)
    model_options: dict = field(default_factory=dict)  # overrides of the model's defaults
    objective: str | None = None             # None: the model's own objective
    objective_options: dict = field(default_factory=dict)  # e.g. {"k": 5}, {"kl_weight": 4}
    data: str = "digits"                     # digits | mnist | ring8 | grid25 | swissroll
    data_dir: str | None = None              # where MNIST's IDX files are (None: search)
    binarize: str | None = "dynamic"         # images: dynamic | static | threshold | None
    domain_shift: str | None = None          # a target domain (invert | color) for domain adaptation
    labels: int | None = None                # keep this many training labels, the rest -1 (semi-supervised)
    seed: int = 0                            # seeds data splits, initialisation and training

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"run config: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"the fields are {', '.join(sorted(known))}")
        return cls(**d)


def load_data(cfg: RunConfig):
    from .data import load

    data = load(cfg.data, data_dir=cfg.data_dir, binarize=cfg.binarize, seed=cfg.seed)
    if cfg.labels is not None:
        from .data import semi_supervised

        data = semi_supervised(data, cfg.labels, seed=cfg.seed)
    if cfg.domain_shift:
        from .data.shifted import domain_pair

        data = domain_pair(data, kind=cfg.domain_shift, seed=cfg.seed)
    return data


def build_model(cfg: RunConfig, data):
    """Builds the catalogue graph for ``data`` (shape, family and classes of ``x`` are
    read from the data unless given) and compiles it."""
    import torch

    from . import compile
    from .models import build, options

    known = options(cfg.model)
    opts = dict(cfg.model_options)
    if "x_shape" in known:
        opts.setdefault("x_shape", tuple(data.shapes["x"]))
    if "y_shape" in known and "y" in data.shapes:  # a second view (two-view models)
        opts.setdefault("y_shape", tuple(data.shapes["y"]))
    if "x_family" in known:
        opts.setdefault("x_family", data.families["x"])
    if "num_classes" in known and "y" in data.shapes:
        opts.setdefault("num_classes", data.shapes["y"][-1])
    for k, v in opts.items():  # JSON turns tuples into lists
        if isinstance(v, list):
            opts[k] = tuple(v)
    torch.manual_seed(cfg.seed)
    graph = build(cfg.model, **opts)
    return compile(graph, cfg.objective, **cfg.objective_options)


def save_run(out: Path, cfg: RunConfig) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "run.json.tmp"
    tmp.write_text(json.dumps(cfg.to_dict(), indent=2))
    tmp.replace(out / "run.json")


# Fields a resumed run may change: where the data files are found does not change the run.
_MOVABLE = ("data_dir",)


def read_run_config(out) -> RunConfig:
    """The RunConfig saved in a run folder's ``run.json``."""
    out = Path(out)
    path = out / "run.json"
    if not path.exists():
        raise ConfigError(f"{path} is missing: '{out}' is not a run folder; train one with "
                          f"`unidgm train MODEL --out {out}`")
    try:
        return RunConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path} is not a valid run config ({e}); re-create the run") from None


def check_resume(out, cfg: RunConfig) -> None:
    """Refuse to resume the run in ``out`` with options other than those it was trained with
    (its run.json), naming each field that differs; nothing is written."""
    stored = read_run_config(out).to_dict()
    given = json.loads(json.dumps(cfg.to_dict()))  # tuples as lists, as run.json stores them
    changed = [f"{k}: {stored[k]!r} in run.json, {given[k]!r} now" for k in stored
               if k not in _MOVABLE and stored[k] != given[k]]
    if changed:
        raise ConfigError(f"--resume: the run in '{out}' was trained with other options ({'; '.join(changed)}); "
                          f"resume with the options of its run.json, or train into a new folder")


def load_run(out, checkpoint: str = "best.pt"):
    """(compiled model with the checkpoint's weights, data, RunConfig) of a run folder."""
    from .train import load_checkpoint

    out = Path(out)
    path = out / "run.json"
    cfg = read_run_config(out)
    data = load_data(cfg)
    model = build_model(cfg, data)
    ckpt_path = out / checkpoint
    if not ckpt_path.exists():
        ckpt_path = out / "last.pt"
    state = load_checkpoint(ckpt_path)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"{ckpt_path} does not match model {cfg.model!r} of {path} ({e}); "
                              f"the run folder is inconsistent, re-train it") from None
    model.set_schedule_step(int(state.get("step", 0)))  # temperatures and weights as training left them
    model.eval()
    return model, data, cfg
