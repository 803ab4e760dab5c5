"""Every option value is checked (issue 12): each catalogue model's options through
``build`` and each objective's through ``unidgm.compile`` refuse a value of the wrong kind
or out of range with one line of UnidgmError naming the owner, the option, the value and
a good example, never with an error from torch deep inside."""
import functools
import inspect

import pytest

import unidgm
from unidgm.cli import main
from unidgm.inference.compile import OBJECTIVES
from unidgm.inference.divergences import make_divergence
from unidgm.inference.estimators import Gumbel, ScoreFunction
from unidgm.options import Option, option_specs
from unidgm.models import build, catalogue, options
from unidgm.models import option_specs as model_specs

#: (model, option, case) -> why that "bad" value is in fact a good one; the fuzz test then
#: requires the model to build with it instead of refusing it
VALID = {
    ("helmholtz", "hidden", "empty"): "hidden=() is the plain sigmoid belief net: logistic layers with no "
                                      "deterministic hidden layer inside each conditional (Dayan et al. 1995)",
}


def _bad_values(spec: Option):
    """(case, value): (a) the wrong kind, (b) a negative size, (c) an empty tuple, (d) a
    bool where a number or a tuple is meant (or an int where a bool is)."""
    return [("wrong-kind", 3 if spec.kind is str else "abc"),
            ("negative", (-1,) if spec.kind is tuple else -1),
            ("empty", ()),
            ("bool", 1 if spec.kind is bool else True)]


def _cases():
    for name in catalogue():
        specs = model_specs(name)
        for option in options(name):
            for case, value in _bad_values(specs[option]):
                yield pytest.param(name, option, case, value, id=f"{name}-{option}-{case}")


def _one_line(message: str, *parts):
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)


def test_every_option_declares_its_spec():
    for name in catalogue():
        assert set(model_specs(name)) == set(options(name)), name


@pytest.mark.parametrize("name", catalogue())
def test_defaults_pass_their_specs_and_build(name):
    specs = model_specs(name)
    for option, default in options(name).items():
        assert default is None or specs[option].accepts(default), (name, option, default)
    assert isinstance(build(name), unidgm.Graph)


@pytest.mark.parametrize("name, option, case, value", list(_cases()))
def test_a_bad_model_option_is_refused(name, option, case, value):
    why = VALID.get((name, option, case))
    if why is not None:  # documented in VALID: the value is accepted, and the model builds
        assert isinstance(build(name, **{option: value}), unidgm.Graph), why
        return
    with pytest.raises(unidgm.UnidgmError) as info:
        build(name, **{option: value})
    assert isinstance(info.value, unidgm.ConfigError)
    _one_line(str(info.value), f"model {name!r}", f"{option} ", f"got {value!r}", f"e.g. {option}=")


def test_good_values_in_other_spellings_are_taken():
    g = build("vae", x_shape=[4], hidden=[8, 6], latent_dim=2)  # JSON writes tuples as lists
    assert g.nodes["x"].shape == (4,)
    assert unidgm.compile(g, kl_weight=2).objective.kl_weight == 2.0  # an int where a number is meant
    build("ada", x_shape=(3, 28, 28), net="mlp", feature_dim=None, hidden=(8,))  # None where None is the default
    build("infogan", x_shape=(4,), net="mlp", hidden=(8,), divergence=None)
    build("infogan", x_shape=(4,), net="mlp", hidden=(8,), continuous=0)  # no continuous code


def test_the_wrapped_function_checks_direct_calls_too():
    from unidgm.models.vae import vae

    with pytest.raises(unidgm.ConfigError, match=r"model 'vae': latent_dim must be a positive int, got 0"):
        vae(latent_dim=0)


# ---------------------------------------------------------------- objectives
D = 4  # tiny models: the options are refused before any network runs


@functools.cache
def _graph(objective):
    if objective in ("elbo", "iwae"):
        return build("vae", x_shape=(D,), latent_dim=2, hidden=(8,))
    if objective == "adversarial":
        return build("gan", x_shape=(D,), latent_dim=2, hidden=(8,))
    return build("helmholtz", x_shape=(D,), latent_dims=(3,))


def _objective_cases():
    dict_spec = Option(dict)
    for objective, cls in OBJECTIVES.items():
        specs = option_specs(cls.__init__, derive=False)
        assert set(specs) == set(inspect.signature(cls).parameters), objective  # every option declares its spec
        for option, spec in [*specs.items(), ("estimators", dict_spec)]:
            for case, value in _bad_values(spec):
                yield pytest.param(objective, option, value, id=f"{objective}-{option}-{case}")


@pytest.mark.parametrize("objective, option, value", list(_objective_cases()))
def test_a_bad_objective_option_is_refused(objective, option, value):
    with pytest.raises(unidgm.UnidgmError) as info:
        unidgm.compile(_graph(objective), objective, **{option: value})
    assert isinstance(info.value, unidgm.ConfigError)
    _one_line(str(info.value), f"{objective}: {option}", f"got {value!r}", f"e.g. {option}=")


def test_every_objective_builds_with_its_defaults():
    for objective, cls in OBJECTIVES.items():
        assert unidgm.compile(_graph(objective), objective).objective.name == objective


#: (estimator option, case) -> why that "bad" value is a good one (then it must compile)
VALID_ESTIMATOR = {
    ("hidden", "empty"): "hidden=() makes the learned baseline linear in the parents, as Mnih & Gregor's "
                         "simplest input-dependent baseline",
}


@pytest.mark.parametrize("estimator, cls", [("gumbel", Gumbel), ("score", ScoreFunction),
                                            ("score-baseline", ScoreFunction)])
def test_a_bad_estimator_option_is_refused(estimator, cls):
    for option, spec in option_specs(cls.__init__, derive=False).items():
        for case, value in _bad_values(spec):
            estimators = {"h1": {"name": estimator, option: value}}
            if (option, case) in VALID_ESTIMATOR:  # documented above: accepted
                unidgm.compile(_graph("rws"), "rws", estimators=estimators)
                continue
            with pytest.raises(unidgm.UnidgmError) as info:  # a node option's error: GraphError, as the rest
                unidgm.compile(_graph("rws"), "rws", estimators=estimators)
            _one_line(str(info.value), "latent 'h1'", f"{option} ", f"got {value!r}")


@pytest.mark.parametrize("divergence, option", [("wgan-gp", "penalty"), ("kl", "generator")])
def test_a_bad_divergence_option_is_refused(divergence, option):
    spec = option_specs(type(make_divergence(divergence)).__init__, derive=False)[option]
    for _, value in _bad_values(spec):
        with pytest.raises(unidgm.ConfigError) as info:
            unidgm.compile(_graph("adversarial"), divergence=divergence, divergence_options={option: value})
        _one_line(str(info.value), f"{divergence}: {option}", f"got {value!r}")


def test_objective_options_set_by_a_model_are_checked_at_build():
    with pytest.raises(unidgm.ConfigError, match=r"model 'beta-vae': beta must be >= 0"):
        build("beta-vae", beta=-1.0)
    with pytest.raises(unidgm.ConfigError, match=r"model 'wgan-gp': penalty must be >= 0 .*, got inf"):
        build("wgan-gp", penalty=float("inf"))


# ---------------------------------------------------------------- the command line
def test_cli_refuses_a_bad_set_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["train", "vae", "--set", "hidden=abc", "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    _one_line(err[0], "unidgm: error: model 'vae': hidden", "'abc'", "e.g. hidden=(400,)")
    assert not out.exists()


def test_a_combination_the_specs_cannot_see_is_refused_too():
    with pytest.raises(unidgm.ConfigError, match=r"model 'hvae': hidden\[-1\] must be >= 2"):
        build("hvae", hidden=(1,))  # the networks between z1 and z2 would have no units
