"""Values of nodes under a process: the data, the generative process, an inference process,
a reconstruction (q on the data, then p's visible nodes) or a trace with nodes shuffled across
the batch (the product of marginals, for density-ratio estimates of mutual information).

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
        """Node values under ``process``: ``"data"``, ``"generative"``, ``"inference"`` (the
        process ``q``), any named inference process (``"q_x"``) or ``"reconstruction"`` (q
        on the data, then p's visible nodes from the inferred latents), with ``inputs``
        renaming batch keys for visible nodes. For the generative process, only the
        ancestors of ``targets`` are sampled."""
        key = (process, inputs, targets if process == "generative" else None)
        if key not in self._cache:
            if process in ("data", "generative", "inference", "reconstruction"):
                self._cache[key] = getattr(self, "_" + process)(dict(inputs), targets)
            elif process in self.model.processes:
                self._cache[key] = self._run(process, dict(inputs))
            else:
                raise GraphError(f"no process '{process}': the sources are data, generative, inference, "
                                 f"reconstruction and the graph's inference processes "
                                 f"({', '.join(self.model.processes)})")
        return self._cache[key]

    def q_params(self, inputs: tuple = (), process: str = "q") -> dict:
        """The parameters of an inference process run on ``inputs`` (for densities of q)."""
        self.values("inference" if process == "q" else process, inputs)
        return self._cache[(process, "params", inputs)]

    def shuffled(self, process: str, nodes: tuple, inputs: tuple = ()) -> dict:
        """The values of ``process`` with ``nodes`` permuted across the batch by one shared
        permutation: samples of the product of the marginals of ``nodes`` and of the rest,
        where ``values(process)`` samples their joint."""
        key = ("shuffled", process, tuple(nodes), inputs)
        if key not in self._cache:
            values = dict(self.values(process, inputs))
            order = torch.randperm(self.size, device=next(iter(values.values())).device)
            for n in nodes:
                values[n] = values[n][order]
            self._cache[key] = values
        return self._cache[key]

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
        return self._read(rename, [n for n, _, _ in self.model.visible])

    def _inference(self, rename, targets):
        return self._run("q", rename)

    def _run(self, process: str, rename: dict) -> dict:
        """One inference process on the batch: its latents sampled in topological order."""
        model = self.model
        values = self._read(rename, [n for n, _, _ in model.visible])
        factors = model.processes.get(process, ())
        explained = {f.child for f in factors}
        for f in factors:
            for p in f.parents:
                if p not in values and p not in explained:
                    raise GraphError(f"{f.edge.name} reads '{p}', but the batch has no "
                                     f"'{rename.get(p, p)}'; add it to the batch")
        # q's latents are drawn by their gradient estimators (a Gumbel relaxation), so that
        # gradients reach q through them wherever a term differentiates through its samples.
        q = model.run(values, process) if process in model.processes else {}
        self._cache[(process, "params", tuple(sorted(rename.items())))] = q
        return values

    def _reconstruction(self, rename, targets):
        """q's latents on the data, then each visible node p explains as its mean given them
        (or the value, for a deterministic edge): the reconstruction an adversary may judge."""
        values = dict(self.values("inference", tuple(sorted(rename.items()))))
        for f in self.model.likelihoods:
            params = f.params(values)
            values[f.child] = params[0] if f.deterministic else f.family.mean(params)
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
