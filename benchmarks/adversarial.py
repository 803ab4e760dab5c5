"""Adversarial models on the ring of 8 Gaussians and on MNIST: a results table (mean and
spread over seeds) and pictures, each run exactly as a user runs it:

    unidgm train MODEL --data DATA --minutes M --seed S --out runs/adversarial/...
    unidgm eval  runs/adversarial/...

Comparisons (Hu et al. 2018's claims and the issue's checks):

- ring8: VAE against GAN (mode covering against mode missing): modes covered and the share
  of high-quality samples (VEEGAN's rule), and a side-by-side picture of their samples;
- mnist: InfoGAN's categorical code against the digit labels (code accuracy);
  adversarial domain adaptation against its source-only baseline (target accuracy);
  AAVAE against the VAE (test ELBO after the same 100 epochs); IWGAN against the GAN (FID).

Budgets: ``--minutes`` per run, except the AAVAE/VAE pair, which trains 100 epochs, the
domain-adaptation pair, which trains 30 epochs each, and InfoGAN, which trains 60 epochs
of batch 64 (10,800 steps). ``--only`` re-runs some
experiments and replaces their rows in an existing ``results.json``, keeping the others.

    python benchmarks/adversarial.py [--seeds 0 1 2] [--minutes 3] [--only ring infogan ada aavae iwgan]
                                     [--jobs 2] [--out runs/adversarial]

``--jobs`` runs that many trainings at once, each on one thread (the models are small, and
two single-threaded runs use two cores better than one run on two threads).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# experiment -> list of (label, model, data, extra CLI arguments)
EXPERIMENTS = {
    "ring": [("vae", "vae", "ring8", ["--latent-dim", "2", "--set", "hidden=(128,128)"]),
             ("gan", "gan", "ring8", ["--latent-dim", "2", "--set", "hidden=(128,128)",   # the plain MLP game
                                      "--set", "dropout=0.0", "--set", "batch_norm=False"])],
    # Chen et al.'s networks align the code with the class slowly: about 11k steps of batch 64
    "infogan": [("infogan", "infogan", "mnist", ["--batch-size", "64", "--epochs", "60"])],
    # the same number of steps for both (an adversarial step costs twice a source-only one)
    "ada": [("ada", "ada", "mnist", ["--lr", "1e-3", "--epochs", "30"]),
            ("source-only", "ada", "mnist", ["--source-only", "--lr", "1e-3", "--epochs", "30"])],
    # Hu et al. compare the bounds of models trained alike: the same 100 epochs (passes over the data) each
    "aavae": [("vae", "vae", "mnist", ["--epochs", "100"]), ("aavae", "aavae", "mnist", ["--epochs", "100"])],
    "iwgan": [("gan", "gan", "mnist", []), ("iwgan", "iwgan", "mnist", [])],
}
# experiments whose budget differs from --minutes (the 2-D toy converges in less)
MINUTES = {}
# the metric each experiment is judged by, and whether larger is better
METRICS = {"ring": ["modes_covered", "high_quality_share"], "infogan": ["code_accuracy", "generated_code_accuracy"],
           "ada": ["target_accuracy", "source_accuracy"], "aavae": ["test_elbo"], "iwgan": ["fid"]}


def run_one(exp, label, model, data, extra, seed, minutes, out, data_dir, k, reuse=False, overwrite=False):
    folder = Path(out) / exp / f"{label}-seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    # an experiment that fixes its budget in epochs (equal data passes) overrides --minutes
    budget = [] if "--epochs" in extra else ["--minutes", str(MINUTES.get(exp, minutes))]
    cmd = [sys.executable, "-m", "unidgm.cli", "train", model, "--data", data, *budget,
           "--seed", str(seed), "--out", str(folder), "--quiet"] + extra
    if data_dir:
        cmd += ["--data-dir", data_dir]
    if overwrite:
        cmd += ["--overwrite"]
    t = time.perf_counter()
    if reuse and (folder / "train.json").exists():
        steps = json.loads((folder / "train.json").read_text()).get("steps")
    else:
        train = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if train.returncode != 0:
            return {"experiment": exp, "label": label, "seed": seed, "error": train.stderr.strip()[-500:]}
        (folder / "train.json").write_text(train.stdout.strip().splitlines()[-1])
        steps = json.loads(train.stdout.strip().splitlines()[-1]).get("steps")
    ev = subprocess.run([sys.executable, "-m", "unidgm.cli", "eval", str(folder), "--k", str(k)], env=env,
                        capture_output=True, text=True)
    if ev.returncode != 0:
        return {"experiment": exp, "label": label, "seed": seed, "error": ev.stderr.strip()[-500:]}
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    result.update(experiment=exp, label=label, seed=seed, steps=steps,
                  budget=" ".join(budget) or _epochs_budget(extra),
                  seconds=round(time.perf_counter() - t, 1), folder=str(folder))
    return result


def _epochs_budget(extra) -> str:
    """"--epochs 60 (batch 64)": an epochs budget, with the batch size where the run sets it."""
    label = " ".join(extra[extra.index("--epochs"):][:2])
    if "--batch-size" in extra:
        label += f" (batch {extra[extra.index('--batch-size') + 1]})"
    return label


def table(results) -> str:
    rows = ["| experiment | model | budget per run | metric | mean | spread (sd) | seeds | steps (mean) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for exp, runs in EXPERIMENTS.items():
        for label, *_ in runs:
            done = [r for r in results if r["experiment"] == exp and r["label"] == label and "error" not in r]
            for metric in METRICS[exp]:
                values = [r[metric] for r in done if metric in r]
                if not values:
                    continue
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                steps = statistics.mean(r["steps"] for r in done)
                rows.append(f"| {exp} | {label} | {done[0].get('budget', '')} | {metric} | "
                            f"{statistics.mean(values):.4g} | {sd:.3g} | "
                            f"{len(values)} | {steps:.0f} |")
    return "\n".join(rows)


def ring_picture(results, out: Path) -> Path | None:
    """The ring's samples for VAE and GAN side by side (seed 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from unidgm.run import load_run

    runs = {r["label"]: r for r in results if r["experiment"] == "ring" and r["seed"] == 0 and "error" not in r}
    if set(runs) != {"vae", "gan"}:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    for ax, label in zip(axes, ("vae", "gan")):
        model, data, _ = load_run(runs[label]["folder"], checkpoint="best.pt")
        torch.manual_seed(0)
        x = model.sample(2000, mean=False)["x"].cpu()
        ref = data.test["x"][:2000]
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.7")
        ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:blue")
        ax.set_title(f"{label}: {runs[label]['modes_covered']} of 8 modes, "
                     f"{100 * runs[label]['high_quality_share']:.0f}% high quality", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    path = out / "ring_vae_vs_gan.png"
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget of each run")
    ap.add_argument("--only", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--k", type=int, default=100, help="importance samples for the test ELBO/likelihood")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="runs/adversarial")
    ap.add_argument("--reuse", action="store_true", help="re-evaluate finished runs instead of training them again")
    ap.add_argument("--overwrite", action="store_true", help="train again over runs already in --out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(exp, label, model, data, extra, seed) for exp in args.only
            for label, model, data, extra in EXPERIMENTS[exp] for seed in args.seeds]
    print(f"{len(jobs)} runs of {args.minutes} min, {args.jobs} at a time", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, *job, args.minutes, args.out, args.data_dir, args.k, args.reuse,
                               args.overwrite)
                   for job in jobs]
        results = []
        for f in futures:
            r = f.result()
            results.append(r)
            print(json.dumps(r), flush=True)
    path = out / "results.json"
    if path.exists():  # keep the experiments this invocation did not run
        kept = [r for r in json.loads(path.read_text()) if r["experiment"] not in args.only]
        results = kept + results
    path.write_text(json.dumps(results, indent=2))
    text = table(results)
    (out / "results.md").write_text(text + "\n")
    print("\n" + text)
    picture = ring_picture(results, out) if "ring" in args.only else None
    if picture:
        print(f"\n{picture}")


if __name__ == "__main__":
    main()
