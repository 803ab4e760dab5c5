"""Terms: the named scalars an objective sums (DESIGN, "The engine's shape", 3).

``unidgm.compile(graph, objective, terms=[...])`` adds these to an objective's own terms:

- :class:`PosteriorKL`: KL between two inference processes' posteriors of one latent
  (JMVAE-kl, Suzuki et al. 2016);
- :class:`PriorFit`: a prior's maximum-likelihood fit to q's codes (VQ-VAE's second stage);
- :class:`DensityRatioCritic` and its ``estimate()``, :class:`MutualInformation`: a critic's
  density-ratio estimate of a mutual information from a shuffled source.

An adversary on a reconstruction is an adversarial edge, ``g.adversarial("x", D,
fake="reconstruction")``, compiled by the adversarial objective.
"""
from .base import Term
from .density_ratio import DensityRatioCritic, MutualInformation
from .posterior_kl import PosteriorKL
from .prior_fit import PriorFit
from .sum import TermSum

__all__ = ["DensityRatioCritic", "MutualInformation", "PosteriorKL", "PriorFit", "Term", "TermSum"]
