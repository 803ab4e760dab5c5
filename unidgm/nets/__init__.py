"""Small building blocks for edges' networks."""
from .conv import ConvDecoder, ConvEncoder, LeNetFeatures
from .mlp import MLP
from .output import Output
from .quantizer import VectorQuantizer

__all__ = ["MLP", "Output", "ConvEncoder", "ConvDecoder", "LeNetFeatures", "VectorQuantizer"]
