"""write_codes: Chen et al.'s Fig. 2, the code varied with everything else held."""
import torch

import unidgm
from unidgm.data import load
from unidgm.eval import write_codes
from unidgm.models import build


def _recording(model):
    calls = []
    sample = model.sample

    def record(n, given=None, mean=True):
        calls.append({k: v.clone() for k, v in (given or {}).items()})
        return sample(n, given=given, mean=mean)

    model.sample = record
    return calls


def test_rows_vary_the_code_and_columns_share_the_rest(tmp_path):
    torch.manual_seed(0)
    model = unidgm.compile(build("infogan", x_shape=(1, 8, 8), noise_dim=4, categories=3, continuous=2,
                                 hidden=(16,), net="mlp"))
    model.eval()
    calls = _recording(model)
    path = write_codes(model, tmp_path / "codes.png", load("digits").test, n=5, span=2.0)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert len(calls) == 3  # the categorical block, then one sweep per continuous dimension
    top = calls[0]
    assert top["c"].tolist() == [k for k in range(3) for _ in range(5)]
    z = top["z"].view(3, 5, 4)
    assert torch.equal(z, z[:1].expand(3, 5, 4)) and not torch.equal(z[0, 0], z[0, 1])  # one draw per column
    for i, call in enumerate(calls[1:]):
        s = call["s"].view(3, 5, 2)
        assert torch.allclose(s[..., i], torch.linspace(-2, 2, 5).expand(3, 5))
        assert torch.equal(s[..., 1 - i], s[..., 1 - i].flatten()[0].expand(3, 5))  # the other dimension held
        assert torch.equal(call["z"], call["z"][:1].expand(15, 4))  # the noise held in every cell


def test_models_without_an_inferred_categorical_code_give_none(tmp_path):
    data = load("digits").test
    vae = unidgm.compile(build("vae", x_shape=(1, 8, 8), latent_dim=3, hidden=(16,)))
    ssvae = unidgm.compile(build("ssvae", x_shape=(1, 8, 8), latent_dim=3, hidden=(16,)))
    assert write_codes(vae, tmp_path / "v.png", data) is None
    assert write_codes(ssvae, tmp_path / "s.png", data) is None
    assert not (tmp_path / "v.png").exists()
