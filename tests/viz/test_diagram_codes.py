"""Diagrams of discrete codes: a code node (class indices) is a rounded box with its grid and
codebook size, a density prior is bold blue with its network's class, the quantizing edge
has a hollow diamond head and the codebook lookups a hollow box head, each unlike the plain
conventions they sit beside; then the same drawn by Graphviz."""
import shutil
import xml.etree.ElementTree as ET

import pytest
import torch
from torch import nn

import unidgm
from unidgm.models import build
from unidgm.nets import MLP, VectorQuantizer
from unidgm.viz import diagram
from unidgm.viz.diagram import DENSITY_COLOR, diagram_spec, diagram_text, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
X, D, K = 16, 3, 6  # 16 pixels, codes of size 3, 6 codes (the catalogue VQ-VAE: a 2x2 grid of an 8x8 image)


def vqvae():
    """The catalogue's VQ-VAE, small: x -> z_q (quantized) -> c (indices) in q; a PixelCNN
    density prior over c, c -> z_q (codebook lookup) -> x in p."""
    torch.manual_seed(0)
    g = build("vqvae", x_shape=(1, 8, 8), hidden=(8,), codebook_size=K, code_dim=D, prior_channels=8, prior_layers=2)
    return g, unidgm.compile(g)


class CodePrior(nn.Module):
    """A stand-in density network (log_prob and sample), for a conditional prior."""

    def log_prob(self, value, condition=None):  # pragma: no cover - never run by a diagram
        return value.new_zeros(value.shape[0], dtype=torch.float)

    def sample(self, n, shape, condition=None):  # pragma: no cover - never run by a diagram
        return torch.zeros((n, *shape), dtype=torch.long)


class PriorNet(nn.Module):
    """A plain prior network: the prior's parameters, not a density."""

    def __init__(self):
        super().__init__()
        self.params = nn.Parameter(torch.zeros(4))

    def forward(self, empty):  # pragma: no cover - never run by a diagram
        return self.params.expand(empty.shape[0], 4)


def arcs(spec):
    return {(e["kind"], e["tail"], e["head"]): e for e in spec["edges"]}


def test_a_code_node_is_a_rounded_box_with_its_grid_and_codebook_size():
    g, _ = vqvae()
    nodes = diagram_spec(g)["nodes"]
    c, z_q, x = nodes["c"], nodes["z_q"], nodes["x"]
    assert c["role"] == "latent" and c["code"] and c["classes"] == K
    assert c["attrs"]["shape"] == "box" and c["attrs"]["style"] == "rounded"
    assert c["attrs"]["label"] == "c\\n2×2, K=6"  # DOT's line break
    assert not z_q["code"] and z_q["classes"] is None and z_q["attrs"]["shape"] == "circle"
    assert z_q["attrs"]["label"] == "z_q"
    assert not x["code"] and x["attrs"]["style"] == "filled"
    # A one-hot categorical (no classes=) is not a code grid: InfoGAN's c stays a circle.
    infogan = diagram_spec(build("infogan", x_shape=(1, 8, 8), hidden=(16,)))["nodes"]
    assert not any(v["code"] for v in infogan.values())
    # The code nodes sit at the top, above the vectors they are looked up as.
    assert c["rank"] < z_q["rank"] < x["rank"]


def test_a_visible_code_grid_stays_shaded():
    g = unidgm.Graph("tokens")
    g.visible("t", "categorical", (4,), classes=8)
    g.latent("z", "normal", (2,), prior="standard")
    g.generative("z", "t", MLP(2, [4], 32))
    t = diagram_spec(g)["nodes"]["t"]
    assert t["code"] and t["attrs"]["shape"] == "box" and t["attrs"]["style"] == "rounded,filled"
    assert t["attrs"]["fillcolor"] == "#c8c8c8" and t["attrs"]["label"] == "t\\n4, K=8"


def test_a_density_prior_is_bold_blue_with_its_network_beside_the_node():
    g, _ = vqvae()
    c = diagram_spec(g)["nodes"]["c"]
    assert c["prior"] == {"label": "p_θ(c)", "density": True, "net": "GatedPixelCNN"}
    xlabel = c["attrs"]["xlabel"]
    assert xlabel.startswith("<") and xlabel.endswith(">")  # a Graphviz HTML label
    assert f'color="{DENSITY_COLOR}"' in xlabel and "<b>p_θ(c)</b>" in xlabel and "GatedPixelCNN" in xlabel
    assert "fontcolor" not in c["attrs"]  # the node's own label stays black
    # A plain prior network (a learned prior's parameters, no density) keeps the plain label.
    plain = unidgm.Graph("prior")
    plain.visible("x", "bernoulli", (4,))
    plain.latent("z", "normal", (2,))
    plain.generative([], "z", PriorNet())
    plain.generative("z", "x", MLP(2, [4], 4))
    z = diagram_spec(plain)["nodes"]["z"]
    assert z["prior"] == {"label": "p_θ(z)", "density": False, "net": "PriorNet"}
    assert z["attrs"]["xlabel"] == " p_θ(z) " and not z["code"]


def test_a_conditional_density_prior_draws_its_arcs_bold_blue():
    g = unidgm.Graph("two-level")
    g.visible("x", "bernoulli", (X,))
    g.latent("top", "categorical", (2, 2), classes=K)
    g.latent("bottom", "categorical", (4, 4), classes=K)
    g.generative([], "top", CodePrior(), density=True)
    g.generative("top", "bottom", CodePrior(), density=True)
    g.generative("bottom", "x", MLP(16, [4], X))
    spec = diagram_spec(g)
    arc, plain = arcs(spec)[("generative", "top", "bottom")], arcs(spec)[("generative", "bottom", "x")]
    assert arc["density"] and not plain["density"]
    assert arc["label"] == "p_θ(bottom|top)" and arc["codes"] is None
    attrs = arc["attrs"]
    assert attrs["penwidth"] == "2" and attrs["color"] == attrs["fontcolor"] == DENSITY_COLOR
    assert "<b>p_θ(bottom|top)</b>" in attrs["label"] and "CodePrior" in attrs["label"]
    assert attrs["style"] == "solid" and attrs["arrowhead"] == "normal"  # still a generative arrow
    assert "penwidth" not in plain["attrs"] and plain["attrs"]["color"] == "black"
    assert plain["attrs"]["label"] == " p_θ(x|bottom) "
    nodes = spec["nodes"]
    assert nodes["top"]["rank"] < nodes["bottom"]["rank"] < nodes["x"]["rank"]
    assert nodes["bottom"]["prior"] is None and nodes["bottom"]["attrs"]["label"] == "bottom\\n4×4, K=6"


def test_the_quantizing_edge_and_the_codebook_lookups_have_their_own_heads_and_labels():
    g, _ = vqvae()
    spec = diagram_spec(g)
    a = arcs(spec)
    # (codes, arrowhead, dashed, label)
    expected = {
        ("inference", "x", "z_q"): ("quantize", "odiamond", True, "z_q = Q(E_φ(x))"),
        ("inference", "z_q", "c"): ("indices", "obox", True, "c = argmin_k ‖z_q − e_k‖"),
        ("generative", "c", "z_q"): ("embed", "obox", False, "z_q = e_c"),
        ("generative", "z_q", "x"): (None, "normal", False, "p_θ(x|z_q)"),
    }
    assert set(a) == set(expected)
    for key, (codes, head, dashed, label) in expected.items():
        arc = a[key]
        assert arc["codes"] == codes and arc["attrs"]["arrowhead"] == head, key
        assert arc["attrs"]["style"] == ("dashed" if dashed else "solid"), key
        assert arc["label"] == label == diagram.edge_label(g.edge_into(key[2], key[0])), key
        assert arc["attrs"]["label"].strip() == label and not arc["density"], key
    # A deterministic encoder without a quantizer keeps the plain hollow arrowhead and E_φ.
    plain = unidgm.Graph("ae")
    plain.visible("x", "bernoulli", (4,))
    plain.latent("z", "delta", (2,))
    plain.inference("x", "z", MLP(4, [4], 2), deterministic=True)
    plain.generative("z", "x", MLP(2, [4], 4))
    enc = arcs(diagram_spec(plain))[("inference", "x", "z")]
    assert enc["codes"] is None and enc["attrs"]["arrowhead"] == "onormal" and enc["label"] == "z = E_φ(x)"


def test_a_quantizer_as_the_whole_network_is_q_of_its_parent():
    g = unidgm.Graph("vq")
    g.visible("x", "bernoulli", (D,))
    g.latent("z_e", "delta", (D,))
    g.latent("z_q", "normal", (D,))
    g.inference("x", "z_e", MLP(D, [4], D), deterministic=True)
    g.inference("z_e", "z_q", VectorQuantizer(K, D), deterministic=True)
    g.generative("z_q", "x", MLP(D, [4], D))
    arc = arcs(diagram_spec(g))[("inference", "z_e", "z_q")]
    assert arc["codes"] == "quantize" and arc["label"] == "z_q = Q(z_e)"


def test_diagram_text_names_the_density_edge_and_the_codebook_functions():
    g, _ = vqvae()
    lines = diagram_text(g).splitlines()
    edges = lines[lines.index("edges:") + 1:lines.index("processes:")]
    assert [line.split("  ")[1].strip() for line in edges] == [
        "z_q = Q(E_φ(x))", "c = argmin_k ‖z_q − e_k‖", "p_θ(c)", "z_q = e_c", "p_θ(x|z_q)"]
    assert "generative, density" in edges[2]
    assert "  c    latent     categorical (2, 2)" in lines


@needs_dot
def test_svg_and_png_draw_the_code_conventions(tmp_path):
    g, model = vqvae()
    root = ET.fromstring(render(model, tmp_path / "vq.svg", caption=True).read_text(encoding="utf-8"))
    groups = {e.get("id"): e for e in root.iter(SVG + "g") if e.get("class") in ("node", "edge")}
    c = groups["node-c"]
    assert c.find(SVG + "ellipse") is None and c.find(SVG + "path") is not None  # a rounded box, not a circle
    texts = {t.text: t for t in c.iter(SVG + "text")}
    assert {"c", "2×2, K=6", "p_θ(c)", "GatedPixelCNN"} <= set(texts)
    prior = texts["p_θ(c)"]
    assert prior.get("fill") == DENSITY_COLOR and prior.get("font-weight") == "bold"
    assert texts["c"].get("fill") in (None, "black")
    assert groups["node-z_q"].find(SVG + "ellipse") is not None
    for arc, corners in (("inference-x-z_q", 4), ("inference-z_q-c", 4), ("generative-c-z_q", 4)):
        head = groups[arc].find(SVG + "polygon")
        assert head.get("fill") == "none" and len(head.get("points").split()) == corners + 1, arc  # hollow, closed
    decoder = groups["generative-z_q-x"].find(SVG + "polygon")
    assert decoder.get("fill") == "black" and len(decoder.get("points").split()) == 4  # a filled triangle
    labels = {(t.text or "").strip() for t in root.iter(SVG + "text")}
    assert {"z_q = Q(E_φ(x))", "c = argmin_k ‖z_q − e_k‖", "z_q = e_c"} <= labels
    assert render(g, tmp_path / "vq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
