"""Metrics of discrete codes and their learned priors (VQ-VAE, VQ-VAE-2, the discrete VAE).

A *code node* is a latent carried as class indices (``g.latent("c", "categorical", (7, 7),
classes=K)``) that q infers deterministically from the data: a grid of codebook indices.
For a model with code nodes, on the test images:

- ``reconstruction_mse``: per pixel, between each image and its decoding from its codes (the
  hard codes: q's means, e.g. the nearest codebook vectors or the argmax of a discrete VAE's
  logits, decoded through p); ``reconstruction_accuracy``: the share of those decodings that
  the library's digit classifier reads as the original's label; ``fid_reconstruction``: the
  Frechet distance of those decodings to the test images (VQ-GAN's measure, Esser et al. 2021);
- ``reconstruction_mse_relaxed``: where a latent's estimator relaxes its draws (Gumbel-softmax),
  the same error of decodings from relaxed draws at the run's final temperature;
- per code node (the suffix ``_<node>`` where there are several): ``codes_used`` (the share of
  the K codes that occur), ``perplexity`` (exp of the entropy of the code histogram) and
  ``perplexity_nonblank`` (over cells whose patch of the image is not blank: no pixel above
  0.1; most 4x4 patches of a digit are blank and take one code, so a whole-grid perplexity
  near K is impossible there); ``prior_nll_bits`` (the prior's -log p(c | parents) in bits per
  code, at q's codes) beside ``unigram_entropy_bits`` (the entropy of the test codes' own
  histogram, in bits: what a prior that ignores every context could reach at best);
- ``fid_independent`` and ``fid_uniform``: the Frechet distance of images decoded from codes
  drawn independently per cell from the test codes' per-position frequencies, and from
  uniform codes, beside ``fid`` (codes from the learned prior, in :mod:`unidgm.eval.report`);
- ``class_entropy``: the entropy (nats) of the classifier's class histogram over the prior's
  samples; ln 10 = 2.303 when every digit is drawn equally often.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def code_nodes(model) -> list[str]:
    """The model's code nodes, in q's order."""
    nodes = model.graph.nodes
    return [f.child for f in model.inference if f.deterministic and nodes[f.child].role == "latent"
            and model.families[f.child].indices]


@torch.no_grad()
def encode_codes(model, x_name: str, x: torch.Tensor, batch: int = 1000) -> dict[str, torch.Tensor]:
    """q's codes of the images ``x``, per code node, int64 ``(n, *grid)``."""
    codes = code_nodes(model)
    out = {c: [] for c in codes}
    for i in range(0, len(x), batch):
        values = model.encode(model.read_values({x_name: x[i:i + batch]}, [x_name]), mean=True)
        for c in codes:
            out[c].append(values[c])
    return {c: torch.cat(v) for c, v in out.items()}


@torch.no_grad()
def decode_codes(model, x_name: str, codes: dict[str, torch.Tensor], batch: int = 1000) -> torch.Tensor:
    """The images p decodes from ``codes`` (means)."""
    n = len(next(iter(codes.values())))
    return torch.cat([model.sample(min(batch, n - i), given={c: v[i:i + batch] for c, v in codes.items()})[x_name]
                      for i in range(0, n, batch)])


def usage(codes: torch.Tensor, classes: int, mask: torch.Tensor | None = None) -> dict[str, float]:
    """``codes_used`` and ``perplexity`` of the codes (where ``mask`` holds, if given)."""
    values = codes[mask] if mask is not None else codes.flatten()
    counts = torch.bincount(values.flatten(), minlength=classes).double()
    p = counts / counts.sum().clamp(min=1)
    return {"codes_used": float((counts > 0).double().mean()),
            "perplexity": float(torch.exp(-torch.special.xlogy(p, p).sum()))}


def nonblank(x: torch.Tensor, grid: tuple[int, ...], threshold: float = 0.1) -> torch.Tensor:
    """Cells of ``grid`` whose patch of the images ``x`` (B, C, H, W) has a pixel above ``threshold``."""
    return F.adaptive_max_pool2d(x.amax(1, keepdim=True), tuple(grid))[:, 0] > threshold


@torch.no_grad()
def prior_nll_bits(model, values: dict[str, torch.Tensor], c: str, batch: int = 1000) -> float:
    """The prior's -log p(c | its parents' codes) per code, in bits, averaged over examples."""
    n = len(values[c])
    cells = values[c][0].numel()
    total = 0.0
    for i in range(0, n, batch):
        part = {k: v[i:i + batch] for k, v in values.items()}
        total += float(-model.log_p(c, part).sum())
    return total / (n * cells * math.log(2))


def entropy_bits(codes: torch.Tensor, classes: int) -> float:
    """The entropy of the histogram of ``codes``, in bits."""
    counts = torch.bincount(codes.flatten(), minlength=classes).double()
    p = counts / counts.sum()
    return float(-torch.special.xlogy(p, p).sum() / math.log(2))


def independent_codes(codes: torch.Tensor, classes: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` grids whose cells are drawn independently, each from its position's frequencies in ``codes``."""
    flat = codes.flatten(1)                                                         # (N, cells)
    counts = torch.zeros(flat.shape[1], classes, dtype=torch.double)
    counts.scatter_add_(1, flat.t().cpu(), torch.ones(flat.t().shape, dtype=torch.double))
    draws = torch.multinomial(counts / counts.sum(1, keepdim=True), n, replacement=True, generator=generator)
    return draws.t().reshape((n,) + codes.shape[1:]).to(codes.device)


def class_entropy(labels: torch.Tensor, classes: int) -> float:
    """The entropy (nats) of the histogram of ``labels``."""
    counts = torch.bincount(labels.flatten(), minlength=classes).double()
    p = counts / counts.sum()
    return float(-torch.special.xlogy(p, p).sum())


@torch.no_grad()
def code_metrics(model, x_name: str, raw: dict, classifier=None, fake: torch.Tensor | None = None,
                 labels: str | None = None, seed: int = 0) -> dict:
    """The metrics of the module docstring on the test images ``raw[x_name]``; ``fake`` are the
    model's samples (through its learned priors), ``classifier`` the digit classifier, both
    optional (FID and the classifier's metrics need them)."""
    from .frechet import fid

    x = raw[x_name]
    codes = encode_codes(model, x_name, x)
    out = {}
    recon = decode_codes(model, x_name, codes)
    out["reconstruction_mse"] = float((recon - x).pow(2).mean())
    if classifier is not None and labels is not None:
        truth = raw[labels] if raw[labels].dim() == 1 else raw[labels].argmax(-1)  # indices or one-hot
        out["reconstruction_accuracy"] = float((_classify(classifier, recon) == truth.to(x.device)).double().mean())
    if classifier is not None:
        out["fid_reconstruction"] = fid(classifier, x, recon)
    relaxed = [est for est in model.estimators.values() if est.relaxes]
    if relaxed:
        for est in relaxed:
            est.train()  # relaxed draws at the schedule's step, the rest of the model in eval mode
        try:
            torch.manual_seed(seed)
            drawn = torch.cat([model.reconstruct({k: v[i:i + 1000] for k, v in raw.items()}, mean=False)[x_name]
                               for i in range(0, len(x), 1000)])
        finally:
            for est in relaxed:
                est.eval()
        out["reconstruction_mse_relaxed"] = float((drawn - x).pow(2).mean())
    nodes = model.graph.nodes
    several = len(codes) > 1
    # the prior's conditions: other codes, and visible parents (a caption) from the data
    values = {k: model.read_node(k, v) for k, v in raw.items() if k in nodes and nodes[k].role == "visible"}
    values.update(codes)
    for c, v in codes.items():
        suffix = f"_{c}" if several else ""
        classes = model.families[c].classes
        for k, value in usage(v, classes).items():
            out[k + suffix] = value
        out["perplexity_nonblank" + suffix] = usage(v, classes, nonblank(x, nodes[c].shape))["perplexity"]
        if c in model.generative or model.prior_params(c) is not None:
            out["prior_nll_bits" + suffix] = prior_nll_bits(model, values, c)
        out["unigram_entropy_bits" + suffix] = entropy_bits(v, classes)
    if classifier is not None and fake is not None:
        gen = torch.Generator().manual_seed(seed)
        n = len(fake)
        independent = {c: independent_codes(v, model.families[c].classes, n, gen) for c, v in codes.items()}
        uniform = {c: torch.randint(model.families[c].classes, (n,) + v.shape[1:], generator=gen).to(v.device)
                   for c, v in codes.items()}
        out["fid_independent"] = fid(classifier, x[:n], decode_codes(model, x_name, independent))
        out["fid_uniform"] = fid(classifier, x[:n], decode_codes(model, x_name, uniform))
        out["class_entropy"] = class_entropy(_classify(classifier, fake).cpu(), classifier.num_classes)
    return out


def _classify(classifier, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    return torch.cat([classifier(images[i:i + batch]).argmax(-1) for i in range(0, len(images), batch)])
