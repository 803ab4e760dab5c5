"""The small networks: shapes, image flattening, and a convolutional VAE that compiles."""

import pytest
import torch
from torch import nn

import unidgm
from unidgm import ConfigError
from unidgm.nets import MLP, ConvDecoder, ConvEncoder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_mlp_layers_and_shapes():
    mlp = MLP(12, [8, 5], 3)
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 8), (8, 5), (5, 3)]
    assert sum(isinstance(m, nn.ReLU) for m in mlp) == 2
    assert mlp(torch.randn(4, 12)).shape == (4, 3)
    assert mlp.in_features == 12 and mlp.out_features == 3
    linear = MLP(12, [], 3)
    assert len(linear) == 1 and isinstance(linear[0], nn.Linear)
    assert sum(isinstance(m, nn.Tanh) for m in MLP(4, [4, 4], 2, activation=nn.Tanh)) == 2


def test_mlp_flattens_images():
    mlp = MLP(64, [8], 3)
    img = torch.randn(5, 1, 8, 8)
    out = mlp(img)
    assert out.shape == (5, 3)
    torch.testing.assert_close(out, mlp(img.reshape(5, 64)))


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 12, 16)], ids=str)
def test_conv_encoder_and_decoder_shapes(shape):
    enc = ConvEncoder(shape, 6, channels=4, hidden=16)
    x = torch.randn((5,) + shape)
    assert enc(x).shape == (5, 6)
    # a flat vector of an image-shaped node is reshaped first
    torch.testing.assert_close(enc(x.flatten(1)), enc(x))
    out_shape = (2 * shape[0],) + shape[1:]
    dec = ConvDecoder(3, out_shape, channels=4, hidden=16)
    assert dec(torch.randn(5, 3)).shape == (5,) + out_shape
    assert dec(torch.randn(5, 1, 3)).shape == (5,) + out_shape  # inputs are flattened


@pytest.mark.parametrize("shape", [(1, 10, 10), (1, 28, 30), (28, 28), (1, 6, 8)], ids=str)
def test_conv_sides_must_divide_by_four(shape):
    with pytest.raises(ConfigError, match=r"ConvEncoder: image shape must be \(channels, height, width\) with sides "
                                          r"divisible by 4"):
        ConvEncoder(shape, 6)
    with pytest.raises(ConfigError, match=r"ConvDecoder: image shape must be .*divisible by 4"):
        ConvDecoder(3, shape)


def conv_vae(family="bernoulli"):
    shape = (1, 8, 8)
    k = 2 if family == "normal" else 1
    g = unidgm.Graph("conv_vae")
    g.visible("x", family, shape=shape)
    g.latent("z", "normal", shape=(3,), prior="standard")
    g.generative("z", "x", ConvDecoder(3, (k, 8, 8), channels=4, hidden=16))
    g.inference("x", "z", ConvEncoder(shape, 6, channels=4, hidden=16))
    return g


@pytest.mark.parametrize("family", ["bernoulli", "normal"])
def test_conv_vae_compiles_and_trains(family):
    model = unidgm.compile(conv_vae(family))
    x = torch.rand(4, 1, 8, 8)
    if family == "bernoulli":
        x = torch.bernoulli(x)
    terms = model.loss({"x": x})
    assert torch.isfinite(terms["loss"]) and terms["kl"] > 0
    terms["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.sample(2)["x"].shape == (2, 1, 8, 8)
    assert model.reconstruct({"x": x})["x"].shape == (4, 1, 8, 8)
    assert model.log_weights({"x": x}, 3).shape == (3, 4)
    # the reconstruction is a per-example sum over all pixels, averaged over the batch
    if family == "bernoulli":
        dec, enc = model.nets["generative_x"], model.nets["inference_z"]
        torch.manual_seed(1)
        t = model.loss({"x": x})
        torch.manual_seed(1)
        loc, log_scale = enc(x).chunk(2, -1)
        z = loc + log_scale.exp() * torch.randn_like(loc)
        rec = nn.functional.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum((1, 2, 3))
        torch.testing.assert_close(t["reconstruction"], rec.mean())


def test_conv_decoder_output_checked_at_compile_time():
    g = unidgm.Graph("conv_vae")
    g.visible("x", "normal", shape=(1, 8, 8))
    g.latent("z", "normal", shape=(3,), prior="standard")
    g.generative("z", "x", ConvDecoder(3, (1, 8, 8), channels=4, hidden=16))  # normal needs (2, 8, 8)
    g.inference("x", "z", ConvEncoder((1, 8, 8), 6, channels=4, hidden=16))
    with pytest.raises(unidgm.GraphError, match=r"edge p\(x\|z\): the network's output has shape \(1, 8, 8\).*"
                                                r"128 numbers per example, e\.g\. shape \(2, 8, 8\)"):
        unidgm.compile(g)


def test_mlp_regularisers():
    mlp = MLP(12, [8, 5], 1, batch_norm=True, dropout=0.25, spectral_norm=True)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in mlp) == 2
    assert [m.p for m in mlp if isinstance(m, nn.Dropout)] == [0.25, 0.25]
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in linears)
    mlp.train()
    for _ in range(20):  # power iterations converge on the spectral norm
        mlp(torch.randn(16, 12))
    top = torch.linalg.matrix_norm(linears[0].weight.detach(), ord=2)
    assert top == pytest.approx(1.0, abs=0.05)
    mlp.eval()
    x = torch.randn(4, 12)
    assert torch.equal(mlp(x), mlp(x))  # no dropout at evaluation
    with pytest.raises(ConfigError, match="dropout"):
        MLP(4, [4], 1, dropout=1.0)


def test_conv_nets_of_chen_et_al_table_1():
    """channels=64, hidden=1024 with batch norm (and leaky ReLUs in D) is InfoGAN's MNIST pair;
    without the options the layers keep the names older checkpoints have."""
    G = ConvDecoder(74, (1, 28, 28), channels=64, hidden=1024, batch_norm=True)
    D = ConvEncoder((1, 28, 28), 1, channels=64, hidden=1024, batch_norm=True, negative_slope=0.1)
    assert G(torch.randn(5, 74)).shape == (5, 1, 28, 28) and D(torch.rand(5, 1, 28, 28)).shape == (5, 1)
    assert [m.num_features for m in G.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))] == [1024, 6272, 64]
    assert [m.num_features for m in D.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))] == [128, 1024]
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128]
    plain = ConvEncoder((1, 28, 28), 3)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LeakyReLU)) for m in plain.modules())
    assert {"features.0.weight", "features.2.weight", "head.0.weight", "head.2.weight"} <= set(plain.state_dict())
    assert {"stem.0.weight", "stem.2.weight", "up.0.weight", "up.2.weight"} <= set(ConvDecoder(4, (1, 28, 28)).state_dict())


@pytest.mark.parametrize("size,steps,grid", [((28, 28), 3, (4, 4)), ((28, 28), 2, (7, 7)), ((27, 13), 3, (4, 2)),
                                             ((8, 8), 2, (2, 2))])
def test_a_sized_encoder_rounds_each_halving_up_and_its_decoder_inverts_it(size, steps, grid):
    from unidgm.nets import DownsamplingEncoder, UpsamplingDecoder

    encoder = DownsamplingEncoder(1, 5, 8, steps, size=size)
    decoder = UpsamplingDecoder(5, 2, 8, steps, size=size)
    h = encoder(torch.randn(3, 1, *size))
    assert h.shape == (3, 5) + grid                 # ceil(n / 2) at every step, by hand above
    assert decoder(h).shape == (3, 2) + size       # no crop: each transposed step lands on the size
    # every input row reaches the code grid: the last row's pixel changes some code
    x = torch.zeros(1, 1, *size)
    bumped = x.clone()
    bumped[..., -1, -1] = 1.0
    assert not torch.allclose(encoder(x), encoder(bumped))


def test_an_unsized_encoder_rounds_down_and_a_decoder_takes_size_or_crop():
    from unidgm.nets import DownsamplingEncoder, UpsamplingDecoder

    assert DownsamplingEncoder(1, 5, 8, 3)(torch.randn(2, 1, 28, 28)).shape == (2, 5, 3, 3)
    with pytest.raises(ConfigError, match="give size .* or crop"):
        UpsamplingDecoder(5, 1, 8, 2, crop=(28, 28), size=(28, 28))
    with pytest.raises(ConfigError, match="size must be the image's"):
        DownsamplingEncoder(1, 5, 8, 2, size=(28,))
