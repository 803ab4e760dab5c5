"""The two kinds of element of a schematic graph: nodes (variables) and edges (processes).

Hu et al. (2018), Sec. 2 and Fig. 1: variables are visible (data), latent, or indicators
(the y of an adversarial mechanism); processes are generative p_theta, inference q_phi,
deterministic (an implicit distribution, drawn with a hollow arrowhead) or adversarial
q_psi(y | v). One edge object is one conditional distribution: it may have several parents,
and networkx holds it as one arc per parent that share the same ``Edge``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn

ROLES = ("visible", "latent", "indicator")
KINDS = ("generative", "inference", "adversarial")
PRIORS = ("standard", "learned")
#: where an adversarial edge's compared values come from: the batch, the generative
#: process (ancestral sampling from the priors), the inference process (q run on the batch)
#: or a reconstruction (q on the batch, then the means of p's visible nodes: VQ-GAN's
#: adversary judges these, Esser et al. 2021, Eq. 5)
SOURCES = ("data", "generative", "inference", "reconstruction")
COMBINES = ("concat", "dict")
#: the process an edge of each kind belongs to unless it names another (DESIGN, "Processes")
DEFAULT_PROCESS = {"generative": "p", "inference": "q", "adversarial": "adversarial"}


@dataclass(frozen=True)
class Node:
    """A variable of the graph.

    Attributes:
        name: the variable's name; Pyro sample sites and batch keys use it.
        role: ``"visible"``, ``"latent"`` or ``"indicator"``.
        family: distribution family name (see :mod:`unidgm.graph.families`).
        shape: event shape of one example's value.
        prior: for a latent without generative parents: ``"standard"`` (fixed), ``"learned"``
            (trainable parameters of the family), or None.
        given: a visible node the model conditions on without explaining it (a label fed to
            a conditional VAE's networks); it has no likelihood.
        options: family options, e.g. ``temperature`` of a relaxed categorical.
        partially_observed: a categorical latent whose value the batch carries for some
            examples (a label known for a few images): observed where the batch gives it,
            summed over its classes under q where it does not (Kingma et al. 2014's M2).
    """

    name: str
    role: str
    family: str
    shape: tuple[int, ...]
    prior: str | None = None
    given: bool = False
    options: dict = field(default_factory=dict)
    partially_observed: bool = False

    @property
    def size(self) -> int:
        """Number of scalars in one value (the flattened event size)."""
        return math.prod(self.shape)

    @property
    def event_dims(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, eq=False)
class Edge:
    """A process ``child ~ kind(child | parents)`` computed by ``net``.

    Attributes:
        kind: ``"generative"`` (p_theta), ``"inference"`` (q_phi) or ``"adversarial"``
            (q_psi(y | parents), where ``child`` is the indicator y).
        parents: the variables the network reads, in order.
        child: the variable the process explains.
        net: any ``torch.nn.Module``; its output is read by the child's family.
        deterministic: the child *is* the network's output (an implicit distribution, Hu et
            al.'s hollow arrowhead), not a sample from a family parameterised by it.
        combine: several parents are flattened and concatenated (``"concat"``) or passed to
            the network as one dict keyed by parent name (``"dict"``).
        real, fake: for an adversarial edge, the processes whose values of ``parents`` the
            discriminator tells apart (one of ``SOURCES``); y = 1 marks ``real``.
        real_inputs, fake_inputs: batch keys that stand in for visible nodes when that side
            is computed, e.g. ``{"x": "x_target"}`` runs the inference process on the target
            domain's images (adversarial domain adaptation).
        process: the named process the edge belongs to: ``"p"`` for generative edges and
            ``"q"`` for inference edges unless the user names another (``"q_x"``: a second
            encoder of the same latent, as the JMVAE's and the Wyner model's q(z|x)).
        label: the name the user gave the edge, if any; its network is stored under it.
        density: the network gives the child's density and draws it itself
            (``net.log_prob(value, condition)`` and ``net.sample(n, shape, condition)``): an
            autoregressive prior such as a PixelCNN or a transformer over a grid of codes.
    """

    kind: str
    parents: tuple[str, ...]
    child: str
    net: nn.Module
    deterministic: bool = False
    combine: str = "concat"
    real: str | None = None
    fake: str | None = None
    real_inputs: tuple[tuple[str, str], ...] = ()
    fake_inputs: tuple[tuple[str, str], ...] = ()
    process: str = ""
    label: str | None = None
    density: bool = False

    def __post_init__(self):
        if not self.process:
            object.__setattr__(self, "process", DEFAULT_PROCESS[self.kind])

    @property
    def default_process(self) -> bool:
        """Whether the edge is in its kind's default process (``p``, ``q``)."""
        return self.process == DEFAULT_PROCESS[self.kind]

    @property
    def name(self) -> str:
        """The edge in the paper's notation, e.g. ``p(x|z)``, ``q(z|x)``, ``q(y|x)``; an edge
        of another process takes that process's name as its letter, ``q_x(z|x)``."""
        letter = "p" if self.kind == "generative" else "q"
        if self.kind != "adversarial" and not self.default_process:
            letter = self.process
        return f"{letter}({self.child}|{','.join(self.parents)})"

    @property
    def key(self) -> str:
        """The module name of the edge's network: the user's ``name=``, else ``generative_x``
        (``inference_q_x_z`` for an edge of the process ``q_x``)."""
        if self.label is not None:
            return self.label
        if self.default_process:
            return f"{self.kind}_{self.child}"
        return f"{self.kind}_{self.process}_{self.child}"

    def __repr__(self) -> str:
        flag = ", deterministic" if self.deterministic else ""
        return f"Edge({self.kind}: {self.name}{flag})"
