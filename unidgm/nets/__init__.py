"""Small building blocks for edges' networks."""
from .conv import ConvDecoder, ConvEncoder, LeNetFeatures
from .mlp import MLP
from .output import Output

__all__ = ["MLP", "Output", "ConvEncoder", "ConvDecoder", "LeNetFeatures"]
