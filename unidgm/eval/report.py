"""``unidgm eval``'s report: every metric that applies to a run's model, read off its graph.

- ``test_log_likelihood`` (k importance samples) and ``test_elbo``: models whose every latent
  has a stochastic inference edge and whose data has an explicit likelihood;
- ``fid``: image models that can generate (classifier-feature Frechet distance against the
  test images, with the library's own digit classifier);
- ``modes_covered``, ``high_quality_share``: generators of the 2-D mixtures (VEEGAN's rule),
  on draws of the model (an explicit likelihood's observation noise included);
- the metrics of discrete codes and their priors (VQ-VAE, VQ-VAE-2, the discrete VAE; see
  :mod:`unidgm.eval.codes`): ``reconstruction_mse``, ``reconstruction_accuracy``,
  ``fid_reconstruction``, ``codes_used``,
  ``perplexity``, ``perplexity_nonblank``, ``prior_nll_bits`` beside ``unigram_entropy_bits``,
  ``fid_independent``, ``fid_uniform`` and ``class_entropy``;
- ``caption_accuracy`` and ``caption_accuracy_held_out``: a caption-to-image model (DALL-E's),
  images drawn per phrasing of each digit read by the digit classifier, and
  ``caption_information_bits``, the drop in the image codes' NLL that the caption buys (see
  :mod:`unidgm.eval.captions`);
- ``code_accuracy``: a categorical latent inferred from the image, against the digit labels
  after the best matching (InfoGAN's categorical code);
- ``generated_code_accuracy``: the same code on the generator's side: images generated with
  each code value, labelled by the library's digit classifier, matched the same way. It
  tells a generator that does not tie its code to the digit class (low here) from an
  inference network that misreads real images (high here, low ``code_accuracy``);
- ``target_accuracy``: domain adaptation, the label classifier on the target domain;
- ``test_error``: a partially observed label (semi-supervised learning), the share of
  examples whose most probable class under q(y|x) is not their label.
"""
from __future__ import annotations

import torch

from .codes import code_nodes
from .likelihood import elbo, log_likelihood


def evaluate_run(model, data, cfg, split: str = "test", k: int = 1000, seed: int = 0, limit: int | None = None,
                 samples: int = 10000) -> dict:
    """The metrics of a trained run on ``split`` as a JSON-friendly dict."""
    device = next(model.parameters()).device
    raw = getattr(data, split)
    torch.manual_seed(seed)  # the held-out binarization and the samples are the same on every call
    held_out = {k_: v.to(device) for k_, v in data.prepare(raw).items()}
    raw = {k_: v.to(device) for k_, v in raw.items()}
    if limit:
        held_out = {k_: v[:limit] for k_, v in held_out.items()}
        raw = {k_: v[:limit] for k_, v in raw.items()}
    n = next(iter(held_out.values())).shape[0]
    result = {"model": cfg.model, "data": cfg.data, "split": split, "examples": n}
    graph = model.graph
    nodes = graph.nodes
    x = model.likelihoods[0].child if model.likelihoods else None
    explicit = [f for f in model.likelihoods if not f.deterministic]
    if explicit and model.inference and all(not f.deterministic for f in model.inference) \
            and all(any(f.child == z for f in model.inference) for z in model.latents):
        result["k"] = k
        result["test_log_likelihood"] = log_likelihood(model, held_out, k=k)
        result["test_elbo"] = elbo(model, held_out)
    generates = x is not None and model.can_generate
    images = cfg.data.removesuffix("-captions")  # captioned digits are judged as the digits
    if generates and len(nodes[x].shape) == 3 and images in ("mnist", "digits"):
        from .classifier import digit_classifier
        from .frechet import fid

        classifier = digit_classifier(images, data_dir=cfg.data_dir).to(device)
        fake = _generate(model, x, min(samples, n), raw)
        result["fid"] = fid(classifier, raw[x][: fake.shape[0]], fake)
    from .code_pictures import caption_node

    if "fid" in result and caption_node(model, data) is not None:
        from .captions import caption_accuracy, caption_information_bits

        node = caption_node(model, data)
        for held_out, key in ((False, "caption_accuracy"), (True, "caption_accuracy_held_out")):
            result[key] = caption_accuracy(model, classifier, data.meta["captions"], x, node, held_out=held_out,
                                           seed=seed)
        # the codes whose prior reads the caption
        conditioned = [f.child for f in model.generative.values() if node in f.parents and f.child in code_nodes(model)]
        if conditioned and node in raw:
            result["caption_information_bits"] = caption_information_bits(model, x, conditioned[0], node, raw,
                                                                          data.train[node].to(device))
    if x is not None and code_nodes(model) and model.can_generate:
        from .codes import code_metrics

        label = next((key for key, family in data.families.items() if family == "categorical" and key not in nodes
                      and key in raw), None)
        judged = "fid" in result
        result.update(code_metrics(model, x, raw, classifier if judged else None, fake if judged else None,
                                   labels=label if judged else None, seed=seed))
    if generates and "centers" in data.meta:
        from .modes import mode_metrics

        fake = _generate(model, x, 2500, raw, mean=False)  # draws, observation noise included
        result.update(mode_metrics(fake.cpu(), data.meta["centers"], data.meta["std"]))
    # a class code: one categorical over classes (not a grid of codes), inferred from the data
    codes = [f for f in model.inference if model.families[f.child].name == "categorical"
             and len(nodes[f.child].shape) == 1 and not model.families[f.child].indices
             and not nodes[f.child].role == "visible" and all(nodes[p].role == "visible" for p in f.parents)]
    # the data's class labels that the graph does not model: what a code may be matched to
    labels = [key for key, family in data.families.items() if family == "categorical" and key not in nodes
              and key in raw and not data.meta.get("domains")]
    if codes and labels:
        from .matching import code_accuracy

        f = codes[0]
        with torch.no_grad():
            predicted = f.params(model.read_values(raw, f.parents))[0].argmax(-1)
        result["code_accuracy"] = code_accuracy(predicted.cpu(), raw[labels[0]].cpu())
        if generates and "fid" in result and f.child in model.latents:
            result["generated_code_accuracy"] = generated_code_accuracy(model, f.child, x, classifier,
                                                                        min(samples, n))
    labels = [y for y in model.partially_observed if y in raw and all(
        nodes[p].role == "visible" for f in model.inference if f.child == y for p in f.parents)]
    if labels:
        result["test_error"] = classification_error(model, held_out, labels[0])
    for domain, keys in data.meta.get("domains", {}).items():
        accuracy = _domain_accuracy(model, raw, keys)
        if accuracy is not None:
            result[f"{domain}_accuracy"] = accuracy
    return result


@torch.no_grad()
def _generate(model, x: str, n: int, raw: dict, batch: int = 1000, mean: bool = True) -> torch.Tensor:
    """``n`` generated values of ``x``: the likelihood's means (images, the usual picture and
    FID input) or, with ``mean=False``, draws."""
    out = []
    given_nodes = [name for name, node in model.graph.nodes.items() if node.given]
    for i in range(0, n, batch):
        m = min(batch, n - i)
        given = {g: raw[g][i:i + m] for g in given_nodes if g in raw}
        out.append(model.sample(m, given=given, mean=mean)[x])
    return torch.cat(out)


@torch.no_grad()
def generated_code_accuracy(model, code: str, x: str, classifier, n: int, batch: int = 1000) -> float:
    """Matched accuracy of a categorical ``code`` against the classes a digit ``classifier``
    gives the images of ``x`` generated with it: ``n`` images, the code's values in equal
    shares (given to ``model.sample`` as class indices), every other latent drawn."""
    values = torch.arange(model.graph.nodes[code].shape[-1])
    codes = values.repeat(max(n // len(values), 1))
    device = next(model.parameters()).device
    predicted = []
    for i in range(0, len(codes), batch):
        part = codes[i:i + batch].to(device)
        predicted.append(classifier(model.sample(len(part), given={code: part})[x]).argmax(-1).cpu())
    from .matching import code_accuracy

    return code_accuracy(codes, torch.cat(predicted))


@torch.no_grad()
def classification_error(model, data: dict, y: str, batch: int = 1000) -> float:
    """The share of labelled examples of ``data`` (labels >= 0 in ``data[y]``) whose most
    probable class under q(y|...) differs from the label. q's parents are read from ``data``
    (the held-out images, binarized like the training images)."""
    f = next(f for f in model.inference if f.child == y)
    was_training = model.training
    model.eval()
    wrong = total = 0
    try:
        n = data[y].shape[0]
        for i in range(0, n, batch):
            part = {k: v[i:i + batch] for k, v in data.items()}
            labels, observed = model.read_labels(part, y, part[y].shape[0])
            predicted = f.params(model.read_values(part, f.parents))[0].argmax(-1)
            wrong += int(((predicted != labels.argmax(-1)) & observed).sum())
            total += int(observed.sum())
    finally:
        model.train(was_training)
    return wrong / max(total, 1)


@torch.no_grad()
def _domain_accuracy(model, raw: dict, keys: dict) -> float | None:
    """Accuracy, on one domain's examples, of a label edge p(label | features): a generative
    edge into a categorical visible node, read at q's means of the domain's inputs. ``keys``
    maps the graph's nodes to that domain's batch keys (``DataSplits.meta["domains"]``);
    None where the graph has no such edge."""
    nodes = model.graph.nodes
    labels = [f for n, f in model.generative.items() if nodes[n].role == "visible" and n in keys
              and model.families[n].name == "categorical"]
    inputs = [n for n in keys if n in nodes and nodes[n].role == "visible" and n not in model.generative]
    if not labels or not inputs:
        return None
    label = labels[0]
    values = model.read_values({n: raw[keys[n]] for n in inputs}, inputs)
    model.run(values, mean=True, estimators=False, partial=True)
    predicted = label.params(values)[0].argmax(-1)
    return (predicted == raw[keys[label.child]]).float().mean().item()
