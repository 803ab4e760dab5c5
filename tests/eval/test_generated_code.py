"""generated_code_accuracy: the code's values against the classes of the images made with them."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from unidgm.eval.report import generated_code_accuracy


class Generator(nn.Module):
    """Draws "images" that are one-hot class vectors: the class is ``permutation[c]`` when
    the code is tied to the class, else a uniform draw that ignores c."""

    def __init__(self, tied: bool):
        super().__init__()
        self.tied = tied
        self.permutation = torch.tensor([3, 1, 4, 0, 2])
        self.graph = SimpleNamespace(nodes={"c": SimpleNamespace(shape=(5,))})
        self.scale = nn.Parameter(torch.ones(()))  # gives the model a device
        self.given = []

    def sample(self, n, given):
        c = given["c"]
        self.given.append(c)
        classes = self.permutation[c] if self.tied else torch.randint(5, (n,))
        return {"x": nn.functional.one_hot(classes, 5).float()}


def classifier(images):
    return images  # the one-hot "image" is its own logits


def test_a_code_tied_to_the_class_scores_one_and_an_ignored_code_chance():
    torch.manual_seed(0)
    tied = Generator(tied=True)
    assert generated_code_accuracy(tied, "c", "x", classifier, n=1000, batch=300) == 1.0
    codes = torch.cat(tied.given)
    assert codes.shape == (1000,) and torch.equal(torch.bincount(codes), torch.full((5,), 200))
    assert generated_code_accuracy(Generator(tied=False), "c", "x", classifier, n=1000) == pytest.approx(0.2, abs=0.06)
