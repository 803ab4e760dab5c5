"""How well a caption-to-image model follows its captions: ``caption_accuracy``, the share of
images drawn given a caption that the library's digit classifier reads as the caption's digit
(Ramesh et al. 2021 judge by human raters and FID; for digits a classifier can judge), on the
training phrasings and on the phrasings held out of training (``caption_accuracy_held_out``);
and ``caption_information_bits``, the drop in the image codes' NLL that the caption buys.
"""
from __future__ import annotations

import math

import torch

from .codes import encode_codes


@torch.no_grad()
def caption_accuracy(model, classifier, captions, x: str, node: str = "t", per_caption: int = 50,
                     held_out: bool = False, seed: int = 0) -> float:
    """The share of ``per_caption`` images drawn for every phrasing of every digit that
    ``classifier`` reads as that digit."""
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    right = total = 0
    for digit in range(10):
        for text in captions.phrasings(digit, held_out=held_out):
            tokens = captions.encode(text).to(device).expand(per_caption, -1)
            images = model.sample(per_caption, given={node: tokens})[x]
            right += int((classifier(images).argmax(-1) == digit).sum())
            total += per_caption
    return right / total


@torch.no_grad()
def caption_information_bits(model, x: str, codes: str, node: str, raw: dict, train_captions: torch.Tensor,
                             limit: int = 1000, batch: int = 250) -> float:
    """The drop in the image codes' NLL that the caption buys, in bits per image:

        E_test[ log2 p(c | t) - log2 sum_t' pi(t') p(c | t') ]

    over the first ``limit`` test images, ``c`` their codes under q (``codes``), ``t`` their
    captions (``node``), and ``pi`` the empirical distribution of the training captions
    ``train_captions`` (every distinct caption, the mixture enumerated exactly). A caption
    tells only the digit, so an estimate of its information about the image, this is at most
    about log2 10 = 3.32 bits for captions of digits drawn evenly; more means the model reads
    the phrasing, which says nothing about the image (leakage)."""
    images = raw[x][:limit]
    c = encode_codes(model, x, images)[codes]
    t = model.read_values({node: raw[node][:limit]}, [node])[node]
    support, counts = torch.unique(train_captions.to(t.device), dim=0, return_counts=True)
    support = model.read_values({node: support}, [node])[node]
    log_pi = (counts.double() / counts.sum()).log()
    drops = []
    for i in range(0, len(c), batch):
        part, given = c[i:i + batch], t[i:i + batch]
        n = len(part)
        conditional = model.log_p(codes, {codes: part, node: given}).double()                      # (n,)
        table = torch.stack([model.log_p(codes, {codes: part, node: s.expand((n,) + s.shape)}).double()
                             for s in support], 1)                                                  # (n, S)
        drops.append(conditional - torch.logsumexp(table + log_pi, 1))
    return float(torch.cat(drops).mean() / math.log(2))
