"""Mode coverage and high-quality share on the ring and grid mixtures (VEEGAN, Sec. 5.1)."""
import pytest
import torch

from unidgm.data import load
from unidgm.errors import ConfigError, DataError
from unidgm.eval.modes import mode_metrics


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_samples_at_the_centres_cover_every_mode(name, modes):
    data = load(name)
    centers = data.meta["centers"]
    metrics = mode_metrics(centers.repeat(4, 1), centers, data.meta["std"])
    assert metrics == {"modes_covered": modes, "high_quality_share": 1.0}


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_real_data_covers_every_mode_with_high_quality(name, modes):
    data = load(name)
    metrics = mode_metrics(data.test["x"], data.meta["centers"], data.meta["std"])
    assert metrics["modes_covered"] == modes
    assert metrics["high_quality_share"] > 0.98  # 3 sd in 2-D holds 98.9%


def test_collapse_onto_three_modes_is_counted():
    data = load("ring8")
    centers, std = data.meta["centers"], data.meta["std"]
    generator = torch.Generator().manual_seed(0)
    picked = centers[torch.tensor([0, 3, 5])].repeat(100, 1)
    samples = picked + std * torch.randn(picked.shape, generator=generator)
    metrics = mode_metrics(samples, centers, std)
    assert metrics["modes_covered"] == 3
    assert metrics["high_quality_share"] > 0.95


def test_far_away_samples_have_no_quality_and_cover_nothing():
    data = load("grid25")
    centers, std = data.meta["centers"], data.meta["std"]
    samples = centers + 1.0  # half-way between grid points, 20 sd away
    assert mode_metrics(samples, centers, std) == {"modes_covered": 0, "high_quality_share": 0.0}


def test_threshold_and_min_count():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([[0.35, 0.0], [0.0, 0.5], [10.0, 0.0]])  # 3.5, 5 and 0 sd
    assert mode_metrics(samples, centers, std=0.1)["high_quality_share"] == pytest.approx(1 / 3)
    assert mode_metrics(samples, centers, std=0.1, threshold=6.0)["modes_covered"] == 2
    strict = mode_metrics(samples, centers, std=0.1, threshold=6.0, min_count=2)
    assert strict["modes_covered"] == 1


def test_bad_input_is_refused():
    centers = torch.zeros(3, 2)
    with pytest.raises(DataError, match="meta\\['centers'\\]"):
        mode_metrics(torch.zeros(5, 2), torch.zeros(3, 3), 0.1)
    with pytest.raises(ConfigError, match="std"):
        mode_metrics(torch.zeros(5, 2), centers, 0.0)
    with pytest.raises(ConfigError, match="min_count"):
        mode_metrics(torch.zeros(5, 2), centers, 0.1, min_count=0)
