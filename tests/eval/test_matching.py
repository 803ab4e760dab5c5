"""Code accuracy after the best one-to-one matching (Hungarian algorithm)."""
import pytest
import torch

from unidgm.errors import DataError
from unidgm.eval.matching import code_accuracy


def _labels(n=1000, k=10, seed=0):
    return torch.randint(k, (n,), generator=torch.Generator().manual_seed(seed))


def test_a_permuted_labelling_is_perfect():
    labels = _labels()
    permutation = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    assert code_accuracy(permutation[labels], labels) == 1.0


def test_sparse_code_values_are_only_names():
    labels = _labels()
    assert code_accuracy(labels * 7 - 20, labels) == 1.0


def test_random_codes_score_about_one_over_k():
    labels = _labels(n=20_000)
    codes = _labels(n=20_000, seed=5)
    assert code_accuracy(codes, labels) == pytest.approx(0.1, abs=0.015)


def test_partial_agreement_is_counted_exactly():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    codes = torch.tensor([5, 5, 4, 4, 4, 4, 6, 5])
    # Best map: 5->0, 4->1, 6->2 gives 2 + 3 + 1 = 6 of 8.
    assert code_accuracy(codes, labels) == 0.75


def test_more_code_values_than_labels():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    codes = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])  # label 0 split over two code values
    assert code_accuracy(codes, labels) == 0.75  # one-to-one: codes 0 or 1 stay unmatched


def test_fewer_code_values_than_labels():
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    codes = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])  # two labels merged per code value
    assert code_accuracy(codes, labels) == 0.5


def test_bad_input_is_refused():
    with pytest.raises(DataError, match="argmax"):
        code_accuracy(torch.eye(3), torch.arange(3))
    with pytest.raises(DataError, match="one\\s+code per labelled sample"):
        code_accuracy(torch.arange(3), torch.arange(4))
