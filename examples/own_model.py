"""Declare a model that is not in the catalogue, in user code, and train it.

A VAE whose latent has a *learned* prior and whose likelihood also sees the digit label:
two visible nodes (image x explained, label y given), one latent z. Nothing is registered
anywhere: the graph is the model.

    python examples/own_model.py [--epochs 20] [--out runs/own_model]
"""
import argparse

import unidgm
from unidgm.data import load
from unidgm.eval import write_samples
from unidgm.nets import MLP
from unidgm.train import Trainer


def my_model(x_shape=(1, 8, 8), classes=10, z=8):
    g = unidgm.Graph("labelled-vae-learned-prior")
    g.visible("x", "bernoulli", shape=x_shape)                  # the image
    g.visible("y", "categorical", shape=(classes,), given=True)  # its label, conditioned on
    g.latent("z", "normal", shape=(z,), prior="learned")        # style, with a trainable prior
    g.generative(["z", "y"], "x", MLP(z + classes, [128], 64))  # p(x | z, y): solid arrows
    g.inference("x", "z", MLP(64, [128], 2 * z))                # q(z | x): dashed arrow
    return g


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default="runs/own_model")
    ap.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    args = ap.parse_args()
    data = load("digits")                          # embedded: ships with scikit-learn
    model = unidgm.compile(my_model(), "elbo")
    summary = Trainer(model, data, epochs=args.epochs, out=args.out, progress=False, overwrite=args.overwrite).fit()
    write_samples(model, f"{args.out}/samples.png", data.test)  # one row of labels 0..7 per row
    print(f"validation ELBO {summary['best']:.2f} nats; samples in {args.out}/samples.png")
