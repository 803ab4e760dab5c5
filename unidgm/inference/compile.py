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
from .rws import RWS
from .wake_sleep import WakeSleep

#: objective name -> class; new objective families register here
OBJECTIVES = {"elbo": ELBO, "iwae": IWAE, "adversarial": Adversarial, "wake-sleep": WakeSleep, "rws": RWS}
#: ``estimators=``: latent -> estimator (a name, a dict of a name and options, an object)
_ESTIMATORS = Option(dict, help="latent -> estimator", example={"z": "score-baseline"})


def compile(graph: Graph, objective: str | None = None, *, terms=None, **options) -> CompiledModel:  # noqa: A001
    """Compiles ``graph`` with an objective into a :class:`CompiledModel`.

    Args:
        graph: the schematic graph; validated here.
        objective: an objective name (``"elbo"``, ``"iwae"``, ``"adversarial"``, ``"wake-sleep"``, ``"rws"``);
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
            those terms alone.
    """
    if not isinstance(graph, Graph):
        raise ConfigError(f"compile needs a unidgm.Graph, got {type(graph).__name__}")
    spec = dict(graph.objective)
    if terms is not None:
        from .terms import Term, TermSum

        terms = list(terms)
        for t in terms:
            if not isinstance(t, Term):
                raise ConfigError(f"terms=: {t!r} is not a unidgm term; build terms from unidgm.inference.terms, "
                                  f"e.g. PosteriorKL('z', 'q', 'q_x')")
        if objective is None and not spec and not options:
            return CompiledModel(graph, TermSum(None, terms))
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
    return CompiledModel(graph, base, estimators=estimators)
