"""Discrete codes and their learned priors on MNIST: VQ-VAE, VQ-VAE-2 and the discrete VAE (and
with ``--models vqgan dalle``, VQ-GAN and the caption-to-image model on MNIST with captions),
each trained from the CLI in one command (both stages), evaluated by ``unidgm eval``, over
seeds; VQ-VAE-2 also without the top codes in its bottom prior (``condition_bottom=False``,
the same autoencoder from the same seed), which shows what the top codes buy; VQ-GAN (4x4
codes) beside VQ-VAE with the same 4x4 codes, widths, transformer prior and budget
(``vqvae-4x4``).

Each run lives in ``--out/<model>-seed<s>`` (``vqvae2-uncond-seed<s>`` for the ablation): a
finished run (its ``eval.json``) is kept, a stopped one resumed (``unidgm train --resume``),
so the script continues where an earlier call stopped. It writes ``results.json`` and
``results.md`` (the table, mean and spread over seeds) and, per run, the code pictures:
``code_usage.png`` (each codebook's usage histogram on the test set) and, for VQ-VAE-2,
``resampled.png`` (rows of one test image's top codes kept and the bottom codes redrawn from
the prior), beside the CLI's ``samples.png`` and ``reconstructions.png``.

    python benchmarks/codes.py [--models vqvae vqvae2 dvae vqgan dalle] [--seeds 0 1 2] [--epochs N]
        [--data-dir ../shared/data/mnist] [--jobs 2] [--samples 5000] [--out runs/codes] [--table-only]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MODELS = ("vqvae", "vqvae2", "dvae", "vqgan", "dalle")
#: the models a plain call trains (issue 14's); ``--models vqgan dalle`` adds issue 15's
DEFAULT_MODELS = ("vqvae", "vqvae2", "dvae")
#: a model's data where it is not plain MNIST
DATA = {"dalle": "mnist-captions"}
#: epochs per run where a model's recipe needs more than 30 (DALL-E's transformer, 64% of them)
EPOCHS = {"dalle": 50}
#: the runs benchmarked beside a model: name -> (model, --set options); VQ-GAN's baseline is
#: VQ-VAE with the same 4x4 codes, codebook, widths, transformer prior and budget
VARIANTS = {"vqvae2": {"vqvae2-uncond": ("vqvae2", ["condition_bottom=False"])},
            "vqgan": {"vqvae-4x4": ("vqvae", ["downsamples=3", "prior=transformer", "prior_channels=64",
                                              "prior_layers=4"])}}
#: the table's columns, in order (absent ones are skipped)
COLUMNS = ("steps", "reconstruction_mse", "reconstruction_mse_relaxed", "reconstruction_accuracy",
           "fid_reconstruction", "adaptive_weight_max", "caption_accuracy", "caption_accuracy_held_out",
           "caption_information_bits", "codes_used",
           "codes_used_c_top", "codes_used_c_bottom", "perplexity", "perplexity_nonblank", "prior_nll_bits",
           "unigram_entropy_bits", "prior_nll_bits_c_top", "unigram_entropy_bits_c_top", "prior_nll_bits_c_bottom",
           "unigram_entropy_bits_c_bottom", "fid", "fid_independent", "fid_uniform", "class_entropy")


def cli(*args, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "unidgm.cli", *args], check=True, env=env)


def run_one(name: str, model: str, sets: list[str], seed: int, args) -> Path:
    """Trains (or resumes) and evaluates one run; its folder."""
    folder = Path(args.out) / f"{name}-seed{seed}"
    if (folder / "eval.json").exists():
        return folder
    epochs = args.epochs or EPOCHS.get(model, 30)
    common = ["--data", DATA.get(model, "mnist"), "--epochs", str(epochs), "--seed", str(seed), "--out", str(folder), "--quiet"]
    if args.data_dir:
        common += ["--data-dir", args.data_dir]
    for option in sets:
        common += ["--set", option]
    finished = (folder / "samples.png").exists()  # the CLI writes its pictures once training ends
    if not finished:
        resume = ["--resume"] if (folder / "last.pt").exists() else []
        cli("train", model, *common, *resume, threads=args.threads)
    cli("eval", str(folder), "--samples", str(args.samples), threads=args.threads)
    return folder


def pictures(folder: Path) -> None:
    """The code pictures of a finished run."""
    import torch

    from unidgm.eval.code_pictures import write_code_usage, write_resampled
    from unidgm.run import load_run

    model, data, _ = load_run(folder)
    torch.manual_seed(0)
    write_code_usage(model, folder / "code_usage.png", data.test)
    write_resampled(model, folder / "resampled.png", data.test)


def summarise(results: list[dict]) -> dict:
    """Mean and standard deviation over seeds of each metric, per model."""
    table = {}
    for name in dict.fromkeys(r["name"] for r in results):
        rows = [r for r in results if r["name"] == name]
        table[name] = {"seeds": [r["seed"] for r in rows]}
        for key in COLUMNS:
            values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
            if values:
                mean = sum(values) / len(values)
                spread = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
                table[name][key] = (mean, spread)
    return table


def markdown(table: dict, epochs: dict) -> str:
    budget = ", ".join(f"{name} {n}" for name, n in epochs.items())
    lines = [f"MNIST, epochs per run (both stages): {budget}; mean ± sd over seeds", "",
             "| metric | " + " | ".join(table) + " |", "|---|" + "---|" * len(table)]
    for key in COLUMNS:
        if not any(key in row for row in table.values()):
            continue
        cells = []
        for row in table.values():
            if key not in row:
                cells.append("")
                continue
            mean, sd = row[key]
            digits = 0 if key == "steps" else 4 if abs(mean) < 0.1 else 3 if abs(mean) < 10 else 1
            cells.append(f"{mean:.{digits}f} ± {sd:.{digits}f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    seeds = {name: row["seeds"] for name, row in table.items()}
    lines += ["", "seeds: " + "; ".join(f"{name} {s}" for name, s in seeds.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=MODELS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs per run, both stages together (default: 30, dalle 50)")
    ap.add_argument("--samples", type=int, default=5000, help="generated images per FID")
    ap.add_argument("--data-dir", default=None, help="MNIST's folder (default: the library's search)")
    ap.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--out", default="runs/codes")
    ap.add_argument("--table-only", action="store_true",
                    help="tabulate the finished runs of the plan (those with eval.json); train nothing")
    args = ap.parse_args()
    plan = []
    for model in args.models:
        for name, (kind, sets) in {model: (model, []), **VARIANTS.get(model, {})}.items():
            plan += [(name, kind, sets, seed) for seed in args.seeds]
    if args.table_only:
        folders = [(job, Path(args.out) / f"{job[0]}-seed{job[3]}") for job in plan]
        folders = [(job, folder) for job, folder in folders if (folder / "eval.json").exists()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            folders = list(pool.map(lambda job: (job, run_one(*job, args)), plan))
    results = []
    for (name, model, _, seed), folder in folders:
        if not (folder / "code_usage.png").exists():
            pictures(folder)
        summary = json.loads((folder / "eval.json").read_text())
        last = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
        row = {"name": name, "model": model, "seed": seed, "steps": last[-1].get("step"), **summary}
        # Esser et al.'s adaptive weight over the run (null in metrics.jsonl where not finite)
        weights = [r[k] for r in last for k in r if k.startswith("train/") and k.endswith("/adaptive_weight")]
        if weights:
            row["adaptive_weight_finite"] = all(isinstance(w, (int, float)) and math.isfinite(w) for w in weights)
            row["adaptive_weight_max"] = max(w for w in weights if isinstance(w, (int, float)))
        results.append(row)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    epochs = {r["name"]: json.loads((Path(args.out) / f"{r['name']}-seed{r['seed']}" / "config.json").read_text())["epochs"]
              for r in results}
    text = markdown(summarise(results), epochs)
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
