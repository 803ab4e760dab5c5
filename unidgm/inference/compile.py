"""``unidgm.compile``: a graph and an objective name in, a trainable module out."""
from __future__ import annotations

import inspect

from ..errors import ConfigError
from ..graph.graph import Graph
from .adversarial import Adversarial
from .compiled import CompiledModel
from .elbo import ELBO
from .iwae import IWAE
from ..options import Option, check_value
from ..stages import checked_stages
from .rws import RWS
from .terms.sum import Terms
from .wake_sleep import WakeSleep

#: objective name -> class; new objective families register here ("terms": the terms alone)
OBJECTIVES = {"elbo": ELBO, "iwae": IWAE, "adversarial": Adversarial, "wake-sleep": WakeSleep, "rws": RWS,
              "terms": Terms}
#: ``estimators=``: latent -> estimator (a name, a dict of a name and options, an object)
_ESTIMATORS = Option(dict, help="latent -> estimator", example={"z": "score-baseline"})


def compile(graph: Graph, objective: str | None = None, *, terms=None, stages=None,  # noqa: A001
            **options) -> CompiledModel:
    """Compiles ``graph`` with an objective into a :class:`CompiledModel`.

    Args:
        graph: the schematic graph; validated here.
        objective: an objective name (``"elbo"``, ``"iwae"``, ``"adversarial"``, ``"wake-sleep"``, ``"rws"``,
            ``"terms"``: the terms alone, see :class:`~unidgm.inference.terms.Terms`);
            None uses the graph's own (``graph.set_objective``), else the ELBO.
        **options: the objective's options (``kl_weight``, ``warmup``, ``kl`` for the ELBO;
            ``k`` for IWAE; ``k``, ``insomnia`` for RWS); with no objective named, they update the
            graph's own. ``estimators={latent: choice}`` overrides latents' gradient estimators
            (see :mod:`unidgm.inference.estimators`) whatever the objective. Each value is
            checked against the option's declared spec (its kind and range; see
            :class:`~unidgm.options.Option`), and a bad one raises ConfigError.
        terms: a list of :class:`~unidgm.inference.terms.Term` added to the objective's
            (each joins its phase's loss with its weight, see :mod:`unidgm.inference.terms`).
            With ``terms`` and no objective named on a graph that sets none, the objective is
            those terms alone. A graph's own terms (``g.set_objective("elbo", terms=[...])``)
            come first, the call's after them; naming another objective drops the graph's.
        stages: the model's training recipe, a list of ``{"phases": [...], "share": s}`` (or
            ``"epochs"``/``"max_steps"``), which the Trainer runs where its config gives no
            ``stages`` (see :class:`~unidgm.train.TrainConfig`); a graph's own
            (``g.set_objective(..., stages=[...])``) apply unless the call gives some.
    """
    if not isinstance(graph, Graph):
        raise ConfigError(f"compile needs a unidgm.Graph, got {type(graph).__name__}")
    spec = dict(graph.objective)
    own_terms, own_stages = spec.pop("terms", None), spec.pop("stages", None)
    if objective is not None and objective != spec.get("name", objective):
        own_terms = own_stages = None  # the graph's recipe belongs to its own objective
    if own_terms:
        terms = list(own_terms) + list(terms or ())
    stages = stages if stages is not None else own_stages
    if terms is not None:
        from .terms import Term, TermSum

        terms = list(terms)
        for t in terms:
            if not isinstance(t, Term):
                raise ConfigError(f"terms=: {t!r} is not a unidgm term; build terms from unidgm.inference.terms, "
                                  f"e.g. PosteriorKL('z', 'q', 'q_x')")
        if objective is None and not spec and not options:
            return _with_stages(CompiledModel(graph, TermSum(None, terms)), stages)
    # With no objective named, the graph's structure picks one: its adversaries need the game.
    name = spec.pop("name", "adversarial" if graph.edges_of("adversarial") else "elbo")
    if objective is not None and objective != name:
        name, spec = objective, {}
    spec.update(options)
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    cls = OBJECTIVES[name]
    estimators = check_value(name, "estimators", _ESTIMATORS, spec.pop("estimators", None), nullable=True)
    accepted = set(inspect.signature(cls).parameters)
    unknown = set(spec) - accepted
    if unknown:
        raise ConfigError(f"objective {name!r} has no option {', '.join(sorted(unknown))}; "
                          f"its options are {', '.join(sorted(accepted)) or 'none'}")
    base = cls(**spec)
    if terms is not None:
        from .terms import TermSum

        base = TermSum(base, terms)
    return _with_stages(CompiledModel(graph, base, estimators=estimators), stages)


def _with_stages(model: CompiledModel, stages) -> CompiledModel:
    """The model with its training recipe, each stage's phases checked against the model's."""
    if stages is None:
        return model
    stages = checked_stages(stages, "compile: option")
    names = [p.name for p in model.phases]
    for i, stage in enumerate(stages):
        unknown = [n for n in stage["phases"] if n not in names]
        if unknown:
            raise ConfigError(f"stages[{i}] names phase(s) {unknown}, which graph '{model.graph.name}' compiled "
                              f"with {model.objective.name!r} lacks; its phases are {names}")
    model.stages = stages
    return model
