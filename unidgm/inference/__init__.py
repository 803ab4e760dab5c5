"""Compilers from a graph to objectives and to a Pyro model/guide."""
from .compile import OBJECTIVES, compile
from .compiled import CompiledModel
from .elbo import ELBO
from .iwae import IWAE
from .objective import Objective, Phase

__all__ = ["OBJECTIVES", "compile", "CompiledModel", "ELBO", "IWAE", "Objective", "Phase"]
