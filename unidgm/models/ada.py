"""Adversarial domain adaptation: one feature extractor for two domains, and an adversary
that must not tell the domains apart from the features."""
from __future__ import annotations

from typing import Annotated

from ..graph.graph import Graph
from ..nets import MLP, LeNetFeatures
from .parts import encoder
from .registry import register
from .specs import Divergence, Option, Shape, Size, Sizes, Steps, Weight

#: the feature extractor: Ganin et al.'s LeNet features, or the catalogue's networks
Extractor = Annotated[str, Option(choices=("lenet", "conv", "mlp"))]
#: the features' size for the conv and mlp extractors (None: 128; LeNet's are fixed)
Features = Annotated[int, Option(int, low=1, example=128)]


@register("ada", binarize=None, domain_shift="color")
def ada(x_shape: Shape = (3, 28, 28), num_classes: Size = 10, feature_dim: Features | None = None,
        hidden: Sizes = (100, 100), net: Extractor = "lenet", adversarial_weight: Weight = 1.0,
        divergence: Divergence = "gan", warmup: Steps = 2000) -> Graph:
    """Domain-adversarial training (Ganin et al. 2016, Eq. 13-14), in Hu et al. (2018,
    Sec. 3.1)'s schematic form: features f = F(x) (a deterministic inference edge) of source
    images x and of target images (the same edge run on ``x_target``), a label classifier
    p(y | f) trained on the source, and an adversary q(y_f | f) telling source features
    (real) from target features (fake) that F learns to fool. ``adversarial_weight=0`` is
    the source-only baseline with the same networks (``unidgm train ada --source-only``).

    Defaults are Ganin et al.'s MNIST -> MNIST-M setting: their convolutional features
    (``net="lenet"``; ``"conv"`` or ``"mlp"`` with ``feature_dim`` features also work), a
    100-100 label predictor and a 100-unit domain classifier, the minimax game
    (``divergence="gan"``: F ascends exactly the loss D descends, their gradient reversal
    layer) and the adversary's weight ramped up over ``warmup`` steps on their schedule.
    The target domain defaults to coloured digits (``domain_shift="color"``)."""
    if net == "lenet":
        extractor = LeNetFeatures(tuple(x_shape))
        feature_dim = extractor.out_features
    else:
        feature_dim = feature_dim or 128
        extractor = encoder(x_shape, feature_dim, net, (256,))
    g = Graph("ada")
    g.visible("x", "normal", shape=x_shape, given=True)          # an image of either domain
    g.visible("y", "categorical", shape=(num_classes,))          # its label (source only)
    g.latent("f", "delta", shape=(feature_dim,))
    g.inference("x", "f", extractor, deterministic=True)                                   # f = F(x)
    g.generative("f", "y", MLP(feature_dim, list(hidden), num_classes))                    # p(y|f)
    g.adversarial("f", MLP(feature_dim, list(hidden[:1]), 1), real="inference", fake="inference",
                  fake_inputs={"x": "x_target"})                                           # source vs target
    return g.set_objective("adversarial", adversarial_weight=adversarial_weight, divergence=divergence,
                           warmup=warmup)
