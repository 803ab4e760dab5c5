"""Add-1 pairs (two views for the Wyner model, Ryu et al. 2022) and the `resample` hook: the
labels of every pair differ by one mod 10, every y is an image of its split, the training pairs
are drawn afresh each epoch yet the same for the same epoch, the Trainer trains on each
epoch's pairs and resumes onto them exactly, and counts that disagree are refused."""

from collections import Counter

import pytest
import torch
from torch import nn

from unidgm.data import DATASETS, DataSplits, load, load_paired, pair_views, semi_supervised
from unidgm.errors import DataError
from unidgm.train import Trainer

# scikit-learn's digits as `load_digits` splits them (digits.py): 1,300 / 200 / 297.
SIZES = {"train": 1300, "val": 200, "test": 297}
BATCH = 500  # 1,300 rows -> 3 steps per epoch: 500, 500, 300
QUIET = {"device": "cpu", "progress": False, "batch_size": BATCH, "eval_batch_size": 500,
         "monitor": "loss", "monitor_mode": "min"}


@pytest.fixture(scope="module")
def base():
    return load("digits", binarize=None, seed=0)


@pytest.fixture(scope="module")
def data():
    return load("digits-add1", binarize=None, seed=0)


def rows(images):
    """Each image's bytes, to compare rows exactly and count them."""
    return [bytes(row.contiguous().numpy().tobytes()) for row in images]


def pairs(split):
    """The multiset of (x image, y image) pairs of a split."""
    return Counter(zip(rows(split["x"]), rows(split["y"])))


def test_registered_and_shaped(data):
    assert DATASETS[-2:] == ("digits-add1", "mnist-add1")
    assert data.name == "digits-add1"
    assert data.shapes == {"x": (1, 8, 8), "label_x": (10,), "y": (1, 8, 8), "label_y": (10,)}
    assert data.families == {"x": "normal", "label_x": "categorical", "y": "normal",
                             "label_y": "categorical"}
    for split, n in SIZES.items():
        tensors = getattr(data, split)
        assert list(tensors) == ["x", "label_x", "y", "label_y"]
        assert tensors["y"].shape == (n, 1, 8, 8) and tensors["label_y"].shape == (n,)
        assert tensors["label_y"].dtype == torch.int64


@pytest.mark.parametrize("split", list(SIZES))
def test_pairs_are_add_one_and_y_is_an_image_of_the_same_split(data, base, split):
    paired, source = getattr(data, split), getattr(base, split)
    # view x is the base split itself, row for row
    assert torch.equal(paired["x"], source["x"]) and torch.equal(paired["label_x"], source["y"])
    assert torch.equal(paired["label_y"], (source["y"] + 1) % 10)
    # every y row is, byte for byte, an image of this split whose label is label_y
    labels_of = {}
    for image, label in zip(rows(source["x"]), source["y"].tolist()):
        labels_of.setdefault(image, set()).add(label)
    for i, (image, label) in enumerate(zip(rows(paired["y"]), paired["label_y"].tolist())):
        assert label in labels_of.get(image, ()), f"{split} row {i}: y is no {label} of the split"


def test_partners_are_drawn_at_random_within_the_class(data, base):
    # With n draws from the n images of a class, about 1 - 1/e = 63% are distinct; a
    # pairing that always took the same partner would give one.
    source = base.train
    for digit in range(10):
        pool = int((source["y"] == digit).sum())
        drawn = data.train["y"][data.train["label_y"] == digit]
        assert len(set(rows(drawn))) > 0.45 * pool, digit


def test_repairing_changes_pairs_between_epochs_but_not_within_one(data, base):
    n = SIZES["train"]
    epoch0 = data.resample(data.train, 0)
    epoch1 = data.resample(data.train, 1)
    again = data.resample(data.train, 1)
    assert all(torch.equal(epoch1[k], again[k]) for k in epoch1)  # a function of the epoch
    assert all(torch.equal(epoch0[k], data.train[k]) for k in epoch0)  # loaded = epoch 0
    # x stays, y is redrawn: about 1/130 of the rows keep their partner (130 images a class)
    assert torch.equal(epoch1["x"], data.train["x"])
    assert torch.equal(epoch1["label_y"], (data.train["label_x"] + 1) % 10)
    kept = sum((pairs(epoch0) & pairs(epoch1)).values())
    assert kept < 0.1 * n
    # the same seed gives the same pairs on a fresh load, another seed other pairs
    reloaded = load("digits-add1", binarize=None, seed=0)
    assert torch.equal(reloaded.resample(reloaded.train, 7)["y"], data.resample(data.train, 7)["y"])
    other = load_paired(base, seed=1)  # the same images, paired under another seed
    assert torch.equal(other.train["x"], data.train["x"])
    assert sum((pairs(other.train_at(1)) & pairs(epoch1)).values()) < 0.1 * n
    assert torch.equal(data.train_at(1)["y"], epoch1["y"])


def test_val_and_test_pairs_are_fixed(data):
    reloaded = load("digits-add1", binarize=None, seed=0)
    for split in ("val", "test"):
        assert torch.equal(getattr(reloaded, split)["y"], getattr(data, split)["y"])


def test_pair_views_by_hand():
    # view y: rows 10, 20, 30, 40 of classes 1, 2, 0, 1
    y = torch.tensor([[10.0], [20.0], [30.0], [40.0]])
    labels_y = torch.tensor([1, 2, 0, 1])
    x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    labels_x = torch.tensor([0, 1, 2, 0])
    generator = torch.Generator().manual_seed(0)
    out = pair_views(x, labels_x, y, labels_y, partner=lambda d: (d + 1) % 3, generator=generator)
    assert list(out) == ["x", "label_x", "y", "label_y"]
    assert out["x"] is x and out["label_y"].tolist() == [1, 2, 0, 1]
    # class 1's partner 2 has one image (20), class 2's partner 0 one (30); class 0's partner
    # 1 has two (10, 40)
    assert out["y"][1].item() == 20.0 and out["y"][2].item() == 30.0
    assert out["y"][0].item() in (10.0, 40.0) and out["y"][3].item() in (10.0, 40.0)
    # the default partner is add-one mod 10; NumPy arrays are accepted
    out = pair_views(x.numpy(), [3, 3, 3, 3], y.numpy(), [4, 9, 9, 9])
    assert out["y"].flatten().tolist() == [10.0] * 4 and out["label_y"].tolist() == [4] * 4


def test_pair_views_refuses_mismatched_counts():
    x, y = torch.zeros(5, 3), torch.zeros(4, 2)
    with pytest.raises(DataError) as info:
        pair_views(x, torch.zeros(4, dtype=torch.int64), y, torch.zeros(4, dtype=torch.int64))
    message = str(info.value)
    assert "view 'x' has 5 rows but 'label_x' has 4 labels" in message
    assert "one label per row" in message
    with pytest.raises(DataError, match=r"view 'y' has 4 rows but 'label_y' has 6 labels; give"):
        pair_views(x, torch.zeros(5, dtype=torch.int64), y, torch.zeros(6, dtype=torch.int64))
    # three x rows of class 2 whose partner 3 view y lacks
    with pytest.raises(DataError) as info:
        pair_views(x, torch.tensor([2, 2, 2, 0, 0]), y, torch.tensor([1, 1, 4, 4]))
    message = str(info.value)
    assert "3 rows of view 'x' have class 2" in message
    assert "partner class 3 has 0 rows in view 'y' (4 rows, of classes [1, 4])" in message
    assert "give view 'y' rows of class 3" in message
    with pytest.raises(DataError, match=r"'label_x' is torch.float32 of shape \(5, 10\).*argmax"):
        pair_views(x, torch.zeros(5, 10), y, torch.zeros(4, dtype=torch.int64))


def test_load_paired_refuses_data_without_labels(base):
    with pytest.raises(DataError, match="no categorical labels 'y'"):
        load_paired(load("ring8"))
    with pytest.raises(DataError, match=r"split 'train' has unlabelled examples \(label -1\)"):
        load_paired(semi_supervised(base, 100, seed=0))


def test_dynamic_binarization_binarizes_both_views():
    data = load("digits-add1", seed=0)  # binarize="dynamic"
    assert data.families["x"] == data.families["y"] == "bernoulli"
    grey = {k: v[:64] for k, v in data.train.items()}
    batch = data.prepare(grey)
    for key in ("x", "y"):
        assert not set(grey[key].unique().tolist()) <= {0.0, 1.0}
        assert set(batch[key].unique().tolist()) <= {0.0, 1.0}
    assert batch["label_y"] is grey["label_y"]


def test_flatten_and_to_keep_resample(data):
    flat = load("digits-add1", binarize=None, seed=0, flatten=True)
    assert flat.shapes["y"] == (64,) and flat.train["y"].shape == (SIZES["train"], 64)
    assert torch.equal(flat.resample(flat.train, 3)["y"],
                       data.resample(data.train, 3)["y"].reshape(-1, 64))
    moved = data.to("cpu")
    assert torch.equal(moved.resample(moved.train, 3)["y"], data.resample(data.train, 3)["y"])

    # A resample with its own, unflattened pool: flatten() flattens what it returns.
    pool = torch.rand(6, 1, 2, 2)
    images = DataSplits(
        "pool", train={"x": pool[:3]}, val={"x": pool[3:]}, test={"x": pool[3:]},
        shapes={"x": (1, 2, 2)},
        families={"x": "normal"}, resample=lambda train, epoch: {"x": pool[epoch:epoch + 3]},
    ).flatten()
    assert images.train_at(2)["x"].shape == (3, 4)
    assert torch.equal(images.train_at(2)["x"], pool[2:5].reshape(3, 4))
    with pytest.raises(DataError, match="resample is a str"):
        DataSplits("bad", train={}, val={}, test={}, shapes={}, families={}, resample="epoch")


# ----------------------------------------------------------------------- the Trainer


class PairRecorder(nn.Module):
    """A model with one parameter that keeps a copy of every training batch."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.batches = []

    def loss(self, batch):
        if self.training:
            self.batches.append({k: v.detach().clone() for k, v in batch.items()})
        gap = batch["x"].flatten(1) - batch["y"].flatten(1)
        return {"loss": ((gap - self.w) ** 2).mean()}


def epochs_of(batches, steps_per_epoch=3):
    """Each epoch's batches, concatenated key by key."""
    return [
        {k: torch.cat([b[k] for b in batches[i : i + steps_per_epoch]]) for k in batches[0]}
        for i in range(0, len(batches), steps_per_epoch)
    ]


def test_trainer_trains_on_each_epochs_pairs(data, tmp_path):
    model = PairRecorder()
    Trainer(model, data, epochs=2, out=tmp_path / "run", **QUIET).fit()
    assert [len(b["x"]) for b in model.batches] == [500, 500, 300] * 2
    first, second = epochs_of(model.batches)
    whole = Counter(rows(data.train["x"]))
    for epoch in (first, second):
        assert torch.equal(epoch["label_y"], (epoch["label_x"] + 1) % 10)
        assert Counter(rows(epoch["x"])) == whole  # every example once an epoch
    assert pairs(first) == pairs(data.train)  # epoch 0: the pairs as loaded
    kept = sum((pairs(first) & pairs(second)).values())
    assert kept < 0.1 * SIZES["train"]  # epoch 1: partners drawn afresh


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize(
    "stop, device", [(4, "cpu"), (3, "cpu"), pytest.param(4, "cuda", marks=CUDA)],
    ids=["mid-epoch", "epoch-end", "mid-epoch-cuda"],
)
def test_resume_sees_the_batches_of_an_uninterrupted_run(data, tmp_path, stop, device):
    quiet = {**QUIET, "device": device}
    straight = PairRecorder()
    Trainer(straight, data, max_steps=8, out=tmp_path / "straight", **quiet).fit()

    out = tmp_path / "stopped"
    first = PairRecorder()
    Trainer(first, data, max_steps=stop, out=out, **quiet).fit()
    torch.manual_seed(999)  # disturbed: the checkpoint restores the RNG
    second = PairRecorder()
    Trainer(second, data, resume=True, out=out, max_steps=8).fit()

    resumed = first.batches + second.batches
    assert len(resumed) == len(straight.batches) == 8
    for step, (a, b) in enumerate(zip(resumed, straight.batches), start=1):
        assert all(torch.equal(a[k], b[k]) for k in a), f"step {step}"
    assert torch.equal(second.w, straight.w)
    assert straight.batches[-1]["y"].device.type == device


def test_trainer_refuses_a_resample_that_changes_the_rows(tmp_path):
    split = {"x": torch.rand(8, 2)}
    empty = {"x": torch.rand(0, 2)}
    data = DataSplits("short", train=split, val=empty, test=empty, shapes={"x": (2,)},
                      families={"x": "normal"},
                      resample=lambda train, epoch: {"x": train["x"][:5]})
    with pytest.raises(DataError, match=r"resample\(train, 0\) returned rows \{'x': 5\}.*has 8"):
        Trainer(PairRecorder(), data, epochs=1, device="cpu", progress=False, batch_size=4,
                monitor=None).fit()
