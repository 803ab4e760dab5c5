"""The prior's maximum-likelihood fit to the codes q infers from the data.

VQ-VAE's second stage (van den Oord et al. 2017, Sec. 3.2) fits a prior p(z) to the codes
of a trained, frozen encoder by maximum likelihood; the two-stage VAE fits a second model
to the first one's codes the same way. This term is that fit:

    -E_data[ log p(z) ],  z = q(z | x) on the data, held fixed (no gradient reaches q)

per example, averaged over the batch, where p(z) is z's prior (learned, or a generative
edge from other latents, read at their q values). Minimised in a phase of its own
(``prior``) over the prior's parameters (group ``prior_<z>``, or the edge's network).
"""
from __future__ import annotations

from ...errors import GraphError
from .base import Term


class PriorFit(Term):
    """-log p(z) at q's codes of the data, for a latent ``latent`` with a learned prior.

    Args:
        latent: the latent whose prior is fitted.
        weight, name: see :class:`~unidgm.inference.terms.base.Term`; the name defaults to
            ``prior_fit_<latent>``; the phase is ``prior`` unless ``phase`` says otherwise.
    """

    def __init__(self, latent: str, weight: float = 1.0, phase: str = "prior", name: str | None = None):
        super().__init__(name or f"prior_fit_{latent}", weight, phase, groups=(f"prior_{latent}",))
        self.latent = latent

    def bind(self, model) -> None:
        node = model.graph.nodes.get(self.latent)
        if node is None or node.role != "latent":
            raise GraphError(f"term '{self.name}': '{self.latent}' is not a latent of graph '{model.graph.name}'")
        edge = model.graph.edge_into(self.latent, "generative")
        if edge is not None:
            self.groups = (edge.key,)
        elif node.prior != "learned":
            raise GraphError(f"term '{self.name}': latent '{self.latent}' has prior={node.prior!r}, which has "
                             f"nothing to fit; declare it with prior='learned' or a generative edge into it")
        if not any(f.child == self.latent for f in model.inference):
            raise GraphError(f"term '{self.name}': latent '{self.latent}' has no inference edge whose codes the "
                             f"prior could fit; add g.inference(<parents>, '{self.latent}', net)")
        self._model = (model,)  # a tuple: the model is not a submodule of its own term

    def forward(self, trace):
        values = {k: v.detach() for k, v in trace.values("inference").items()}
        return -self._model[0].log_p(self.latent, values).mean()

    def describe(self, model):
        z = self.latent
        edge = model.graph.edge_into(z, "generative")
        parents = ",".join(edge.parents) if edge is not None else ""
        given, given_latex = (f"|{parents}", rf" \mid {parents}") if parents else ("", "")
        return (f"-E_q({z}|data)[log p({z}{given})]",
                rf"-\mathbb{{E}}_{{q({z} \mid \mathrm{{data}})}}[\log p_\theta({z}{given_latex})]")
