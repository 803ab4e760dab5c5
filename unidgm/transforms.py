"""Hu et al.'s observations as functions on graphs: one model turned into another.

Hu, Yang, Salakhutdinov & Xing, "On Unifying Deep Generative Models" (ICLR 2018), relate
the model families by operations on their schematic graphs:

1. :func:`swap_processes`: swapping the generation and inference processes of InfoGAN
   gives a VAE (Sec. 3.4);
2. :func:`swap_roles`: swapping the roles of the data x and the code z in InfoGAN gives
   the adversarial autoencoder (Sec. 3.3);
3. :func:`activate_adversary`: a VAE is a GAN-like model whose adversary is degenerate
   (a perfect discriminator, q_*(y|x)); learning it gives the adversary-activated VAE
   (Sec. 4);
4. :func:`importance_weight`: the IWAE's importance weights carried over to a GAN's
   generator loss give the importance-weighted GAN (Sec. 4).

Each function returns a **new** :class:`~unidgm.Graph` declared through the public API
and never changes its input. Networks are re-used from the source graph wherever one fits
the new edge (the new graph then shares that module with the source: training one trains
the other; pass ``copy.deepcopy(graph)`` for independent weights); an edge that needs a
different input or output size gets a fresh network from the catalogue's builders
(:mod:`unidgm.models.parts`, MLPs unless ``net="conv"``), or the module the caller passes
as ``nets={edge_key: module}``, keyed like :attr:`Edge.key` (``"generative_x"``,
``"inference_z"``, ``"adversarial_y_z"``).

Hu et al. draw InfoGAN with one code z that the generator reads and the inference
network recovers (their Fig. 3), a GAN plus q(z|x). The catalogue's ``infogan`` splits
the code into noise that nothing infers and categorical and continuous codes, so the
statements "swap_processes(InfoGAN) is a VAE" and "swap_roles(InfoGAN, x, z) is an AAE"
hold, edge for edge, for Hu et al.'s form::

    g = unidgm.models.build("gan")
    g.inference("x", "z", MLP(784, [400], 2 * 64))    # q(z|x) on the whole code
    swap_processes(g)          # ~ build("vae"):  p(x|z), q(z|x), prior on z
    swap_roles(g, "x", "z")    # ~ build("aae"):  p(x|z), z = E(x), adversary on z
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping

from torch import nn

from .errors import ConfigError, GraphError
from .graph.elements import Edge, Node
from .graph.graph import Graph

__all__ = ["swap_processes", "swap_roles", "activate_adversary", "importance_weight"]

_OTHER = {"generative": "inference", "inference": "generative"}


@dataclasses.dataclass
class _Spec:
    """An edge still to be declared on the new graph; ``net`` is None until resolved.
    ``candidates`` are source edges whose networks may be re-used, in order of preference."""

    kind: str
    parents: tuple[str, ...]
    child: str  # the indicator for an adversarial edge
    deterministic: bool = False
    combine: str = "concat"
    net: nn.Module | None = None
    candidates: tuple[Edge, ...] = ()
    real: str | None = None
    fake: str | None = None
    real_inputs: tuple = ()
    fake_inputs: tuple = ()

    @property
    def key(self) -> str:
        return f"{self.kind}_{self.child}"


# ---------------------------------------------------------------------- the transforms
def swap_processes(graph: Graph, *, keep_adversary: bool = False, keep_deterministic: bool = False,
                   nets: Mapping[str, nn.Module] | None = None, net: str = "mlp", hidden=None,
                   name: str | None = None) -> Graph:
    """Swaps the generative and inference processes (Hu et al. 2018, Sec. 3.4: InfoGAN with
    its generation and inference swapped is a VAE).

    Every generative edge p(child | parents) becomes inference edges q(parent | child), one
    per parent, and every inference edge q(child | parents) becomes generative edges
    p(parent | child); arcs that land on the same variable merge into one edge, so
    InfoGAN's generator x = G(z) becomes the VAE's encoder q(z|x) and its code network
    q(z|x) the decoder p(x|z). Nodes keep their declarations (x stays the visible data,
    z a latent). A ``given`` node (a label the model conditions on) is conditioned on by
    both processes, so it stays a parent of each swapped edge rather than being reversed.

    Priors follow the generative process: a latent that a swapped generative edge now
    produces loses its prior; one that a generative edge produced in the source and none
    produces now gets ``prior="standard"`` (delta latents excepted, having no density);
    the rest keep theirs (an autoencoder's code, which had none, stays without).

    The swapped edges are explicit distributions (stochastic): the VAE scores both the
    likelihood p(x|z) and q(z|x), and an implicit generator has no density to score.
    ``keep_deterministic=True`` keeps each edge's flag instead (InfoGAN then swaps to an
    autoencoder whose encoder is deterministic). Networks re-used are those the source
    has for the same conditional (same parents and child) where they fit; the others are
    fresh, built with ``net`` (``"mlp"`` or ``"conv"``) and ``hidden`` (None: the
    builders' defaults), unless ``nets`` supplies them.

    Hu et al. read the VAE as having a degenerate adversary: a perfect discriminator that
    is not learned and so has no edge. Adversarial edges are therefore dropped, and the
    result is trained with the ELBO (the source's own objective if it was not
    adversarial, e.g. ``"iwae"`` with its ``k``). ``keep_adversary=True`` keeps them
    (discriminators, sides and all) with the source's adversarial objective: InfoGAN then
    swaps to a VAE with an active adversary on x, the AAVAE's graph.
    """
    _check_graph(graph, "swap_processes")
    nodes = _declared(graph)
    given = {n for n, node in nodes.items() if node.given}
    arcs: dict[tuple[str, str], dict] = {}  # (new kind, new child) -> {"parents": [...], "given": [...], "det": bool}
    for e in graph.edges:
        if e.kind == "adversarial":
            continue
        kind = _OTHER[e.kind]
        held = [p for p in e.parents if p in given]
        for p in e.parents:
            if p in given:
                continue
            slot = arcs.setdefault((kind, p), {"parents": [], "given": [], "det": False})
            if e.child not in slot["parents"]:
                slot["parents"].append(e.child)
            slot["given"] += [h for h in held if h not in slot["given"]]
            slot["det"] = slot["det"] or (keep_deterministic and e.deterministic)
    specs = []
    for (kind, child), slot in arcs.items():
        parents = tuple(slot["parents"] + slot["given"])
        if kind == "inference" and nodes[child].role != "latent":
            source = [e.name for e in graph.edges_of("generative") if child in e.parents]
            raise GraphError(f"swap_processes({graph.name!r}): the generative edge {', '.join(source)} reads "
                             f"{nodes[child].role} '{child}', so swapped it would be an inference edge into "
                             f"'{child}', but q explains latents only; declare '{child}' given=True if the model "
                             f"only conditions on it, or make it a latent")
        same = tuple(e for e in graph.edges if e.parents == parents and e.child == child and e.kind != "adversarial")
        specs.append(_Spec(kind, parents, child, slot["det"], candidates=same))
    adversaries = [_copy_spec(e) for e in graph.edges_of("adversarial")] if keep_adversary else []
    nodes = _settle_priors(graph, nodes, specs)

    objective = dict(graph.objective)
    objective_name = objective.pop("name", "elbo")
    if adversaries and objective_name != "adversarial":
        objective_name, objective = "adversarial", {}
    elif not adversaries and objective_name == "adversarial":
        objective_name, objective = "elbo", {}
    return _declare(f"swap_processes({graph.name!r})", name or f"{graph.name}-swapped", nodes,
                    specs + adversaries, (objective_name, objective), nets, net, hidden)


def swap_roles(graph: Graph, a: str, b: str, *, nets: Mapping[str, nn.Module] | None = None, net: str = "mlp",
               hidden=None, name: str | None = None) -> Graph:
    """Exchanges the places of variables ``a`` and ``b`` in the structure (Hu et al. 2018,
    Sec. 3.3: InfoGAN with the roles of x and z swapped is the adversarial autoencoder).

    Every edge's endpoints exchange ``a`` and ``b``; the variables keep their
    declarations (the visible data node stays the visible data node, with its family and
    shape; a latent keeps its family, shape and prior), so it is the *processes* that move:
    in InfoGAN x is made from z by the generator and the adversary judges x; in the AAE z
    is made from x by the encoder and the adversary judges z, with x reconstructed from z.
    Each edge keeps its deterministic flag, and an adversary that saw ``a`` sees ``b``.

    Hu et al. keep each edge's kind and let the data sit where the code was. unidgm's
    kinds are read from the data instead (generative edges lead to the visible nodes,
    inference edges away from them), so when ``a`` and ``b`` have different roles, every
    generative or inference edge that reads or explains one of them changes kind:
    InfoGAN's generator p(x|z) becomes the encoder q(z|x), its code network q(z|x) the
    decoder p(x|z). Between two variables of the same role the kinds stay. An adversary
    whose compared processes were the defaults for its nodes' roles gets the defaults for
    its new nodes (data against generation on x becomes prior against inference on z);
    sides set explicitly are kept. Priors are settled as in :func:`swap_processes`.

    The statement ``swap_roles(InfoGAN, "x", "z") ~ AAE`` holds for Hu et al.'s InfoGAN,
    the GAN with an inference edge q(z|x) on its whole code (module docstring). Networks:
    the source's network for the same conditional where it fits, else the edge's own
    network where it fits (InfoGAN's generator serves as the AAE's encoder when x and z
    have the same size), else a fresh one (``nets``, ``net``, ``hidden`` as in
    :func:`swap_processes`). The objective is the source's.
    """
    _check_graph(graph, "swap_roles")
    where = f"swap_roles({graph.name!r}, {a!r}, {b!r})"
    for v in (a, b):
        _check_node(graph, v, where)
    if a == b:
        raise GraphError(f"{where}: a variable cannot swap roles with itself; name two different nodes, e.g. "
                         f"swap_roles(g, 'x', 'z')")
    nodes = _declared(graph)
    flip = nodes[a].role != nodes[b].role
    swap = {a: b, b: a}
    specs = []
    for e in graph.edges:
        parents = tuple(swap.get(p, p) for p in e.parents)
        if e.kind == "adversarial":
            spec = _copy_spec(e)
            if set(parents) == set(e.parents):
                parents = e.parents  # the same judged nodes: keep the discriminator's input order
            spec.parents = parents
            if spec.child == _default_indicator(e.parents):
                spec.child = _default_indicator(parents)
            if (e.real, e.fake) == _default_sides(graph, e.parents):
                spec.real = spec.fake = None  # re-derived from the new nodes' roles
            spec.net, spec.candidates = None, (e,)  # its discriminator, where the new nodes' sizes fit it
        else:
            child = swap.get(e.child, e.child)
            touched = bool({a, b} & {e.child, *e.parents})
            kind = _OTHER[e.kind] if flip and touched else e.kind
            same = tuple(s for s in graph.edges if s.parents == parents and s.child == child and s is not e
                         and s.kind != "adversarial")
            spec = _Spec(kind, parents, child, e.deterministic, candidates=same + (e,))
        specs.append(spec)
    nodes = _settle_priors(graph, nodes, specs)
    objective = dict(graph.objective)
    objective_name = objective.pop("name", "elbo")
    return _declare(where, name or f"{graph.name}-{a}-{b}", nodes, specs, (objective_name, objective), nets, net,
                    hidden)


def activate_adversary(graph: Graph, node: str = "x", discriminator: nn.Module | None = None, *,
                       name: str | None = None, **objective_options) -> Graph:
    """Activates the adversary on ``node`` (Hu et al. 2018, Sec. 4: a VAE is a GAN-like
    model with a degenerate, perfect adversary; a learned one gives the AAVAE).

    Adds an adversarial edge q_psi(y | node) with ``discriminator`` (None: the catalogue's
    MLP discriminator for the node's shape, :func:`unidgm.models.parts.discriminator`),
    comparing the processes the node's role implies (data against generation for a
    visible node, prior against inference for a latent), and sets the objective to
    ``"adversarial"`` with ``objective_options`` (e.g. ``adversarial_weight``,
    ``divergence``). The rest of the graph is kept, networks included. From an
    adversarial source its options are kept and updated; from an ELBO source its
    ``kl_weight`` carries over (a beta-VAE stays beta-weighted) and the ELBO's own
    schedule options (``warmup``, ``kl``) do not.
    """
    _check_graph(graph, "activate_adversary")
    where = f"activate_adversary({graph.name!r}, {node!r})"
    _check_node(graph, node, where)
    target = graph.nodes[node]
    for e in graph.edges_of("adversarial"):
        if node in e.parents:
            raise GraphError(f"{where}: '{node}' already has the adversary {e.name}; a variable needs one "
                             f"adversary, so change its options with graph.set_objective('adversarial', ...) or "
                             f"activate another node's")
    if target.given:
        raise GraphError(f"{where}: '{node}' is declared given=True, so the model never generates it and an "
                         f"adversary would have nothing to judge; activate the adversary on a generated node")
    if discriminator is None:
        from .models.parts import discriminator as make_discriminator

        discriminator = make_discriminator(target.shape)
    if not isinstance(discriminator, nn.Module):
        raise GraphError(f"{where}: the discriminator must be a torch.nn.Module, got {type(discriminator).__name__}")
    from .inference.adversarial import Adversarial

    accepted = set(inspect.signature(Adversarial).parameters)
    unknown = set(objective_options) - accepted
    if unknown:
        raise ConfigError(f"{where}: the adversarial objective has no option {', '.join(sorted(unknown))}; its "
                          f"options are {', '.join(sorted(accepted))}")
    source = dict(graph.objective)
    source_name = source.pop("name", "elbo")
    if source_name == "adversarial":
        options = source
    else:
        options = {k: v for k, v in source.items() if k == "kl_weight"}
    options.update(objective_options)
    indicator = _default_indicator((node,))
    if indicator in graph:
        raise GraphError(f"{where}: the graph already has a node '{indicator}', the name of the new adversary's "
                         f"indicator; rename that node")
    specs = [_copy_spec(e) for e in graph.edges] + [
        _Spec("adversarial", (node,), indicator, net=discriminator)]
    return _declare(where, name or f"{graph.name}-adversarial", _declared(graph), specs, ("adversarial", options),
                    None, "mlp", None)


def importance_weight(graph: Graph, k: int, *, name: str | None = None) -> Graph:
    """Importance-weights a GAN's generator loss (Hu et al. 2018, Sec. 4: the IWAE's
    weights carried over to GANs give the importance-weighted GAN).

    The same graph (networks included) with ``importance_weights=k`` added to its
    adversarial objective, whose other options are kept: each group of k generated
    samples is reweighted by the normalised weights D(x) / (1 - D(x)). The graph must be
    trained with the ``"adversarial"`` objective; for an ELBO model the importance-weighted
    bound is the IWAE, ``graph.set_objective("iwae", k=k)``.
    """
    _check_graph(graph, "importance_weight")
    where = f"importance_weight({graph.name!r}, {k!r})"
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"{where}: k is the number of samples weighted together and must be an int >= 2")
    options = dict(graph.objective)
    objective_name = options.pop("name", "elbo")
    if objective_name in ("elbo", "iwae"):
        raise ConfigError(f"{where}: the graph is trained with the '{objective_name}' objective, which has no "
                          f"adversary to reweight; importance weighting of the ELBO is the IWAE: use "
                          f"graph.set_objective('iwae', k={k}) or unidgm.compile(graph, 'iwae', k={k})")
    if objective_name != "adversarial" or not graph.edges_of("adversarial"):
        raise ConfigError(f"{where}: importance weights reweight an adversarial objective's generator loss, but "
                          f"graph '{graph.name}' is not adversarial (objective {objective_name!r}, "
                          f"{len(graph.edges_of('adversarial'))} adversarial edges); add an adversary with "
                          f"activate_adversary(graph, node), which sets the 'adversarial' objective, first")
    options["importance_weights"] = k
    from .inference.adversarial import Adversarial

    try:
        Adversarial(**options)  # refuses combinations the objective cannot run, e.g. another divergence
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    specs = [_copy_spec(e) for e in graph.edges]
    return _declare(where, name or f"{graph.name}-iw{k}", _declared(graph), specs, ("adversarial", options),
                    None, "mlp", None)


# ---------------------------------------------------------------------- shared steps
def _check_graph(graph, fn: str) -> None:
    if not isinstance(graph, Graph):
        raise GraphError(f"{fn} needs a unidgm.Graph, got {type(graph).__name__}")


def _check_node(graph: Graph, name: str, where: str) -> None:
    if name not in graph:
        raise GraphError(f"{where}: graph '{graph.name}' has no node {name!r}; its nodes are "
                         f"{', '.join(n for n in graph.nodes)}")
    if graph.nodes[name].role == "indicator":
        raise GraphError(f"{where}: '{name}' is the indicator of an adversarial edge, which belongs to that edge; "
                         f"name a visible or latent node")


def _declared(graph: Graph) -> dict[str, Node]:
    """The source's visible and latent nodes, in declaration order (indicators are made by
    their adversarial edges)."""
    return {n: node for n, node in graph.nodes.items() if node.role != "indicator"}


def _default_indicator(parents) -> str:
    return "y_" + "_".join(parents)


def _default_sides(graph: Graph, parents) -> tuple[str, str]:
    roles = frozenset(graph.nodes[p].role for p in parents)
    return {frozenset({"visible"}): ("data", "generative"),
            frozenset({"latent"}): ("generative", "inference")}.get(roles, ("inference", "generative"))


def _copy_spec(e: Edge) -> _Spec:
    return _Spec(e.kind, e.parents, e.child, e.deterministic, e.combine, e.net, (), e.real, e.fake,
                 e.real_inputs, e.fake_inputs)


def _settle_priors(graph: Graph, nodes: dict[str, Node], specs) -> dict[str, Node]:
    """Priors follow the new generative process: none where a generative edge now produces
    the latent; ``"standard"`` for a latent that a generative edge produced in the source
    and none produces now; otherwise the latent's own (an autoencoder's code keeps none)."""
    produced = {s.child for s in specs if s.kind == "generative"}
    before = {e.child for e in graph.edges_of("generative")}
    settled = {}
    for n, node in nodes.items():
        if node.role == "latent":
            if n in produced:
                node = dataclasses.replace(node, prior=None)
            elif n in before and node.prior is None and node.family != "delta":
                node = dataclasses.replace(node, prior="standard")
        settled[n] = node
    return settled


def _declare(where: str, name: str, nodes: dict[str, Node], specs: list[_Spec], objective, nets, net, hidden) -> Graph:
    """Resolves every spec's network and declares the new graph through the public API."""
    nets = dict(nets or {})
    keys = [s.key for s in specs]
    for key, module in nets.items():
        if key not in keys:
            raise GraphError(f"{where}: nets has {key!r}, which is not an edge of the new graph; its edges' keys are "
                             f"{', '.join(keys)}")
        if not isinstance(module, nn.Module):
            raise GraphError(f"{where}: nets[{key!r}] must be a torch.nn.Module, got {type(module).__name__}")
    every = dict(nodes)
    for s in specs:
        if s.kind == "adversarial":
            every[s.child] = Node(s.child, "indicator", "bernoulli", (1,))
    claimed: set[int] = set()
    for s in specs:
        if s.key in nets:
            s.net = nets[s.key]
        elif s.net is None:
            s.net = _reuse(s, every, claimed) or _fresh(where, s, every, net, hidden)
        claimed.add(id(s.net))

    g = Graph(name)
    try:
        for node in nodes.values():
            if node.role == "visible":
                g.visible(node.name, node.family, node.shape, given=node.given, **node.options)
            else:
                g.latent(node.name, node.family, node.shape, prior=node.prior,
                         partially_observed=node.partially_observed, **node.options)
        for s in specs:
            if s.kind == "adversarial":
                g.adversarial(s.parents, s.net, indicator=s.child, combine=s.combine, real=s.real, fake=s.fake,
                              real_inputs=dict(s.real_inputs), fake_inputs=dict(s.fake_inputs))
            else:
                getattr(g, s.kind)(s.parents, s.child, s.net, deterministic=s.deterministic, combine=s.combine)
        g.set_objective(objective[0], **objective[1])
        return g.validate()
    except GraphError as e:
        raise GraphError(f"{where} gives an invalid graph: {e}") from None


def _fits(spec: _Spec, module: nn.Module, combine: str, nodes: dict[str, Node]) -> bool:
    """Whether ``module`` runs on the spec's parents and emits what its child needs."""
    from .graph.families import make_family
    from .inference.factor import Factor

    child = nodes[spec.child]
    deterministic = spec.deterministic or child.family == "delta"
    edge = Edge(spec.kind, spec.parents, spec.child, module, deterministic, combine)
    try:
        Factor(edge, nodes, make_family(child.family, **child.options)).dry_run()
    except GraphError:
        return False
    return True


def _reuse(spec: _Spec, nodes, claimed) -> nn.Module | None:
    for e in spec.candidates:
        if id(e.net) not in claimed and _fits(spec, e.net, e.combine, nodes):
            spec.combine = e.combine
            return e.net
    return None


def _fresh(where: str, spec: _Spec, nodes: dict[str, Node], net: str, hidden) -> nn.Module:
    """A new network for the spec, from the catalogue's builders."""
    from .models import parts

    parents = [nodes[p] for p in spec.parents]
    in_shape = parents[0].shape if len(parents) == 1 else (sum(p.size for p in parents),)
    in_features = math.prod(in_shape)
    if spec.kind == "adversarial":
        return parts.discriminator(in_shape, net, *([tuple(hidden)] if hidden else []))
    child = nodes[spec.child]
    deterministic = spec.deterministic or child.family == "delta"
    out = child.shape if deterministic else parts.param_shape(child.family, child.shape)
    extra = [tuple(hidden)] if hidden else []
    if len(child.shape) == 3:  # an image
        if deterministic:
            return parts.generator(in_features, child.shape, net, *extra)
        return parts.decoder(in_features, child.family, child.shape, net, *extra)
    return parts.encoder(in_shape, math.prod(out), net, *extra)
