"""``CompiledModel``: a graph turned into a ``torch.nn.Module`` that runs as tensor code.

It holds every network of the graph (so ``parameters()``, ``.to()``, ``state_dict()``
behave as usual) and the machinery every objective shares: reading a batch into node
values, running the inference process q (ancestral sampling in q's topological order), and
scoring values under the generative process p (priors and generative edges). An objective
(:mod:`unidgm.inference.objective`) turns those into named terms; the Pyro model/guide
(:mod:`unidgm.inference.pyro_bridge`) is a second view of the same graph.
"""
from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GraphError
from ..graph.families import make_family
from ..graph.graph import Graph
from .estimators import resolve_estimators, score_surrogate
from .factor import Factor


class CompiledModel(nn.Module):
    """A schematic graph compiled with an objective. Build it with ``unidgm.compile``.

    Attributes:
        graph: the source :class:`~unidgm.Graph`.
        objective: the :class:`~unidgm.inference.objective.Objective` that gives the terms.
        phases: the objective's alternating phases (which parameter groups each updates).
    """

    def __init__(self, graph: Graph, objective, estimators: dict | None = None):
        super().__init__()
        graph.validate()
        self.graph = graph
        #: the training recipe (TrainConfig.stages) the model was compiled with, or None
        self.stages: tuple[dict, ...] | None = None
        nodes = dict(graph.nodes)
        self.families = {n: make_family(node.family, **node.options) for n, node in nodes.items()}
        self.nets = nn.ModuleDict({e.key: e.net for e in graph.edges})
        # Priors live in the network-output layout so a family reads them like an output.
        self.learned_priors = nn.ParameterDict()
        self._standard_priors: dict[str, tuple[str, ...]] = {}  # latent -> its prior's buffer names
        for n, node in nodes.items():
            if node.prior == "learned":
                self.learned_priors[n] = nn.Parameter(torch.zeros(self.families[n].param_shape(node.shape)))
            elif node.prior == "standard":
                names = []
                for i, t in enumerate(self.families[n].prior_params(node.shape)):
                    names.append(f"_prior_{n}_{i}")
                    self.register_buffer(names[-1], t, persistent=False)
                self._standard_priors[n] = tuple(names)

        self.generative = {e.child: Factor(e, nodes, self.families[e.child]) for e in graph.edges_of("generative")}
        #: every inference process (``"q"`` and any other the graph names) as its factors in
        #: topological order; ``inference`` is ``q``'s, the process the named objectives read
        self.processes: dict[str, list[Factor]] = {}
        for process, kind in graph.processes.items():
            if kind != "inference":
                continue
            factors = {e.child: Factor(e, nodes, self.families[e.child]) for e in graph.edges_in(process)}
            order = [n for n in nx.topological_sort(graph.process(process)) if n in factors]
            self.processes[process] = [factors[n] for n in order]
        self.inference = self.processes.get("q", [])
        for f in list(self.generative.values()) + [f for fs in self.processes.values() for f in fs]:
            f.dry_run()
        for e in graph.edges_of("adversarial"):
            Factor(e, nodes, self.families[e.child]).dry_run()

        # Visible nodes as (name, shape, classes-if-one-hot) for reading batches.
        #: visible nodes as (name, event shape, classes where a batch may give indices of a one-hot node)
        self.visible = [(n, node.shape, node.shape[-1] if self.families[n].one_hot else 0)
                         for n, node in nodes.items() if node.role == "visible"]
        self.likelihoods = [self.generative[n] for n, node in nodes.items()
                            if node.role == "visible" and n in self.generative]
        self.latents = [n for n, node in nodes.items() if node.role == "latent"]
        #: latents the batch gives for some examples (labels): observed there, enumerated elsewhere
        self.partially_observed = [n for n, node in nodes.items() if node.partially_observed]
        self.generative_order = list(nx.topological_sort(graph.process("generative")))
        self._generative_plans: dict = {}
        # One gradient estimator per sampled latent (see estimators.py): the (factor,
        # estimator) pairs that add a score-function surrogate, and who draws each sample.
        self.estimators, self.score_latents, draws = resolve_estimators(self, estimators)
        self._estimator_list = tuple(self.estimators.values())  # the step loop's, without ModuleDict's walk
        #: q's factors in order, each with the estimator that draws its samples (None: the family)
        self.q_plan = list(zip(self.inference, draws))

        self.objective = objective
        #: a user's terms (``compile(..., terms=[...])``): modules, so their networks are the model's
        self.extra_terms = nn.ModuleList(getattr(objective, "extra", ()))
        if self.partially_observed and not objective.supports_partially_observed:
            raise GraphError(f"latent '{self.partially_observed[0]}' is partially observed, and the '{objective.name}' "
                             f"objective cannot use its labels; compile with the ELBO (objective='elbo'), which "
                             f"observes it where the batch gives it and sums over its classes elsewhere")
        objective.bind(self)
        self.phases = objective.phases
        self._value_dtype = torch.get_default_dtype()  # of batch values; follows .to() and .double()

    def _apply(self, fn, *args, **kwargs):
        module = super()._apply(fn, *args, **kwargs)
        floating = [t for t in list(self.parameters()) + list(self.buffers()) if t.is_floating_point()]
        if floating:
            self._value_dtype = floating[0].dtype
        return module

    # ------------------------------------------------------------------ parameter groups
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by kind, by process and by edge, for phases to name what they update.

        The kinds partition the parameters: ``generative`` (theta, learned priors included),
        ``inference`` (phi of every inference process, learned baselines included) and
        ``adversarial`` (psi, the discriminators). Finer groups are subsets of those: one per
        process (``p``, ``q``, ``q_x``, ...), one per edge under its network's name
        (``generative_x``, ``inference_z``) and ``prior_<z>`` per learned prior. A phase
        names groups that do not overlap. A parameter shared by several edges' networks is in
        the groups of the first of them, in the order the graph declares its edges."""
        groups: dict[str, list[nn.Parameter]] = {"generative": [], "inference": [], "adversarial": []}
        finer: dict[str, list[nn.Parameter]] = {}
        seen: set[int] = set()
        for e in self.graph.edges:
            # a module shared by several edges (a codebook that q quantizes with and p decodes
            # from, tied weights) belongs to the first edge that holds it, in declaration order
            params = [p for p in e.net.parameters() if p.requires_grad and id(p) not in seen]
            seen.update(id(p) for p in params)
            groups[e.kind].extend(params)
            finer[e.key] = params
            if e.kind != "adversarial":
                finer.setdefault(e.process, []).extend(params)
        for z, prior in self.learned_priors.items():
            groups["generative"].append(prior)
            finer.setdefault("p", []).append(prior)
            finer[f"prior_{z}"] = [prior]
        groups["inference"].extend(self.estimators.parameters())  # learned baselines
        for t in self.extra_terms:  # a term's own networks (a density-ratio critic) are adversaries' psi
            params = [p for p in t.parameters() if p.requires_grad]
            groups["adversarial"].extend(params)
            finer[f"term_{t.name}"] = params
        for name, params in finer.items():
            groups.setdefault(name, params)
        return groups

    def training_defaults(self) -> dict:
        """The TrainConfig values the objective trains best with, which the Trainer uses
        wherever the config says "derive": ``lr``, ``betas``, ``lr_groups`` and ``monitor``
        (the validation term that picks the best checkpoint; None where there is none), and
        ``stages`` where the model has a recipe of its own (``compile(..., stages=)``)."""
        defaults = {**self.objective.optimizer_defaults, "monitor": self.objective.monitor}
        if self.stages is not None:
            # a best checkpoint judged by one phase's term would predate the later stages
            # (the autoencoder's best is from before its prior was fitted): keep the last
            defaults.update(stages=self.stages, monitor=None)
        return defaults

    def forward(self, batch: dict, phase: str | None = None) -> dict[str, torch.Tensor]:
        """The terms of ``loss`` (so ``torch.compile`` and ``DistributedDataParallel`` wrap the
        model as any module)."""
        return self.loss(batch, phase)

    def formula(self):
        """The compiled objective, term by term, as text and LaTeX (see ``Objective.describe``)."""
        return self.objective.describe(self)

    def _repr_svg_(self) -> str | None:
        """The graph's diagram captioned with the objective's formula, for notebooks (None
        where Graphviz's ``dot`` is missing)."""
        from ..viz.diagram import repr_svg

        try:
            self.formula()
        except NotImplementedError:  # an objective that does not describe itself yet
            return repr_svg(self)
        return repr_svg(self, caption=True)

    def set_schedule_step(self, step: int) -> None:
        """Tells schedules (KL warm-up, temperatures) the global training step; the Trainer calls it."""
        self.objective.step = step
        for est in self._estimator_list:
            est.step = step

    # ------------------------------------------------------------------ the shared trace
    def read_batch(self, batch: dict) -> dict[str, torch.Tensor]:
        """The values of the visible nodes from ``batch``; class indices become one-hot."""
        if not isinstance(batch, Mapping):
            raise GraphError(f"the batch must be a dict of tensors keyed by visible node, got {type(batch).__name__}")
        values = {}
        try:
            for name, shape, classes in self.visible:
                values[name] = self.read_node(name, batch[name], shape, classes)
        except KeyError as e:
            raise GraphError(f"the batch has no '{e.args[0]}', a visible node of graph '{self.graph.name}'; the batch "
                             f"must map every visible node ({', '.join(n for n, _, _ in self.visible)}) to a tensor"
                             ) from None
        return values

    def as_batch(self, batch) -> dict:
        """``batch`` as the engine reads it: a dict whose arrays are tensors, floating ones in
        the model's dtype (one pass over the keys; a batch that needs nothing is returned as
        it is)."""
        if not isinstance(batch, Mapping):
            raise GraphError(f"the batch must be a dict of tensors keyed by visible node, got {type(batch).__name__}")
        dtype = self._value_dtype
        for v in batch.values():
            if not isinstance(v, torch.Tensor) or (v.dtype != dtype and v.is_floating_point()):
                return {k: _as_value(v, 0, dtype, k) for k, v in batch.items()}
        return batch

    def read_values(self, batch: dict, names) -> dict[str, torch.Tensor]:
        """The values of the visible nodes ``names`` from ``batch`` (one-hot, shape checked)."""
        missing = [n for n in names if n not in batch]
        if missing:
            raise GraphError(f"the batch has no {', '.join(map(repr, missing))}; add it to the batch")
        return {n: self.read_node(n, batch[n]) for n in names}

    def read_node(self, name: str, v, shape=None, classes=None) -> torch.Tensor:
        """One visible node's value from a batch tensor: one-hot for class indices, shape checked."""
        if shape is None:
            shape = self.graph.nodes[name].shape
            classes = shape[-1] if self.families[name].one_hot else 0
        v = _as_value(v, classes, self._value_dtype, name)
        if v.shape[1:] != shape:
            raise GraphError(f"batch['{name}'] has shape {tuple(v.shape)}, but node '{name}' has event shape "
                             f"{shape}, so the batch must be (batch_size, {', '.join(map(str, shape))})"
                             + ("; class indices of shape (batch_size,) work too" if classes else ""))
        return v

    def run(self, values: dict[str, torch.Tensor], process: str = "q", *, particles: int | None = None,
            held: tuple = (), mean: bool = False, estimators: bool = True, detach: bool = False,
            partial: bool = False, draw=None) -> dict[str, tuple]:
        """Runs an inference process on ``values`` (in place): each latent it explains, in
        topological order, gets a value, and the parameters of each are returned. The one
        implementation of running q: the objectives, the trace's sources, ``encode``, the
        wake-sleep draws and evaluation all call it.

        Args:
            process: ``"q"`` or another inference process of the graph.
            particles: that many draws per example (a leading particle dimension).
            held: latents that keep the value ``values`` gives them (an observed or enumerated
                label); their parameters are still returned.
            mean: each latent's mean instead of a draw (a deterministic edge's output either way).
            estimators: draw q's latents through their gradient estimators (a relaxation, a
                detached draw) rather than the family's sampler.
            detach: hold every draw fixed (no gradient through a sample: wake-sleep).
            partial: skip latents whose parents ``values`` lacks instead of failing.
            draw: ``draw(factor, params) -> value`` in place of sampling (the Pyro guide's
                ``pyro.sample`` sites).
        """
        plan = self.q_plan if process == "q" and estimators else [(f, None) for f in self.processes[process]]
        q = {}
        for f, estimator in plan:
            if partial and not all(p in values for p in f.parents):
                continue
            params = f.params(values)
            q[f.child] = params
            if held and f.child in held:
                continue
            if draw is not None:
                value = draw(f, params)
            elif mean:
                value = params[0] if f.deterministic else f.family.mean(params)
            elif estimator is not None:
                value = estimator.sample(f, params, particles)
            else:
                value = f.sample(params, particles)
            values[f.child] = value.detach() if detach else value
        return q

    def infer(self, values: dict[str, torch.Tensor], particles: int | None = None, held: tuple = ()
              ) -> dict[str, tuple]:
        """Runs q as the objectives do (see :meth:`run`): draws through the latents'
        estimators into ``values``, returning each latent's q parameters."""
        return self.run(values, particles=particles, held=held)

    def read_labels(self, batch: dict, name: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A partially observed latent's values in ``batch`` as ``(one_hot, observed)``:
        ``(size, K)`` one-hot rows (zeros where unknown) and a ``(size,)`` boolean mask.
        The batch gives class indices with -1 (any negative number) where the value is
        unknown, or one-hot rows with zero rows there, or leaves the key out (nothing known)."""
        classes = self.graph.nodes[name].shape[-1]
        v = batch.get(name)
        if v is None:
            like = next(iter(batch.values())) if batch else torch.zeros(())
            observed = torch.zeros(size, dtype=torch.bool, device=like.device)
            return torch.zeros(size, classes, device=like.device), observed
        v = _as_value(v, 0, self._value_dtype, name)
        if not v.is_floating_point() and v.shape == (size,):
            observed = v >= 0
            one_hot = F.one_hot(v.clamp(min=0), classes).to(torch.get_default_dtype())
            return one_hot * observed.unsqueeze(-1), observed
        if v.is_floating_point() and v.shape == (size, classes):
            return v, v.sum(-1) > 0
        raise GraphError(f"batch['{name}'] has shape {tuple(v.shape)} and dtype {v.dtype}, but the partially observed "
                         f"latent '{name}' needs class indices of shape ({size},) with -1 where the label is unknown "
                         f"(or one-hot rows of shape ({size}, {classes}) with zero rows there)")

    def prior_params(self, name: str) -> tuple[torch.Tensor, ...] | None:
        """Parameters of a latent's prior, or None where there is none."""
        if name in self._standard_priors:
            return tuple(getattr(self, b) for b in self._standard_priors[name])
        if name in self.learned_priors:
            return self.families[name].split(self.learned_priors[name], 0)
        return None

    def sample_prior(self, name: str, n: int) -> torch.Tensor:
        """``n`` draws from a latent's prior; a standard normal draws noise directly."""
        if name in self._standard_priors and self.families[name].name == "normal":
            loc = getattr(self, self._standard_priors[name][0])
            return torch.randn((n,) + loc.shape, dtype=loc.dtype, device=loc.device)
        return self.families[name].sample(self.prior_params(name), (n,))

    def generative_plan(self, targets: tuple | None) -> tuple[list[str], list[str]]:
        """The nodes the generative process must compute for ``targets`` (all when None),
        in topological order, and the given nodes among them; computed once per targets."""
        plan = self._generative_plans.get(targets)
        if plan is None:
            process = self.graph.process("generative")
            wanted = set(targets or self.graph.nodes)
            for t in list(wanted):
                wanted |= nx.ancestors(process, t)
            nodes = self.graph.nodes
            plan = ([n for n in self.generative_order if n in wanted and not nodes[n].given
                     and nodes[n].role != "indicator"],
                    [n for n in self.generative_order if n in wanted and nodes[n].given])
            self._generative_plans[targets] = plan
        return plan

    def log_p(self, name: str, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """log p(value of ``name`` | its generative parents), per example."""
        f = self.generative.get(name)
        if f is not None:
            return f.log_prob(f.params(values), values[name])
        return self.families[name].log_prob(self.prior_params(name), values[name], len(self.graph.nodes[name].shape))

    def log_weights(self, batch: dict, k: int) -> torch.Tensor:
        """Importance weights log p(x, z) - log q(z | x) for ``k`` draws of q per example,
        shaped ``(k, batch_size)`` (Burda et al. 2016, Eq. 8)."""
        values = self.read_batch(batch)
        return self.weigh(values, self.infer(values, particles=k))

    def weigh(self, values: dict, q: dict) -> torch.Tensor:
        """log p(all values) - log q(latents | ...) for values that ``infer`` filled."""
        logw = 0.0
        for f in self.likelihoods:
            logw = logw + f.log_prob(f.params(values), values[f.child])
        for f in self.inference:
            if f.deterministic:
                raise GraphError(f"importance weights need a density for q({f.child}|...), but edge {f.edge.name} is "
                                 f"deterministic; make it stochastic (drop deterministic=True)")
            logw = logw + self.log_p(f.child, values) - f.log_prob(q[f.child], values[f.child])
        return logw

    def score_function(self, per_example: torch.Tensor, values: dict, q: dict, particle_dims: int = 0):
        """Adds the score-function (REINFORCE, Williams 1992) gradient of the latents whose
        estimator is the score function (by default those whose family cannot be
        reparameterized): ``per_example + (log q - stop(log q)) * stop(per_example - b)``,
        whose value is ``per_example`` and whose gradient adds ``(f - b) * grad log q(z)``,
        so E[gradient] is the gradient of E_q[f] (Ranganath et al. 2014, Eq. 3) for any
        baseline b independent of z (see :mod:`unidgm.inference.estimators`).
        ``particle_dims`` leading particle dimensions of log q are summed."""
        if not self.score_latents:
            return per_example
        return score_surrogate(self.score_latents, per_example, values, q, particle_dims)

    # ------------------------------------------------------------------ the objective
    def loss(self, batch: dict, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Named scalar terms of the compiled objective; ``terms["loss"]`` is minimised (the
        batch mean of the per-example objective, in nats). With ``phase``, only the terms
        that phase minimises are computed (the Trainer passes it for multi-phase
        objectives); without, every term. NumPy arrays and floating values of another
        precision (float64) in ``batch`` are converted to the model's tensors."""
        batch = self.as_batch(batch)
        if phase is None:
            return self.objective.terms(self, batch)
        return self.objective.terms(self, batch, phase)

    # ------------------------------------------------------------------ generation
    @property
    def can_generate(self) -> bool:
        """Whether the generative process can sample every latent (from a prior or a
        generative edge), so that ``sample`` works without given latents."""
        nodes = self.graph.nodes
        return bool(self.likelihoods) and all(nodes[z].prior is not None or z in self.generative
                                              for z in self.latents)

    @property
    def can_reconstruct(self) -> bool:
        """Whether q infers every latent, so that ``reconstruct`` can decode data."""
        inferred = {f.child for f in self.inference}
        return bool(self.inference) and all(z in inferred for z in self.latents)

    @torch.no_grad()
    def sample(self, n: int, given: dict | None = None, mean: bool = True) -> dict[str, torch.Tensor]:
        """Ancestral samples of every node of the generative process.

        ``given`` fixes nodes' values (shape ``(n, *shape)``; class indices for categorical
        nodes): the ``given=True`` visible nodes (labels) must be there, and fixing a latent
        decodes from it (traversals, analogies). With ``mean``, the visible nodes hold their
        distribution's mean (the usual picture of a sample) rather than a draw.
        """
        given = given or {}
        nodes = self.graph.nodes
        for name in given:
            if name not in nodes:
                raise GraphError(f"sample(given=...): '{name}' is not a node of graph '{self.graph.name}'")
        values = {name: _as_value(v, nodes[name].shape[-1] if self.families[name].one_hot else 0, self._value_dtype,
                                  name) for name, v in given.items()}
        for name, node in nodes.items():
            if node.given and name not in values:
                raise GraphError(f"sampling needs the given node '{name}': pass sample(n, given={{'{name}': ...}})")
        return self.generate(values, n, mean=mean)

    def generate(self, values: dict, n: int, targets: tuple | None = None, mean: bool = False) -> dict:
        """Runs the generative process on ``values`` (in place), ancestrally: each node p
        explains that ``values`` lacks, in topological order (only the ancestors of
        ``targets`` where given), from its edge's draw or its prior's; with ``mean``, the
        visible nodes hold their distribution's mean. The one implementation of ancestral
        sampling: ``sample``, the trace's generative source and the sleep phases' dreams
        call it. Returns ``values``."""
        order, given = self.generative_plan(targets)
        nodes = self.graph.nodes
        for name in given:
            if name not in values:
                raise GraphError(f"the generative process needs the given node '{name}'; pass its values "
                                 f"(sample(n, given={{'{name}': ...}}), or a batch with '{name}')")
        for name in order:
            if name in values:
                continue
            f = self.generative.get(name)
            if f is not None:
                params = f.params(values, n)
                values[name] = (f.family.mean(params) if mean and nodes[name].role == "visible" and not f.deterministic
                                and not f.density else f.sample(params))
            elif nodes[name].prior is not None:
                values[name] = self.sample_prior(name, n)
            elif nodes[name].role == "latent":  # a visible node p does not explain is only read by q
                raise GraphError(f"latent '{name}' has no prior and no generative edge, so the generative process "
                                 f"cannot sample it (an autoencoder cannot generate); give it prior='standard' "
                                 f"or pass its values in given=")
        return values

    def encode(self, values: dict[str, torch.Tensor], mean: bool = True, keep: tuple = ()) -> dict[str, torch.Tensor]:
        """Adds to ``values`` every latent the inference process reaches: q's mean (with
        ``mean``, else a draw), a deterministic edge's output; nodes in ``keep`` hold the
        values they have."""
        self.run(values, held=tuple(keep), mean=mean, estimators=False)
        return values

    @torch.no_grad()
    def reconstruct(self, batch: dict, mean: bool = True) -> dict[str, torch.Tensor]:
        """Encodes ``batch`` with q (its means, with ``mean``) and decodes: the visible
        nodes' means given the inferred latents."""
        values = self.encode(self.read_batch(batch), mean=mean)
        out = {}
        for f in self.likelihoods:
            if f.density:  # a node its own network scores (a caption under a text prior) is given back
                out[f.child] = values[f.child]
                continue
            params = f.params(values)
            out[f.child] = params[0] if f.deterministic else f.family.mean(params)
        return out

    # ------------------------------------------------------------------ the Pyro view
    def pyro_model(self, batch: dict) -> None:
        """The generative process as a Pyro model (sites named after nodes)."""
        from .pyro_bridge import pyro_model

        pyro_model(self, self.as_batch(batch))

    def pyro_guide(self, batch: dict) -> None:
        """The inference process ``q`` as a Pyro guide (sites named after latents)."""
        from .pyro_bridge import pyro_guide

        pyro_guide(self, self.as_batch(batch))

    def guide(self, process: str):
        """One inference process as a Pyro guide, ``guide(batch)``; ``guide("q")`` is
        ``pyro_guide``. E.g. ``Trace_ELBO`` on ``(pyro_model, guide("q_x"))`` is the ELBO with
        the encoder of x alone."""
        if process not in self.processes:
            raise GraphError(f"graph '{self.graph.name}' has no inference process '{process}'; its processes are "
                             f"{', '.join(self.processes) or 'none'}")
        from .pyro_bridge import pyro_guide

        return lambda batch: pyro_guide(self, self.as_batch(batch), process)

    def extra_repr(self) -> str:
        return f"graph={self.graph.name!r}, objective={self.objective!r}"


def _as_value(v, classes: int, dtype: torch.dtype, name: str) -> torch.Tensor:
    """A batch's value of a node as the engine computes with it: a tensor (NumPy arrays are
    converted), one-hot for class indices, floating values in the model's dtype."""
    if not isinstance(v, torch.Tensor):
        try:
            v = torch.as_tensor(v)
        except (TypeError, ValueError, RuntimeError):
            raise GraphError(f"batch['{name}'] is a {type(v).__name__}; give a tensor or a NumPy array with one row "
                             f"per example") from None
    if classes and not v.is_floating_point():
        return F.one_hot(v.long(), classes).to(dtype)
    if v.is_floating_point() and v.dtype != dtype:
        return v.to(dtype)
    return v

