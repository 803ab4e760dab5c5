"""Objectives describe themselves from the plan they compute (house rule 4): each term is a
key of ``model.loss(batch)`` in its phase, the weighted terms add up to the phase's loss,
and the formula changes when the plan does (estimators, weights, divergences, options)."""
import re

import pytest
import torch
from matplotlib.mathtext import MathTextParser

import unidgm
from unidgm.inference.divergences import DIVERGENCES, make_divergence
from unidgm.inference.formula import Formula, Side, Term, join_sum, scaled, tex_name
from unidgm.models import build, catalogue, options

X_SHAPE = (1, 8, 8)


def _build(name, **extra):
    opts = {"x_shape": X_SHAPE, "hidden": (16,)}
    if "latent_dims" in options(name):
        opts["latent_dims"] = (6, 4)
    opts.update(extra)
    torch.manual_seed(0)
    return build(name, **opts)


def _batch(n=8, graph=None):
    g = torch.Generator().manual_seed(0)
    batch = {"x": torch.bernoulli(torch.rand((n,) + X_SHAPE, generator=g)),
             "y": torch.randint(0, 10, (n,), generator=g), "x_target": torch.rand((n,) + X_SHAPE, generator=g),
             "t": torch.randint(0, 35, (n, 6), generator=g)}  # a caption (dalle)
    if graph is not None and "y" in graph.nodes and graph.nodes["y"].shape == X_SHAPE:
        batch["y"] = torch.rand((n,) + X_SHAPE, generator=g)  # a second view, an image (wyner)
    return batch


def _formula(name, objective=None, **options_):
    model = unidgm.compile(_build(name), objective, **options_)
    return model, model.formula()


def _phase_text(formula, phase):
    line = next(line for line in formula.text.splitlines() if line.startswith(phase + " ("))
    return line.split(": minimise ", 1)[1]


@pytest.mark.parametrize("name", catalogue())
def test_each_term_is_a_computed_loss_term_and_they_add_up(name):
    model, formula = _formula(name)
    assert formula.terms and formula.text and formula.latex.startswith("\\begin{aligned}")
    assert [p.name for p in model.phases] == list(formula.phases())
    for phase in model.phases:
        terms = formula.phases()[phase.name]
        torch.manual_seed(1)
        batch = _batch(graph=model.graph)
        out = model.loss(batch, phase=phase.name) if len(model.phases) > 1 else model.loss(batch)
        for t in terms:
            assert t.name in out, f"{name}: term {t.name!r} is not a key of model.loss() in phase {phase.name}"
            assert t.groups == phase.groups and t.steps == phase.steps
        # A scheduled weight (beta_t, lambda_t) is the objective's current weight().
        objective = model.objective
        total = sum((objective.term(t.name).weight_at(objective.step) if isinstance(t.weight, str) else t.weight)
                    * out[t.name] for t in terms)
        assert torch.allclose(total, out[phase.loss], rtol=1e-5, atol=1e-5), (name, phase.name)


@pytest.mark.parametrize("name", catalogue())
def test_every_term_is_valid_latex(name):
    _, formula = _formula(name)
    parser = MathTextParser("path")
    for t in formula.terms:
        for s in (t.latex, *t.where_latex.split(",\\quad ")):
            if s:
                parser.parse(f"${s}$")  # raises on unbalanced braces or unknown commands
        # Text and LaTeX are built from one plan: the same number of expectations.
        # (an expectation is E_sub[...]; E_z_q(x) is a deterministic encoder's symbol)
        assert len(re.findall(r"E_[^\s\[\]]*\[", t.text)) == t.latex.count("\\mathbb{E}"), t.name


def test_vae_reads_like_the_paper_and_follows_the_kl_estimator():
    _, f = _formula("vae")
    assert f.text == ("elbo (updates generative, inference): minimise "
                      "-E_q(z|x)[log p(x|z)] + KL(q(z|x) || p(z))")
    assert f.names == ("reconstruction", "kl") and f.objective == "elbo(kl=auto)"
    assert "\\mathrm{KL}\\left(q_{\\phi}(z \\mid x)" in f.latex and "p_{\\theta}(x \\mid z)" in f.latex
    _, mc = _formula("vae", kl="mc")
    assert _phase_text(mc, "elbo") == "-E_q(z|x)[log p(x|z)] + E_q(z|x)[log q(z|x) - log p(z)]"


def test_hierarchical_vae_has_one_kl_per_latent_with_its_estimator():
    _, f = _formula("hvae")
    kls = {t.name: t.text for t in f.terms if t.name.startswith("kl")}
    assert kls == {"kl_z1": "E_q(z1,z2|x)[log q(z1|x) - log p(z1|z2)]",   # p(z1|z2) reads z2 ~ q(z2|z1)
                   "kl_z2": "E_q(z1|x)[KL(q(z2|z1) || p(z2))]"}
    assert f.terms[0].text == "-E_q(z1|x)[log p(x|z1)]"


def test_kl_weights_warmup_and_switching_off():
    _, f = _formula("beta-vae")
    assert "+ 4 * KL(q(z|x) || p(z))" in f.text and f.terms[1].weight == 4.0
    _, f = _formula("vae", kl_weight=2.0, warmup=100)
    assert "beta_t * KL(q(z|x) || p(z))" in f.text and "beta_t = 2 * min(1, t/100)" in f.text
    assert "\\beta_t\\," in f.latex
    _, f = _formula("vae", kl_weight=0.0)
    assert f.names == ("reconstruction",)


def test_autoencoder_and_conditional_vae():
    _, f = _formula("ae")
    assert f.names == ("reconstruction",) and _phase_text(f, "elbo") == "-log p(x|E(x))"
    _, f = _formula("cvae")
    assert _phase_text(f, "elbo") == "-E_q(z|x,y)[log p(x|z,y)] + KL(q(z|x,y) || p(z))"


def test_iwae_bound_names_k():
    model, f = _formula("iwae", k=7)
    (t,) = f.terms
    assert t.name == "iwae" and t.weight == -1.0
    assert t.text == "E_z^(1:7)~q(z|x)[log 1/7 sum_i p(x,z^(i))/q(z^(i)|x)]"
    assert f.text.endswith("minimise -E_z^(1:7)~q(z|x)[log 1/7 sum_i p(x,z^(i))/q(z^(i)|x)]")
    assert "\\frac{1}{7} \\sum_{i=1}^{7}" in t.latex and model.objective.k == 7


def test_gan_phases_and_the_non_saturating_game():
    _, f = _formula("gan")
    assert f.objective == "adversarial(ns-gan)"
    assert _phase_text(f, "discriminator") == "-E_data[log D(x)] - E_p(z)[log(1 - D(G(z)))]"
    assert _phase_text(f, "generator") == "-E_p(z)[log D(G(z))]"
    assert "discriminator (updates adversarial)" in f.text
    assert "generator (updates generative, inference)" in f.text
    assert "D = sigmoid(V)" in f.text and "\\mathcal{L}_{\\mathrm{discriminator}}(\\psi)" in f.latex
    _, f = _formula("gan", "adversarial", divergence="gan")
    assert _phase_text(f, "generator") == "E_p(z)[log(1 - D(G(z)))]"  # minimax


@pytest.mark.parametrize("divergence", ["kl", "reverse-kl", "pearson", "hellinger", "js"])
def test_f_gans_in_terms_of_activation_and_conjugate(divergence):
    _, f = _formula("fgan", "adversarial", divergence=divergence)
    div = make_divergence(divergence)
    assert _phase_text(f, "discriminator") == "-E_data[g_f(V(x))] + E_p(z)[f*(g_f(V(G(z))))]"
    assert _phase_text(f, "generator") == "-E_p(z)[g_f(V(G(z)))]"
    assert f"g_f(v) = {div.activation_text}, f*(t) = {div.conjugate_text} ({divergence})" in f.text
    assert div.conjugate_latex in f.latex
    _, f = _formula("fgan", "adversarial", divergence=divergence, divergence_options={"generator": "minimax"})
    assert _phase_text(f, "generator") == "-E_p(z)[f*(g_f(V(G(z))))]"


def test_wasserstein_and_hinge():
    _, f = _formula("wgan-gp")
    assert _phase_text(f, "discriminator") == ("E_p(z)[D(G(z))] - E_data[D(x)] + "
                                               "10 * E_x_hat[(||grad D(x_hat)||_2 - 1)^2]")
    assert "discriminator (updates adversarial; 5 steps per training step)" in f.text
    assert f.terms[0].steps == 5 and _phase_text(f, "generator") == "-E_p(z)[D(G(z))]"
    _, f = _formula("wgan-gp", "adversarial", divergence="wgan-gp", divergence_options={"penalty": 0})
    assert _phase_text(f, "discriminator") == "E_p(z)[D(G(z))] - E_data[D(x)]"
    _, f = _formula("gan", "adversarial", divergence="hinge")
    assert _phase_text(f, "discriminator") == "E_data[max(0, 1 - D(x))] + E_p(z)[max(0, 1 + D(G(z)))]"


def test_bigan_generator_fools_on_both_sides():
    _, f = _formula("bigan")
    assert _phase_text(f, "discriminator") == "-E_data[log D(x,E(x))] - E_p(z)[log(1 - D(G(z),z))]"
    assert _phase_text(f, "generator") == "-E_p(z)[log D(G(z),z)] - E_data[log(1 - D(x,E(x)))]"


def test_infogan_mutual_information_term():
    _, f = _formula("infogan")
    mi = next(t for t in f.terms if t.name == "mutual_information")
    assert mi.text == "-E_p(z,c,s)[log q(c|G(z,c,s)) + log q(s|G(z,c,s))]" and mi.phase == "generator"
    _, f = _formula("infogan", "adversarial", mi_weight=0.5)
    assert "0.5 * (-E_p(z,c,s)[log q(c|G(z,c,s)) + log q(s|G(z,c,s))])" in f.text
    _, f = _formula("infogan", "adversarial", mi_weight=0.0)
    assert "mutual_information" not in f.names


def test_aae_aavae_iwgan_and_domain_adaptation():
    _, f = _formula("aae")
    assert _phase_text(f, "discriminator") == "-E_p(z)[log D(z)] - E_data[log(1 - D(E(x)))]"
    assert _phase_text(f, "generator") == "-log p(x|E(x)) - E_data[log D(E(x))]"
    _, f = _formula("aavae")
    assert f.names == ("discriminator", "reconstruction", "kl", "generator")
    assert f.terms[-1].text == ("E_p(x)[D(x) * (-E_q(z|x)[log p(x|z)] + E_q(z|x)[log q(z|x) - log p(z)])]")
    _, f = _formula("iwgan")
    assert f.terms[-1].text == "-E_z^(1:4)~p(z)[sum_i w_i log D(G(z^(i)))]" and "w_i = r_i / sum_j r_j" in f.text
    _, f = _formula("ada", "adversarial", divergence="ns-gan", warmup=0)
    assert _phase_text(f, "discriminator") == "-E_data[log D(E(x))] - E_data[log(1 - D(E(x_target)))]"
    assert _phase_text(f, "generator") == ("-log p(y|E(x)) - E_data[log D(E(x_target))] "
                                           "- E_data[log(1 - D(E(x)))]")
    # the default: Ganin et al.'s minimax game (gradient reversal) with their schedule of its weight
    model, f = _formula("ada")
    assert f.terms[-1].weight == "lambda_t"
    assert "lambda_t * (E_data[log(1 - D(E(x_target)))] + E_data[log D(E(x))])" in f.text
    assert "lambda_t = 1 * (2 / (1 + exp(-10 t/2000)) - 1)" in f.text and "\\lambda_t\\," in f.latex
    model, f = _formula("ada", "adversarial", adversarial_weight=0.0)  # source only: no game
    assert f.names == ("reconstruction",) and [p.name for p in model.phases] == ["generator"]


def test_several_adversaries_name_their_critics():
    from unidgm.nets import MLP

    g = _build("aae")
    g.adversarial("x", MLP(64, [8], 1))
    model = unidgm.compile(g)
    disc = _phase_text(model.formula(), "discriminator")
    assert disc == ("-E_p(z)[log D_z(z)] - E_data[log(1 - D_z(E(x)))] - E_data[log D_x(x)] "
                    "- E_p(x)[log(1 - D_x(x))]")
    assert "D_{\\psi,z}(z)" in model.formula().latex


@pytest.mark.parametrize("name", DIVERGENCES)
def test_divergences_write_both_losses(name):
    div = make_divergence(name)
    for latex in (False, True):
        real = Side("R", "a", latex)
        fake = Side("F", "b", latex)
        d, g = div.discriminator_formula(real, fake), div.generator_formula(real, fake)
        both = div.generator_formula(real, fake, with_real=True)
        assert ("E_R" in d or "\\mathbb{E}_{R}" in d) and ("E_F" in d or "\\mathbb{E}_{F}" in d)
        assert "R" not in g and both.startswith(g) and len(both) > len(g)  # the real side only on request


def test_formula_arithmetic_and_compatibility():
    t = Term("a", "x", "x", "p", ("generative",))  # the original positional fields still work
    assert t.weight == 1.0 and t.where == "" and t.steps == 1
    assert join_sum(["a", "-b - c", "d"]) == "a - b - c + d"
    assert scaled(2, "a + b") == "2 * (a + b)" and scaled(2, "E[a + b]") == "2 * E[a + b]"
    assert scaled(-1, "E[a]") == "-E[a]" and scaled(0.5, "-a") == "0.5 * (-a)"
    assert scaled(3, "a - b", latex=True) == "3\\,\\left(a - b\\right)"
    f = Formula("obj", (t, Term("b", "-y", "-y", "p", ("generative",), 2.0)))
    assert f.text == "p (updates generative): minimise x + 2 * (-y)"
    assert f._repr_latex_().startswith("$$\\begin{aligned}") and str(f) == f.text
    assert Formula("empty").text == ""
    assert [tex_name(n) for n in ("z", "z1", "y_x", "x_target", "feat")] == \
        ["z", "z_{1}", "y_{x}", "x_{\\mathrm{target}}", "\\mathrm{feat}"]
