"""The Pyro view of a compiled graph: ``model(batch)`` from the generative edges and
``guide(batch)`` from the inference edges, with sample sites named after the nodes.

Both run the very networks the compiled objective runs (registered with ``pyro.module``),
and read their outputs through the same families, so ``pyro.infer.SVI`` with
``Trace_ELBO`` trains them as they are and ``pyro.render_model`` draws them. On the same
draws, ``Trace_ELBO``'s loss equals the compiled ELBO's with ``kl="mc"`` times the batch
size (Pyro sums over the data plate where the compiled loss averages).
"""
from __future__ import annotations

import networkx as nx

from ..errors import GraphError


def _batch_size(model, values) -> int:
    for name, _, _ in model._visible:
        return values[name].shape[0]
    raise GraphError("the batch holds no visible node")  # unreachable: validate() requires one


def pyro_model(model, batch: dict) -> None:
    """p: every node in generative topological order; visible nodes observed."""
    import pyro

    pyro.module("unidgm", model)
    values = model.read_batch(batch)
    observed = {n for n, node in model.graph.nodes.items() if node.role == "visible"}
    size = _batch_size(model, values)
    with pyro.plate("data", size):
        for name in nx.topological_sort(model.graph.process("generative")):
            node = model.graph.nodes[name]
            if node.role == "indicator" or node.given:
                continue
            f = model.generative.get(name)
            if f is None:
                params = model.prior_params(name)
                if params is None:
                    raise GraphError(f"latent '{name}' has no prior and no generative edge, so the Pyro model cannot "
                                     f"sample it; give it prior='standard'")
                d = model.families[name].pyro_dist(tuple(p.expand((size,) + p.shape) for p in params),
                                                   node.event_dims)
            elif f.deterministic:
                if name in observed:
                    raise GraphError(f"edge {f.edge.name} is deterministic, so visible '{name}' has no likelihood "
                                     f"for the Pyro model to observe; make the edge stochastic")
                values[name] = pyro.deterministic(name, f.params(values)[0], event_dim=node.event_dims)
                continue
            else:
                d = f.family.pyro_dist(f.params(values), node.event_dims)
            values[name] = pyro.sample(name, d, obs=values.get(name) if name in observed else None)


def pyro_guide(model, batch: dict) -> None:
    """q: every inferred latent in inference topological order."""
    import pyro
    import pyro.distributions as dist

    pyro.module("unidgm", model)
    values = model.read_batch(batch)
    with pyro.plate("data", _batch_size(model, values)):
        for f in model.inference:
            params = f.params(values)
            if f.deterministic:
                d = dist.Delta(params[0], event_dim=f.event_dims)
            else:
                d = f.family.pyro_dist(params, f.event_dims)
            values[f.child] = pyro.sample(f.child, d)

