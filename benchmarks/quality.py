"""The catalogue VAE on real MNIST: test log-likelihood (k = 1000 importance samples) and
wall time, exactly as a user gets them from the command line:

    unidgm train vae --data mnist --minutes 10 --out runs/quality-vae
    unidgm eval runs/quality-vae --k 1000

The training images are the shared 12,484 (the last 1,000 held out for validation, whose
best ELBO picks the checkpoint), dynamically binarized; the test set is MNIST's 10,000
images, binarized once with a fixed seed.

    python benchmarks/quality.py [--minutes 10] [--data-dir ../shared/data/mnist] [--k 1000]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

from unidgm.cli import main as cli


def run(args) -> dict:
    out = Path(args.out)
    train = ["train", args.model, "--data", "mnist", "--minutes", str(args.minutes), "--out", str(out),
             "--seed", str(args.seed), "--quiet"] + (["--data-dir", args.data_dir] if args.data_dir else [])
    train += ["--overwrite"] if args.overwrite else []
    train += sum((["--set", s] for s in args.set or ()), [])
    t = time.perf_counter()
    if cli(train) != 0:
        raise SystemExit("training failed")
    train_s = time.perf_counter() - t
    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        if cli(["eval", str(out), "--k", str(args.k)]) != 0:
            raise SystemExit("evaluation failed")
    eval_s = time.perf_counter() - t
    result = json.loads(buf.getvalue().strip().splitlines()[-1])
    result.update(train_seconds=round(train_s, 1), eval_seconds=round(eval_s, 1), minutes=args.minutes,
                  seed=args.seed)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vae")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: search, ../shared/data/mnist)")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="a model option")
    ap.add_argument("--out", default="runs/quality-vae")
    ap.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    result = run(ap.parse_args())
    print(json.dumps(result, indent=2))
