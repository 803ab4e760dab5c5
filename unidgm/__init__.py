"""unidgm: deep generative models declared as schematic graphical models.

Hu, Yang, Salakhutdinov & Xing, "On Unifying Deep Generative Models", ICLR 2018: every
model is a graph of visible and latent variables joined by generative, inference,
deterministic and adversarial processes; one engine compiles it into objectives, a Pyro
model/guide pair, a training loop and a diagram.
"""
from .errors import CheckpointError, ConfigError, DataError, GraphError, TrainingError, UnidgmError
from .graph import Graph
from .inference import compile
from .transforms import activate_adversary, importance_weight, swap_processes, swap_roles
from .viz.diagram import render

__version__ = "0.1.0"

__all__ = ["Graph", "compile", "render", "swap_processes", "swap_roles", "activate_adversary", "importance_weight",
           "UnidgmError", "GraphError", "DataError", "ConfigError", "CheckpointError",
           "TrainingError", "__version__"]
