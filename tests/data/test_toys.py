"""2-D toys: shapes, sizes, seeding, and points near the mixtures' centres."""

import pytest
import torch

from unidgm.data import grid25, ring8, swissroll
from unidgm.errors import DataError


@pytest.mark.parametrize("make", [ring8, grid25, swissroll])
def test_shapes_and_seeding(make):
    data = make()
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [20_000, 2_000, 2_000]
    assert data.train["x"].shape == (20_000, 2) and data.train["x"].dtype == torch.float32
    assert data.shapes == {"x": (2,)} and data.families == {"x": "normal"}
    assert data.binarize is None
    assert torch.equal(make().test["x"], data.test["x"])
    assert not torch.equal(make(seed=1).test["x"], data.test["x"])


def nearest_center_distance(x, centers):
    return torch.cdist(x, centers).min(dim=1)


def test_ring8_points_near_the_8_centres():
    data = ring8()
    centers = data.meta["centers"]
    assert centers.shape == (8, 2) and data.meta["std"] == 0.02
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    dist, which = nearest_center_distance(data.train["x"], centers)
    # The distance to the own centre is Rayleigh(std): P(> 10 std) = exp(-50), never seen.
    assert float(dist.max()) < 10 * 0.02
    counts = torch.bincount(which, minlength=8)
    assert int(counts.min()) > 2_000  # every mode is used, about 2,500 each


def test_grid25_centres():
    data = grid25()
    centers = data.meta["centers"]
    assert centers.shape == (25, 2) and data.meta["std"] == 0.05
    assert sorted(set(centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    dist, which = nearest_center_distance(data.train["x"], centers)
    assert float(dist.max()) < 0.5 and len(which.unique()) == 25


def test_swissroll_span():
    x = swissroll().train["x"]
    assert float(x.abs().max()) < 2.5 and float(x.abs().max()) > 1.5


def test_bad_sizes():
    with pytest.raises(DataError, match="ring8"):
        ring8(n=0)
