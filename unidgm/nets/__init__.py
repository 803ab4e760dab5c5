"""Small building blocks for edges' networks."""
from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP

__all__ = ["MLP", "ConvEncoder", "ConvDecoder"]
