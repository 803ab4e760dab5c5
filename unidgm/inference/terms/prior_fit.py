"""The prior's maximum-likelihood fit to the codes q infers from the data (or a visible node's
density edge's fit to the data, as DALL-E's transformer fits the captions).

VQ-VAE's second stage (van den Oord et al. 2017, Sec. 3.2) fits a prior p(z) to the codes
of a trained, frozen encoder by maximum likelihood; the two-stage VAE fits a second model
to the first one's codes the same way. This term is that fit:

    -E_data[ log p(z) ],  z = q(z | x) on the data, held fixed (no gradient reaches q)

per example, averaged over the batch, where p(z) is z's prior (learned, or a generative
edge from other latents, read at their q values). Minimised in a phase of its own
(``prior``) over the prior's parameters (group ``prior_<z>``, or the edge's network).
"""
from __future__ import annotations

import torch

from ...errors import GraphError
from .base import Term


class PriorFit(Term):
    """-log p(z) at q's codes of the data, for a latent ``latent`` with a learned prior.

    Args:
        latent: the latent whose prior is fitted (or a visible node whose density edge is).
        codes: ``"draw"``, q's values on the trace (as training draws them: a Gumbel-softmax
            latent's relaxed draw, whose argmax is a draw of q), or ``"mode"``, q's means (the
            argmax of its logits, Ramesh et al. 2021's codes for the transformer).
        weight, name: see :class:`~unidgm.inference.terms.base.Term`; the name defaults to
            ``prior_fit_<latent>``; the phase is ``prior`` unless ``phase`` says otherwise.
    """

    def __init__(self, latent: str, weight: float = 1.0, phase: str = "prior", name: str | None = None,
                 codes: str = "draw"):
        super().__init__(name or f"prior_fit_{latent}", weight, phase, groups=(f"prior_{latent}",))
        if codes not in ("draw", "mode"):
            raise GraphError(f"term '{self.name}': codes must be 'draw' (q's draw, as training makes it) or 'mode' "
                             f"(q's mean: the nearest code, the argmax of a categorical), got {codes!r}")
        self.latent, self.codes = latent, codes

    def bind(self, model) -> None:
        node = model.graph.nodes.get(self.latent)
        if node is None or node.role == "indicator":
            raise GraphError(f"term '{self.name}': '{self.latent}' is not a node of graph '{model.graph.name}'")
        edge = model.graph.edge_into(self.latent, "generative")
        if node.role == "visible":  # the data's own density, e.g. DALL-E's caption tokens, p(t)
            if edge is None:
                raise GraphError(f"term '{self.name}': visible '{self.latent}' has no generative edge to fit")
            self.groups = tuple(dict.fromkeys(_owners(model, edge)))
            self._model = (model,)
            return
        if edge is not None:
            self.groups = tuple(dict.fromkeys(_owners(model, edge)))
        elif node.prior != "learned":
            raise GraphError(f"term '{self.name}': latent '{self.latent}' has prior={node.prior!r}, which has "
                             f"nothing to fit; declare it with prior='learned' or a generative edge into it")
        if not any(f.child == self.latent for f in model.inference):
            raise GraphError(f"term '{self.name}': latent '{self.latent}' has no inference edge whose codes the "
                             f"prior could fit; add g.inference(<parents>, '{self.latent}', net)")
        self._model = (model,)  # a tuple: the model is not a submodule of its own term

    def forward(self, trace):
        model = self._model[0]
        if self.codes == "mode":  # q's means: DALL-E's argmax codes rather than relaxed draws
            with torch.no_grad():
                values = model.encode(model.read_batch(trace.batch), mean=True)
        else:
            values = {k: v.detach() for k, v in trace.values("inference").items()}
        return -model.log_p(self.latent, values).mean()

    def describe(self, model):
        z = self.latent
        edge = model.graph.edge_into(z, "generative")
        parents = ",".join(edge.parents) if edge is not None else ""
        given, given_latex = (f"|{parents}", rf" \mid {parents}") if parents else ("", "")
        if model.graph.nodes[z].role == "visible":  # the data's own values
            return (f"-E_data[log p({z}{given})]",
                    rf"-\mathbb{{E}}_{{\mathrm{{data}}}}[\log p_\theta({z}{given_latex})]")
        return (f"-E_q({z}|data)[log p({z}{given})]",
                rf"-\mathbb{{E}}_{{q({z} \mid \mathrm{{data}})}}[\log p_\theta({z}{given_latex})]")


def _owners(model, edge) -> list[str]:
    """The parameter groups holding ``edge``'s network: its own, or, for a network shared with
    an earlier edge (DALL-E's one transformer for the caption and the codes), that edge's."""
    mine = {id(p) for p in edge.net.parameters() if p.requires_grad}
    groups = model.parameter_groups()
    owners = [e.key for e in model.graph.edges if mine & {id(p) for p in groups.get(e.key, ())}]
    return owners or [edge.key]
