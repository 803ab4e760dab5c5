"""The Pyro view of a compiled graph: ``model(batch)`` from the generative edges and
``guide(batch)`` from the inference edges, with sample sites named after the nodes.

Both run the very networks the compiled objective runs (registered with ``pyro.module``),
and read their outputs through the same families, so ``pyro.infer.SVI`` with
``Trace_ELBO`` trains them as they are and ``pyro.render_model`` draws them. On the same
draws, ``Trace_ELBO``'s loss equals the compiled ELBO's with ``kl="mc"`` times the batch
size (Pyro sums over the data plate where the compiled loss averages).

Adversarial edges are read as Hu et al. (2018, Sec. 3.2) read a GAN, generation as
posterior inference: for each edge an indicator site y (1 for the edge's real process, 0
for its fake one, observed over a plate of both sides), the compared values x drawn from
one process or the other according to y (deterministic sites ``<node>_real`` and
``<node>_fake``), and the discriminator q_psi(y | x) scoring the indicator, as an observed
Bernoulli site ``q_<y>`` for the GAN divergences (its log-probability is minus the batch
size times the compiled discriminator loss) or as ``pyro.factor("discriminator_<y>")``
for the others. The generator's side is ``pyro.factor("generator_<y>")`` (Hu et al.'s
reversed q^r for the non-saturating game), and InfoGAN's code posterior on generated
samples an observed site ``q_<c>``. Seeded alike, a Pyro trace and a compiled phase draw
the same samples, so the test can find each compiled term in the trace.

A partially observed latent y (a label known for some examples) splits the batch in two
plates, ``labelled`` and ``unlabelled``, whose sites carry the plate's name as a prefix
(``labelled/x``, ``unlabelled/y``), as Kingma et al.'s J sums the two kinds of examples:
in ``labelled`` y is an observed site, and the classification term alpha * -log q(y|x) an
observed site ``labelled/q_y`` scaled by alpha; in ``unlabelled`` the guide's y site is
marked for parallel enumeration (what ``pyro.infer.config_enumerate`` does), so
``TraceEnum_ELBO(max_plate_nesting=1)`` sums over y exactly and its loss is the batch size
times the compiled ELBO's with ``kl="mc"``; ``Trace_ELBO`` would sample y instead.
"""
from __future__ import annotations

from ..errors import GraphError


def _batch_size(model, values) -> int:
    for v in values.values():
        return v.shape[0]
    raise GraphError("the batch holds no visible node")  # unreachable: validate() requires one


def _adversarial_sites(model, batch: dict) -> None:
    import pyro
    import pyro.distributions as dist
    import torch

    from .sources import Trace
    from .terms.adversarial import CodeLikelihood, Generator

    objective = model.objective
    generator = objective.term("generator")  # none where adversarial_weight=0 switches the game off
    generator = generator if isinstance(generator, Generator) else None
    codes = objective.term("mutual_information")  # InfoGAN's codes, if the graph has any
    codes = codes if isinstance(codes, CodeLikelihood) else None
    trace = Trace(model, batch)
    for a in getattr(objective, "adversaries", ()):
        y = a.edge.child
        real, fake = a.values(trace, 0), a.values(trace, 1)
        for side, values in (("real", real), ("fake", fake)):
            for n in a.nodes:
                pyro.deterministic(f"{n}_{side}", values[n], event_dim=len(model.graph.nodes[n].shape))
        v_real, v_fake = a.critic(real), a.critic(fake)
        size = v_real.shape[0]
        indicator = torch.cat([torch.ones(size), torch.zeros(v_fake.shape[0])]).to(v_real)
        divergence = objective.divergence
        with pyro.plate(f"sides_{y}", indicator.shape[0]):
            pyro.sample(y, dist.Bernoulli(0.5), obs=indicator)  # p(y): which process made x
            if divergence.name in ("gan", "ns-gan") and not divergence.penalty_weight:
                pyro.sample(f"q_{y}", dist.Bernoulli(logits=torch.cat([v_real, v_fake])), obs=indicator)
        if divergence.name not in ("gan", "ns-gan"):
            pyro.factor(f"discriminator_{y}", -size * divergence.discriminator_loss(v_real, v_fake))
        if generator is not None:
            loss = generator.fooling_loss(v_fake, v_real if a.trainable[0] else None)
            pyro.factor(f"generator_{y}", -size * loss)
    for f in codes.codes if codes is not None else ():
        gen = trace.values("generative", (), codes.generated)
        with pyro.plate(f"codes_{f.child}", gen[f.child].shape[0]):
            pyro.sample(f"q_{f.child}", f.family.pyro_dist(f.params(gen), f.event_dims), obs=gen[f.child])


def pyro_model(model, batch: dict) -> None:
    """p: every node in generative topological order; visible nodes observed; then each
    adversarial edge's indicator, discriminator and generator sites."""
    import pyro

    pyro.module("unidgm", model)
    adversarial = model.graph.edges_of("adversarial")
    if adversarial:
        _adversarial_sites(model, batch)
        # Only nodes that an explicit likelihood needs join the generative sites (AAVAE).
        explicit = [f for f in model.likelihoods if not f.deterministic]
        if not explicit:
            return
        needed = set(model.generative_plan(tuple(f.child for f in explicit))[0])
        values = model.read_values(batch, [f.child for f in explicit] + [
            n for n, node in model.graph.nodes.items() if node.given and n in batch])
    elif model.partially_observed:
        _semi_supervised_model(model, batch)
        return
    else:
        needed = None
        values = model.read_batch(batch)
    observed = {n for n, node in model.graph.nodes.items() if node.role == "visible"}
    size = _batch_size(model, values)
    with pyro.plate("data", size):
        _generative_sites(model, values, observed, size, needed)


def _generative_sites(model, values: dict, observed: set, size: int, needed=None, prefix: str = "") -> None:
    """The generative process's sites (named ``prefix + node``) inside a plate of ``size``."""
    import pyro

    for name in model.generative_order:
        node = model.graph.nodes[name]
        if node.role == "indicator" or node.given or (needed is not None and name not in needed):
            continue
        f = model.generative.get(name)
        if f is None:
            params = model.prior_params(name)
            if params is None:
                raise GraphError(f"latent '{name}' has no prior and no generative edge, so the Pyro model cannot "
                                 f"sample it; give it prior='standard'")
            d = model.families[name].pyro_dist(tuple(p.expand((size,) + p.shape) for p in params), node.event_dims)
        elif f.density:
            raise GraphError(f"edge {f.edge.name} is a density network (it scores and draws '{name}' itself), "
                             f"which the Pyro bridge has no distribution for; train it with unidgm's objectives")
        elif f.deterministic:
            if name in observed:
                raise GraphError(f"edge {f.edge.name} is deterministic, so visible '{name}' has no likelihood "
                                 f"for the Pyro model to observe; make the edge stochastic")
            values[name] = pyro.deterministic(prefix + name, f.params(values)[0], event_dim=node.event_dims)
            continue
        else:
            d = f.family.pyro_dist(f.params(values), node.event_dims)
        values[name] = pyro.sample(prefix + name, d, obs=values.get(name) if name in observed else None)


def _labelled_parts(model, batch: dict):
    """The batch split by the partially observed latent y's mask: ``(y, alpha, parts)``
    with alpha the classification weight and parts ``[(plate name, values, size)]``, the
    labelled values holding y."""
    values = model.read_batch(batch)
    size = _batch_size(model, values)
    y = model.partially_observed[0]
    labels, observed = model.read_labels(batch, y, size)
    parts = []
    for name, rows in (("labelled", observed.nonzero().squeeze(1)), ("unlabelled", (~observed).nonzero().squeeze(1))):
        if rows.numel():
            part = {k: v[rows] for k, v in values.items()}
            if name == "labelled":
                part[y] = labels[rows]
            parts.append((name, part, rows.numel()))
    term = model.objective.term("classification")
    return y, term.weight if term is not None else 0.0, parts


def _semi_supervised_model(model, batch: dict) -> None:
    import pyro
    import pyro.distributions as dist
    from pyro import poutine

    y, alpha, parts = _labelled_parts(model, batch)
    visible = {n for n, node in model.graph.nodes.items() if node.role == "visible"}
    q_y = next(f for f in model.inference if f.child == y)
    for name, values, size in parts:
        labelled = name == "labelled"
        with pyro.plate(name, size):
            _generative_sites(model, values, visible | ({y} if labelled else set()), size, prefix=name + "/")
            if labelled and alpha:
                with poutine.scale(scale=alpha):  # Kingma et al.'s classification term, Eq. 9
                    pyro.sample(f"{name}/q_{y}", dist.OneHotCategorical(logits=q_y.params(values)[0]), obs=values[y])


def _semi_supervised_guide(model, batch: dict) -> None:
    import pyro

    y, _, parts = _labelled_parts(model, batch)
    for name, values, size in parts:
        def site(f, params, name=name):
            infer = {"enumerate": "parallel"} if f.child == y else {}
            return pyro.sample(f"{name}/{f.child}", _guide_dist(f, params), infer=infer)

        with pyro.plate(name, size):  # y is observed in the labelled plate, enumerated in the other
            model.run(values, held=(y,) if name == "labelled" else (), estimators=False, draw=site)


def _guide_dist(f, params):
    import pyro.distributions as dist

    if f.deterministic:
        return dist.Delta(params[0], event_dim=f.event_dims)
    return f.family.pyro_dist(params, f.event_dims)


def pyro_guide(model, batch: dict, process: str = "q") -> None:
    """An inference process as a Pyro guide: every latent it explains, in its topological
    order (``q`` by default; the graph's other processes, ``q_x``, give guides of their own)."""
    import pyro

    pyro.module("unidgm", model)
    if model.partially_observed and process == "q":
        _semi_supervised_guide(model, batch)
        return
    values = model.read_batch(batch)
    if process not in model.processes:
        raise GraphError(f"graph '{model.graph.name}' has no inference process '{process}'; its processes are "
                         f"{', '.join(model.processes) or 'none'}")
    with pyro.plate("data", _batch_size(model, values)):
        model.run(values, process, estimators=False, draw=lambda f, params: pyro.sample(f.child, _guide_dist(f, params)))

