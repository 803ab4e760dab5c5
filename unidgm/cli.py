"""The ``unidgm`` command: list, train, sample, evaluate, draw and describe catalogue models.

    unidgm list
    unidgm train vae --data digits --minutes 3 --out runs/vae
    unidgm sample runs/vae
    unidgm eval runs/vae --k 1000
    unidgm plot runs/ws runs/rws -o ws-vs-rws.png
    unidgm render vae -o vae.svg        (or a run folder: unidgm render runs/vae)
    unidgm render --all docs/img/gallery
    unidgm describe vae [--latex]       (or a run folder: unidgm describe runs/vae)
"""
from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import sys
from pathlib import Path

from .errors import UnidgmError


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _pairs(items, flag):
    out = {}
    for item in items or ():
        if "=" not in item:
            raise UnidgmError(f"{flag} {item!r}: write KEY=VALUE, e.g. {flag} latent_dim=32")
        k, v = item.split("=", 1)
        out[k.strip()] = _value(v)
    return out


def cmd_list(args) -> int:
    from .models import catalogue, options

    for name in catalogue():
        opts = ", ".join(f"{k}={v!r}" for k, v in options(name).items())
        print(f"{name:10s} {opts}")
    return 0


# What `train` writes into a run folder besides the Trainer's own files; --overwrite removes
# them with the old run's checkpoints, so that no picture or figure of the old run is left.
RUN_OUTPUTS = ("run.json", "eval.json", "samples.png", "reconstructions.png", "traversal.png", "codes.png",
               "analogies.png", "curves.png", "code_usage.png", "resampled.png", "captioned.png")


def cmd_train(args) -> int:
    from .data import DATASETS
    from .eval import write_analogies, write_codes, write_reconstructions, write_samples, write_traversal
    from .eval.pictures import pictured
    from .run import RunConfig, build_model, check_resume, load_data, save_run
    from .train import TrainConfig, Trainer, load_checkpoint
    from .train.run_folder import refuse_a_run_folder
    from .viz.curves import write_curves

    if args.data not in DATASETS:
        raise UnidgmError(f"--data {args.data!r}: choose one of {', '.join(DATASETS)}")
    if args.resume and args.overwrite:
        raise UnidgmError("--resume continues the run in --out and --overwrite replaces it; give one of them")
    out = Path(args.out)
    if not (args.resume or args.overwrite):  # refused before anything is loaded, built or written
        refuse_a_run_folder(out, resume="--resume", overwrite="--overwrite", also=("run.json",))
    model_options = _pairs(args.set, "--set")
    for flag in ("net", "latent_dim"):
        if getattr(args, flag) is not None:
            model_options[flag] = getattr(args, flag)
    objective_options = _pairs(args.objective_option, "--objective-option")
    if args.k is not None:
        objective_options["k"] = args.k
    if args.beta is not None:
        objective_options["kl_weight"] = args.beta
    if args.warmup is not None:
        objective_options["warmup"] = args.warmup
    from .models import data_defaults

    binarize = data_defaults(args.model).get("binarize", "dynamic") if args.binarize == "auto" else args.binarize
    if args.source_only:
        objective_options["adversarial_weight"] = 0.0
    cfg = RunConfig(model=args.model, model_options=model_options, objective=args.objective,
                    objective_options=objective_options, data=args.data, data_dir=args.data_dir,
                    binarize=None if binarize == "none" else binarize, seed=args.seed,
                    domain_shift=args.domain_shift or data_defaults(args.model).get("domain_shift"),
                    labels=args.labels)
    if args.resume:
        check_resume(out, cfg)  # before anything is loaded or written
    data = load_data(cfg)
    model = build_model(cfg, data)
    if args.labels is not None and not model.partially_observed:
        raise UnidgmError(f"--labels {args.labels}: model {args.model!r} has no partially observed label to learn from "
                          f"a few labels; use a model that declares one, such as ssvae")
    epochs = args.epochs if args.epochs is not None or args.minutes is not None else 10
    # lr, betas and monitor left to derive: the Trainer takes the objective's (model.training_defaults())
    train_cfg = TrainConfig(epochs=epochs, minutes=args.minutes, batch_size=args.batch_size, seed=args.seed,
                            device=args.device, out=str(out), progress=not args.quiet, lr=args.lr,
                            lr_schedule=args.lr_schedule, tensorboard=args.tensorboard)
    # The Trainer checks a resumed checkpoint against these options before anything is written.
    trainer = Trainer(model, data, train_cfg, resume=args.resume, overwrite=args.overwrite)
    if args.overwrite:
        for name in RUN_OUTPUTS:
            (out / name).unlink(missing_ok=True)
    save_run(out, cfg)
    summary = trainer.fit()
    # Pictures from the best checkpoint, into the model and data already in memory.
    best = out / "best.pt" if (out / "best.pt").exists() else out / "last.pt"
    model.load_state_dict(load_checkpoint(best)["model"])
    model.eval()
    test = data.test if data.test else data.val
    for name, write in (("samples", write_samples), ("reconstructions", write_reconstructions),
                        ("traversal", write_traversal), ("codes", write_codes)):
        if pictured(model) is None or (name == "reconstructions" and not model.can_reconstruct) \
                or (name != "reconstructions" and not model.can_generate):
            continue
        write(model, out / f"{name}.png", test)
    if model.partially_observed and pictured(model) is not None:
        write_analogies(model, out / "analogies.png", test)
    from .eval.codes import code_nodes

    from .eval.code_pictures import caption_node

    if caption_node(model, data) is not None:
        from .eval.code_pictures import write_captioned

        write_captioned(model, out / "captioned.png", data.meta["captions"])  # one row per digit's caption
    if code_nodes(model) and pictured(model) is not None and model.can_generate:
        from .eval.code_pictures import write_code_usage, write_resampled

        write_code_usage(model, out / "code_usage.png", test)
        write_resampled(model, out / "resampled.png", test)  # where one level of codes generates another
    write_curves(out, out / "curves.png")
    print(json.dumps({k: v for k, v in summary.items() if isinstance(v, (int, float, str, type(None)))}))
    return 0


def cmd_sample(args) -> int:
    from .eval import write_samples
    from .run import load_run

    model, data, _ = load_run(args.dir)
    if args.caption is not None:
        from .eval.code_pictures import caption_node, write_captioned

        node = caption_node(model, data)
        if node is None:
            raise UnidgmError(f"--caption: the run in {args.dir} has no caption node (train a captioned model, e.g. "
                              f"`unidgm train dalle --data mnist-captions`)")
        path = Path(args.output) if args.output else Path(args.dir) / "captioned.png"
        write_captioned(model, path, data.meta["captions"], texts=[args.caption], n=args.n or 8, node=node)
        print(path)
        return 0
    path = Path(args.output) if args.output else Path(args.dir) / "samples.png"
    write_samples(model, path, data.test if data.test else data.val, n=args.n)
    print(path)
    return 0


def cmd_eval(args) -> int:
    from .eval.report import evaluate_run
    from .run import load_run

    model, data, cfg = load_run(args.dir)
    result = evaluate_run(model, data, cfg, split=args.split, k=args.k, seed=args.seed, limit=args.limit,
                          samples=args.samples)
    (Path(args.dir) / "eval.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


def _compiled(name: str, args):
    """A catalogue model built with ``--set`` options and compiled with its own objective
    (or ``--objective`` and ``--objective-option``); or, where ``name`` is a run folder, the
    model as that run trained it (its run.json: options, objective and data shapes)."""
    from . import compile
    from .models import build

    if Path(name).is_dir():
        from .run import build_model, load_data, read_run_config

        given = [flag for flag, value in (("--set", args.set), ("--objective", args.objective),
                                          ("--objective-option", args.objective_option)) if value]
        if given:
            raise UnidgmError(f"{name} is a run folder, whose options are those of its run.json; drop "
                              f"{', '.join(given)}, or name a catalogue model instead")
        cfg = read_run_config(name)
        return build_model(cfg, load_data(cfg))
    graph = build(name, **_pairs(args.set, "--set"))
    return compile(graph, args.objective, **_pairs(args.objective_option, "--objective-option"))


def _stem(name: str) -> str:
    """The default file name of a model's diagram: the catalogue name or the run folder's."""
    return Path(name).name if Path(name).is_dir() else name


def cmd_render(args) -> int:
    from .models import catalogue
    from .viz.diagram import render

    caption = not args.no_caption
    if args.all is not None:
        if args.model or args.output:
            raise UnidgmError("render --all DIR draws every catalogue model as DIR/MODEL.svg; give no MODEL and no -o")
        for name in catalogue():
            print(render(_compiled(name, args), Path(args.all) / f"{name}.svg", caption=caption))
        return 0
    if not args.model:
        raise UnidgmError("render: name a catalogue MODEL (see `unidgm list`), or give --all DIR for every one")
    model = _compiled(args.model, args)
    print(render(model, args.output or f"{_stem(args.model)}.svg", caption=caption))
    return 0


def cmd_plot(args) -> int:
    from .viz.curves import write_comparison, write_curves

    if len(args.dirs) == 1 and not args.keys:
        print(write_curves(args.dirs[0], args.output))
    else:
        print(write_comparison(args.dirs, args.output, keys=args.keys or None))
    return 0


def cmd_describe(args) -> int:
    from .viz.diagram import diagram_text

    model = _compiled(args.model, args)
    formula = model.formula()
    if args.latex:
        print(formula.latex)
        return 0
    print(diagram_text(model))
    print(f"objective: {formula.objective}")
    print(formula.text)
    return 0


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option, e.g. latent_dim=8")
    p.add_argument("--objective", default=None, help="elbo | iwae | adversarial | ... (default: the model's own)")
    p.add_argument("--objective-option", action="append", metavar="KEY=VALUE", help="an objective option, e.g. k=10")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="unidgm", description="Deep generative models as schematic graphs.")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the catalogue's models and their options").set_defaults(fn=cmd_list)

    t = sub.add_parser("train", help="train a catalogue model")
    t.add_argument("model", help="a catalogue name (see `unidgm list`)")
    t.add_argument("--data", default="digits", help="digits | mnist | ring8 | grid25 | swissroll (default digits)")
    t.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files (default: search)")
    t.add_argument("--domain-shift", default=None, choices=["invert", "color"],
                   help="the target domain of a domain-adaptation model (default: the model's, color for ada)")
    t.add_argument("--labels", type=int, default=None, metavar="N",
                   help="keep N training labels (balanced over the classes, chosen by --seed), the rest unlabelled: "
                        "semi-supervised training of a model with a partially observed label (ssvae)")
    t.add_argument("--binarize", default="auto", choices=["auto", "dynamic", "static", "threshold", "none"],
                   help="auto (default): dynamic for explicit likelihoods, none (grey) for implicit generators")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, default=None, help="epochs to train (default 10)")
    budget.add_argument("--minutes", type=float, default=None, help="wall-clock budget in minutes")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="run folder: checkpoints, metrics, pictures")
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the objective's, 1e-3 or 2e-4)")
    t.add_argument("--lr-schedule", choices=["constant", "cosine", "linear"], default="constant",  # TrainConfig checks too
                   help="how the learning rate falls over the budget (default constant)")
    t.add_argument("--net", choices=["mlp", "conv"], default=None, help="network family of the model")
    t.add_argument("--latent-dim", type=int, default=None)
    t.add_argument("--objective", default=None,
                   help="elbo | iwae | adversarial | wake-sleep | rws (default: the model's own)")
    t.add_argument("--k", type=int, default=None, help="importance samples of the iwae and rws objectives")
    t.add_argument("--beta", type=float, default=None, help="KL weight of the ELBO")
    t.add_argument("--warmup", type=int, default=None, help="KL warm-up steps")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option, e.g. hidden=(512,256)")
    t.add_argument("--objective-option", action="append", metavar="KEY=VALUE", help="an objective option")
    t.add_argument("--source-only", action="store_true",
                   help="switch the adversaries off (adversarial_weight=0): domain adaptation's baseline")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda")
    t.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoints, metrics and pictures)")
    t.add_argument("--tensorboard", action="store_true",
                   help="also log the metrics as TensorBoard scalars in OUT/tensorboard (needs tensorboard)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(fn=cmd_train)

    s = sub.add_parser("sample", help="write a grid of samples of a trained run")
    s.add_argument("dir", help="a run folder written by `unidgm train`")
    s.add_argument("--n", type=int, default=None, help="samples (default 64 images, or 2000 points for 2-D data)")
    s.add_argument("-o", "--output", default=None, help="PNG path (default DIR/samples.png)")
    s.add_argument("--caption", default=None, help="a caption: images drawn given it (a captioned model, e.g. dalle)")
    s.set_defaults(fn=cmd_sample)

    e = sub.add_parser("eval", help="held-out log-likelihood and ELBO of a trained run, as JSON")
    e.add_argument("dir", help="a run folder written by `unidgm train`")
    e.add_argument("--k", type=int, default=1000, help="importance samples per example (default 1000)")
    e.add_argument("--split", default="test", choices=["test", "val"])
    e.add_argument("--limit", type=int, default=None, help="evaluate the first N examples only")
    e.add_argument("--seed", type=int, default=0, help="seed of the held-out binarization")
    e.add_argument("--samples", type=int, default=10000, help="generated images for FID (default 10000)")
    e.set_defaults(fn=cmd_eval)

    pl = sub.add_parser("plot", help="learning curves of a run, or several runs overlaid, as PNG or SVG")
    pl.add_argument("dirs", nargs="+", metavar="DIR", help="run folders written by `unidgm train`")
    pl.add_argument("-o", "--output", required=True, help="FILE.png | .svg")
    pl.add_argument("--keys", nargs="+", default=None,
                    help="metrics to overlay, e.g. val/elbo train/loss (default: those every run has)")
    pl.set_defaults(fn=cmd_plot)

    r = sub.add_parser("render", help="draw a model's schematic diagram (svg, png, pdf or dot)")
    r.add_argument("model", nargs="?", default=None,
                   help="a catalogue name (see `unidgm list`) or a run folder (the model as trained)")
    r.add_argument("-o", "--output", default=None, help="FILE.svg | .png | .pdf | .dot (default MODEL.svg)")
    r.add_argument("--all", metavar="DIR", default=None, help="draw every catalogue model as DIR/MODEL.svg")
    r.add_argument("--no-caption", action="store_true", help="leave out the objective's formula under the diagram")
    _model_options(r)
    r.set_defaults(fn=cmd_render)

    d = sub.add_parser("describe", help="a model's graph in words and its objective's formula")
    d.add_argument("model", help="a catalogue name (see `unidgm list`) or a run folder (the model as trained)")
    d.add_argument("--latex", action="store_true", help="print the objective's formula in LaTeX")
    _model_options(d)
    d.set_defaults(fn=cmd_describe)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    # The progress bar shows the running loss; without it (--quiet, logs) each evaluation
    # is logged as a line instead.
    logging.basicConfig(level=logging.INFO if getattr(args, "quiet", True) else logging.WARNING,
                        format="%(message)s")
    try:
        return args.fn(args)
    except UnidgmError as e:
        print(f"unidgm: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `unidgm list | head`: the reader has gone, which is no error
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
