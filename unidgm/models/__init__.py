"""The catalogue: one short file per model family, each a function returning a Graph."""
from . import (aae, aavae, ada, ae, bigan, cvae, dvae, gan, helmholtz, hvae, infogan, iwgan,  # noqa: F401
               ssvae, vae, vqgan, vqvae, wyner)  # (importing registers the models)
from . import dalle  # noqa: F401  (after dvae and vqvae, whose parts it reads)
from .registry import build, catalogue, data_defaults, option_specs, options, register

__all__ = ["build", "catalogue", "data_defaults", "option_specs", "options", "register"]
