"""Small building blocks for edges' networks."""
from .conv import ConvDecoder, ConvEncoder, LeNetFeatures
from .mlp import MLP

__all__ = ["MLP", "ConvEncoder", "ConvDecoder", "LeNetFeatures"]
