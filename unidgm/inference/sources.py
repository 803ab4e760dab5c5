"""Values of nodes under a process: the data, the generative process or the inference process.

An adversarial edge compares the values of its nodes under two processes (Hu et al. 2018,
Sec. 3: data against generation in a GAN, prior against posterior codes in an AAE, joint
against joint in BiGAN); mutual-information terms read generated samples; reconstruction
terms read inferred codes. A :class:`Trace` computes each process at most once per call of
the objective and shares the values among the terms that read them, so a GAN's generated
batch feeds both the adversary and InfoGAN's code posterior.
"""
from __future__ import annotations

import torch

from ..errors import GraphError


class Trace:
    """The values of one objective evaluation, computed lazily per (process, inputs).

    Args:
        model: the compiled model.
        batch: the batch (a dict of tensors).
    """

    def __init__(self, model, batch: dict):
        self.model = model
        self.batch = batch
        self._cache: dict = {}
        self.size = _batch_size(batch)

    def values(self, process: str, inputs: tuple = (), targets: tuple | None = None) -> dict:
        """Node values under ``process`` (``"data"``, ``"generative"`` or ``"inference"``),
        with ``inputs`` renaming batch keys for visible nodes. For the generative process,
        only the ancestors of ``targets`` are sampled."""
        key = (process, inputs, targets if process == "generative" else None)
        if key not in self._cache:
            self._cache[key] = getattr(self, "_" + process)(dict(inputs), targets)
        return self._cache[key]

    def q_params(self, inputs: tuple = ()) -> dict:
        """The q parameters of the inference run on ``inputs`` (for densities of q)."""
        self.values("inference", inputs)
        return self._cache[("q", inputs)]

    # ------------------------------------------------------------------ the processes
    def _read(self, rename: dict, names) -> dict:
        values = {}
        model = self.model
        for name in names:
            key = rename.get(name, name)
            if key in self.batch:
                values[name] = model.read_node(name, self.batch[key])
        return values

    def _data(self, rename, targets):
        return self._read(rename, [n for n, _, _ in self.model._visible])

    def _inference(self, rename, targets):
        model = self.model
        values = self._read(rename, [n for n, _, _ in model._visible])
        q = {}
        for f in model.inference:
            for p in f.parents:
                if p not in values:
                    raise GraphError(f"q({f.child}|...) reads '{p}', but the batch has no "
                                     f"'{rename.get(p, p)}'; add it to the batch")
            params = f.params(values)
            values[f.child] = f.sample(params)
            q[f.child] = params
        self._cache[("q", tuple(sorted(rename.items())))] = q
        return values

    def _generative(self, rename, targets):
        model = self.model
        graph = model.graph
        order, given = model.generative_plan(targets)
        values = self._read(rename, given)
        for name in order:
            if name in values:
                continue
            f = model.generative.get(name)
            if f is not None:
                values[name] = f.sample(f.params(values))
            elif graph.nodes[name].prior is not None:
                values[name] = model.sample_prior(name, self.size)
            elif graph.nodes[name].given:
                raise GraphError(f"the generative process needs the given node '{name}', but the batch has no "
                                 f"'{rename.get(name, name)}'")
            else:
                raise GraphError(f"latent '{name}' has no prior and no generative edge, so the generative process "
                                 f"cannot sample it; give it prior='standard'")
        return values


def _batch_size(batch: dict) -> int:
    for v in batch.values():
        if isinstance(v, torch.Tensor):
            return v.shape[0]
    raise GraphError("the batch holds no tensor")
