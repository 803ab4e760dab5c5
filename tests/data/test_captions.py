"""Digit captions (DALL-E style, Ramesh et al. 2021): the tokenizer's round trip and
position-specific padding tokens, captioned digits whose training split never carries a
held-out phrasing, seeded draws, and the refused captions."""

import pytest
import torch
from torch import nn

import unidgm
from unidgm.data import Captions, DataSplits, load, load_captioned, semi_supervised
from unidgm.data.captions import HELD_OUT, NUMBER_WORDS
from unidgm.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def captions():
    return Captions()


@pytest.fixture(scope="module")
def data():
    return load("digits-captions", binarize=None, seed=0)


def every_phrasing(captions, held_out):
    return [p for d in range(10) for p in captions.phrasings(d, held_out)]


def test_vocabulary_and_phrasings(captions):
    assert captions.words[:20] == tuple("0123456789") + NUMBER_WORDS  # id of "7" is 7, of "seven" 17
    assert 20 <= len(captions.words) <= 60 and len(set(captions.words)) == len(captions.words)
    assert captions.length == max(len(p.split()) for held in (False, True)
                                  for p in every_phrasing(captions, held))
    assert captions.vocab_size == len(captions.words) + captions.length
    sevens = captions.phrasings(7)
    assert {"7", "digit seven", "the number 7", "a handwritten seven"} <= set(sevens)
    assert "an image of an eight" in captions.phrasings(8)
    assert captions.phrasings(7, held_out=True) == ["the digit seven", "an image of the number 7"]
    assert len(sevens) == 6 and not set(sevens) & set(captions.phrasings(7, held_out=True))
    # Every word of a held-out phrasing is seen in training, in another sentence.
    seen = {w for p in every_phrasing(captions, False) for w in p.split()}
    assert {w for p in every_phrasing(captions, True) for w in p.split()} <= seen
    assert Captions().words == captions.words  # deterministic order


@pytest.mark.parametrize("held_out", [False, True])
def test_round_trip_of_every_phrasing(captions, held_out):
    texts = every_phrasing(captions, held_out)
    ids = captions.encode_batch(texts)
    assert ids.dtype == torch.int64 and ids.shape == (len(texts), captions.length)
    assert captions.decode_batch(ids) == texts
    digits = [d for d in range(10) for _ in captions.phrasings(d, held_out)]
    for digit, text, row in zip(digits, texts, ids):
        assert torch.equal(captions.encode(text), row) and captions.decode(row.tolist()) == text
        assert captions.digit_of(text) == captions.digit_of(row) == digit
    assert captions.encode("A Handwritten  SEVEN").tolist() == captions.encode("a handwritten seven").tolist()


def test_padding_tokens_depend_on_the_position(captions):
    L, W = captions.length, len(captions.words)
    assert captions.pad_ids.tolist() == list(range(W, W + L))
    one, two = captions.encode("7"), captions.encode("digit seven")
    assert one[1:].tolist() == captions.pad_ids[1:].tolist()
    assert two[2:].tolist() == captions.pad_ids[2:].tolist()
    assert one[2] == two[2] and one[1] != captions.pad_ids[2]  # one token per position, shared
    # Pads are dropped wherever they stand, e.g. in a sampled sequence.
    ids = torch.tensor([captions.pad_ids[0], 7] + captions.pad_ids[2:].tolist())
    assert captions.decode(ids) == "7"
    assert captions.decode(captions.pad_ids) == ""


def test_digit_of(captions):
    assert captions.digit_of("a handwritten seven") == 7 and captions.digit_of("the number 0") == 0
    assert captions.digit_of("seven 7") == 7  # the word and the numeral agree
    assert captions.digit_of("seven 8") is None and captions.digit_of("a cat") is None


def test_refused_captions_say_why(captions):
    with pytest.raises(DataError, match=r"'sevn' is not in the vocabulary.*handwritten"):
        captions.encode("a handwritten sevn")
    with pytest.raises(DataError, match="empty"):
        captions.encode("   ")
    with pytest.raises(DataError, match=rf"7 words, more than the {captions.length} text positions"):
        captions.encode("a picture of the digit seven 7")
    with pytest.raises(DataError, match="not in the vocabulary"):
        captions.encode("seven.")  # no punctuation
    with pytest.raises(DataError, match=r"must lie in \[0, 35\)"):
        captions.decode([0, 35, 0, 0, 0, 0])
    with pytest.raises(DataError, match="digits 0..9"):
        captions.phrasings(10)
    long = Captions(length=8)
    assert long.encode("a picture of the digit seven 7").shape == (8,)
    with pytest.raises(ConfigError, match="at least 6"):
        Captions(length=3)
    with pytest.raises(ConfigError, match="not among the templates"):
        Captions(held_out=("a drawing of {a} {word}",))
    with pytest.raises(ConfigError, match="exactly once"):
        Captions(templates=("{word} {numeral}",), held_out=())


def test_captioned_digits_are_a_dataset_like_the_others(data, captions):
    L, V = captions.length, captions.vocab_size
    assert isinstance(data, DataSplits) and data.name == "digits-captions"
    assert data.shapes == {"x": (1, 8, 8), "y": (10,), "t": (L, V)}
    assert data.families == {"x": "normal", "y": "categorical", "t": "categorical"}
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [1300, 200, 297]
    for split in (data.train, data.val, data.test):
        assert split["t"].dtype == torch.int64 and split["t"].shape == (split["y"].shape[0], L)
    assert data.meta["vocab_size"] == V and data.meta["caption_length"] == L
    assert data.meta["t_held_out"].shape == (297, L)
    flat = data.flatten()
    assert isinstance(flat, DataSplits) and flat.shapes["x"] == (64,) and flat.shapes["t"] == (L, V)
    dynamic = load("digits-captions", seed=0)
    batch = dynamic.prepare({k: v[:5] for k, v in dynamic.train.items()})
    assert torch.equal(batch["t"], dynamic.train["t"][:5])
    assert semi_supervised(data, 100).train["t"].shape[1] == L


def test_training_captions_name_the_label_and_never_a_held_out_phrasing(data, captions):
    for split in ("train", "val", "test"):
        texts = captions.decode_batch(getattr(data, split)["t"])
        assert [captions.digit_of(t) for t in texts] == getattr(data, split)["y"].tolist()
        assert not set(texts) & set(every_phrasing(captions, True))
    train = set(captions.decode_batch(data.train["t"]))
    assert train == set(every_phrasing(captions, False))  # every training phrasing is used
    held = captions.decode_batch(data.meta["t_held_out"])
    assert set(held) <= set(every_phrasing(captions, True)) and len(set(held)) == 20
    assert [captions.digit_of(t) for t in held] == data.test["y"].tolist()


def test_captions_are_seeded(data):
    again = load_captioned(load("digits", binarize=None, seed=0), seed=0)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(again, split)["t"], getattr(data, split)["t"])
    assert torch.equal(again.meta["t_held_out"], data.meta["t_held_out"])
    other = load_captioned(load("digits", binarize=None, seed=0), seed=1)
    assert torch.equal(other.train["x"], data.train["x"])
    assert not torch.equal(other.train["t"], data.train["t"])


def test_refused_datasets(data):
    with pytest.raises(DataError, match="captioned already"):
        load_captioned(data)
    with pytest.raises(DataError, match="no digit labels"):
        load_captioned(load("ring8"))
    unlabelled = semi_supervised(load("digits", binarize=None), 100)
    with pytest.raises(DataError, match="before semi_supervised"):
        load_captioned(unlabelled)
    nothing_held = load_captioned(load("digits", binarize=None), captions=Captions(held_out=()))
    assert "t_held_out" not in nothing_held.meta
    with pytest.raises(DataError, match="hold out no templates"):
        nothing_held.meta["captions"].draw(torch.tensor([1]), held_out=True)
    assert HELD_OUT == Captions().held_out_templates


def test_a_graph_reads_captions_as_class_indices(data):
    """The caption node as a DALL-E graph declares it: class indices over the vocabulary."""
    shape, classes = data.shapes["t"][:-1], data.shapes["t"][-1]
    torch.manual_seed(0)
    g = unidgm.Graph("captions")
    g.visible("t", "categorical", shape=shape, classes=classes)
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.generative("z", "t", nn.Sequential(nn.Linear(2, shape[0] * classes), nn.Unflatten(1, (*shape, classes))))
    g.inference("t", "z", nn.Sequential(nn.Embedding(classes, 2), nn.Flatten(), nn.Linear(shape[0] * 2, 4)))
    model = unidgm.compile(g)
    terms = model.loss({k: v[:8] for k, v in data.train.items()})
    assert torch.isfinite(terms["loss"])
