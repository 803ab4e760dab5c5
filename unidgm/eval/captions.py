"""How well a caption-to-image model follows its captions: ``caption_accuracy``, the share of
images drawn given a caption that the library's digit classifier reads as the caption's digit
(Ramesh et al. 2021 judge by human raters and FID; for digits a classifier can judge), on the
training phrasings and on the phrasings held out of training (``caption_accuracy_held_out``).
"""
from __future__ import annotations

import torch


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
