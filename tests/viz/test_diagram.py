"""Diagrams in Hu et al.'s notation: the spec's styles without Graphviz, the drawn SVG with
it, the output formats, a machine without `dot`, and every catalogue model."""
import shutil
import xml.etree.ElementTree as ET

import pytest
import torch

import unidgm
from unidgm.errors import ConfigError
from unidgm.models import build, catalogue, options
from unidgm.nets import MLP
from unidgm.viz import diagram
from unidgm.viz.diagram import diagram_spec, diagram_text, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def every_kind():
    """One graph with every edge kind and node role: z -> h = G(z) (generative,
    deterministic), p(x|h,z) (generative, two parents), q(z|x) (inference), e = E(x)
    (inference, deterministic), q(y_x|x) (adversarial, indicator y_x)."""
    g = unidgm.Graph("every")
    g.visible("x", "bernoulli", shape=(4,))
    g.latent("z", "normal", shape=(2,), prior="standard")
    g.latent("h", "delta", shape=(3,))
    g.latent("e", "delta", shape=(2,))
    g.generative("z", "h", MLP(2, [4], 3), deterministic=True)
    g.generative(["h", "z"], "x", MLP(5, [4], 4))
    g.inference("x", "z", MLP(4, [4], 4))
    g.inference("x", "e", MLP(4, [4], 2), deterministic=True)
    g.adversarial("x", MLP(4, [4], 1))
    return g


# (kind, tail, head) -> (dashed, hollow head, red, label on that arc)
ARCS = {
    ("generative", "z", "h"): (False, True, False, "h = G_θ(z)"),
    ("generative", "h", "x"): (False, False, False, "p_θ(x|h,z)"),
    ("generative", "z", "x"): (False, False, False, ""),  # the same edge's second parent
    ("inference", "x", "z"): (True, False, False, "q_φ(z|x)"),
    ("inference", "x", "e"): (True, True, False, "e = E_φ(x)"),
    ("adversarial", "x", "y_x"): (False, False, True, "q_ψ(y_x|x)"),
}


def test_spec_styles_follow_the_papers_notation():
    spec = diagram_spec(every_kind())
    arcs = {(e["kind"], e["tail"], e["head"]): e for e in spec["edges"]}
    assert set(arcs) == set(ARCS)
    for key, (dashed, hollow, red, label) in ARCS.items():
        attrs = arcs[key]["attrs"]
        assert attrs["style"] == ("dashed" if dashed else "solid"), key
        assert attrs["arrowhead"] == ("onormal" if hollow else "normal"), key
        assert (attrs["color"] == "red") == red, key
        assert arcs[key]["label"] == label and attrs.get("label", "").strip() == label, key
    nodes = spec["nodes"]
    assert {n: v["role"] for n, v in nodes.items()} == {"x": "visible", "z": "latent", "h": "latent",
                                                       "e": "latent", "y_x": "indicator"}
    assert nodes["x"]["attrs"]["style"] == "filled" and nodes["x"]["attrs"]["fillcolor"] == "#c8c8c8"
    for latent in ("z", "h", "e"):
        assert "filled" not in nodes[latent]["attrs"]["style"] and nodes[latent]["attrs"]["shape"] == "circle"
    assert nodes["y_x"]["attrs"]["shape"] == "diamond"
    # Latents above visible nodes, z above the h it generates, the indicator below what it judges.
    rank = {n: v["rank"] for n, v in nodes.items()}
    assert rank["z"] < rank["h"] < rank["x"] < rank["y_x"] and rank["e"] < rank["x"]
    assert [sorted(r) for r in spec["ranks"]] == [["e", "z"], ["h"], ["x"], ["y_x"]]
    assert spec["graph"]["rankdir"] == "TB" and spec["caption"] is None


def test_a_partially_observed_label_is_half_shaded():
    spec = diagram_spec(build("ssvae", x_shape=(1, 8, 8), hidden=(16,)))
    y = spec["nodes"]["y"]
    assert y["role"] == "latent" and y["attrs"]["style"] == "filled"
    assert y["attrs"]["fillcolor"] == "#c8c8c8;0.5:white"  # grey below, white above
    assert "filled" not in spec["nodes"]["z"]["attrs"]["style"]
    assert spec["nodes"]["y"]["rank"] == spec["nodes"]["z"]["rank"] < spec["nodes"]["x"]["rank"]


def test_dot_source_carries_the_styles():
    source = diagram.dot_source(every_kind(), caption="my caption")
    assert source.startswith("digraph every")
    for needle in ("style=dashed", "arrowhead=onormal", "color=red", "shape=diamond", 'fillcolor="#c8c8c8"',
                   'label="my caption\\l"', "rank=same", "rankdir=TB"):
        assert needle in source, needle


def _svg_parts(text):
    root = ET.fromstring(text)
    groups = {g.get("id"): g for g in root.iter(SVG + "g") if g.get("class") in ("node", "edge")}
    return root, groups


@needs_dot
def test_svg_draws_each_edge_kind_and_node_role(tmp_path):
    path = render(every_kind(), tmp_path / "every.svg")
    assert path == tmp_path / "every.svg"
    root, groups = _svg_parts(path.read_text(encoding="utf-8"))
    for (kind, tail, head), (dashed, hollow, red, label) in ARCS.items():
        g = groups[f"{kind}-{tail}-{head}"]
        line, head_shape = g.find(SVG + "path"), g.find(SVG + "polygon")
        assert (line.get("stroke-dasharray") is not None) == dashed, (kind, tail, head)
        assert (head_shape.get("fill") == "none") == hollow, (kind, tail, head)
        assert (line.get("stroke") == "red") == red and (head_shape.get("stroke") == "red") == red
        text = g.find(SVG + "text")
        assert (text.text.strip() if text is not None else "") == label
    x, z, y = groups["node-x"], groups["node-z"], groups["node-y_x"]
    assert x.find(SVG + "ellipse").get("fill") == "#c8c8c8"           # visible: shaded
    assert z.find(SVG + "ellipse").get("fill") == "none"              # latent: plain
    assert y.find(SVG + "ellipse") is None                            # indicator: a diamond
    assert len(y.find(SVG + "polygon").get("points").split()) == 5    # 4 corners, closed
    # Latents are drawn above the visible node (SVG y grows downwards).
    cy = {n: float(groups[f"node-{n}"].find(SVG + "ellipse").get("cy")) for n in ("x", "z", "h")}
    assert cy["z"] < cy["h"] < cy["x"]


@needs_dot
def test_png_pdf_and_dot_files(tmp_path):
    g = every_kind()
    assert render(g, tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render(g, tmp_path / "a.pdf").read_bytes()[:5] == b"%PDF-"
    assert render(g, tmp_path / "sub" / "a.dot").read_text(encoding="utf-8").startswith("digraph every {")
    assert render(g, str(tmp_path / "A.SVG")).read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_suffix_names_the_path_and_the_formats(tmp_path):
    with pytest.raises(ConfigError, match=r"a\.jpg.*'\.jpg'.*\.svg, \.png, \.pdf, \.dot"):
        render(every_kind(), tmp_path / "a.jpg")
    with pytest.raises(ConfigError, match="no suffix|''"):
        render(every_kind(), tmp_path / "diagram")
    with pytest.raises(ConfigError, match="Graph or a compiled model"):
        render("vae", tmp_path / "a.svg")


def test_without_dot_the_source_is_written_and_drawing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    g = every_kind()
    assert "digraph every" in render(g, tmp_path / "g.dot").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        render(g, tmp_path / "out" / "g.svg")
    message = str(e.value)
    for needle in ("g.svg", "dot", "sudo apt-get install graphviz", "brew install graphviz", "conda",
                   "DOT source", "out/g.dot"):
        assert needle in message, needle
    assert (tmp_path / "out" / "g.dot").read_text(encoding="utf-8").startswith("digraph every")
    assert not (tmp_path / "out" / "g.svg").exists()
    assert g._repr_svg_() is None  # a notebook falls back to the text repr


@needs_dot
def test_dot_that_cannot_run_is_the_same_clear_error(tmp_path, monkeypatch):
    import graphviz

    def missing(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    with pytest.raises(ConfigError, match="apt-get install graphviz"):
        render(every_kind(), tmp_path / "g.pdf")
    assert (tmp_path / "g.dot").exists()


@needs_dot
def test_captions(tmp_path):
    g = build("vae", x_shape=(1, 8, 8), hidden=(16,), latent_dim=2)
    text = render(g, tmp_path / "a.svg", caption="A VAE, drawn").read_text(encoding="utf-8")
    assert "A VAE, drawn" in text
    model = unidgm.compile(g)
    text = render(model, tmp_path / "b.svg", caption=True).read_text(encoding="utf-8")
    lines = [t.text for t in ET.fromstring(text).iter(SVG + "text")]
    assert "elbo (updates generative, inference): minimise -E_q(z|x)[log p(x|z)] + KL(q(z|x) || p(z))" in lines
    # A graph is compiled with the objective it records: beta-VAE's weight shows.
    text = render(build("beta-vae", x_shape=(1, 8, 8), hidden=(16,)), tmp_path / "c.svg", caption=True)
    assert "4 * KL(q(z|x) || p(z))" in text.read_text(encoding="utf-8")
    assert "minimise" not in render(model, tmp_path / "d.svg").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="caption"):
        render(model, tmp_path / "e.svg", caption=3)


@needs_dot
def test_repr_svg_for_notebooks():
    g = build("gan", x_shape=(4,), hidden=(8,), latent_dim=2)
    text = g._repr_svg_()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "x = G_θ(z)" in text
    compiled = [t.text for t in ET.fromstring(unidgm.compile(g)._repr_svg_()).iter(SVG + "text")]
    assert " q_ψ(y_x|x) " in compiled
    assert "discriminator (updates adversarial): minimise -E_data[log D(x)] - E_p(z)[log(1 - D(G(z)))]" in compiled


def test_render_is_exported():
    import unidgm.viz

    assert unidgm.render is render and unidgm.viz.render is render and "render" in unidgm.__all__


def test_diagram_text_lists_roles_families_shapes_and_edges():
    text = diagram_text(every_kind())
    assert "  x    visible    bernoulli (4,)" in text
    assert "  z    latent     normal (2,)  prior=standard" in text
    assert "  y_x  indicator  bernoulli (1,)" in text
    lines = text.splitlines()
    edges = lines[lines.index("edges:") + 1:lines.index("processes:")]
    assert [line.split()[0] for line in edges] == ["h", "p_θ(x|h,z)", "q_φ(z|x)", "e", "q_ψ(y_x|x)"]
    assert lines[lines.index("processes:") + 1:] == ["  p  generative, explains z, h, x", "  q  inference, explains z, e"]
    assert "generative, deterministic" in edges[0] and "h,z -> x" in edges[1]
    assert "inference, deterministic" in edges[3]
    assert "(real=data, fake=generative)" in edges[4]


def _small(name):
    opts = {"x_shape": (1, 8, 8), "hidden": (16,)}
    if "latent_dims" in options(name):
        opts["latent_dims"] = (6, 4)
    torch.manual_seed(0)
    return build(name, **opts)


@needs_dot
@pytest.mark.parametrize("name", catalogue())
def test_every_catalogue_model_is_drawn_with_its_formula(name, tmp_path):
    model = unidgm.compile(_small(name))
    path = render(model, tmp_path / f"{name}.svg", caption=True)
    root, groups = _svg_parts(path.read_text(encoding="utf-8"))
    graph = model.graph
    assert {f"node-{n}" for n in graph.nodes} <= set(groups)
    arcs = {f"{e.kind}-{p}-{e.child}" for e in graph.edges for p in e.parents}
    assert arcs <= set(groups)
    texts = [t.text or "" for t in root.iter(SVG + "text")]
    caption = [piece for line in model.formula().text.splitlines() for piece in diagram.wrap(line)]
    header = [piece.strip() for piece in diagram.wrap(f"{name}: {model.formula().objective}")]
    assert [t.strip() for t in texts[:len(caption) + len(header)]] == header + [
        c.strip() for c in caption]  # the caption comes first, line by line
    text = " ".join(texts)
    for e in graph.edges:
        assert diagram.edge_label(e) in text


def test_gallery_covers_the_catalogue():
    """docs/img/gallery holds `unidgm render --all docs/img/gallery`'s output for every
    catalogue model and the README embeds each (re-run that command after adding a model)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in catalogue():
        path = root / "docs" / "img" / "gallery" / f"{name}.svg"
        assert path.exists(), f"{path} is missing: run `unidgm render --all docs/img/gallery`"
        texts = [t.text or "" for t in ET.parse(path).getroot().iter(SVG + "text")]
        assert any(t.startswith(f"{name}: ") for t in texts), f"{path} has no formula caption"
        assert f"](docs/img/gallery/{name}.svg)" in readme, f"README.md does not show {name}'s diagram"


def test_long_caption_lines_break_between_top_level_terms():
    line = "phase: minimise -E_q(z|x)[log p(x|z) + log p(y|z)] + KL(q(z|x) || p(z)) - E_data[log D(x)]"
    assert diagram.wrap(line, width=40) == ["phase: minimise -E_q(z|x)[log p(x|z) + log p(y|z)]",
                                            "    + KL(q(z|x) || p(z))", "    - E_data[log D(x)]"]
    assert diagram.wrap("where a = 1; b = 2", width=10) == ["where a = 1;", "    b = 2"]
    assert diagram.wrap(line) == [line]
