"""Small building blocks for edges' networks."""
from .conv import ConvDecoder, ConvEncoder, LeNetFeatures
from .mlp import MLP
from .output import Output
from .pixelcnn import GatedPixelCNN
from .quantizer import CodeEmbedding, CodeIndices, VectorQuantizer
from .transformer import CausalTransformer

__all__ = ["MLP", "Output", "ConvEncoder", "ConvDecoder", "LeNetFeatures", "VectorQuantizer", "CausalTransformer",
           "GatedPixelCNN", "CodeEmbedding", "CodeIndices"]
