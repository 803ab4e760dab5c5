"""The Helmholtz machine on MNIST trained by wake-sleep and by reweighted wake-sleep at the
same wall-clock budget: test log-likelihood (k importance samples, q as the proposal), each
run exactly as a user runs it:

    unidgm train helmholtz --data mnist --objective wake-sleep --minutes M --seed S --out DIR
    unidgm train helmholtz --data mnist --objective rws --k 5 --minutes M --seed S --out DIR
    unidgm eval DIR --k 1000

Bornschein & Bengio (2015, Table 1) report reweighted wake-sleep well ahead of wake-sleep
for the same sigmoid belief nets; this checks that ordering here. Runs go one at a time,
each on one thread, so that every run gets the same machine. Writes ``results.json`` and
``results.md`` (one row per run, then the mean per objective) under ``--out``; runs of
other seeds already there are kept, so seeds can be added later.

    python benchmarks/helmholtz.py [--minutes 5] [--seeds 0] [--k 1000] [--latent-dims 200]
                                   [--rws-k 5] [--out runs/helmholtz]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# label -> the objective's CLI arguments
OBJECTIVES = {"wake-sleep": ["--objective", "wake-sleep"], "rws": ["--objective", "rws", "--k", "{k}"]}


def run_one(label: str, seed: int, args) -> dict:
    folder = Path(args.out) / f"{label}-seed{seed}"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    dims = "(" + ",".join(str(d) for d in args.latent_dims) + ",)"
    cmd = [sys.executable, "-m", "unidgm.cli", "train", "helmholtz", "--data", "mnist", "--minutes",
           str(args.minutes), "--seed", str(seed), "--out", str(folder), "--quiet", "--set", f"latent_dims={dims}"]
    cmd += [a.format(k=args.rws_k) for a in OBJECTIVES[label]]
    cmd += ["--overwrite"] if args.overwrite else []
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    started = time.perf_counter()
    train = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if train.returncode != 0:
        raise SystemExit(f"training {label} (seed {seed}) failed:\n{train.stderr[-2000:]}")
    summary = json.loads(train.stdout.strip().splitlines()[-1])
    train_seconds = time.perf_counter() - started
    evaluate = [sys.executable, "-m", "unidgm.cli", "eval", str(folder), "--k", str(args.k)]
    ev = subprocess.run(evaluate + (["--limit", str(args.limit)] if args.limit else []), env=env,
                        capture_output=True, text=True)
    if ev.returncode != 0:
        raise SystemExit(f"evaluating {folder} failed:\n{ev.stderr[-2000:]}")
    result = json.loads(ev.stdout.strip().splitlines()[-1])
    result.update(objective=label, seed=seed, minutes=args.minutes, steps=summary["steps"],
                  monitor=summary["monitor"], best_val=summary["best"], latent_dims=list(args.latent_dims),
                  train_seconds=round(train_seconds, 1), command=" ".join(cmd[2:]), folder=str(folder))
    return result


def table(results) -> str:
    rows = ["| objective | seed | steps | test log-likelihood (k) | test ELBO | FID |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        rows.append(f"| {r['objective']} | {r['seed']} | {r['steps']} | {r['test_log_likelihood']:.2f} ({r['k']}) | "
                    f"{r['test_elbo']:.2f} | {r.get('fid', float('nan')):.1f} |")
    rows += ["", "| objective | runs | mean test log-likelihood | sd | mean steps |", "| --- | --- | --- | --- | --- |"]
    for label in OBJECTIVES:
        lls = [r["test_log_likelihood"] for r in results if r["objective"] == label]
        if lls:
            sd = statistics.stdev(lls) if len(lls) > 1 else 0.0
            steps = statistics.mean(r["steps"] for r in results if r["objective"] == label)
            rows.append(f"| {label} | {len(lls)} | {statistics.mean(lls):.2f} | {sd:.2f} | {steps:.0f} |")
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5, help="training budget of every run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--k", type=int, default=1000, help="importance samples of the test log-likelihood")
    ap.add_argument("--limit", type=int, default=None, help="evaluate the first N test images only (quick checks)")
    ap.add_argument("--rws-k", type=int, default=5, help="particles of reweighted wake-sleep (B&B: 5)")
    ap.add_argument("--latent-dims", type=int, nargs="+", default=[200], help="layers from the data up")
    ap.add_argument("--only", nargs="+", choices=list(OBJECTIVES), default=list(OBJECTIVES))
    ap.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: search, ../shared/data/mnist)")
    ap.add_argument("--out", default="runs/helmholtz")
    ap.add_argument("--overwrite", action="store_true", help="replace runs already in --out")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Runs already in results.json (other seeds, other objectives) are kept; reruns replace theirs.
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else []
    for seed in args.seeds:
        for label in args.only:
            result = run_one(label, seed, args)
            print(json.dumps(result), flush=True)
            results = [r for r in results if (r["objective"], r["seed"]) != (label, seed)] + [result]
            results.sort(key=lambda r: (r["seed"], list(OBJECTIVES).index(r["objective"])))
            path.write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
