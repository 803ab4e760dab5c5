"""Sample, reconstruction, latent-traversal, analogy and code pictures of a trained model.

Image data gives image grids; 2-D data gives scatter plots over the data. The pictured
variable is the first visible node with a likelihood (``x`` in the catalogue).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

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
    values = model.encode(model.read_batch(batch))
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


@torch.no_grad()
def write_analogies(model, path, data: dict, n: int | None = None, image_shape=None) -> Path | None:
    """Kingma et al. (2014), Fig. 1, for a model with a partially observed label y and a
    normal latent z (the style), as one grid of K + 1 columns for K classes:

    - top, the analogies: each row is a test example, its image in the first column, then
      the decoded images of its style z (the mean of q(z|x, y), y its label where the data
      gives it, else argmax q(y|x)) with each label in turn: style fixed, label varied;
    - below a blank row, the reverse: each row holds one label fixed while z varies over
      K + 1 draws from its prior, the same draws in every row.

    Returns None where the model has no such label and style."""
    if not model.partially_observed:
        return None
    x_name, y = _pictured(model), model.partially_observed[0]
    styles = [f for f in model.inference if model.families[f.child].name == "normal" and f.child != y
              and len(model.graph.nodes[f.child].shape) == 1]
    if not styles:
        return None
    z = styles[-1].child
    classes = model.graph.nodes[y].shape[-1]
    n = n or classes
    device = next(model.parameters()).device
    batch = {k: v[:n].to(device) for k, v in data.items()}
    values = model.read_batch(batch)
    size = next(iter(values.values())).shape[0]
    q_y = next(f for f in model.inference if f.child == y)
    labels, observed = model.read_labels(batch, y, size)
    predicted = q_y.params(values)[0].argmax(-1)
    values[y] = torch.where(observed.unsqueeze(-1), labels, F.one_hot(predicted, classes).to(labels))
    model.encode(values, keep=(y,))
    each = torch.arange(classes, device=device)
    # (size * K) decodings: example i's style with label k at row i, column k + 1
    analogies = model.sample(size * classes, given={z: values[z].repeat_interleave(classes, 0),
                                                    y: each.repeat(size)})[x_name]
    draws = model.sample_prior(z, classes + 1)
    reverse = model.sample(classes * (classes + 1), given={z: draws.repeat(classes, 1),
                                                           y: each.repeat_interleave(classes + 1)})[x_name]
    originals = as_images(batch[x_name], image_shape)
    analogies, reverse = as_images(analogies, image_shape), as_images(reverse, image_shape)
    if originals is None:
        return None
    rows = []
    for i in range(size):
        rows += [originals[i:i + 1], analogies[i * classes:(i + 1) * classes]]
    rows.append(torch.ones_like(reverse[: classes + 1]))  # a blank row between the two grids
    rows.append(reverse)
    return save_image_grid(path, torch.cat(rows), nrow=classes + 1)


@torch.no_grad()
def write_codes(model, path, data: dict, n: int = 10, span: float = 2.0, dims: int = 4,
                image_shape=None) -> Path | None:
    """Chen et al. (2016), Fig. 2, for a generator whose categorical code q infers back
    from its images (InfoGAN), as one grid of ``n`` columns:

    - top, one row per value of the categorical code c, the other latents drawn from their
      priors once per column (the same draws down a column): what c alone changes (Fig. 2a);
    - then, below a blank row each, one block for each of the first ``dims`` dimensions of
      the continuous codes q infers: one row per value of c, the columns sweeping that
      dimension from -span to +span, everything else held at one prior draw (Fig. 2c, d).

    Returns None where the graph has no categorical latent with a prior that q infers (a
    partially observed label is pictured by :func:`write_analogies` instead)."""
    inferred = {f.child for f in model.inference}
    nodes = model.graph.nodes

    def code(name, family):
        return (name in inferred and nodes[name].prior is not None and not nodes[name].partially_observed
                and model.families[name].name == family)

    categorical = [name for name in model.latents if code(name, "categorical")]
    if not categorical:
        return None
    x_name, c = _pictured(model), categorical[0]
    classes = nodes[c].shape[-1]
    device = next(model.parameters()).device
    given = _given(model, data, classes * n)
    roots = [name for name in model.latents if nodes[name].prior is not None and name != c]
    code_by_row = torch.arange(classes, device=device).repeat_interleave(n)
    # Fig. 2a: column j holds draw j of the other latents, row k the code value k
    draws = {name: model.sample_prior(name, n) for name in roots}
    blocks = [model.sample(classes * n, given={**given, c: code_by_row,
                                               **{k: v.repeat(classes, *([1] * (v.dim() - 1)))
                                                  for k, v in draws.items()}})[x_name]]
    sweep = torch.linspace(-span, span, n, device=device)
    one = {name: model.sample_prior(name, 1) for name in roots}
    continuous = [(name, i) for name in model.latents if code(name, "normal") and len(nodes[name].shape) == 1
                  for i in range(nodes[name].shape[0])][:dims]
    for name, i in continuous:
        held = {k: v.expand(classes * n, *v.shape[1:]).clone() for k, v in one.items()}
        held[name][:, i] = sweep.repeat(classes)
        blocks.append(model.sample(classes * n, given={**given, c: code_by_row, **held})[x_name])
    images = [as_images(b, image_shape) for b in blocks]
    if images[0] is None:
        return None
    rows = [images[0]]
    for block in images[1:]:
        rows += [torch.ones_like(block[:n]), block]  # a blank row between blocks
    return save_image_grid(path, torch.cat(rows), nrow=n)
