"""The compiled model as a torch module: forward returns the terms, a deep copy computes
with its own networks, and the objective's training defaults reach the Trainer."""
import copy
from types import SimpleNamespace

import torch

import unidgm
from unidgm.models import build
from unidgm.train import Trainer

from .graphs import binary_batch, vae


def test_forward_returns_the_terms():
    model = unidgm.compile(vae())
    batch = binary_batch()
    torch.manual_seed(0)
    by_loss = model.loss(batch)
    torch.manual_seed(0)
    by_call = model(batch)
    assert set(by_call) == set(by_loss) and torch.equal(by_call["loss"], by_loss["loss"])


def test_a_deep_copy_computes_with_its_own_networks():
    for kl in ("analytic", "mc"):
        model = unidgm.compile(vae(prior="learned"), kl=kl)
        twin = copy.deepcopy(model)
        with torch.no_grad():
            for p in twin.learned_priors.parameters():  # only the copy's prior moves
                p.add_(0.5)
        batch = binary_batch()
        torch.manual_seed(0)
        original = model.loss(batch)
        torch.manual_seed(0)
        copied = twin.loss(batch)
        assert not torch.allclose(original["kl"], copied["kl"]), kl  # the copy's KL reads the copy's prior
        copied["loss"].backward()
        assert all(p.grad is None for p in model.parameters())  # and its gradient reaches the copy only


def test_the_objectives_training_defaults_reach_the_trainer():
    gan = unidgm.compile(build("gan", x_shape=(4,), hidden=(8,), latent_dim=2))
    data = SimpleNamespace(train={"x": torch.rand(32, 4)}, val={"x": torch.rand(16, 4)}, test=None)
    trainer = Trainer(gan, data, max_steps=3, progress=False, device="cpu")
    assert (trainer.config.lr, trainer.config.betas, trainer.config.monitor) == (2e-4, (0.5, 0.999), None)
    assert trainer.fit()["steps"] == 3
    assert Trainer(gan, data, max_steps=1, lr=1e-3, progress=False).config.lr == 1e-3  # a given value wins
    assert Trainer(unidgm.compile(vae()), SimpleNamespace(train=binary_batch(), val=None, test=None), progress=False).config.monitor \
        == "elbo"


def test_a_module_shared_by_p_and_q_belongs_to_the_first_edge_that_holds_it():
    """A codebook that q quantizes with and p decodes from, or tied weights: each parameter
    is in exactly one kind (the first edge's, in declaration order), and training runs."""
    import torch
    from torch import nn

    import unidgm
    from unidgm.train import Trainer

    shared = nn.Linear(4, 4)
    g = unidgm.Graph("tied")
    g.visible("x", "bernoulli", (4,))
    g.latent("z", "normal", (2,), prior="standard")
    g.generative("z", "x", nn.Sequential(nn.Linear(2, 4), shared))
    g.inference("x", "z", nn.Sequential(shared, nn.Linear(4, 4)))
    model = unidgm.compile(g)
    groups = model.parameter_groups()
    ids = lambda name: {id(p) for p in groups[name]}  # noqa: E731
    assert {id(shared.weight), id(shared.bias)} <= ids("generative") and not ids("generative") & ids("inference")
    assert ids("generative") | ids("inference") == {id(p) for p in model.parameters()}
    data = type("Data", (), {"train": {"x": torch.rand(20, 4).round()}, "val": None, "test": None})()
    before = shared.weight.detach().clone()
    assert Trainer(model, data, max_steps=3, progress=False, device="cpu").fit()["steps"] == 3
    assert not torch.equal(before, shared.weight)
