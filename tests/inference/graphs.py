"""Small graphs the inference tests compile (x (12,), z (3,))."""

import torch
from torch import nn

import unidgm
from unidgm.nets import MLP

X, Z, C, B = 12, 3, 4, 6


def binary_batch(n=B, seed=1):
    """Binary data (Pyro validates a Bernoulli observation's support)."""
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.bernoulli(torch.full((n, X), 0.4), generator=g)}


def labelled_batch(n=B, seed=1):
    g = torch.Generator().manual_seed(seed + 1)
    return {**binary_batch(n, seed), "y": torch.randint(0, C, (n,), generator=g)}


def vae(prior="standard"):
    """z ~ prior, x ~ Bernoulli(p(x|z)), q(z|x) normal."""
    g = unidgm.Graph("vae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "normal", shape=(Z,), prior=prior)
    g.generative("z", "x", MLP(Z, [8], X))
    g.inference("x", "z", MLP(X, [8], 2 * Z))
    return g


def hierarchical():
    """z2 ~ N(0, I), z1 ~ p(z1|z2), x ~ p(x|z1); q(z1|x), q(z2|z1)."""
    g = unidgm.Graph("hvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z2", "normal", shape=(2,), prior="standard")
    g.latent("z1", "normal", shape=(Z,))
    g.generative("z2", "z1", MLP(2, [8], 2 * Z))
    g.generative("z1", "x", MLP(Z, [8], X))
    g.inference("x", "z1", MLP(X, [8], 2 * Z))
    g.inference("z1", "z2", MLP(Z, [8], 4))
    return g


def cvae(combine="concat", gen_net=None, inf_net=None):
    """A conditional VAE: label y visible with given=True; p(x|z,y), q(z|x,y)."""
    g = unidgm.Graph("cvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.visible("y", "categorical", shape=(C,), given=True)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["z", "y"], "x", gen_net or MLP(Z + C, [8], X), combine=combine)
    g.inference(["x", "y"], "z", inf_net or MLP(X + C, [8], 2 * Z), combine=combine)
    return g


def categorical_vae():
    """A categorical latent c beside a normal z (Kingma et al. 2014's M2 without labels):
    p(x|z,c), q(c|x), q(z|x,c)."""
    g = unidgm.Graph("catvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("c", "categorical", shape=(C,), prior="standard")
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["z", "c"], "x", MLP(Z + C, [8], X))
    g.inference("x", "c", MLP(X, [8], C))
    g.inference(["x", "c"], "z", MLP(X + C, [8], 2 * Z))
    return g


def autoencoder():
    """A deterministic encoder into a delta latent with no prior."""
    g = unidgm.Graph("ae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("z", "delta", shape=(Z,))
    g.generative("z", "x", MLP(Z, [8], X))
    g.inference("x", "z", MLP(X, [8], Z))
    return g


class DictConcat(nn.Module):
    """A network that reads a dict of parents (combine="dict") and runs ``inner`` on their
    concatenation in ``order``."""

    def __init__(self, order, inner):
        super().__init__()
        self.order = tuple(order)
        self.inner = inner

    def forward(self, values):
        assert isinstance(values, dict) and set(values) == set(self.order)
        return self.inner(torch.cat([values[k].flatten(1) for k in self.order], -1))


def semi_supervised(classification_weight=None, y_estimator=None):
    """Kingma et al. (2014)'s M2: a partially observed label y beside z; p(x|y,z), q(y|x),
    q(z|x,y)."""
    g = unidgm.Graph("ssvae")
    g.visible("x", "bernoulli", shape=(X,))
    options = {"estimator": y_estimator} if y_estimator else {}
    g.latent("y", "categorical", shape=(C,), prior="standard", partially_observed=True, **options)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["y", "z"], "x", MLP(C + Z, [8], X))
    g.inference("x", "y", MLP(X, [8], C))
    g.inference(["x", "y"], "z", MLP(X + C, [8], 2 * Z))
    if classification_weight is not None:
        g.set_objective("elbo", classification_weight=classification_weight)
    return g


def partly_labelled_batch(n=B, seed=1, labelled=(0, 2, 3)):
    """Binary data whose labels are known (class indices) at rows ``labelled``, -1 elsewhere."""
    batch = labelled_batch(n, seed)
    known = torch.zeros(n, dtype=torch.bool)
    known[list(labelled)] = True
    batch["y"] = torch.where(known, batch["y"], torch.full_like(batch["y"], -1))
    return batch


def linear_gan(d=6, z=3, **objective):
    """A GAN with a linear generator and discriminator, x (d,) and z (z,), compiled with the
    adversarial objective and ``objective``'s options."""
    torch.manual_seed(0)
    g = unidgm.Graph("gan")
    g.visible("x", "normal", shape=(d,))
    g.latent("z", "normal", shape=(z,), prior="standard")
    g.generative("z", "x", nn.Linear(z, d), deterministic=True)
    g.adversarial("x", nn.Linear(d, 1))
    return unidgm.compile(g, "adversarial", **objective)
