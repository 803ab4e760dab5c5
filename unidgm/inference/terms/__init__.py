"""Terms: the named scalars an objective sums (DESIGN, "The engine's shape", 3).

The named objectives assemble these from the graph; ``unidgm.compile(graph, objective,
terms=[...])`` adds a user's:

- :class:`Likelihood`: -log p(x | .) of the visible nodes at a source's values (reconstruction);
- :class:`KL`: KL(q(z|.) || p(z|.)) per latent, analytic or Monte Carlo, with a warm-up;
- :class:`ImportanceBound`: the k-sample bound L_k (Burda et al. 2016);
- :class:`Report`: a reported combination of other terms (the ELBO);
- :class:`AuxiliaryLoss`: a loss an edge's network returns beside its value (``unidgm.nets.Output``,
  a quantizer's codebook and commitment losses);
- :class:`PosteriorKL`: KL between two inference processes' posteriors of one latent
  (JMVAE-kl, Suzuki et al. 2016);
- :class:`PriorFit`: a prior's maximum-likelihood fit to q's codes (VQ-VAE's second stage);
- :class:`Perceptual`: a frozen network's feature distance between data and reconstruction
  (VQ-GAN's perceptual loss, on the library's digit classifier);
- :class:`DensityRatioCritic` and its ``estimate()``, :class:`MutualInformation`: a critic's
  density-ratio estimate of a mutual information from a shuffled source;
- :class:`DensityRatio` and its ``divergence()``, :class:`PluginDivergence`: a critic of the
  density ratio of two sources and a divergence between them estimated from it (the Wyner
  model's matching terms, Ryu et al. 2022);
- :class:`Distance`: an L1 or squared-L2 distance between the data and a source's value of a
  node (an implicit model's reconstruction error);
- the adversarial game's and wake-sleep's terms, in :mod:`.adversarial` and :mod:`.wake_sleep`.

An adversary on a reconstruction is an adversarial edge, ``g.adversarial("x", D,
fake="reconstruction")``, compiled by the adversarial objective.
"""
from .adversarial import (AdversarialEdge, CodeLikelihood, Discriminator, DivergenceEstimate, Generator,
                          MeanKL, MeanLikelihood)
from .auxiliary import AuxiliaryLoss
from .base import Report, Term
from .density_ratio import DensityRatio, DensityRatioCritic, MutualInformation, PluginDivergence
from .distance import Distance
from .importance import ImportanceBound
from .kl import KL
from .likelihood import Likelihood
from .perceptual import Perceptual
from .posterior_kl import PosteriorKL
from .prior_fit import PriorFit
from .sum import Terms, TermSum

__all__ = ["AdversarialEdge", "AuxiliaryLoss", "CodeLikelihood", "DensityRatio", "DensityRatioCritic", "Discriminator",
           "Distance", "DivergenceEstimate", "Generator", "ImportanceBound", "KL", "Likelihood", "MeanKL",
           "MeanLikelihood", "MutualInformation", "Perceptual", "PluginDivergence", "PosteriorKL", "PriorFit",
           "Report", "Term", "TermSum", "Terms"]
