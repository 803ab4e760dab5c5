"""The Helmholtz machine: a sigmoid belief net and its recognition network."""
from __future__ import annotations

import math

from ..graph.graph import Graph
from ..nets import MLP
from .registry import register
from .specs import Layers, Shape, Sizes


@register("helmholtz")
def helmholtz(x_shape: Shape = (1, 28, 28), latent_dims: Sizes = (200,), hidden: Layers = ()) -> Graph:
    """Helmholtz machine (Dayan, Hinton, Neal & Zemel 1995): layers of binary latents
    h_L -> ... -> h_1 -> x, a sigmoid belief net (Neal 1992) in which each unit is a coin
    given the layer above, p(h_l,i = 1 | h_l+1) = sigmoid(W_l h_l+1 + b_l)_i, under a learned
    factorised prior on the top layer; the recognition network q(h_1 | x) q(h_2 | h_1) ...
    runs bottom-up. Trained by wake-sleep (Hinton et al. 1995) by default, or by reweighted
    wake-sleep with ``objective="rws"`` (Bornschein & Bengio 2015, whose MNIST SBNs are
    200 and 200-200).

    ``latent_dims`` lists the layers from the data up (h_1 first); ``hidden`` adds
    deterministic hidden layers inside each conditional (empty: the plain SBN's logistic
    layers)."""
    g = Graph("helmholtz")
    g.visible("x", "bernoulli", shape=x_shape)
    names = [f"h{i + 1}" for i in range(len(latent_dims))]
    for i, (h, d) in enumerate(zip(names, latent_dims)):
        g.latent(h, "bernoulli", shape=(d,), prior="learned" if i == len(names) - 1 else None)
    below = ["x"] + names[:-1]
    sizes = [math.prod(x_shape)] + list(latent_dims[:-1])
    for h, d, child, n in zip(names, latent_dims, below, sizes):
        g.generative(h, child, MLP(d, list(hidden), n))             # p_theta(child | h): top-down
    for h, d, parent, n in zip(names, latent_dims, below, sizes):
        g.inference(parent, h, MLP(n, list(reversed(hidden)), d))  # q_phi(h | parent): bottom-up
    return g.set_objective("wake-sleep")
