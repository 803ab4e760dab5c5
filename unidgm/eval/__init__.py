"""Metrics and pictures of trained models."""
from .code_pictures import write_code_usage, write_resampled
from .codes import code_metrics
from .likelihood import elbo, log_likelihood
from .pictures import write_analogies, write_codes, write_reconstructions, write_samples, write_traversal

__all__ = ["code_metrics", "elbo", "log_likelihood", "write_analogies", "write_code_usage", "write_codes",
           "write_reconstructions", "write_resampled", "write_samples", "write_traversal"]
