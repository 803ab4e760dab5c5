"""One edge at run time: gather the parents' values, run the network, read parameters.

Everything that can be settled from the graph (parameter layout, how parents combine,
event sizes) is settled once in ``__init__``; ``params`` is the hot path and stays plain
tensor code.

Values carry leading batch dimensions before their event shape: ``(B, *S)`` for one
sample per example, ``(k, B, *S)`` for k importance-weighted particles. Networks always see
exactly one leading dimension, so any ``nn.Module`` works as an edge's network; the
particle dimension is folded into the batch and unfolded from the output.
"""
from __future__ import annotations

import torch

from ..errors import GraphError
from ..graph.elements import Edge, Node
from ..graph.families import Family
from ..nets.output import Output, Params


class Factor:
    """The compiled form of one edge: ``params(values)`` gives the child's parameters."""

    __slots__ = ("edge", "child", "parents", "net", "family", "shape", "event_dims",
                 "param_shape", "deterministic", "parent_dims", "parent_shapes", "parent_sizes", "single",
                 "concat", "parent_indices", "node_dims", "density", "indices")

    def __init__(self, edge: Edge, nodes: dict[str, Node], family: Family):
        node = nodes[edge.child]
        self.edge = edge
        self.child = edge.child
        self.parents = edge.parents
        self.net = edge.net
        self.family = family
        self.shape = node.shape
        self.event_dims = len(node.shape)
        self.deterministic = edge.deterministic
        # the family's parameters in the network's output layout (see families.py)
        self.param_shape = tuple(node.shape) if edge.deterministic else family.param_shape(node.shape)
        self.parent_shapes = tuple(nodes[p].shape for p in edge.parents)
        self.parent_dims = tuple(len(s) for s in self.parent_shapes)
        self.parent_sizes = tuple(nodes[p].size for p in edge.parents)
        from ..graph.families import make_family

        # parents carried as class indices are integers (an embedding's input)
        self.parent_indices = tuple(make_family(nodes[p].family, **nodes[p].options).indices for p in edge.parents)
        self.single = len(edge.parents) == 1
        #: the network is the child's density (log_prob and sample of its own: an autoregressive prior)
        self.density = edge.density
        self.indices = family.indices
        # a prior network reads the batch size off any value: each node's event rank locates it
        self.node_dims = {} if edge.parents else {n: len(nd.shape) for n, nd in nodes.items()}
        self.concat = edge.combine == "concat"

    def inputs(self, values: dict[str, torch.Tensor], size: int | None = None):
        """The network's input and the leading (batch, particle) shape of the values. A prior
        network (no parents) reads an empty ``(size, 0)`` tensor; ``size`` defaults to the
        batch size of the values."""
        if not self.parents:
            like = None
            for name, v in values.items():
                if name in self.node_dims and v.dim() > self.node_dims[name]:
                    like = v
                    if size is None:
                        size = v.shape[v.dim() - self.node_dims[name] - 1]
                    break
            if size is None:
                raise GraphError(f"edge {self.edge.name} (a prior network) needs a batch size, and no value gives one")
            device = like.device if like is not None else self.device()
            return torch.zeros((size, 0), device=device), (size,)
        if self.single:
            v = values[self.parents[0]]
            nlead = v.dim() - self.parent_dims[0]
            if nlead == 1:
                return v, v.shape[:1]
            lead = v.shape[:nlead]
            return v.reshape((-1,) + self.parent_shapes[0]), lead
        vs = [values[p] for p in self.parents]
        lead = torch.broadcast_shapes(*(v.shape[: v.dim() - d] for v, d in zip(vs, self.parent_dims)))
        if self.concat:
            # Flatten each parent's event and concatenate: (N, sum of sizes).
            return torch.cat([v.expand(lead + s).reshape(-1, n)
                              for v, s, n in zip(vs, self.parent_shapes, self.parent_sizes)], -1), lead
        return {p: v.expand(lead + s).reshape((-1,) + s) for p, v, s in zip(self.parents, vs, self.parent_shapes)}, lead

    def device(self) -> torch.device:
        """The device of the network's parameters (or buffers; CPU where it has none)."""
        for t in self.net.parameters():
            return t.device
        for t in self.net.buffers():
            return t.device
        return torch.device("cpu")

    def params(self, values: dict[str, torch.Tensor], size: int | None = None) -> tuple[torch.Tensor, ...]:
        if self.density:  # no parameters: the condition and the batch size, for log_prob and sample
            if self.parents:
                condition = values[self.parents[0]]
                return condition, condition.shape[0]
            return None, self.inputs(values, size)[1][0]
        x, lead = self.inputs(values, size)
        out = self.net(x)
        if not isinstance(out, torch.Tensor):  # an Output: the value the family reads, and aux
            return Params(self._read(out.value, lead), _unfold_aux(out.aux, lead))
        return self._read(out, lead)

    def _read(self, out: torch.Tensor, lead) -> tuple:
        if len(lead) != 1 or out.shape[1:] != self.param_shape:
            out = out.reshape(lead + self.param_shape)
        if self.deterministic:
            return (out,)
        return self.family.split(out, len(lead))

    def sample(self, params, particles: int | None = None) -> torch.Tensor:
        """A draw of the child; ``particles`` adds a leading particle dimension unless the
        parameters already carry one."""
        if self.density:
            condition, n = params
            if particles:
                condition = None if condition is None else condition.repeat(
                    (particles,) + (1,) * (condition.dim() - 1))
                return self.net.sample(particles * n, self.shape, condition).reshape((particles, n) + self.shape)
            return self.net.sample(n, self.shape, condition)
        if self.deterministic:
            v = params[0]
            return v.expand((particles,) + v.shape) if particles and v.dim() == self.event_dims + 1 else v
        if particles and params[0].dim() == self.event_dims + 1:
            return self.family.sample(params, (particles,))
        return self.family.sample(params)

    def log_prob(self, params, value) -> torch.Tensor:
        if self.density:
            condition, _ = params
            lead = value.shape[:value.dim() - self.event_dims]
            if len(lead) == 1:
                return self.net.log_prob(value, condition)
            flat = value.reshape((-1,) + self.shape)  # particles fold into the batch
            if condition is not None:
                condition = condition.expand(lead + condition.shape[1:]).reshape((-1,) + condition.shape[1:])
            return self.net.log_prob(flat, condition).reshape(lead)
        return self.family.log_prob(params, value, self.event_dims)

    # ------------------------------------------------------------------ compile time
    def _dry_run_density(self, values: dict) -> None:
        """A density network scores a batch of 2 zero values of the child's shape: one number each."""
        value = torch.zeros((2,) + self.shape, dtype=torch.long if self.indices else torch.get_default_dtype())
        was_training = self.net.training
        try:
            with torch.no_grad():
                self.net.eval()
                out = self.net.log_prob(value, values[self.parents[0]] if self.parents else None)
        except Exception as e:
            raise GraphError(f"edge {self.edge.name}: its density network's log_prob failed on a batch of 2 values "
                             f"of '{self.child}' of shape {self.shape} ({type(e).__name__}: {e}); make it accept "
                             f"the node's values (class indices for classes=K) and its parent's") from e
        finally:
            self.net.train(was_training)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2,):
            raise GraphError(f"edge {self.edge.name}: its density network's log_prob must return one number per "
                             f"example, shape (2,) for a batch of 2, got "
                             f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")

    def aux_keys(self) -> tuple[str, ...]:
        """The ``aux`` keys the network returns (an :class:`~unidgm.nets.Output`), from a
        run on zeros of the parents' shapes (batch of 2); () for a plain tensor."""
        values = {p: torch.zeros((2,) + s, dtype=torch.long if i else torch.get_default_dtype(), device=self.device())
                  for p, s, i in zip(self.parents, self.parent_shapes, self.parent_indices)}
        was_training = self.net.training
        try:
            with torch.no_grad():
                self.net.eval()
                out = self.net(self.inputs(values, 2)[0])
        finally:
            self.net.train(was_training)
        return tuple(out.aux) if isinstance(out, Output) else ()

    def dry_run(self) -> None:
        """Runs the network once on zeros of the parents' shapes (batch of 2) and checks
        that its output fits the child; raises GraphError naming the edge otherwise."""
        values = {p: torch.zeros((2,) + s, dtype=torch.long if i else torch.get_default_dtype())
                  for p, s, i in zip(self.parents, self.parent_shapes, self.parent_indices)}
        if self.density:
            self._dry_run_density(values)
            return
        net = self.net
        was_training = net.training
        try:
            with torch.no_grad():
                net.eval()
                x, _ = self.inputs(values, 2)
                try:
                    out = net(x)
                except Exception as e:
                    shapes = {p: (2,) + s for p, s in zip(self.parents, self.parent_shapes)}
                    raise GraphError(
                        f"edge {self.edge.name}: its network failed on a batch of 2 with parent shapes {shapes} "
                        f"({type(e).__name__}: {e}); make the network accept its parents' values "
                        f"({self.edge.combine} of {', '.join(self.parents)})") from e
        finally:
            net.train(was_training)
        if isinstance(out, Output) and isinstance(out.value, torch.Tensor) and isinstance(out.aux, dict):
            out = out.value
        elif not isinstance(out, torch.Tensor):
            raise GraphError(f"edge {self.edge.name}: the network must return one tensor or a unidgm.nets.Output "
                             f"(value, aux dict), got {type(out).__name__}")
        want = 1
        for s in self.param_shape:
            want *= s
        what = "the value itself" if self.deterministic else f"{self.family.num_params} parameter(s) of the " \
                                                              f"'{self.family.name}' family"
        if out.dim() < 1 or out.shape[0] != 2 or out[0].numel() != want:
            raise GraphError(
                f"edge {self.edge.name}: the network's output has shape {tuple(out.shape[1:])} per example, but node "
                f"'{self.child}' of shape {self.shape} needs {what}: {want} numbers per example, e.g. shape "
                f"{self.param_shape}; change the network's output size to {want}")


def _unfold_aux(aux: dict, lead) -> dict:
    """Per-example auxiliary values back to the values' leading (particle, batch) shape."""
    if len(lead) == 1:
        return aux
    n = 1
    for d in lead:
        n *= d
    return {k: v.reshape(lead + v.shape[1:]) if v.dim() and v.shape[0] == n else v for k, v in aux.items()}
