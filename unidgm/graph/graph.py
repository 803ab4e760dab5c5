"""``unidgm.Graph``: a schematic graphical model (Hu et al., ICLR 2018, Sec. 2).

The user declares variables and processes; everything else (objectives, the Pyro
model/guide, diagrams) is derived from this object. Storage is a networkx
``MultiDiGraph`` whose nodes carry a :class:`Node` under ``"node"`` and whose arcs carry
an :class:`Edge` under ``"edge"`` (one arc per parent, keyed by the edge's kind), so
networkx's algorithms and views work on it directly. Checks that need only the declaration
(names, families, shapes) run at once; checks that need the whole graph run in
:meth:`Graph.validate`, which ``unidgm.compile`` calls.

Example::

    g = Graph("vae")
    g.visible("x", "bernoulli", shape=(784,))
    g.latent("z", "normal", shape=(20,), prior="standard")
    g.generative("z", "x", MLP(20, [400], 784))
    g.inference("x", "z", MLP(784, [400], 40))
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import networkx as nx
from torch import nn

from ..errors import GraphError
from .elements import COMBINES, DEFAULT_PROCESS, KINDS, PRIORS, SOURCES, Edge, Node
from .families import FAMILIES


#: how a graph draws itself in a notebook: ``{"svg": graph -> str | None}``, filled by
#: :mod:`unidgm.viz.diagram` (the layers above register; graph/ imports none of them)
DISPLAY: dict = {}


def _as_shape(name: str, shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise GraphError(f"node '{name}': shape must be a tuple of positive ints, got {shape!r}; "
                         f"e.g. shape=(20,) for a vector or (1, 28, 28) for an image") from None
    if not shape or any(s <= 0 for s in shape):
        raise GraphError(f"node '{name}': shape must be a non-empty tuple of positive ints, got {shape!r}; "
                         f"e.g. shape=(20,) for a vector or (1, 28, 28) for an image")
    return shape


class Graph:
    """A schematic graph of variables (nodes) and processes (edges).

    Args:
        name: a name for the model (used in diagrams and run folders).
    """

    def __init__(self, name: str = "model"):
        self.name = name
        self._nx = nx.MultiDiGraph(name=name)
        self._nodes: dict[str, Node] = {}  # in declaration order; `nodes` is a live view
        self._edges: list[Edge] = []
        self._processes: dict[str, str] = {}  # process name -> kind, in declaration order; `processes` is a view
        self.objective: dict = {}

    # ------------------------------------------------------------------ declaration
    def visible(self, name: str, family: str, shape, *, given: bool = False, **options) -> Node:
        """Declares observed data ``name`` (shaded in the diagram).

        ``given=True`` marks a variable the model conditions on but does not explain (a
        label fed to a conditional VAE): it needs no generative edge and has no likelihood.
        """
        return self._add_node(Node(name, "visible", family, _as_shape(name, shape), None, bool(given), dict(options)))

    def latent(self, name: str, family: str, shape, *, prior: str | None = None, partially_observed: bool = False,
               **options) -> Node:
        """Declares a latent variable. ``prior`` is ``"standard"`` (the family's fixed
        standard prior), ``"learned"`` (trainable prior parameters) or None (the latent is
        produced by a generative edge, or has no prior at all, as in an autoencoder).

        ``partially_observed=True`` declares a categorical latent that the batch gives for
        some examples, a label known for a few images (semi-supervised learning, Kingma et
        al. 2014's M2): the batch holds class indices under the node's name with -1 where
        the value is unknown (scikit-learn's convention), or leaves the key out. The ELBO
        observes it where given and sums over its classes under q where not; it needs a
        prior (or a generative edge) and an inference edge.
        """
        if prior is not None and prior not in PRIORS:
            raise GraphError(f"latent '{name}': unknown prior {prior!r}; use one of {', '.join(PRIORS)} or None")
        shape = _as_shape(name, shape)
        if partially_observed and (family != "categorical" or len(shape) != 1):
            raise GraphError(f"latent '{name}': partially_observed=True needs a categorical node of shape (classes,), "
                             f"whose classes can be summed over where the batch lacks the value; got {family!r} of "
                             f"shape {shape}")
        return self._add_node(Node(name, "latent", family, shape, prior, False, dict(options),
                                   bool(partially_observed)))

    def generative(self, parents, child: str, net: nn.Module, *, deterministic: bool = False,
                   combine: str = "concat", process: str = "p", name: str | None = None,
                   density: bool = False) -> Edge:
        """Declares p_theta(child | parents), computed by ``net`` (a solid arrow).
        ``deterministic=True``: the child is ``net``'s output (hollow arrowhead). With no
        parents (``[]``) the edge is a prior network, p_theta(child): ``net`` receives an
        empty ``(batch, 0)`` tensor (the batch size and device) and returns the prior's
        parameters, as any edge's network does. ``density=True``: the network is itself the
        density of the child given the parents, with ``net.log_prob(value, condition)`` (one
        number per example) and ``net.sample(n, shape, condition)``, where ``condition`` is the
        parents' value (one parent) or None (none): an autoregressive prior over a grid of codes
        (``unidgm.nets.GatedPixelCNN``, ``unidgm.nets.CausalTransformer``), which reads the
        child's own value and so cannot emit parameters for the family. ``name``
        names the edge (its network is stored under it); ``process`` is ``"p"``, the
        generative process."""
        if density:
            missing = [m for m in ("log_prob", "sample") if not callable(getattr(net, m, None))]
            if missing:
                raise GraphError(f"generative edge into '{child}': density=True needs a network with "
                                 f"log_prob(value, condition) and sample(n, shape, condition); "
                                 f"{type(net).__name__} lacks {' and '.join(missing)}")
            if deterministic:
                raise GraphError(f"generative edge into '{child}': a density edge draws its child, so it cannot "
                                 f"be deterministic; drop one of density=True and deterministic=True")
            if isinstance(parents, (list, tuple)) and len(parents) > 1:
                raise GraphError(f"generative edge into '{child}': a density edge reads at most one conditioning "
                                 f"parent, got {list(parents)}; join them in one node")
        return self._add_edge("generative", parents, child, net, deterministic, combine, process=process, label=name,
                              density=density)

    def inference(self, parents, child: str, net: nn.Module, *, deterministic: bool = False,
                  combine: str = "concat", process: str = "q", name: str | None = None) -> Edge:
        """Declares q_phi(child | parents), computed by ``net`` (a dashed arrow).
        ``deterministic=True``: the child is ``net``'s output (an encoder).

        ``process`` names the inference process the edge belongs to: ``"q"`` (the default,
        the one the ELBO and the other named objectives read) or any other name. Within one
        process a node has one edge into it; several processes may explain the same latent,
        as the JMVAE's and the Wyner model's q(z|x,y), q_x(z|x) and q_y(z|y) (Suzuki et al.
        2016; Ryu et al. 2021). ``name`` names the edge; its network is stored under it."""
        return self._add_edge("inference", parents, child, net, deterministic, combine, process=process, label=name)

    def adversarial(self, nodes, discriminator: nn.Module, *, indicator: str | None = None,
                    combine: str = "concat", real: str | None = None, fake: str | None = None,
                    real_inputs: dict | None = None, fake_inputs: dict | None = None, outputs: int = 1) -> Edge:
        """Declares an adversary q_psi(y | nodes) (a red arrow) against an indicator ``y``
        that tells which of two processes produced the values of ``nodes`` (Hu et al. 2018,
        Sec. 3). The indicator node is created here, named ``indicator`` or by default
        ``y_<nodes>`` (``indicator_<nodes>`` where the judged nodes include one of the graph's
        own named ``y``, a label); the discriminator emits one number per example.

        By the nodes' roles, the compared processes default to: visible nodes, ``real="data"``
        against ``fake="generative"`` (a GAN); latent nodes, the prior (``"generative"``)
        against ``"inference"`` (an adversarial autoencoder); visible and latent together,
        ``"inference"`` (data with its codes) against ``"generative"`` (BiGAN/ALI).
        ``real_inputs``/``fake_inputs`` map visible nodes to other batch keys for that side.
        ``fake="reconstruction"`` judges q's codes of the data decoded by p (the means of
        p's visible nodes), as VQ-GAN's patch discriminator does. ``outputs=n``: the
        discriminator emits n numbers per example, each judging a part of it (a patch
        discriminator's one per patch, Isola et al. 2017), and the indicator has n entries.
        """
        if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs < 1:
            raise GraphError(f"adversarial edge on {nodes!r}: outputs must be a positive integer (the "
                             f"discriminator's numbers per example), got {outputs!r}")
        parents = self._parents(nodes, "adversarial")
        if not isinstance(discriminator, nn.Module):
            raise GraphError(f"adversarial edge on {parents}: the discriminator must be a torch.nn.Module, "
                             f"got {type(discriminator).__name__}")
        roles = {self._nx.nodes[p]["node"].role for p in parents}
        if "indicator" in roles:
            raise GraphError(f"adversarial edge on {parents}: an indicator cannot be judged by another adversary")
        default = {frozenset({"visible"}): ("data", "generative"), frozenset({"latent"}): ("generative", "inference")}
        real_default, fake_default = default.get(frozenset(roles), ("inference", "generative"))
        real, fake = real or real_default, fake or fake_default
        for side, value in (("real", real), ("fake", fake)):
            if value not in SOURCES:
                raise GraphError(f"adversarial edge on {parents}: {side}={value!r} is not a process; use one of "
                                 f"{', '.join(SOURCES)}")
            if value == "reconstruction" and roles != {"visible"}:
                raise GraphError(f"adversarial edge on {parents}: {side}='reconstruction' judges visible nodes "
                                 f"decoded from q's codes; judge visible nodes only")
            if value == "data" and roles != {"visible"}:
                raise GraphError(f"adversarial edge on {parents}: {side}='data' needs visible nodes only, since the "
                                 f"batch holds no latent values; use 'inference' for codes of data")
        pairs = []
        for side, mapping in (("real_inputs", real_inputs), ("fake_inputs", fake_inputs)):
            mapping = dict(mapping or {})
            for node in mapping:
                if node not in self._nx or self._nx.nodes[node]["node"].role != "visible":
                    raise GraphError(f"adversarial edge on {parents}: {side} maps {node!r}, which is not a visible "
                                     f"node; map visible nodes to batch keys, e.g. {{'x': 'x_target'}}")
            pairs.append(tuple(sorted(mapping.items())))
        if real == fake and pairs[0] == pairs[1]:
            raise GraphError(f"adversarial edge on {parents}: real and fake are the same process ({real}) on the "
                             f"same inputs, so there is nothing to tell apart; change one side or its inputs")
        if indicator is None:
            # Hu et al.'s letter for the indicator is y; where the adversary judges the graph's own y
            # (a conditional GAN's label), y_x_y would read as the label, so the default says what it is.
            prefix = "indicator" if "y" in parents else "y"
            indicator = prefix + "_" + "_".join(parents)
            if indicator in self._nx:
                raise GraphError(f"adversarial edge on {parents}: its indicator's default name '{indicator}' is "
                                 f"already a node; name the indicator, e.g. g.adversarial({list(parents)!r}, net, "
                                 f"indicator='{indicator}_2')")
        self._add_node(Node(indicator, "indicator", "bernoulli", (outputs,)))
        return self._add_edge("adversarial", parents, indicator, discriminator, False, combine,
                              sources=(real, fake, pairs[0], pairs[1]))

    def set_objective(self, name: str, **options) -> "Graph":
        """Records the objective this model is meant to be compiled with (``unidgm.compile``
        uses it when no objective is given), e.g. ``g.set_objective("iwae", k=5)``."""
        self.objective = {"name": name, **options}
        return self

    # ------------------------------------------------------------------ views
    @property
    def nodes(self) -> Mapping[str, Node]:
        """Read-only live mapping from name to :class:`Node`, in declaration order."""
        return MappingProxyType(self._nodes)

    @property
    def processes(self) -> Mapping[str, str]:
        """Read-only live mapping from process name to its kind (``"generative"`` or
        ``"inference"``), in declaration order: ``{"p": "generative", "q": "inference", ...}``."""
        return MappingProxyType(self._processes)

    @property
    def edges(self) -> tuple[Edge, ...]:
        """All edges in declaration order."""
        return tuple(self._edges)

    @property
    def nx(self) -> nx.MultiDiGraph:
        """A read-only networkx view (arcs parent -> child, keyed by edge kind)."""
        return self._nx.copy(as_view=True)

    def edges_of(self, kind: str) -> tuple[Edge, ...]:
        return tuple(e for e in self._edges if e.kind == kind)

    def edge_into(self, child: str, kind: str, process: str | None = None) -> Edge | None:
        """The edge of ``process`` (default: the ``kind``'s own, ``p`` or ``q``) that explains
        ``child``, if any."""
        process = process or DEFAULT_PROCESS[kind]
        for e in self._edges:
            if e.child == child and e.kind == kind and e.process == process:
                return e
        return None

    def edges_in(self, process: str) -> tuple[Edge, ...]:
        """The edges of one named process, in declaration order."""
        return tuple(e for e in self._edges if e.process == process and e.kind != "adversarial")

    def process(self, name: str) -> nx.DiGraph:
        """The directed graph of one process (arcs parent -> child of its edges). ``name`` is
        a process name (``"p"``, ``"q"``, ``"q_x"``) or a kind (``"generative"``,
        ``"inference"``), which means that kind's default process."""
        name = DEFAULT_PROCESS.get(name, name) if name in KINDS else name
        d = nx.DiGraph()
        d.add_nodes_from(self._nx.nodes)
        d.add_edges_from((p, e.child) for e in self.edges_in(name) for p in e.parents)
        return d

    def __contains__(self, name: str) -> bool:
        return name in self._nx

    def __repr__(self) -> str:
        lines = [f"Graph({self.name!r})"]
        for n in self.nodes.values():
            extra = f", prior={n.prior}" if n.prior else (", given" if n.given else "")
            extra += ", partially observed" if n.partially_observed else ""
            lines.append(f"  {n.role:9s} {n.name}: {n.family}{list(n.shape)}{extra}")
        lines += [f"  {e!r}" for e in self._edges]
        return "\n".join(lines)

    def _repr_svg_(self) -> str | None:
        """The diagram, for notebooks (None where Graphviz's ``dot`` is missing, or where
        ``unidgm.viz`` is not loaded: graph/ imports nothing above it, and viz registers
        its drawing in ``DISPLAY``)."""
        draw = DISPLAY.get("svg")
        return draw(self) if draw is not None else None

    # ------------------------------------------------------------------ internals
    def _add_node(self, node: Node) -> Node:
        if not isinstance(node.name, str) or not node.name.isidentifier():
            raise GraphError(f"node name {node.name!r} must be a Python identifier (it names Pyro sites and batch keys)")
        if node.name in self._nx:
            raise GraphError(f"node '{node.name}' is already declared; give each variable one declaration and a unique name")
        if node.family not in FAMILIES:
            raise GraphError(f"node '{node.name}': unknown family {node.family!r}; "
                             f"choose one of {', '.join(FAMILIES)}")
        if node.family in ("categorical", "relaxed_categorical") and "classes" not in node.options \
                and node.shape[-1] < 2:
            raise GraphError(f"node '{node.name}': a {node.family} node's last dimension counts its classes "
                             f"and must be at least 2, got shape {node.shape}")
        try:
            from .families import make_family

            make_family(node.family, **node.options)
        except TypeError as e:
            raise GraphError(f"node '{node.name}': bad options {node.options} for family {node.family!r}: {e}") from None
        self._nx.add_node(node.name, node=node)
        self._nodes[node.name] = node
        return node

    def _parents(self, parents, kind: str) -> tuple[str, ...]:
        if isinstance(parents, str):
            parents = (parents,)
        parents = tuple(parents)
        if not parents and kind != "generative":  # a parentless generative edge is a prior network
            raise GraphError(f"a {kind} edge needs at least one parent; a latent without parents gets prior=... "
                             f"or a generative edge g.generative([], latent, net) (a prior network)")
        for p in parents:
            if p not in self._nx:
                raise GraphError(f"{kind} edge: parent '{p}' is not declared; declare it with "
                                 f"g.visible(...) or g.latent(...) before the edge")
        if len(set(parents)) != len(parents):
            raise GraphError(f"{kind} edge: parents {parents} repeat a node")
        return parents

    def _add_edge(self, kind, parents, child, net, deterministic, combine, sources=None, process=None,
                  label=None, density=False) -> Edge:
        assert kind in KINDS
        process = process or DEFAULT_PROCESS[kind]
        if not isinstance(process, str) or not process.isidentifier():
            raise GraphError(f"{kind} edge into '{child}': process={process!r} must be a Python identifier, "
                             f"e.g. process='q_x'")
        if self._processes.get(process, kind) != kind and kind != "adversarial":
            raise GraphError(f"{kind} edge into '{child}': process '{process}' is {self._processes[process]}; "
                             f"give the {kind} edge a process of its own, e.g. process='{kind[0]}_{child}'")
        if kind == "generative" and process != "p":
            raise GraphError(f"generative edge into '{child}': process={process!r}, but the generative edges "
                             f"form one process, 'p'; name other inference processes instead")
        if label is not None and (not isinstance(label, str) or not label.isidentifier()):
            raise GraphError(f"{kind} edge into '{child}': name={label!r} must be a Python identifier (it names "
                             f"the edge's network)")
        parents = self._parents(parents, kind)
        if child not in self._nx:
            raise GraphError(f"{kind} edge into '{child}': the node is not declared; declare it first")
        if not isinstance(net, nn.Module):
            raise GraphError(f"{kind} edge into '{child}': the network must be a torch.nn.Module, got {type(net).__name__}")
        if combine not in COMBINES:
            raise GraphError(f"{kind} edge into '{child}': combine must be one of {COMBINES}, got {combine!r}")
        if child in parents:
            raise GraphError(f"{kind} edge into '{child}': a node cannot be its own parent")
        node = self._nx.nodes[child]["node"]
        if kind == "generative" and node.given:
            raise GraphError(f"generative edge into '{child}': '{child}' is declared given=True (conditioned on, "
                             f"not explained); drop given=True to model it")
        if kind == "generative" and node.prior is not None:
            raise GraphError(f"generative edge into '{child}': '{child}' already has prior={node.prior!r}; a latent "
                             f"gets either a prior or a generative edge, so drop one")
        if kind == "inference" and node.role != "latent":
            raise GraphError(f"inference edge into '{child}': q explains latent variables, and '{child}' is "
                             f"{node.role}; point the edge at a latent")
        if kind != "adversarial" and node.role == "indicator":
            raise GraphError(f"{kind} edge into '{child}': '{child}' is an adversarial indicator")
        other = self.edge_into(child, kind, process) if kind != "adversarial" else None
        if other is not None:
            merged = list(dict.fromkeys(other.parents + parents))  # each parent once, in order
            if len(merged) == len(other.parents):
                fix = (f"{other.name} already reads {list(other.parents)!r}, so declare that edge once, with the "
                       f"network you want")
            else:
                fix = f"merge the parents into one edge, g.{kind}({merged!r}, {child!r}, net)"
            if kind == "inference":
                fix += f", or put the new edge in a process of its own, process='{process}_{'_'.join(parents)}'"
            raise GraphError(f"'{child}' already has the {kind} edge {other.name}; one process explains a "
                             f"variable once: {fix}")
        real, fake, real_inputs, fake_inputs = sources or (None, None, (), ())
        edge = Edge(kind, parents, child, net, bool(deterministic or node.family == "delta"), combine,
                    real, fake, real_inputs, fake_inputs, process, label, bool(density))
        taken = {e.key: e for e in self._edges}
        if edge.key in taken:
            raise GraphError(f"{kind} edge {edge.name}: its network's name '{edge.key}' is taken by edge "
                             f"{taken[edge.key].name}; give it another name=")
        self._edges.append(edge)
        if kind != "adversarial":
            self._processes.setdefault(process, kind)
        for p in parents:
            self._nx.add_edge(p, child, key=kind, edge=edge)
        return edge

    # ------------------------------------------------------------------ validation
    def validate(self) -> "Graph":
        """Checks what needs the whole graph; raises :class:`GraphError` naming the node
        or edge and the fix. Returns the graph for chaining."""
        nodes = self.nodes
        if not any(n.role == "visible" for n in nodes.values()):
            raise GraphError(f"graph '{self.name}' has no visible node; declare the data with g.visible(...)")
        for process, kind in self._processes.items():
            try:
                cycle = nx.find_cycle(self.process(process))
            except nx.NetworkXNoCycle:
                continue
            path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
            where = f"{kind} process" if process == DEFAULT_PROCESS[kind] else f"{kind} process '{process}'"
            raise GraphError(f"the {where} has a cycle {path}; a {kind} process must be a directed "
                             f"acyclic graph, so remove or reverse one of these edges")
        for n in nodes.values():
            gen = self.edge_into(n.name, "generative")
            inf = self.edge_into(n.name, "inference")
            if n.role == "visible" and not n.given and gen is None:
                raise GraphError(f"visible node '{n.name}' is not explained by any generative edge; add "
                                 f"g.generative(<parents>, '{n.name}', net), or declare it "
                                 f"g.visible('{n.name}', ..., given=True) if the model only conditions on it")
            if n.role == "latent" and gen is None and n.prior is None and inf is None:
                raise GraphError(f"latent '{n.name}' has no prior, no generative edge and no inference edge, so "
                                 f"nothing can sample it; give it prior='standard' or an edge that produces it")
            if n.partially_observed and (inf is None or inf.deterministic or (gen is None and n.prior is None)):
                raise GraphError(f"partially observed latent '{n.name}' needs a prior (or a generative edge) for "
                                 f"p({n.name}) and a stochastic inference edge q({n.name}|...) for the examples that "
                                 f"lack it; add prior='standard' and g.inference(<parents>, '{n.name}', net)")
        return self


