"""The catalogue: one short file per model family, each a function returning a Graph."""
from . import ae, cvae, hvae, vae  # noqa: F401  (registers the models)
from .registry import build, catalogue, options, register

__all__ = ["build", "catalogue", "options", "register"]
