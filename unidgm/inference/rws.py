"""Reweighted wake-sleep (Bornschein & Bengio 2015) compiled from a graph's generative and
inference edges.

With K draws h_1..h_K ~ q_phi(h | x) held fixed and importance weights
w_k = p_theta(x, h_k) / q_phi(h_k | x), normalised to wbar_k = w_k / sum_j w_j
(Bornschein & Bengio 2015, Algorithm 1; the names are Le et al. 2019's):

- **wake-theta**: minimise ``-log (1/K) sum_k w_k`` with q held fixed, the negative
  importance-weighted bound of Burda et al. (2016, Eq. 8), whose theta-gradient is
  ``-sum_k wbar_k grad_theta log p(x, h_k)``: a self-normalised importance-sampling
  estimate of the gradient of -log p(x), biased for finite K and consistent as K grows;
- **wake-phi**: minimise ``-sum_k wbar_k log q_phi(h_k | x)`` (wbar held fixed): the same
  importance sampler's estimate of the gradient of KL(p(h | x) || q(h | x)) on the data
  (B&B's "wake-phase q update");
- **sleep-phi**: minimise ``-log q_phi(h | x)`` on dreams (h, x) ~ p_theta (B&B's
  "sleep-phase q update", wake-sleep's sleep phase; Hinton et al. 1995).

q's update is ``insomnia * wake-phi + (1 - insomnia) * sleep-phi``, Pyro's parameterisation
(``pyro.infer.ReweightedWakeSleep``). The default, ``insomnia=0.5``, is Bornschein &
Bengio's: their MNIST experiments (the authors' reweighted-ws code) apply the wake-phase and
the sleep-phase q updates together at the same learning rate. ``insomnia=1`` is wake-phi
alone, which Le et al. (2019) recommend and Pyro defaults to; ``insomnia=0`` is
sleep-phi alone. With K = 1 and ``insomnia=0`` the updates are wake-sleep's.

One phase, ``rws`` (groups ``generative`` and ``inference``), minimises
``wake_theta + insomnia * wake_phi + (1 - insomnia) * sleep_phi`` in one pass over one set
of draws, as Pyro's ``loss_and_grads`` does: no gradient passes through a sample, q's
log-densities are held fixed in w and the weights in wake-phi, so wake-theta's gradient
reaches only theta and the phi terms' only phi. On the same draws, each term equals Pyro's
(which sums over the batch where these average; Pyro weights the whole batch as one
example, so the two agree per example, at batch size 1).

Terms: ``loss``, ``wake_theta``, ``wake_phi`` (unless insomnia = 0), ``sleep_phi``
(unless insomnia = 1), ``iwae`` (the K-sample bound, -wake_theta; the Trainer monitors
it) and ``elbo`` (the mean single-sample bound over the K draws). Cost per step: K passes
of q's and p's networks and, with sleep-phi, one dream per example.

References:
    Bornschein & Bengio (2015), "Reweighted wake-sleep", ICLR.
    Le, Kosiorek, Siddharth, Teh & Wood (2019), "Revisiting reweighted wake-sleep for
    models with stochastic control flow", UAI.
    Burda, Grosse & Salakhutdinov (2016), "Importance weighted autoencoders", ICLR.
"""
from __future__ import annotations

from typing import Annotated

from ..errors import ConfigError
from .iwae import Particles
from ..options import Option, checks_options
from .objective import Phase
from .terms.wake_sleep import ReweightedWake, ReweightedWakePhi, Sleep
from .wake_sleep import WakeSleep

#: q's mix of wake-phi (1) and sleep-phi (0)
Insomnia = Annotated[float, Option(float, low=0, high=1)]


class RWS(WakeSleep):
    """Reweighted wake-sleep with ``k`` particles.

    Args:
        k: importance samples per example (Bornschein & Bengio 2015 train with 5).
        insomnia: q's update is ``insomnia * wake-phi + (1 - insomnia) * sleep-phi``, in
            [0, 1]; 0.5 (both, equally) is Bornschein & Bengio's, 1 (wake-phi) Le et al.'s.
    """

    name = "rws"
    monitor = "iwae"

    @checks_options
    def __init__(self, k: Particles = 5, insomnia: Insomnia = 0.5):
        super().__init__()
        if k == 1 and insomnia > 0:
            raise ConfigError(f"rws: wake-phi with k=1 weighs its one draw by 1, so its expected gradient is zero; "
                              f"use k >= 2, or insomnia=0 (sleep-phi alone), got k=1 and insomnia={insomnia}")
        self.k = int(k)
        self.insomnia = float(insomnia)
        self.phases = [Phase("rws", ("generative", "inference"), "loss")]

    def assemble(self, model) -> list:
        self.check(model)
        terms = [ReweightedWake(self.k)]
        if self.insomnia > 0:
            terms.append(ReweightedWakePhi(self.k, weight=self.insomnia))
        if self.insomnia < 1:
            terms.append(Sleep("sleep_phi", 1 - self.insomnia, phase=None))
        return terms

    def __repr__(self):
        return f"rws(k={self.k}, insomnia={self.insomnia:g})"
