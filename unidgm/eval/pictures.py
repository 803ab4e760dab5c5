"""Sample, reconstruction and latent-traversal pictures of a trained model.

Image data gives image grids; 2-D data gives scatter plots over the data. The pictured
variable is the first visible node with a likelihood (``x`` in the catalogue).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import GraphError
from ..viz.grids import as_images, save_image_grid, save_scatter


def pictured(model) -> str | None:
    """The node a picture shows: the first visible node with a generative edge that is not
    categorical (an image or a point), or None (a classifier's labels are no picture)."""
    for f in model.likelihoods:
        if model.families[f.child].name != "categorical":
            return f.child
    return None


def _pictured(model) -> str:
    name = pictured(model)
    if name is None:
        raise GraphError(f"graph '{model.graph.name}' has no visible image or point to picture")
    return name


def _given(model, data: dict, n: int) -> dict:
    """Values of the given=True nodes for n samples: labels cycle 0..K-1 by row."""
    out = {}
    for name, node in model.graph.nodes.items():
        if node.given:
            if model.families[name].one_hot:
                out[name] = torch.arange(n) % node.shape[-1]
            else:
                out[name] = data[name][:n]
    return out


@torch.no_grad()
def write_samples(model, path, data: dict, n: int | None = None, image_shape=None) -> Path:
    """Draws ``n`` samples from the generative process and writes them as a PNG: an 8-wide
    grid of images (default 64), or a scatter over the data for 2-D data (default 2000)."""
    x_name = _pictured(model)
    if n is None:
        n = 64 if len(model.graph.nodes[x_name].shape) != 1 or model.graph.nodes[x_name].shape[0] > 3 else 2000
    device = next(model.parameters()).device
    given = {k: v.to(device) for k, v in _given(model, data, n).items()}
    images = as_images(model.sample(min(n, 64), given=given)[x_name], image_shape)
    if images is not None:
        return save_image_grid(path, images[:64], nrow=8)
    x = model.sample(n, given=given, mean=False)[x_name]  # points: draws, noise included
    return save_scatter(path, x, data[x_name][:2000], title=f"{model.graph.name}: samples")


@torch.no_grad()
def write_reconstructions(model, path, data: dict, n: int = 32, image_shape=None) -> Path:
    """Writes test examples (odd rows) above their reconstructions (even rows)."""
    x_name = _pictured(model)
    device = next(model.parameters()).device
    batch = {k: v[:n].to(device) for k, v in data.items()}
    recon = model.reconstruct(batch)[x_name]
    original, recon_images = as_images(batch[x_name], image_shape), as_images(recon, image_shape)
    if original is None:
        return save_scatter(path, recon, batch[x_name], title=f"{model.graph.name}: reconstructions")
    recon = recon_images
    rows = []
    for i in range(0, n, 8):
        rows += [original[i:i + 8], recon[i:i + 8]]
    return save_image_grid(path, torch.cat(rows), nrow=8)


@torch.no_grad()
def write_traversal(model, path, data: dict, latent: str | None = None, dims: int = 10, steps: int = 9,
                    span: float = 3.0, image_shape=None) -> Path | None:
    """Decodes a sweep of each of the first ``dims`` dimensions of a normal latent from
    -span to +span, the others held at the posterior mean of a test example (one row per
    dimension). Returns None where the model has no normal latent with a prior to sweep."""
    x_name = _pictured(model)
    candidates = [f.child for f in model.inference
                  if model.families[f.child].name == "normal" and len(model.graph.nodes[f.child].shape) == 1]
    latent = latent or (candidates[-1] if candidates else None)
    if latent is None:
        return None
    device = next(model.parameters()).device
    batch = {k: v[:1].to(device) for k, v in data.items()}
    values = model.read_batch(batch)
    for f in model.inference:
        params = f.params(values)
        values[f.child] = f.family.mean(params) if not f.deterministic else params[0]
    base = values[latent][0]
    d = min(dims, base.shape[0])
    sweep = torch.linspace(-span, span, steps, device=device)
    z = base.repeat(d * steps, 1)
    for i in range(d):
        z[i * steps:(i + 1) * steps, i] = sweep
    given = {latent: z}
    given.update({k: v.expand(d * steps, *v.shape[1:]) for k, v in batch.items()
                  if k in model.graph.nodes and model.graph.nodes[k].given})
    x = model.sample(d * steps, given=given)[x_name]
    images = as_images(x, image_shape)
    if images is None:
        return save_scatter(path, x, data[x_name][:2000], title=f"{model.graph.name}: traversal of {latent}")
    return save_image_grid(path, images, nrow=steps)
