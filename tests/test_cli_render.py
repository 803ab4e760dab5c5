"""`unidgm render` and `unidgm describe`: diagrams and formulas of catalogue models."""
import shutil
import xml.etree.ElementTree as ET

import pytest

from unidgm.cli import main
from unidgm.models import catalogue

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SMALL = ["--set", "x_shape=(1,8,8)", "--set", "hidden=(16,)"]
SVG = "{http://www.w3.org/2000/svg}"


def _texts(path):
    return [t.text for t in ET.parse(path).getroot().iter(SVG + "text")]


@needs_dot
def test_render_one_model_in_each_format(tmp_path, capsys):
    assert main(["render", "vae", "-o", str(tmp_path / "vae.svg"), *SMALL]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "vae.svg")
    texts = _texts(tmp_path / "vae.svg")
    assert " p_θ(x|z) " in texts and " q_φ(z|x) " in texts
    assert any(t and t.startswith("elbo (updates generative, inference): minimise") for t in texts)  # caption
    assert main(["render", "vae", "-o", str(tmp_path / "bare.svg"), "--no-caption", *SMALL]) == 0
    assert not any(t and "minimise" in t for t in _texts(tmp_path / "bare.svg"))
    assert main(["render", "gan", "-o", str(tmp_path / "gan.png"), *SMALL]) == 0
    assert (tmp_path / "gan.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["render", "iwae", "-o", str(tmp_path / "iwae.dot"), "--objective-option", "k=9", *SMALL]) == 0
    assert "1/9" in (tmp_path / "iwae.dot").read_text(encoding="utf-8")


@needs_dot
def test_render_all_draws_the_catalogue_with_formulas(tmp_path, capsys):
    out = tmp_path / "gallery"
    assert main(["render", "--all", str(out), *SMALL]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.svg" for n in catalogue())
    assert len(capsys.readouterr().out.splitlines()) == len(catalogue())
    assert any(t and t.startswith("discriminator (updates adversarial") for t in _texts(out / "gan.svg"))
    assert any(t and t.startswith("gan: adversarial(ns-gan)") for t in _texts(out / "gan.svg"))


def test_describe_prints_the_graph_and_the_formula(capsys):
    assert main(["describe", "vae", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "graph 'vae'" in out
    assert "  x  visible    bernoulli (1, 8, 8)" in out and "  z  latent     normal (20,)  prior=standard" in out
    assert "p_θ(x|z)  generative  z -> x" in out and "q_φ(z|x)  inference   x -> z" in out
    assert out.rstrip().endswith("elbo (updates generative, inference): minimise "
                                 "-E_q(z|x)[log p(x|z)] + KL(q(z|x) || p(z))")
    assert main(["describe", "wgan-gp", "--latex", *SMALL]) == 0
    latex = capsys.readouterr().out
    assert latex.startswith("\\begin{aligned}") and "\\mathcal{L}_{\\mathrm{discriminator}}(\\psi)" in latex
    assert main(["describe", "beta-vae", "--set", "beta=2.5", *SMALL]) == 0
    assert "2.5 * KL(q(z|x) || p(z))" in capsys.readouterr().out
    assert main(["describe", "ssvae", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "  y  latent     categorical (10,)  prior=standard, partially observed" in out
    assert "minimise E_labelled[L(x,y)] + E_unlabelled[U(x)] + 50 * E_labelled[-log q(y|x)]" in out


def test_errors_exit_2_with_the_fix(tmp_path, capsys):
    for argv in (["describe", "vea"], ["render", "vea", "-o", str(tmp_path / "a.svg")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "unknown model 'vea'" in err and all(n in err for n in catalogue())
    assert main(["render", "vae", "-o", str(tmp_path / "a.gif"), *SMALL]) == 2
    assert ".svg, .png, .pdf, .dot" in capsys.readouterr().err
    assert main(["render"]) == 2
    assert "--all DIR" in capsys.readouterr().err
    assert main(["render", "vae", "--all", str(tmp_path)]) == 2
    assert main(["describe", "vae", "--set", "latent=3"]) == 2
    assert "no option latent" in capsys.readouterr().err
    for argv in (["render", "--help"], ["describe", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
