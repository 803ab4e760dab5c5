"""The terms the multi-view and discrete-code models need, each against an independent
reference: a KL between two processes' posteriors (closed-form Gaussian KL written out), a
critic's density-ratio estimate of a mutual information (correlated Gaussians, where I(x;z)
is known in closed form) and an adversary on a reconstruction (Goodfellow's losses written out)."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unidgm
from unidgm.inference.terms import DensityRatioCritic, PosteriorKL
from unidgm.nets import MLP
from unidgm.train import Trainer

from ..graph.test_processes import X, Y, Z, multiview


def _gaussian_kl(m1, log_s1, m2, log_s2):
    """KL(N(m1, s1^2) || N(m2, s2^2)) summed over dimensions, per example."""
    s1, s2 = log_s1.exp(), log_s2.exp()
    return (log_s2 - log_s1 + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5).sum(-1)


def test_jmvae_kl_between_the_joint_and_each_unimodal_posterior():
    g = multiview()
    alpha = 0.5
    model = unidgm.compile(g, "elbo", terms=[PosteriorKL("z", "q", "q_x", weight=alpha),
                                             PosteriorKL("z", "q", "q_y", weight=alpha)])
    batch = {"x": torch.bernoulli(torch.full((7, X), 0.5)), "y": torch.bernoulli(torch.full((7, Y), 0.5))}
    torch.manual_seed(0)
    terms = model.loss(batch)
    assert set(terms) == {"loss", "reconstruction", "kl", "elbo", "reconstruction_x", "reconstruction_y",
                          "kl_q_q_x", "kl_q_q_y"}
    joint = model.nets["inference_z"](torch.cat([batch["x"], batch["y"]], -1)).chunk(2, -1)
    only_x = model.nets["inference_q_x_z"](batch["x"]).chunk(2, -1)
    only_y = model.nets["encoder_y"](batch["y"]).chunk(2, -1)
    kl_x = _gaussian_kl(*joint, *only_x).mean()
    kl_y = _gaussian_kl(*joint, *only_y).mean()
    assert torch.allclose(terms["kl_q_q_x"], kl_x, atol=1e-5) and torch.allclose(terms["kl_q_q_y"], kl_y, atol=1e-5)
    # the ELBO's own loss, then alpha times each KL (Suzuki et al. 2016, Eq. 4)
    torch.manual_seed(0)
    base = unidgm.compile(g, "elbo").loss(batch)["loss"]  # the same networks: the graph's
    assert torch.allclose(terms["loss"], base + alpha * (kl_x + kl_y), atol=1e-5)
    text = model.formula().text
    assert "KL(q(z|x,y) || q_x(z|x))" in text and "KL(q(z|x,y) || q_y(z|y))" in text
    groups = model.parameter_groups()
    terms["loss"].backward()
    assert all(p.grad is not None for p in groups["q_x"])  # the unimodal encoders learn from the KL


def _correlated(rho):
    """x ~ N(0, 1) (the data), z | x ~ q = N(rho x, 1 - rho^2): I(x; z) = -log(1 - rho^2) / 2."""
    encoder = nn.Linear(1, 2)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[rho], [0.0]]))
        encoder.bias.copy_(torch.tensor([0.0, 0.5 * math.log(1 - rho ** 2)]))
    g = unidgm.Graph("correlated")
    g.visible("x", "normal", shape=(1,))
    g.latent("z", "normal", shape=(1,), prior="standard")
    g.generative("z", "x", nn.Linear(1, 2))
    g.inference("x", "z", encoder)
    return g


def test_a_converged_critic_estimates_the_mutual_information_within_ten_percent():
    rho = 0.8
    exact = -0.5 * math.log(1 - rho ** 2)  # 0.511 nats
    torch.manual_seed(0)
    critic = DensityRatioCritic("x", "z", MLP(2, [64, 64], 1), source="inference")
    model = unidgm.compile(_correlated(rho), terms=[critic, critic.estimate()])
    assert [(p.name, p.groups, p.loss) for p in model.phases] == [("critic", ("term_critic",), "critic")]
    data = SimpleNamespace(train={"x": torch.randn(8192, 1)}, val=None, test=None)
    Trainer(model, data, max_steps=800, batch_size=512, lr=3e-3, monitor=None, progress=False, device="cpu").fit()
    torch.manual_seed(1)
    with torch.no_grad():
        estimate = model.loss({"x": torch.randn(20000, 1)})["mi_x_z"].item()
    print(f"I(x;z) = {exact:.4f}, estimated {estimate:.4f}")
    assert abs(estimate - exact) < 0.1 * exact, (estimate, exact)


def test_the_critics_loss_is_the_logistic_loss_on_joint_and_shuffled_pairs():
    torch.manual_seed(0)
    critic = DensityRatioCritic("x", "z", MLP(2, [8], 1))
    model = unidgm.compile(_correlated(0.5), terms=[critic, critic.estimate()])
    batch = {"x": torch.randn(6, 1)}
    torch.manual_seed(3)
    terms = model.loss(batch)
    torch.manual_seed(3)
    loc, log_scale = model.nets["inference_z"](batch["x"]).chunk(2, -1)
    z = loc + log_scale.exp() * torch.randn_like(loc)
    order = torch.randperm(6)
    T = model.extra_terms[0].critic
    joint, shuffled = T(torch.cat([batch["x"], z], -1)), T(torch.cat([batch["x"], z[order]], -1))
    assert torch.allclose(terms["critic"], F.softplus(-joint).mean() + F.softplus(shuffled).mean(), atol=1e-6)
    assert torch.allclose(terms["mi_x_z"], joint.mean(), atol=1e-6)


def test_an_adversary_judges_reconstructions():
    torch.manual_seed(0)
    g = unidgm.Graph("ae-gan")
    g.visible("x", "normal", shape=(6,))
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.generative("z", "x", MLP(2, [8], 12))
    g.inference("x", "z", MLP(6, [8], 2), deterministic=True)
    g.adversarial("x", MLP(6, [8], 1), real="data", fake="reconstruction")
    model = unidgm.compile(g)
    E, P, D = model.nets["inference_z"], model.nets["generative_x"], model.nets["adversarial_y_x"]
    x = torch.randn(5, 6)
    loc, log_scale = P(E(x)).chunk(2, -1)  # x_hat = the mean of p(x|E(x))
    d = model.loss({"x": x}, phase="discriminator")["discriminator"]
    assert torch.allclose(d, F.softplus(-D(x)).mean() + F.softplus(D(loc)).mean(), atol=1e-6)
    g_terms = model.loss({"x": x}, phase="generator")
    nll = (0.5 * ((x - loc) / log_scale.exp()) ** 2 + log_scale + 0.5 * math.log(2 * math.pi)).sum(-1).mean()
    assert torch.allclose(g_terms["reconstruction"], nll, atol=1e-5)
    assert torch.allclose(g_terms["generator"], F.softplus(-D(loc)).mean(), atol=1e-6)
    assert "mean_p(x|E(x))" in model.formula().text
    with pytest.raises(unidgm.GraphError, match="reconstruction"):
        g.adversarial("z", MLP(2, [8], 1), fake="reconstruction")
