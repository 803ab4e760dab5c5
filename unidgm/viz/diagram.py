"""Schematic diagrams of a graph in Hu et al.'s notation ("On Unifying Deep Generative
Models", ICLR 2018, Fig. 1-4), drawn from the graph object itself.

The conventions (DESIGN.md's table):

================  ==============================================================
generative edge   solid arrow, labelled ``p_θ(x|z)``
inference edge    dashed arrow, labelled ``q_φ(z|x)``
deterministic     hollow arrowhead on the solid or dashed line of its kind,
                  labelled with the function: ``x = G_θ(z)`` (generative) or
                  ``z = E_φ(x)`` (inference)
adversarial edge  red arrow into the indicator, labelled ``q_ψ(y_x|x)``
visible node      shaded (filled grey) circle
latent node       plain circle
partially         half-shaded circle: a latent the batch gives for some examples
observed latent   (a semi-supervised label)
indicator node    plain diamond (the y of an adversarial edge)
code node         rounded box, labelled with its grid and codebook size
                  (``c`` / ``7×7, K=512``): a node whose values are class indices
                  (``classes=K``), a grid of discrete codes
density prior     bold blue (``#1f5fa8``): a generative edge with ``density=True``,
                  whose network scores and draws its child itself (a PixelCNN
                  prior); with no parents its label sits beside the node with the
                  network's class (``p_θ(c)`` / ``GatedPixelCNN``), with parents
                  its arcs are bold blue
quantizing edge   an inference edge whose network holds a ``VectorQuantizer``:
                  hollow diamond arrowhead, labelled ``z_q = Q(E_φ(x))``
codebook lookup   hollow box arrowhead on the edges that read or write a code's
                  index through the same codebook: ``c = argmin_k ‖z_q − e_k‖``
                  (``CodeIndices``) and ``z_q = e_c`` (``CodeEmbedding``)
================  ==============================================================

An edge with several parents is one conditional, drawn as one arc per parent; its label
sits on the arc from the first parent. Latent nodes are ranked above the visible ones (a
latent one rank below its latent generative parents); an indicator sits one rank below
the lowest node it judges. Only downward arcs constrain the layout.

Rendering works in stages, as Pyro's ``render_model`` does: the graph becomes a plain
spec of nodes and edges with their style attributes (:func:`diagram_spec`, which tests
read without Graphviz), the spec becomes a ``graphviz.Digraph`` (:func:`to_digraph`, the
``graphviz`` package imported only here), and the ``dot`` program draws it
(:func:`render`). Without ``dot`` the DOT source can still be written.
"""
from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from ..errors import ConfigError, UnidgmError

#: the file types :func:`render` writes, by suffix
FORMATS = (".svg", ".png", ".pdf", ".dot")

_INSTALL = ("install Graphviz's `dot` program: `sudo apt-get install graphviz` (Debian/Ubuntu), "
            "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`")

FONT = "Helvetica"
#: style attributes (Graphviz's names) per node role
NODE_STYLE = {
    "visible": {"shape": "circle", "style": "filled", "fillcolor": "#c8c8c8", "color": "black"},
    "latent": {"shape": "circle", "style": "solid", "color": "black"},
    "indicator": {"shape": "diamond", "style": "solid", "color": "black"},
}
#: a partially observed latent (a label known for some examples): half shaded, half plain
PARTIALLY_OBSERVED_STYLE = {"shape": "circle", "style": "filled", "fillcolor": "#c8c8c8;0.5:white",
                            "gradientangle": "90", "color": "black"}
#: a node whose values are class indices (a grid of discrete codes): a rounded box, over
#: the style of its role (a visible one stays shaded)
CODE_STYLE = {"shape": "box", "style": "rounded", "color": "black"}
#: style attributes per edge kind; a deterministic edge's arrowhead is hollow
EDGE_STYLE = {
    "generative": {"style": "solid", "color": "black", "fontcolor": "black"},
    "inference": {"style": "dashed", "color": "black", "fontcolor": "black"},
    "adversarial": {"style": "solid", "color": "red", "fontcolor": "red"},
}
ARROWHEAD = {False: "normal", True: "onormal"}
#: a density edge (a network that scores and draws its child, such as a PixelCNN prior):
#: bold and blue, its arcs and the label beside a parentless one's node
DENSITY_COLOR = "#1f5fa8"
DENSITY_STYLE = {"color": DENSITY_COLOR, "fontcolor": DENSITY_COLOR, "penwidth": "2"}
#: arrowheads of the edges through a vector quantizer's codebook (see :func:`code_role`)
CODE_ARROWHEAD = {"quantize": "odiamond", "indices": "obox", "embed": "obox"}
_PARAM = {"generative": ("p", "θ"), "inference": ("q", "φ"), "adversarial": ("q", "ψ")}


def _graph_and_model(obj):
    from ..graph.graph import Graph
    from ..inference.compiled import CompiledModel

    if isinstance(obj, CompiledModel):
        return obj.graph, obj
    if isinstance(obj, Graph):
        return obj, None
    raise ConfigError(f"render needs a unidgm.Graph or a compiled model (unidgm.compile(graph)), "
                      f"got {type(obj).__name__}")


def is_code_node(node) -> bool:
    """Whether a node's values are class indices (``classes=K``): a grid of discrete codes."""
    from ..graph.families import make_family

    return node.role != "indicator" and make_family(node.family, **node.options).indices


def code_role(edge) -> str | None:
    """How an edge passes through a vector quantizer's codebook: ``"quantize"`` (an
    inference edge whose network holds a :class:`~unidgm.nets.VectorQuantizer`, z_q =
    Q(E_φ(x))), ``"indices"`` (a :class:`~unidgm.nets.CodeIndices`, the codes' indices),
    ``"embed"`` (a :class:`~unidgm.nets.CodeEmbedding`, the codes of indices), else None."""
    from ..nets.quantizer import CodeEmbedding, CodeIndices, VectorQuantizer

    if isinstance(edge.net, CodeIndices):
        return "indices"
    if isinstance(edge.net, CodeEmbedding):
        return "embed"
    if edge.kind == "inference" and any(isinstance(m, VectorQuantizer) for m in edge.net.modules()):
        return "quantize"
    return None


def edge_label(edge) -> str:
    """An edge in the paper's notation: ``p_θ(x|z,c)``, ``q_φ(z|x)``, ``q_ψ(y_x|x)``, or
    for a deterministic edge its function, ``x = G_θ(z)``, ``z = E_φ(x)``; through a
    vector quantizer's codebook ``z_q = Q(E_φ(x))`` (``Q(z_e)`` where the network is the
    quantizer itself), ``c = argmin_k ‖z_q − e_k‖`` and ``z_q = e_c``; an edge of an
    inference process other than ``q`` names it, ``q_φ(z|x) [q_x]``."""
    from ..nets.quantizer import VectorQuantizer

    letter, param = _PARAM[edge.kind]
    parents = ",".join(edge.parents)
    role = code_role(edge)
    if role == "quantize":
        inner = parents if isinstance(edge.net, VectorQuantizer) else f"E_{param}({parents})"
        label = f"{edge.child} = Q({inner})"
    elif role == "indices":
        label = f"{edge.child} = argmin_k ‖{parents} − e_k‖"
    elif role == "embed":
        label = f"{edge.child} = e_{parents}"
    elif edge.deterministic:
        fn = "G" if edge.kind == "generative" else "E"
        label = f"{edge.child} = {fn}_{param}({parents})"
    elif not edge.parents:  # a prior network
        label = f"{letter}_{param}({edge.child})"
    else:
        label = f"{letter}_{param}({edge.child}|{parents})"
    return label if edge.kind == "adversarial" or edge.default_process else f"{label} [{edge.process}]"


def _density_label(label: str, net) -> str:
    """A density edge's label as a Graphviz HTML label, in the density colour (beside a
    node, whose own label stays black): the notation in bold, the network's class on the
    line below (``p_θ(c)`` / ``GatedPixelCNN``)."""
    return (f'<<font color="{DENSITY_COLOR}"><b>{html.escape(label, quote=False)}</b><br/>'
            f'<font point-size="10">{html.escape(type(net).__name__, quote=False)}</font></font>>')


def _ranks(graph) -> dict[str, int]:
    """Rows of the layout, top to bottom: latents by depth in the generative process,
    then the visible nodes; an indicator one row below the lowest node it judges."""
    nodes = graph.nodes
    rank: dict[str, int] = {}

    def latent_rank(n, seen=()):
        if n not in rank:
            e = graph.edge_into(n, "generative")
            ups = [p for p in (e.parents if e else ()) if nodes[p].role == "latent" and p not in seen]
            rank[n] = 1 + max((latent_rank(p, seen + (n,)) for p in ups), default=-1)
        return rank[n]

    for n, node in nodes.items():
        if node.role == "latent":
            latent_rank(n)
    bottom = 1 + max(rank.values(), default=-1)
    for n, node in nodes.items():
        if node.role == "visible":
            rank[n] = bottom
    for e in graph.edges_of("adversarial"):
        rank[e.child] = 1 + max(rank[p] for p in e.parents)
    return rank


def diagram_spec(graph_or_model, caption: str | None = None) -> dict:
    """The diagram as plain data: ``{"name", "caption", "graph", "nodes", "edges",
    "ranks"}``. ``nodes`` maps each name to its role, family, shape, rank, whether it is a
    code node (``code``, with its codebook size ``classes``), its prior network beside it
    (``prior``: ``{"label", "density", "net"}`` or None), and its Graphviz attributes;
    ``edges`` lists one arc per (parent, child) of each edge with its kind, whether it is
    deterministic or a density edge, how it passes through a codebook (``codes``, see
    :func:`code_role`), its label (on the first parent's arc only) and Graphviz
    attributes; ``ranks`` lists the nodes row by row, top to bottom. In SVG, nodes carry
    the id ``node-<name>`` and arcs ``<kind>-<parent>-<child>``."""
    graph, _ = _graph_and_model(graph_or_model)
    rank = _ranks(graph)
    nodes = {}
    for n, node in graph.nodes.items():
        style = PARTIALLY_OBSERVED_STYLE if node.partially_observed else NODE_STYLE[node.role]
        code = not node.partially_observed and is_code_node(node)
        label = n
        if code:
            filled = "filled" in style["style"]
            style = {**style, **CODE_STYLE, "style": "rounded,filled" if filled else "rounded"}
            label = f"{n}\\n{'×'.join(map(str, node.shape))}, K={node.options['classes']}"
        attrs = {"label": label, "fontname": FONT, "id": f"node-{n}", **style}
        nodes[n] = {"role": node.role, "family": node.family, "shape": node.shape, "rank": rank[n],
                    "code": code, "classes": node.options.get("classes") if code else None, "prior": None,
                    "attrs": attrs}
    edges = []
    for e in graph.edges:
        label = edge_label(e)
        codes = code_role(e)
        if not e.parents:  # a prior network has no arc: its label sits beside its node
            nodes[e.child]["prior"] = {"label": label, "density": e.density, "net": type(e.net).__name__}
            if e.density:
                nodes[e.child]["attrs"]["xlabel"] = _density_label(label, e.net)
            else:
                nodes[e.child]["attrs"]["xlabel"] = " " + label + " "
        arrowhead = CODE_ARROWHEAD[codes] if codes else ARROWHEAD[e.deterministic]
        for i, p in enumerate(e.parents):
            attrs = {**EDGE_STYLE[e.kind], **(DENSITY_STYLE if e.density else {}), "arrowhead": arrowhead,
                     "fontname": FONT, "fontsize": "11",
                     "id": f"{e.kind}-{p}-{e.child}" if e.default_process else f"{e.kind}-{e.process}-{p}-{e.child}"}
            if i == 0:
                attrs["label"] = _density_label(label, e.net) if e.density else " " + label + " "
            if rank[p] >= rank[e.child]:
                attrs["constraint"] = "false"  # only downward arcs shape the layout
            edges.append({"tail": p, "head": e.child, "kind": e.kind, "deterministic": e.deterministic,
                          "density": e.density, "codes": codes, "label": label if i == 0 else "", "edge": label,
                          "attrs": attrs})
    rows = [[n for n in graph.nodes if rank[n] == r] for r in range(1 + max(rank.values(), default=-1))]
    graph_attrs = {"rankdir": "TB", "newrank": "true", "nodesep": "0.6", "ranksep": "0.7", "fontname": FONT}
    if caption:
        lines = [part for line in caption.splitlines() for part in wrap(line)]
        graph_attrs.update({"label": "\\l".join(lines) + "\\l", "labelloc": "b", "labeljust": "l",
                            "fontsize": "11"})
    return {"name": graph.name, "caption": caption, "graph": graph_attrs, "nodes": nodes, "edges": edges,
            "ranks": [r for r in rows if r]}


def wrap(line: str, width: int = 100, indent: str = "    ") -> list[str]:
    """Splits a long formula line before its top-level `` + ``/`` - `` and after its
    top-level ``; `` (never inside brackets), into lines of about ``width`` characters."""
    if len(line) <= width:
        return [line]
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(line):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and i > start:
            if ch in "+-" and line[i - 1:i] == " " and line[i + 1:i + 2] == " ":
                pieces.append(line[start:i - 1])
                start = i
            elif ch == ";" and line[i + 1:i + 2] == " ":
                pieces.append(line[start:i + 1])
                start = i + 2
    pieces.append(line[start:])
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(indent + piece)
    return lines


def to_digraph(spec: dict):
    """A ``graphviz.Digraph`` of a :func:`diagram_spec`."""
    try:
        import graphviz
    except ImportError as e:  # pragma: no cover - an install_requires dependency
        raise ImportError("drawing diagrams needs the graphviz Python package: pip install graphviz; and "
                          + _INSTALL) from e
    dot = graphviz.Digraph(spec["name"], graph_attr=spec["graph"], node_attr={"fontname": FONT},
                           edge_attr={"fontname": FONT})
    for i, row in enumerate(spec["ranks"]):
        with dot.subgraph(name=f"rank{i}") as sub:
            sub.attr(rank="same")
            for n in row:
                sub.node(n, **spec["nodes"][n]["attrs"])
    for a, b in zip(spec["ranks"], spec["ranks"][1:]):
        dot.edge(a[0], b[0], style="invis")  # keeps the rows in order
    for e in spec["edges"]:
        dot.edge(e["tail"], e["head"], **e["attrs"])
    return dot


def _caption(graph_or_model, caption) -> str | None:
    """None/False: no caption; a string: itself; True: the compiled objective's formula
    (a Graph is compiled with the objective it records)."""
    if caption is None or caption is False:
        return None
    if isinstance(caption, str):
        return caption
    if caption is not True:
        raise ConfigError(f"caption must be None, True (the objective's formula) or a string, got {caption!r}")
    graph, model = _graph_and_model(graph_or_model)
    if model is None:
        from ..inference import compile

        model = compile(graph)
    formula = model.formula()
    return f"{graph.name}: {formula.objective}\n{formula.text}"


def dot_source(graph_or_model, caption=None) -> str:
    """The diagram's DOT source (needs no ``dot`` program)."""
    return to_digraph(diagram_spec(graph_or_model, _caption(graph_or_model, caption))).source


def _missing_dot(path: Path, dot_path: Path | None) -> ConfigError:
    wrote = f"; the DOT source was written to {dot_path} (draw it elsewhere with `dot -T{path.suffix[1:]} " \
            f"{dot_path} -o {path}`)" if dot_path else ""
    return ConfigError(f"cannot draw {path}: Graphviz's `dot` program is not on PATH; {_INSTALL}. "
                       f"DOT source can still be written without it: render(graph, '{path.with_suffix('.dot')}')"
                       + wrote)


def _pipe(dot, fmt: str, path: Path) -> bytes:
    import graphviz

    if shutil.which("dot") is None:
        raise graphviz.ExecutableNotFound(("dot",))
    try:
        return dot.pipe(format=fmt)
    except graphviz.CalledProcessError as e:
        raise UnidgmError(f"Graphviz's `dot` failed to draw {path}: {e.stderr.decode(errors='replace')}") from None


def render(graph_or_model, path, caption: bool | str | None = None) -> Path:
    """Draws the diagram of a graph (or a compiled model's graph) to ``path``.

    Args:
        graph_or_model: a :class:`~unidgm.Graph` or a compiled model.
        path: the file to write; its suffix picks the format: ``.svg``, ``.png``, ``.pdf``
            (drawn by Graphviz's ``dot``) or ``.dot`` (the DOT source, no ``dot`` needed).
        caption: None (none), True (the compiled objective's formula; a Graph is compiled
            with the objective it records) or a string, used verbatim (lines longer than 100
            characters are broken before a top-level ``+`` or ``-``).

    Returns:
        the path written.

    Raises:
        ConfigError: for a suffix that is not one of :data:`FORMATS`, or a drawing asked
            for where the ``dot`` program is missing (then the DOT source is written beside
            ``path``, with the suffix ``.dot``, and the message says how to install it).
    """
    import graphviz

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"cannot draw {path}: unknown suffix {path.suffix!r}; use one of {', '.join(FORMATS)}")
    dot = to_digraph(diagram_spec(graph_or_model, _caption(graph_or_model, caption)))
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".dot":
        _write(path, dot.source.encode("utf-8"))
        return path
    try:
        data = _pipe(dot, suffix[1:], path)
    except graphviz.ExecutableNotFound:
        dot_path = path.with_suffix(".dot")
        _write(dot_path, dot.source.encode("utf-8"))
        raise _missing_dot(path, dot_path) from None
    _write(path, data)
    return path


def svg(graph_or_model, caption: bool | str | None = None) -> str:
    """The diagram as SVG text (raises ConfigError where ``dot`` is missing)."""
    import graphviz

    dot = to_digraph(diagram_spec(graph_or_model, _caption(graph_or_model, caption)))
    try:
        return _pipe(dot, "svg", Path("diagram.svg")).decode("utf-8")
    except graphviz.ExecutableNotFound:
        raise _missing_dot(Path("diagram.svg"), None) from None


def repr_svg(graph_or_model, caption=None) -> str | None:
    """SVG for notebooks (``_repr_svg_``): None where ``dot`` is missing, so that the
    notebook falls back to the text repr rather than failing."""
    try:
        return svg(graph_or_model, caption)
    except ConfigError:
        return None


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def diagram_text(graph_or_model) -> str:
    """The diagram in words: the nodes with their roles, families and shapes, then the
    edges in the paper's notation with their kinds."""
    graph, _ = _graph_and_model(graph_or_model)
    nodes = graph.nodes
    lines = [f"graph {graph.name!r}", "nodes:"]
    width = max((len(n) for n in nodes), default=1)
    for n, node in nodes.items():
        extra = [f"prior={node.prior}"] if node.prior else []
        extra += ["given"] if node.given else []
        extra += ["partially observed"] if node.partially_observed else []
        lines.append(f"  {n:<{width}}  {node.role:<9}  {node.family} {tuple(node.shape)}"
                     + (f"  {', '.join(extra)}" if extra else ""))
    lines.append("edges:")
    labels = [edge_label(e) for e in graph.edges]
    kinds = [e.kind + (", deterministic" if e.deterministic else "") + (", density" if e.density else "")
             for e in graph.edges]
    lw, kw = (max((len(s) for s in col), default=1) for col in (labels, kinds))
    for e, label, kind in zip(graph.edges, labels, kinds):
        arcs = f"{','.join(e.parents)} -> {e.child}"
        line = f"  {label:<{lw}}  {kind:<{kw}}  {arcs}"
        if e.kind == "adversarial":
            sides = [f"{side}={proc}" + (f" on {dict(inputs)}" if inputs else "")
                     for side, proc, inputs in (("real", e.real, e.real_inputs), ("fake", e.fake, e.fake_inputs))]
            line += f"  ({', '.join(sides)})"
        lines.append(line.rstrip())
    lines.append("processes:")
    for process, kind in graph.processes.items():
        explained = [e.child for e in graph.edges_in(process)]
        if process == "p":
            explained = [n for n, node in nodes.items() if node.prior] + explained
        lines.append(f"  {process}  {kind}, explains {', '.join(explained)}")
    return "\n".join(lines)


__all__ = ["FORMATS", "code_role", "diagram_spec", "diagram_text", "dot_source", "edge_label", "is_code_node", "render",
           "svg", "to_digraph", "wrap"]


def _register() -> None:
    from ..graph import graph

    graph.DISPLAY["svg"] = repr_svg


_register()
