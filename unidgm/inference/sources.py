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

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..errors import GraphError


def _names(nodes) -> tuple[str, ...]:
    """One node's name or several, as a tuple."""
    return (nodes,) if isinstance(nodes, str) else tuple(nodes)


@dataclass(frozen=True)
class Conditional:
    """A source: the inference ``process`` run on the data's ``given`` visible nodes alone
    (latents whose parents it lacks are left out), then the generative process drawing every
    node still missing, ancestrally: samples of q(x) q_P(latents | given) p(rest | ...), the
    conditional generation x -> y of a multi-view model (Ryu et al.'s q(x) q(z|x) p(v)
    p(y|z,v))."""

    process: str
    given: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "given", _names(self.given))

    def values(self, trace) -> dict:
        return trace.conditional(self.process, self.given)

    def label(self) -> str:
        return f"{self.process}({','.join(self.given)}) then p"


@dataclass(frozen=True)
class Reconstruction:
    """A source: the inference ``process`` on the data, then the means of p's visible nodes
    given its latents (the ``"reconstruction"`` source for any process)."""

    process: str = "q"

    def values(self, trace) -> dict:
        return trace.reconstruction(self.process)

    def label(self) -> str:
        return f"reconstruction by {self.process}"


@dataclass(frozen=True)
class Shuffled:
    """A source: ``source`` with ``nodes`` permuted across the batch by one shared
    permutation (the product of the marginals of ``nodes`` and of the rest)."""

    source: str
    nodes: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "nodes", _names(self.nodes))

    def values(self, trace) -> dict:
        return trace.shuffled(self.source, self.nodes)

    def label(self) -> str:
        return f"{source_label(self.source)} with {','.join(self.nodes)} shuffled"


def source_label(source) -> str:
    """A source in words for formulas: ``q`` for the inference process, ``p`` for the
    generative one, a process's name, or the source object's own label."""
    if isinstance(source, str):
        return {"inference": "q", "generative": "p"}.get(source, source)
    return source.label()


class Trace:
    """The values of one objective evaluation, computed lazily per (process, inputs).

    Args:
        model: the compiled model.
        batch: the batch (a dict of tensors).
        strict: the data must give every visible node (the bounds' objectives), else a
            GraphError naming the missing one; otherwise nodes no source reads may be absent.
        step: the global training step, for terms whose weight or plan follows a schedule.

    Attributes:
        reported: the values of the terms computed so far in this evaluation, by key
            (a :class:`~unidgm.inference.terms.base.Report` combines them).
    """

    def __init__(self, model, batch: dict, strict: bool = False, step: int = 0):
        self.model = model
        self.batch = batch
        self.strict = strict
        self.step = step
        self.reported: dict = {}
        self._cache: dict = {}
        self._scored = None  # (values, q params, particle dims) of q's run on the batch
        self.size = _batch_size(batch)

    def values(self, process: str, inputs: tuple = (), targets: tuple | None = None,
               particles: int | None = None, grad: bool = True) -> dict:
        """Node values under ``process``: ``"data"``, ``"generative"``, ``"inference"`` (the
        process ``q``), any named inference process (``"q_x"``) or ``"reconstruction"`` (q
        on the data, then p's visible nodes from the inferred latents), with ``inputs``
        renaming batch keys for visible nodes. For the generative process, only the
        ancestors of ``targets`` are sampled. ``particles`` draws that many samples of each
        latent per example (a leading dimension); ``grad=False`` computes the values
        without gradients, as a draw of their own (a discriminator's inputs)."""
        process = "inference" if process == "q" else process
        key = (process, inputs, targets if process == "generative" else None, particles, grad)
        if key not in self._cache:
            with torch.no_grad() if not grad else nullcontext():
                self._cache[key] = self._compute(process, inputs, targets, particles, grad)
        return self._cache[key]

    def _compute(self, process, inputs, targets, particles, grad):
        if process in ("data", "generative"):
            return getattr(self, "_" + process)(dict(inputs), targets)
        if process == "reconstruction":
            return self._reconstruction(dict(inputs), grad)
        if process == "inference" or process in self.model.processes:
            return self._run("q" if process == "inference" else process, dict(inputs), particles, grad)
        raise GraphError(f"no process '{process}': the sources are data, generative, inference, "
                         f"reconstruction and the graph's inference processes "
                         f"({', '.join(self.model.processes)})")

    def source(self, source) -> dict:
        """The values of ``source``: a name :meth:`values` knows (``"data"``,
        ``"generative"``, ``"inference"``, ``"reconstruction"``, a process) or a source object
        (:class:`Conditional`, :class:`Reconstruction`, :class:`Shuffled`)."""
        if isinstance(source, str):
            return self.values(source)
        return source.values(self)

    def conditional(self, process: str, given: tuple, targets: tuple | None = None) -> dict:
        """``process`` run on the data's visible nodes ``given`` only, then the generative
        process drawing what is still missing (only the ancestors of ``targets`` where given):
        see :class:`Conditional`. Computed once per trace."""
        key = ("conditional", process, tuple(given), targets)
        if key not in self._cache:
            model = self.model
            if process != "q" and process not in model.processes:
                raise GraphError(f"no inference process '{process}'; the graph's are {', '.join(model.processes)}")
            values = model.read_values(self.batch, given)
            model.run(values, process, partial=True)
            self._cache[key] = model.generate(values, self.size, targets)
        return self._cache[key]

    def reconstruction(self, process: str = "q") -> dict:
        """``process`` on the data, then the means of p's visible nodes given its latents."""
        if process in ("q", "inference"):
            return self.values("reconstruction")
        key = ("reconstruction", process)
        if key not in self._cache:
            self._cache[key] = self._reconstruction({}, True, process)
        return self._cache[key]

    def q_params(self, inputs: tuple = (), process: str = "q", particles: int | None = None) -> dict:
        """The parameters of an inference process run on ``inputs`` (for densities of q)."""
        self.values("inference" if process == "q" else process, inputs, particles=particles)
        return self._cache[(process, "params", inputs, particles)]

    def held(self, particles: int | None = None) -> tuple[dict, dict]:
        """q on the data with every draw held fixed (no gradient through a sample, no
        gradient estimator): ``(values, q's parameters)``, the wake phases' draws."""
        key = ("held", particles)
        if key not in self._cache:
            values = self._data({}, None)
            q = self.model.run(values, particles=particles, estimators=False, detach=True)
            self._cache[key] = (values, q)
        return self._cache[key]

    def dream(self) -> dict:
        """As many draws of every node of the generative process as the batch has examples,
        without gradients, given the batch's ``given`` nodes (the sleep phases' dreams)."""
        if "dream" not in self._cache:
            nodes = self.model.graph.nodes
            given = {}
            for n, node in nodes.items():
                if node.given:
                    if n not in self.batch:
                        raise GraphError(f"the batch has no '{n}', a visible node of graph "
                                         f"'{self.model.graph.name}'")
                    given[n] = self.batch[n]
            self._cache["dream"] = self.model.sample(self.size, given=given, mean=False)
        return self._cache["dream"]

    def cached(self, key, compute):
        """``compute()`` once per trace under ``key``: a computation several terms share."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def surrogate(self, per_example: torch.Tensor) -> torch.Tensor:
        """``per_example`` with the score-function surrogate of q's non-reparameterized
        draws on the batch (``CompiledModel.score_function``): the per-example cost is
        their learning signal. Unchanged where the trace drew none."""
        if self._scored is None or not self.model.score_latents:
            return per_example
        values, q, particle_dims = self._scored
        return self.model.score_function(per_example, values, q, particle_dims=particle_dims)

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
    def _read(self, rename: dict, names, strict: bool = False) -> dict:
        if strict and not rename:
            return self.model.read_batch(self.batch)
        values = {}
        model = self.model
        for name in names:
            key = rename.get(name, name)
            if key in self.batch:
                values[name] = model.read_node(name, self.batch[key])
        return values

    def _data(self, rename, targets):
        return self._read(rename, [n for n, _, _ in self.model.visible], self.strict)

    def _run(self, process: str, rename: dict, particles: int | None = None, grad: bool = True) -> dict:
        """One inference process on the batch: its latents sampled in topological order."""
        model = self.model
        values = self._read(rename, [n for n, _, _ in model.visible], self.strict)
        # q's latents are drawn by their gradient estimators (a Gumbel relaxation), so that
        # gradients reach q through them wherever a term differentiates through its samples.
        try:
            q = model.run(values, process, particles=particles) if process in model.processes else {}
        except KeyError as e:  # a parent the batch lacks: say which edge reads it
            f = next((f for f in model.processes[process] if e.args[0] in f.parents), None)
            if f is None:
                raise
            raise GraphError(f"{f.edge.name} reads '{e.args[0]}', but the batch has no "
                             f"'{rename.get(e.args[0], e.args[0])}'; add it to the batch") from None
        inputs = tuple(sorted(rename.items()))
        if grad:  # a draw without gradients keeps its parameters to itself
            self._cache[(process, "params", inputs, particles)] = q
            if process == "q" and not inputs and self._scored is None:
                self._scored = (values, q, 1 if particles else 0)
        return values

    def _reconstruction(self, rename, grad: bool = True, process: str = "inference"):
        """q's latents on the data, then each visible node p explains as its mean given them
        (or the value, for a deterministic edge): the reconstruction an adversary may judge."""
        values = dict(self.values(process, tuple(sorted(rename.items())), grad=grad))
        for f in self.model.likelihoods:
            # scored by its own network, it has no mean; or a parent the process does not infer
            # (another view's local latent): the data's value stays
            if f.density or not all(p in values for p in f.parents):
                continue
            params = f.params(values)
            values[f.child] = params[0] if f.deterministic else f.family.mean(params)
        return values

    def _generative(self, rename, targets):
        model = self.model
        _, given = model.generative_plan(targets)
        values = self._read(rename, given)
        for name in given:
            if name not in values:
                raise GraphError(f"the generative process needs the given node '{name}', but the batch has no "
                                 f"'{rename.get(name, name)}'")
        return model.generate(values, self.size, targets)


def _batch_size(batch: dict) -> int:
    for v in batch.values():
        if isinstance(v, torch.Tensor):
            return v.shape[0]
    raise GraphError("the batch holds no tensor")
