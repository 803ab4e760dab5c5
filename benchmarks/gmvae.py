"""The Gaussian-mixture VAE's cluster code under two gradient estimators, at one budget:
the score function with a running-mean baseline (the default for a categorical latent) and
exact enumeration over the K classes (``estimator="enumerate"``, the sum Pyro's
``TraceEnum_ELBO`` takes).

The graph (the Gaussian-mixture VAE of Dilokthanakul et al. 2016, in the form Rui Shu's
and Pyro's examples use): c ~ Cat(1/K), z | c ~ N(mu_c, sigma_c) (a learned Gaussian per
cluster, a generative edge c -> z), x ~ p(x | z); q(c | x), q(z | x, c). A cluster code that the model uses carries information about x: the test
set's KL(q(c|x) || p(c)) and the mutual information I(x; c) = H(E q(c|x)) - E H(q(c|x))
are well above 0, and the clusters agree with the digit classes (cluster accuracy: each
cluster labelled by its majority digit). Unused, q(c|x) stays at the uniform prior
(KL ~ 0). Writes ``results.json`` and ``results.md`` under ``--out``.

    python benchmarks/gmvae.py [--minutes 3] [--seeds 0] [--k 10] [--data mnist] [--out runs/gmvae]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

import unidgm
from unidgm.data import load
from unidgm.nets import MLP
from unidgm.train import Trainer

ESTIMATORS = ("score-baseline", "enumerate")


def gmvae(shape, k: int, estimator: str, z_dim: int = 16, hidden: int = 256) -> unidgm.Graph:
    x_dim = math.prod(shape)
    g = unidgm.Graph(f"gmvae_{estimator.replace('-', '_')}")
    g.visible("x", "bernoulli", shape=(x_dim,))
    g.latent("c", "categorical", shape=(k,), prior="standard", estimator=estimator)
    g.latent("z", "normal", shape=(z_dim,))
    g.generative("c", "z", torch.nn.Linear(k, 2 * z_dim))  # each cluster's mean and log-scale
    g.generative("z", "x", MLP(z_dim, [hidden, hidden], x_dim))
    g.inference("x", "c", MLP(x_dim, [hidden], k))
    g.inference(["x", "c"], "z", MLP(x_dim + k, [hidden], 2 * z_dim))
    return g


@torch.no_grad()
def cluster_code(model, x: torch.Tensor, labels: torch.Tensor, k: int) -> dict:
    """KL(q(c|x) || p(c)), I(x; c) and the cluster accuracy on ``x``."""
    q = torch.softmax(model.nets["inference_c"](x), -1)
    log_q = torch.log(q.clamp_min(1e-12))
    kl = (q * (log_q + math.log(k))).sum(-1).mean()
    marginal = q.mean(0)
    mi = -(marginal * torch.log(marginal.clamp_min(1e-12))).sum() + (q * log_q).sum(-1).mean()
    cluster = q.argmax(-1)
    correct = 0
    for c in range(k):
        members = labels[cluster == c]
        if members.numel():
            correct += int(torch.bincount(members, minlength=10).max())
    return {"kl_c": float(kl), "mutual_information_x_c": float(mi), "cluster_accuracy": correct / labels.numel(),
            "clusters_used": int(cluster.unique().numel())}


def run_one(estimator: str, seed: int, data, args) -> dict:
    torch.manual_seed(seed)
    model = unidgm.compile(gmvae(data.shapes["x"], args.k, estimator))
    folder = Path(args.out) / f"{estimator}-seed{seed}"
    summary = Trainer(model, data, out=folder, overwrite=True, device="cpu", lr=1e-3, batch_size=100,
                      minutes=args.minutes, seed=seed).fit()
    test = data.test
    x = torch.bernoulli(test["x"].flatten(1), generator=torch.Generator().manual_seed(seed))
    labels = test["y"].argmax(-1) if test["y"].dim() > 1 else test["y"]
    elbo = float(torch.cat([model.loss({"x": x[i:i + 500]})["elbo"].reshape(1) for i in range(0, len(x), 500)]).mean())
    return {"estimator": estimator, "seed": seed, "minutes": args.minutes, "steps": summary["steps"],
            "stopped_by": summary["stopped_by"],
            "test_elbo": elbo, **cluster_code(model, x, labels, args.k)}


def table(results) -> str:
    rows = ["| estimator | seed | steps | test ELBO | KL(q(c|x) \\|\\| p(c)) | I(x; c) | cluster accuracy | clusters used |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        rows.append(f"| {r['estimator']} | {r['seed']} | {r['steps']} | {r['test_elbo']:.2f} | {r['kl_c']:.3f} | "
                    f"{r['mutual_information_x_c']:.3f} | {r['cluster_accuracy']:.3f} | {r['clusters_used']} |")
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--k", type=int, default=10, help="clusters")
    ap.add_argument("--data", default="mnist", choices=["mnist", "digits"])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--only", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    ap.add_argument("--out", default="runs/gmvae")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = load(args.data, data_dir=args.data_dir, flatten=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else []
    for seed in args.seeds:
        for estimator in args.only:
            result = run_one(estimator, seed, data, args)
            print(json.dumps(result), flush=True)
            results = [r for r in results if (r["estimator"], r["seed"]) != (estimator, seed)] + [result]
            path.write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
