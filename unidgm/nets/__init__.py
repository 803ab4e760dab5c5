"""Small building blocks for edges' networks."""
from .captioned import CaptionTransformer, ImageDensity, TextDensity
from .conv import ConvDecoder, ConvEncoder, LeNetFeatures
from .mlp import MLP
from .onehot import ArgmaxIndices, OneHot
from .output import Output
from .patchgan import PatchDiscriminator
from .pixelcnn import GatedPixelCNN
from .quantizer import CodeEmbedding, CodeIndices, Quantized, VectorQuantizer
from .residual import DownsamplingEncoder, ResidualStack, UpsamplingDecoder
from .transformer import CausalTransformer

__all__ = ["MLP", "Output", "ConvEncoder", "ConvDecoder", "LeNetFeatures", "VectorQuantizer", "CausalTransformer",
           "GatedPixelCNN", "CodeEmbedding", "CodeIndices", "Quantized", "DownsamplingEncoder", "UpsamplingDecoder",
           "ResidualStack", "ArgmaxIndices", "OneHot", "PatchDiscriminator",
           "CaptionTransformer", "ImageDensity", "TextDensity"]
