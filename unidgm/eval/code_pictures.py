"""Pictures of discrete codes: each codebook's usage on the test set, and samples with some
code maps kept and the others redrawn from their prior (VQ-VAE-2's top codes kept, the
bottom ones resampled: Razavi et al. 2019, Fig. 4-5's reading of what each level holds)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..viz.grids import as_images, save_image_grid
from .codes import code_nodes, decode_codes, encode_codes
from .pictures import _pictured


@torch.no_grad()
def write_code_usage(model, path, data: dict) -> Path:
    """A bar chart per code node of how often each code occurs in ``data``'s codes, sorted
    from the most used, with the share of codes used and the perplexity in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .codes import usage

    x = _pictured(model)
    device = next(model.parameters()).device
    codes = encode_codes(model, x, data[x].to(device))
    fig, axes = plt.subplots(1, len(codes), figsize=(5 * len(codes), 3), squeeze=False)
    for ax, (c, v) in zip(axes[0], codes.items()):
        classes = model.families[c].classes
        counts = torch.bincount(v.flatten().cpu(), minlength=classes).double()
        share = counts / counts.sum()
        stats = usage(v.cpu(), classes)
        ax.bar(range(classes), share.sort(descending=True).values.numpy(), width=1.0, color="#1f5fa8")
        ax.set(title=f"{c}: {stats['codes_used']:.0%} of {classes} codes used, perplexity {stats['perplexity']:.1f}",
               xlabel="code (by usage)", ylabel="share of cells")
        ax.title.set_fontsize(9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@torch.no_grad()
def write_resampled(model, path, data: dict, rows: int = 8, cols: int = 8) -> Path | None:
    """Rows of one test image, its reconstruction, then samples that keep its codes at the
    top of the code hierarchy (code nodes that no other code node generates) and redraw the
    codes below them from their prior; None where the model has one level of codes."""
    x = _pictured(model)
    generated = {c for c in code_nodes(model) if c in model.generative and model.generative[c].parents}
    kept = [c for c in code_nodes(model) if c not in generated]
    if not generated or not kept:
        return None
    device = next(model.parameters()).device
    images = data[x][:rows].to(device)
    codes = encode_codes(model, x, images)
    grid = []
    for i in range(rows):
        given = {c: codes[c][i:i + 1].expand((cols - 2,) + codes[c].shape[1:]) for c in kept}
        samples = model.sample(cols - 2, given=given)[x]
        recon = decode_codes(model, x, {c: v[i:i + 1] for c, v in codes.items()})
        grid.append(torch.cat([images[i:i + 1], recon, samples]))
    return save_image_grid(path, as_images(torch.cat(grid).cpu()), nrow=cols)


def caption_node(model, data) -> str | None:
    """The visible node holding the data's captions (``data.meta["captions"]``) that p
    generates, or None."""
    if data is None or "captions" not in getattr(data, "meta", {}):
        return None
    node = model.graph.nodes.get("t")
    return "t" if node is not None and node.role == "visible" and "t" in model.generative else None


@torch.no_grad()
def write_captioned(model, path, captions, texts=None, n: int = 8, node: str = "t") -> Path:
    """One row of ``n`` images per caption, drawn given it: by default the first training
    phrasing of each digit ("0", ..., "a handwritten nine", ...)."""
    x = _pictured(model)
    texts = texts or [captions.phrasings(d)[min(3, len(captions.phrasings(d)) - 1)] for d in range(10)]
    device = next(model.parameters()).device
    rows = []
    for text in texts:
        tokens = captions.encode(text).to(device).expand(n, -1)
        rows.append(model.sample(n, given={node: tokens})[x])
    return save_image_grid(path, as_images(torch.cat(rows).cpu()), nrow=n)
