"""The variational Wyner model (Ryu, Choi, Kim, El-Khamy & Lee, "Learning with Succinct Common
Representation Based on Wyner's Common Information", 2022; the authors' code,
``src/models/adversarial/bimodal/``): two views x and y share a common latent z, and each has
a local latent for its own style, u for x and v for y.

    p:    z, u, v ~ N(0, I)            x = G_x(z, u)      y = G_y(z, v)
    q:    z = E(x, y)                  u = L_u(z, x)      v = L_v(z, y)     (the joint encoder)
    q_x:  z = E_x(x)                   u = L_u(z, x)      v = L_v(z, y)     (the encoder of x)
    q_y:  z = E_y(y)                   u = L_u(z, x)      v = L_v(z, y)     (the encoder of y)

The local encoders L_u and L_v are one network each, shared by the three processes, which
differ only in how they infer z; every network is deterministic, as the authors' defaults
(no noise inputs). The objective, each piece a term of the engine and on when its weight is
non-zero, minimises symmetric KL divergences between variational and model distributions,
each estimated by a density-ratio critic (``DensityRatio``, logistic loss, the code's
``js_var``) and plugged in (``PluginDivergence``, the code's ``symmetric_kl_plugin``):

- ``joint``: q(x,y) q(z,u,v|x,y) against p(z) p(u) p(v) p(x|z,u) p(y|z,v), on (x, y, z, u, v);
- ``x2y``: q(x,y) q(z|x,y) q(v|z,y) against q(x) q_x(z|x) p(v) p(y|z,v), on (x, y, z, v);
- ``y2x``: q(x,y) q(z|x,y) q(u|z,x) against q(y) q_y(z|y) p(u) p(x|z,u), on (x, y, z, u);
- ``ci``: lambda_CI * I(X,Y;Z) under q, E_q[T(x,y,z)] from a critic telling (x, y, z) from
  (x, y, shuffled z) (``DensityRatioCritic``, the code's ``var_ci``; reported at weight 0);
- ``rec_x2x``, ``rec_x2y``, ``rec_y2y``, ``rec_y2x``: lambda_rec * the L1 distance of each view
  to its reconstruction through q_x or q_y (``Distance``; the code's ``mx_rec_x``,
  ``cx2y_rec_y``, ``my_rec_y``, ``cy2x_rec_x``).

The critics train together in the phase ``critic``, the networks of p and q in ``loss``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..graph.graph import Graph
from ..inference.sources import Conditional, Reconstruction
from ..inference.terms import DensityRatio, DensityRatioCritic, Distance
from .parts import discriminator, encoder, generator
from .registry import register
from .specs import Rate, Shape, Size, Sizes, Weight


class InputNoise(nn.Module):
    """Adds N(0, sigma^2) noise to its input while training (the instance noise the
    authors' critics read their inputs with, sigma 0.25); the identity in eval mode."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma else x

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}"


def _critic(size: int, hidden, noise: float) -> nn.Module:
    return nn.Sequential(InputNoise(noise), discriminator((size,), "mlp", hidden))


@register("wyner", binarize=None)
def wyner(x_shape: Shape = (1, 28, 28), y_shape: Shape | None = None, z_dim: Size = 16, u_dim: Size = 8,
          v_dim: Size = 8, hidden: Sizes = (512,), critic_hidden: Sizes | None = None, critic_noise: Weight = 0.25,
          lambda_joint: Weight = 1.0, lambda_x2y: Weight = 1.0, lambda_y2x: Weight = 1.0, lambda_ci: Weight = 0.1,
          lambda_rec: Weight = 1.0, lr: Rate = 1e-4) -> Graph:
    """The variational Wyner model (Ryu et al. 2022, Sec. 4) over views ``x`` and ``y``
    (``y_shape`` None: the shape of x) in [0, 1], with MLP encoders and decoders of ``hidden``
    units and MLP critics of ``critic_hidden`` (None: ``hidden``) reading their inputs with
    ``critic_noise``; trained with Adam at ``lr``, beta1 0.5, as the authors'."""
    y_shape = tuple(y_shape or x_shape)
    critic_hidden = tuple(critic_hidden or hidden)
    if not (lambda_joint or lambda_x2y or lambda_y2x or lambda_ci or lambda_rec):
        raise ConfigError("model 'wyner': every weight (lambda_joint, lambda_x2y, lambda_y2x, lambda_ci, lambda_rec) "
                          "is 0, so nothing trains the encoders and decoders; give one of them a weight, e.g. "
                          "lambda_joint=1")
    nx, ny = math.prod(x_shape), math.prod(y_shape)
    local_u = encoder((z_dim + nx,), u_dim, "mlp", hidden)                 # L_u(z, x), shared by q, q_x, q_y
    local_v = encoder((z_dim + ny,), v_dim, "mlp", hidden)                 # L_v(z, y)

    g = Graph("wyner")
    g.visible("x", "normal", shape=x_shape)
    g.visible("y", "normal", shape=y_shape)
    g.latent("z", "normal", shape=(z_dim,), prior="standard")              # common
    g.latent("u", "normal", shape=(u_dim,), prior="standard")              # x's style
    g.latent("v", "normal", shape=(v_dim,), prior="standard")              # y's style
    g.generative(["z", "u"], "x", generator(z_dim + u_dim, x_shape, "mlp", hidden), deterministic=True)
    g.generative(["z", "v"], "y", generator(z_dim + v_dim, y_shape, "mlp", hidden), deterministic=True)
    g.inference(["x", "y"], "z", encoder((nx + ny,), z_dim, "mlp", hidden), deterministic=True)  # q(z|x,y)
    g.inference("x", "z", encoder(x_shape, z_dim, "mlp", hidden), deterministic=True, process="q_x")
    g.inference("y", "z", encoder(y_shape, z_dim, "mlp", hidden), deterministic=True, process="q_y")
    for process in ("q", "q_x", "q_y"):
        g.inference(["z", "x"], "u", local_u, deterministic=True, process=process)
        g.inference(["z", "y"], "v", local_v, deterministic=True, process=process)

    terms = []
    matches = (("joint", lambda_joint, ("x", "y", "z", "u", "v"), "generative"),
               ("x2y", lambda_x2y, ("x", "y", "z", "v"), Conditional("q_x", ("x",))),
               ("y2x", lambda_y2x, ("x", "y", "z", "u"), Conditional("q_y", ("y",))))
    for name, weight, nodes, fake in matches:
        if weight:
            size = nx + ny + sum(g.nodes[n].size for n in nodes[2:])
            critic = DensityRatio(nodes, _critic(size, critic_hidden, critic_noise), real="inference", fake=fake,
                                  name=f"critic_{name}", phase="critic")
            terms += [critic, critic.divergence(weight, name=name)]
    ci = DensityRatioCritic(("x", "y"), "z", _critic(nx + ny + z_dim, critic_hidden, critic_noise),
                            source="inference", name="critic_ci", phase="critic")
    terms += [ci, ci.estimate(lambda_ci, name="ci")]
    if lambda_rec:
        for view, process in (("x", "q_x"), ("y", "q_x"), ("y", "q_y"), ("x", "q_y")):
            terms.append(Distance(view, Reconstruction(process), weight=lambda_rec,
                                  name=f"rec_{process[-1]}2{view}"))
    return g.set_objective("terms", lr=lr, beta1=0.5, terms=terms)
