"""estimator="enumerate": a small categorical latent summed over exactly in the ELBO, the
Gaussian-mixture VAE's cluster code; the bound against the sum written out over the classes."""
import math

import pytest
import torch
import torch.nn.functional as F

import unidgm
from unidgm.nets import MLP

X, Z, K = 6, 2, 3


def gmvae(**latent):
    """c ~ Cat(1/K), z ~ N(0, I), x ~ p(x|z,c); q(c|x), q(z|x,c)."""
    torch.manual_seed(0)
    g = unidgm.Graph("gmvae")
    g.visible("x", "bernoulli", shape=(X,))
    g.latent("c", "categorical", shape=(K,), prior="standard", **latent)
    g.latent("z", "normal", shape=(Z,), prior="standard")
    g.generative(["z", "c"], "x", MLP(Z + K, [8], X))
    g.inference("x", "c", MLP(X, [8], K))
    g.inference(["x", "c"], "z", MLP(X + K, [8], 2 * Z))
    return g


def test_the_bound_is_the_sum_over_the_classes():
    model = unidgm.compile(gmvae(estimator="enumerate"))
    x = torch.bernoulli(torch.full((4, X), 0.5))
    torch.manual_seed(2)
    terms = model.loss({"x": x})
    torch.manual_seed(2)
    log_qc = torch.log_softmax(model.nets["inference_c"](x), -1)  # (4, K)
    per_class = []
    for k in range(K):  # one draw of z per class, as one batched pass draws them (K, B) in class order
        c = F.one_hot(torch.full((4,), k), K).float()
        per_class.append(c)
    cs = torch.stack(per_class)  # (K, 4, K)
    loc, log_scale = model.nets["inference_z"](torch.cat([x.expand(K, 4, X), cs], -1).reshape(-1, X + K)) \
        .reshape(K, 4, 2 * Z).chunk(2, -1)
    z = loc + log_scale.exp() * torch.randn_like(loc)
    logits = model.nets["generative_x"](torch.cat([z, cs], -1).reshape(-1, Z + K)).reshape(K, 4, X)
    rec = F.binary_cross_entropy_with_logits(logits, x.expand(K, 4, X), reduction="none").sum(-1)
    kl_z = (0.5 * (loc ** 2 + (2 * log_scale).exp() - 1) - log_scale).sum(-1)
    bound = rec + kl_z + math.log(K)  # L(x, c) with -log p(c) = log K, shape (K, 4)
    q = log_qc.exp().T  # (K, 4)
    expected = (q * (bound + log_qc.T)).sum(0).mean()
    assert torch.allclose(terms["loss"], expected, atol=1e-5)
    assert torch.allclose(terms["elbo"], -expected, atol=1e-5)
    terms["loss"].backward()
    assert model.nets["inference_c"][0].weight.grad.abs().sum() > 0  # q(c|x) learns, exactly


def test_enumeration_is_refused_where_it_cannot_act():
    with pytest.raises(unidgm.GraphError, match="sums over the classes of a one-hot categorical"):
        g = unidgm.Graph("t")
        g.visible("x", "bernoulli", shape=(X,))
        g.latent("z", "normal", shape=(Z,), prior="standard", estimator="enumerate")
        g.generative("z", "x", MLP(Z, [8], X))
        g.inference("x", "z", MLP(X, [8], 2 * Z))
        unidgm.compile(g)
    with pytest.raises(unidgm.GraphError, match="IWAE bound does not"):
        unidgm.compile(gmvae(estimator="enumerate"), "iwae")
    with pytest.raises(unidgm.ConfigError, match="enumerated without labels"):
        unidgm.compile(gmvae(estimator="enumerate"), classification_weight=1.0)
