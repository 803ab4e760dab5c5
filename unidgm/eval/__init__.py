"""Metrics and pictures of trained models."""
from .likelihood import elbo, log_likelihood
from .pictures import write_analogies, write_codes, write_reconstructions, write_samples, write_traversal

__all__ = ["elbo", "log_likelihood", "write_analogies", "write_codes", "write_reconstructions", "write_samples",
           "write_traversal"]
