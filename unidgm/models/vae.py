"""The variational autoencoder and its direct relatives: beta-VAE and IWAE.

All three share one graph, z -> x generative and x -> z inference (in Hu et al. 2018's
schematic notation, a solid arrow z -> x and a dashed arrow x -> z); they differ only in
the objective the graph is compiled with.
"""
from __future__ import annotations

from ..graph.graph import Graph
from .parts import decoder, encoder
from .registry import register
from .specs import Net, Shape, Size, Sizes, Steps, Weight, XFamily


def _vae_graph(name, x_shape, x_family, latent_dim, hidden, net) -> Graph:
    g = Graph(name)
    g.visible("x", x_family, shape=x_shape)
    g.latent("z", "normal", shape=(latent_dim,), prior="standard")
    g.generative("z", "x", decoder(latent_dim, x_family, x_shape, net, hidden))  # p_theta(x|z)
    g.inference("x", "z", encoder(x_shape, 2 * latent_dim, net, hidden))         # q_phi(z|x)
    return g


@register("vae")
def vae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 20, hidden: Sizes = (400,),
        net: Net = "mlp") -> Graph:
    """Variational autoencoder (Kingma & Welling 2014, Eq. 10): maximise
    E_q(z|x)[log p(x|z)] - KL(q(z|x) || N(0, I)). The default networks are the paper's
    784-400-20 MLPs."""
    return _vae_graph("vae", x_shape, x_family, latent_dim, hidden, net).set_objective("elbo")


@register("beta-vae")
def beta_vae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 10,
             hidden: Sizes = (400,), net: Net = "mlp", beta: Weight = 4.0, warmup: Steps = 0) -> Graph:
    """beta-VAE (Higgins et al. 2017, Eq. 4): the ELBO with the KL weighted by beta > 1,
    for more disentangled latents; ``warmup`` ramps the weight up over that many steps."""
    g = _vae_graph("beta-vae", x_shape, x_family, latent_dim, hidden, net)
    return g.set_objective("elbo", kl_weight=beta, warmup=warmup)


@register("iwae")
def iwae(x_shape: Shape = (1, 28, 28), x_family: XFamily = "bernoulli", latent_dim: Size = 20, hidden: Sizes = (400,),
         net: Net = "mlp", k: Size = 5) -> Graph:
    """Importance-weighted autoencoder (Burda et al. 2016, Eq. 8): the VAE's graph trained
    on the k-sample bound L_k, which is tighter than the ELBO."""
    return _vae_graph("iwae", x_shape, x_family, latent_dim, hidden, net).set_objective("iwae", k=k)
