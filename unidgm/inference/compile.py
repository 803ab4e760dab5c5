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


def compile(graph: Graph, objective: str | None = None, **options) -> CompiledModel:  # noqa: A001
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
            :class:`~unidgm.inference.objective.Option`), and a bad one raises ConfigError.
    """
    if not isinstance(graph, Graph):
        raise ConfigError(f"compile needs a unidgm.Graph, got {type(graph).__name__}")
    spec = dict(graph.objective)
    name = spec.pop("name", "elbo")
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
    return CompiledModel(graph, cls(**spec), estimators=estimators)
