"""The caption-to-image model (dalle, Ramesh et al. 2021): one transformer over a caption then
an image's codes, as two density edges; its stage-2 loss written out against the transformer
called directly, sampling given a caption, and the command line with --caption."""
import json
import math

import pytest
import torch

import unidgm
from unidgm.data import load
from unidgm.models import build


@pytest.fixture(scope="module")
def data():
    return load("digits-captions", binarize=None)


def _model(data):
    torch.manual_seed(0)
    return unidgm.compile(build("dalle", x_shape=(1, 8, 8), caption_shape=data.shapes["t"], hidden=(8,),
                                d_model=16, heads=2, layers=1))


def test_the_prior_phase_weighs_text_and_image_tokens_one_to_seven(data):
    model = _model(data).eval()
    batch = {k: v[:5] for k, v in data.train.items()}
    out = model.loss(batch, "prior")
    joint = model.graph.edge_into("c", "generative").net.joint
    codes = model.encode(model.read_values(batch, ["x", "t"]))["c"]  # the dVAE's hard codes, (5, 2, 2)
    L, V = data.shapes["t"]
    tokens = torch.cat([batch["t"], codes.flatten(1) + V], 1)        # caption, then codes after the text vocabulary
    logp = joint.transformer(tokens).log_softmax(-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (5, L + 4)
    text, image = -logp[:, :L].sum(1).mean(), -logp[:, L:].sum(1).mean()
    assert torch.allclose(out["prior_fit_t"], text, atol=1e-4) and torch.allclose(out["prior_fit_c"], image, atol=1e-4)
    assert torch.allclose(out["prior"], (1 / 8) * text / L + (7 / 8) * image / 4, atol=1e-5)
    assert [p.name for p in model.phases] == ["prior", "elbo"]
    assert model.phases[0].groups == ("text_prior",)  # the one transformer, held by the first edge


def test_a_caption_draws_image_codes_after_it(data):
    model = _model(data).eval()
    captions = data.meta["captions"]
    t = captions.encode("a handwritten seven").expand(4, -1)
    torch.manual_seed(1)
    drawn = model.sample(4, given={"t": t})
    assert torch.equal(drawn["t"], t) and drawn["c"].shape == (4, 2, 2) and drawn["x"].shape == (4, 1, 8, 8)
    assert int(drawn["c"].max()) < 128
    free = model.sample(3)["t"]  # the text prior draws captions of text tokens only
    assert free.shape == (3, data.shapes["t"][0]) and int(free.max()) < data.shapes["t"][1]


def test_one_command_trains_both_stages_and_samples_a_caption(data, tmp_path):
    from unidgm.cli import main

    out = tmp_path / "dalle"
    assert main(["train", "dalle", "--data", "digits-captions", "--epochs", "2", "--batch-size", "256", "--out",
                 str(out), "--quiet", "--set", "hidden=(8,)", "--set", "d_model=16", "--set", "layers=1"]) == 0
    assert (out / "captioned.png").exists()  # one row per digit's caption
    assert main(["sample", str(out), "--caption", "the number 7", "--n", "4", "-o", str(tmp_path / "7.png")]) == 0
    assert (tmp_path / "7.png").exists()
    assert main(["eval", str(out), "--samples", "100", "--limit", "100"]) == 0
    metrics = json.loads((out / "eval.json").read_text())
    assert 0 <= metrics["caption_accuracy"] <= 1 and 0 <= metrics["caption_accuracy_held_out"] <= 1
    assert math.isfinite(metrics["prior_nll_bits"])
    assert main(["sample", str(out), "--caption", "a purple seven"]) != 0  # an unknown word is refused, by name


def test_the_caption_information_is_the_codes_nll_drop_against_the_caption_mixture(data):
    from collections import Counter

    from unidgm.eval.captions import caption_information_bits

    model = _model(data).eval()
    raw = {k: v[:7] for k, v in data.test.items()}
    train = data.train["t"][:40]
    got = caption_information_bits(model, "x", "c", "t", raw, train, batch=3)
    # written out: the transformer called directly, the mixture over the distinct training captions
    joint = model.graph.edge_into("c", "generative").net.joint
    V = data.shapes["t"][1]
    codes = model.encode(model.read_values(raw, ["x", "t"]))["c"].flatten(1) + V

    @torch.no_grad()
    def log_p(captions):  # log p(codes | captions), per image
        tokens = torch.cat([captions, codes], 1)
        logp = joint.transformer(tokens).log_softmax(-1)[:, -codes.shape[1]:]
        return logp.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(1).double()

    counts = Counter(tuple(row.tolist()) for row in train)
    mixture = torch.stack([log_p(torch.tensor([row] * 7)) + math.log(k / len(train)) for row, k in counts.items()])
    expected = float((log_p(raw["t"]) - mixture.logsumexp(0)).mean() / math.log(2))
    assert got == pytest.approx(expected, abs=1e-6)


def test_top_k_draws_each_code_among_the_k_most_likely_given_the_caption_so_far(data):
    torch.manual_seed(0)
    model = unidgm.compile(build("dalle", x_shape=(1, 8, 8), caption_shape=data.shapes["t"], hidden=(8,),
                                 d_model=16, heads=2, layers=1, top_k=2)).eval()
    joint = model.graph.edge_into("c", "generative").net.joint
    t = data.train["t"][:20]
    codes = joint.sample_image(t).flatten(1)                               # (20, 4)
    V = data.shapes["t"][1]
    # written out: each drawn code is among the 2 largest image logits after the caption and the codes before it
    logits = joint.transformer(torch.cat([t, codes + V], 1))[:, t.shape[1]:, V:]   # (20, 4, K): output j predicts token j
    top2 = logits.topk(2, -1).indices
    assert (top2 == codes.unsqueeze(-1)).any(-1).all()
    with pytest.raises(unidgm.ConfigError, match="top_k=999 exceeds codebook_size"):
        build("dalle", x_shape=(1, 8, 8), caption_shape=data.shapes["t"], hidden=(8,), top_k=999)
