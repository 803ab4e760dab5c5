"""Fréchet distance against closed forms; the digit classifier, its cache and its FID."""
import logging
import math

import numpy as np
import pytest
import torch

import unidgm.eval.classifier as classifier_module
from unidgm.data import load
from unidgm.errors import DataError
from unidgm.eval.classifier import DigitClassifier, accuracy, digit_classifier, fingerprint
from unidgm.eval.frechet import feature_statistics, fid, frechet_distance


def _spd(d, seed):
    a = np.random.default_rng(seed).normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_zero_for_identical_statistics():
    mu, sigma = np.arange(5.0), _spd(5, 0)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


def test_diagonal_gaussians_match_the_closed_form():
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3.0, size=6), rng.uniform(0.1, 3.0, size=6)
    exact = np.sum((m1 - m2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = frechet_distance(torch.tensor(m1), torch.tensor(np.diag(s1)), m2, np.diag(s2))
    assert math.isclose(got, exact, rel_tol=1e-9)


def test_symmetric_and_positive_for_full_covariances():
    mu1, mu2 = np.zeros(4), np.ones(4)
    s1, s2 = _spd(4, 2), _spd(4, 3)
    forward, backward = frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)
    assert math.isclose(forward, backward, rel_tol=1e-8)
    assert forward > 4.0  # at least |mu1 - mu2|^2


def test_singular_covariances_stay_finite():
    v = np.random.default_rng(4).normal(size=(3, 1))
    singular = v @ v.T  # rank 1
    value = frechet_distance(np.zeros(3), singular, np.zeros(3), np.zeros((3, 3)))
    assert math.isclose(value, np.trace(singular), rel_tol=1e-3)


def test_mismatched_shapes_name_the_fix():
    with pytest.raises(DataError, match="same\\s+dimension"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


class _Counter:
    """Wraps `train_classifier`, counting calls; `epochs` shortens retraining in tests."""

    def __init__(self, epochs=None):
        self.calls, self.epochs, self.original = 0, epochs, classifier_module.train_classifier

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        return self.original(*args, **kwargs)


@pytest.fixture(scope="module")
def digits():
    return load("digits", binarize=None)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The digits classifier, trained once into a temporary cache."""
    cache = tmp_path_factory.mktemp("cache")
    counter = _Counter()
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier_module, "train_classifier", counter)
        model = digit_classifier("digits", cache_dir=cache)
    assert counter.calls == 1
    # Training leaves torch's thread count and global RNG as they were.
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), rng)
    return model, cache


def test_classifier_is_accurate_on_digits(trained, digits):
    model, _ = trained
    assert accuracy(model, digits.test["x"], digits.test["y"]) >= 0.90
    assert not any(p.requires_grad for p in model.parameters())
    flat = digits.test["x"][:5].reshape(5, -1)
    assert torch.equal(model(flat), model(digits.test["x"][:5]))


def test_cache_is_reused(trained, monkeypatch, digits):
    model, cache = trained
    counter = _Counter()
    monkeypatch.setattr(classifier_module, "train_classifier", counter)
    again = digit_classifier("digits", cache_dir=cache)
    assert counter.calls == 0
    assert torch.equal(again(digits.test["x"]), model(digits.test["x"]))


def test_corrupt_cache_is_retrained_with_a_warning(trained, tmp_path, monkeypatch, caplog):
    _, cache = trained
    (path,) = cache.glob("classifier-digits-*.pt")
    broken = tmp_path / path.name
    broken.write_bytes(b"not a checkpoint")
    counter = _Counter(epochs=1)
    monkeypatch.setattr(classifier_module, "train_classifier", counter)
    with caplog.at_level(logging.WARNING, logger="unidgm.eval"):
        digit_classifier("digits", cache_dir=tmp_path)
    assert counter.calls == 1
    assert "retraining" in caplog.text
    digit_classifier("digits", cache_dir=tmp_path)  # the overwritten file now loads
    assert counter.calls == 1


def test_fingerprint_tells_datasets_apart(digits):
    x, y = digits.train["x"], digits.train["y"]
    assert fingerprint(x, y) == fingerprint(x.clone(), y.clone())
    assert fingerprint(x, y) != fingerprint(x, y.roll(1))
    assert fingerprint(x, y) != fingerprint(x[:-1], y[:-1])
    assert fingerprint(x, y) != fingerprint(1 - x, y)


def test_unknown_dataset_is_refused():
    with pytest.raises(DataError, match="digits, mnist"):
        digit_classifier("ring8")


def test_feature_statistics_shapes(trained, digits):
    model, _ = trained
    mu, sigma = feature_statistics(model, digits.test["x"], batch_size=100)
    assert mu.shape == (128,) and sigma.shape == (128, 128)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    assert np.allclose(sigma, sigma.T)


def test_fid_grows_with_a_shift(trained, digits):
    model, _ = trained
    real, other = digits.train["x"][:600], digits.train["x"][600:1200]
    same = fid(model, real, other)
    noisy = fid(model, real, (other + 0.3 * torch.randn_like(other)).clamp(0, 1))
    inverted = fid(model, real, 1 - other)
    assert 0 <= same < noisy < inverted


def test_classifier_handles_28x28_shapes():
    model = DigitClassifier((1, 28, 28))
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert model.features(torch.rand(3, 784)).shape == (3, 128)
    with pytest.raises(DataError, match="flat vectors"):
        model(torch.rand(3, 1, 8, 8))


def test_cache_folder_follows_unidgm_cache_then_xdg(monkeypatch, tmp_path):
    from unidgm.eval.classifier import _cache_folder

    monkeypatch.setenv("UNIDGM_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache_folder("digits", None, None) == tmp_path / "mine"
    assert _cache_folder("digits", None, tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv("UNIDGM_CACHE")
    assert _cache_folder("digits", None, None) == tmp_path / "xdg" / "unidgm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache_folder("digits", None, None) == tmp_path / "home" / ".cache" / "unidgm"
