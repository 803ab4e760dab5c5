"""Accuracy of an unsupervised categorical code against true labels, after the best
one-to-one matching of code values to labels.

A categorical latent code (InfoGAN's c ~ Cat(K = 10): Chen et al., "InfoGAN: Interpretable
Representation Learning by Information Maximizing Generative Adversarial Nets", NeurIPS
2016, Sec. 5.2, report about 95% on MNIST) or a clustering names its groups arbitrarily, so
its accuracy is measured after relabelling::

    acc = max over one-to-one maps m of  (1/N) sum_i [m(code_i) = label_i]

The maximum is a linear assignment on the code-by-label confusion matrix, solved exactly by
the Hungarian algorithm (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``): the
"unsupervised clustering accuracy" of Xie et al., "Unsupervised Deep Embedding for
Clustering Analysis", ICML 2016, Sec. 4.2. When the numbers of code values and labels
differ, the matching is rectangular: only min(#codes, #labels) pairs are matched and every
sample of an unmatched code value or label counts as wrong.
"""

from __future__ import annotations

import numpy as np
import torch

from unidgm.errors import DataError


def code_accuracy(codes: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of samples whose code value maps to their label under the best one-to-one
    map from code values to labels.

    Args:
        codes: (N,) integer code values, e.g. the arg-max of a categorical code's posterior
            ``q(c | x)``; any integers, used only as names.
        labels: (N,) integer true labels.
    """
    codes, labels = torch.as_tensor(codes), torch.as_tensor(labels)
    for name, value in (("codes", codes), ("labels", labels)):
        if value.dim() != 1 or value.is_floating_point() or value.is_complex():
            raise DataError(
                f"code_accuracy: {name} has shape {tuple(value.shape)} and dtype "
                f"{value.dtype}; expected integer values of shape (N,); for one-hot or "
                "probability rows pass value.argmax(-1)."
            )
    if codes.shape[0] != labels.shape[0] or codes.shape[0] == 0:
        raise DataError(
            f"code_accuracy: {codes.shape[0]} codes and {labels.shape[0]} labels; give one "
            "code per labelled sample, at least one."
        )
    from scipy.optimize import linear_sum_assignment

    # Values become 0..K-1 indices, so sparse or negative values cost nothing.
    _, code_index = torch.unique(codes.cpu(), return_inverse=True)
    _, label_index = torch.unique(labels.cpu(), return_inverse=True)
    num_codes, num_labels = int(code_index.max()) + 1, int(label_index.max()) + 1
    # confusion[c, l] = number of samples with code c and label l.
    confusion = torch.zeros(num_codes * num_labels, dtype=torch.int64)
    confusion.index_add_(0, code_index * num_labels + label_index, torch.ones_like(code_index))
    confusion = confusion.reshape(num_codes, num_labels).numpy()
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    return float(np.sum(confusion[rows, cols]) / codes.shape[0])
