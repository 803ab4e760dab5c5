"""The vector-quantisation bottleneck of VQ-VAE (van den Oord et al. 2017), as an edge's network.

Each D-vector of the encoder's output ``z_e`` (channels first, ``(B, D, *grid)`` or ``(B, D)``)
is replaced by its nearest codebook vector ``e_k``; the gradient passes straight through
(``z_e + sg[e - z_e]``, [1] Sec. 3.1). The layer returns an :class:`~unidgm.nets.Output` whose
``aux`` holds the two losses of [1] Eq. 3 separately and per example, so that the objective
weighs them (``AuxiliaryLoss("codebook", ...)``, ``AuxiliaryLoss("commitment", ..., weight=0.25)``):

- ``codebook``: ``||sg[z_e] - e||^2``, which moves the codes; zero with ``ema=True``, where the
  codes follow exponential moving averages of their assigned vectors instead ([1] Appendix A.1,
  the variant VQ-VAE-2 trains with, [2]);
- ``commitment``: ``||z_e - sg[e]||^2``, which keeps the encoder near its codes ([1] weighs it by
  beta = 0.25).

Three optional updates keep codes in use; each happens only in training mode, under no_grad,
once per forward call: k-means initialisation on the first training batch (the data-dependent
initialisation of [3]), the EMA update, and the restart of dead codes to random encoder outputs
of the batch (the "random restarts" of [4]). Cost per call: one (N, K) distance matrix for
N = B * prod(grid) vectors.

References:
    [1] van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation Learning. NeurIPS 2017.
    [2] Razavi, van den Oord, Vinyals. Generating Diverse High-Fidelity Images with VQ-VAE-2.
        NeurIPS 2019.
    [3] Łańcucki et al. Robust Training of Vector Quantized Bottleneck Models. IJCNN 2020.
    [4] Dhariwal et al. Jukebox: A Generative Model for Music. 2020.
"""
from __future__ import annotations

import weakref

import torch
from torch import nn

from ..errors import ConfigError, GraphError
from .output import Output


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation of ``(B, D, *grid)`` or ``(B, D)`` inputs to ``K`` codes.

    Returns ``Output(value, aux)``: ``value`` is the quantised input with the straight-through
    gradient (same shape as the input); ``aux`` has ``indices`` (int64, ``(B, *grid)``),
    ``codebook`` and ``commitment`` (per example, ``(B,)``, summed over D and the grid), and the
    batch's ``perplexity`` and ``codes_used`` (scalars, see :meth:`usage`). The keys are the
    same whatever the options.

    Args:
        codebook_size: the number K of codes.
        dim: the size D of a code, the input's channel dimension (dim 1).
        ema: train the codes by exponential moving averages ([1] Appendix A.1) rather than by
            the codebook loss; the codebook is then a buffer, not a parameter.
        decay: the EMA's decay gamma ([1]: 0.99).
        eps: Laplace smoothing of the EMA counts, so that an unused code's count never reaches
            zero and its division stays finite (as in the authors' Sonnet implementation).
        kmeans_init: set the codes by ``kmeans_iters`` Lloyd iterations on the first training
            batch's vectors ([3]); a buffer records that it happened, so a loaded checkpoint
            does not redo it.
        kmeans_iters: Lloyd iterations of that initialisation.
        dead_code_threshold: in training, a code whose usage falls below this many vectors
            (its EMA count with ``ema``, else its count in the batch) is restarted to a random
            encoder output of the batch ([4]); 0 turns restarts off.
    """

    def __init__(self, codebook_size: int, dim: int, *, ema: bool = False, decay: float = 0.99, eps: float = 1e-5,
                 kmeans_init: bool = False, kmeans_iters: int = 10, dead_code_threshold: float = 0.0):
        super().__init__()
        for name, value in (("codebook_size", codebook_size), ("dim", dim), ("kmeans_iters", kmeans_iters)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"VectorQuantizer: {name} must be a positive integer, got {value!r}; "
                                  f"pass {name}=1 or more")
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"VectorQuantizer: decay must be in (0, 1), got {decay}; "
                              f"van den Oord et al. (2017) use decay=0.99")
        if not eps > 0.0:
            raise ConfigError(f"VectorQuantizer: eps (Laplace smoothing of the EMA counts) must be positive, "
                              f"got {eps}; the default is 1e-5")
        if not dead_code_threshold >= 0.0:
            raise ConfigError(f"VectorQuantizer: dead_code_threshold must be >= 0 (a number of vectors; 0 turns "
                              f"restarts off), got {dead_code_threshold}")
        self.codebook_size, self.dim = codebook_size, dim
        self.ema, self.decay, self.eps = ema, decay, eps
        self.kmeans_init, self.kmeans_iters = kmeans_init, kmeans_iters
        self.dead_code_threshold = dead_code_threshold

        # Unit-variance codes sit where a normalised encoder's outputs are; k-means or restarts
        # move them onto the data when that is not enough.
        codebook = torch.randn(codebook_size, dim)
        if ema:
            self.register_buffer("codebook", codebook)
            # [1] A.1: N_i (counts) and m_i (sums of assigned vectors); starting N at ones and m at
            # the codes makes e = m / N the initial codebook before any update.
            self.register_buffer("ema_count", torch.ones(codebook_size))
            self.register_buffer("ema_sum", codebook.clone())
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("initialised", torch.tensor(not kmeans_init))

    def extra_repr(self) -> str:
        return (f"codebook_size={self.codebook_size}, dim={self.dim}, ema={self.ema}, decay={self.decay}, "
                f"kmeans_init={self.kmeans_init}, dead_code_threshold={self.dead_code_threshold}")

    def forward(self, z_e: torch.Tensor) -> Output:
        if z_e.dim() < 2 or z_e.shape[1] != self.dim:
            raise GraphError(f"VectorQuantizer: the input must be (B, {self.dim}, ...) with the code size in dim 1 "
                             f"(channels first), got shape {tuple(z_e.shape)}; give the encoder {self.dim} output "
                             f"channels or set dim={z_e.shape[1] if z_e.dim() > 1 else '...'}")
        flat = z_e.movedim(1, -1).reshape(-1, self.dim)                       # (N, D), N = B * prod(grid)
        if self.training and self.kmeans_init and not self.initialised:
            self._kmeans_(flat.detach())
        with torch.no_grad():
            indices = self._nearest(flat, self.codebook)                      # (N,)
        e = nn.functional.embedding(indices, self.codebook)                   # (N, D)
        if self.training:
            self._update_(flat.detach(), indices)

        e = e.reshape(z_e.shape[:1] + z_e.shape[2:] + (self.dim,)).movedim(-1, 1)  # (B, D, *grid)
        commitment = (z_e - e.detach()).pow(2).flatten(1).sum(1)                   # (B,)
        codebook = z_e.new_zeros(z_e.shape[0]) if self.ema else (z_e.detach() - e).pow(2).flatten(1).sum(1)
        value, indices = z_e + (e - z_e).detach(), indices.reshape(z_e.shape[:1] + z_e.shape[2:])
        # CodeIndices reads the indices of this very output without a second distance matrix
        self._last = (weakref.ref(value), indices)
        return Output(value, {"indices": indices, "codebook": codebook, "commitment": commitment,
                              **self.usage(indices)})

    @torch.no_grad()
    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """The nearest code of each D-vector of ``z`` ``(B, D, *grid)``: int64 ``(B, *grid)``.
        No update of the codebook (EMA, k-means, restarts) happens here. For the tensor the
        last forward call returned, these are the indices it found (no second search)."""
        last = getattr(self, "_last", None)
        if last is not None and last[0]() is z:
            return last[1]
        flat = z.movedim(1, -1).reshape(-1, self.dim)
        return self._nearest(flat, self.codebook).reshape(z.shape[:1] + z.shape[2:])

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """The codes of ``indices`` ``(B, *grid)``, channels first: ``(B, D, *grid)``."""
        return nn.functional.embedding(indices, self.codebook).movedim(-1, 1)

    @torch.no_grad()
    def usage(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """``codes_used``: the share of the K codes that occur in ``indices``; ``perplexity``:
        exp of the entropy of their histogram (K when all codes are equally used, 1 when one is)."""
        counts = torch.bincount(indices.flatten(), minlength=self.codebook_size).float()
        p = counts / counts.sum().clamp(min=1)
        return {"codes_used": (counts > 0).float().mean(), "perplexity": torch.exp(-torch.special.xlogy(p, p).sum())}

    @staticmethod
    def _nearest(x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        # ||x||^2 is the same for every code, so it drops out of the argmin.
        return (codes.pow(2).sum(1) - 2 * x @ codes.t()).argmin(1)

    @staticmethod
    def _sample(x: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` rows of ``x``, distinct where ``x`` has enough."""
        rows = torch.randperm(len(x), device=x.device)[:n] if len(x) >= n else \
            torch.randint(len(x), (n,), device=x.device)
        return x[rows]

    @torch.no_grad()
    def _kmeans_(self, x: torch.Tensor) -> None:
        means = self._sample(x, self.codebook_size)
        for _ in range(self.kmeans_iters):
            assign = self._nearest(x, means)
            counts = torch.bincount(assign, minlength=self.codebook_size)
            sums = torch.zeros_like(means).index_add_(0, assign, x)
            # An empty cluster keeps its mean rather than becoming 0/0.
            means = torch.where((counts > 0)[:, None], sums / counts.clamp(min=1)[:, None].to(x.dtype), means)
        self.codebook.copy_(means)
        if self.ema:  # the EMA starts afresh from the new codes
            self.ema_count.fill_(1.0)
            self.ema_sum.copy_(means)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _update_(self, x: torch.Tensor, indices: torch.Tensor) -> None:
        x = x.to(self.codebook.dtype)
        counts = torch.bincount(indices, minlength=self.codebook_size).to(x.dtype)  # n_i
        if self.ema:
            sums = torch.zeros_like(self.codebook).index_add_(0, indices, x)          # sum of E(x) assigned to i
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            total = self.ema_count.sum()
            smoothed = (self.ema_count + self.eps) / (total + self.codebook_size * self.eps) * total
            self.codebook.copy_(self.ema_sum / smoothed[:, None])
        if self.dead_code_threshold > 0:
            dead = (self.ema_count if self.ema else counts) < self.dead_code_threshold
            n = int(dead.sum())
            if n:
                fresh = self._sample(x, n)
                self.codebook[dead] = fresh
                if self.ema:
                    # Counted as just alive, with m = e * N so that e = m / N is the fresh vector.
                    self.ema_count[dead] = self.dead_code_threshold
                    self.ema_sum[dead] = fresh * self.dead_code_threshold


class Quantized(nn.Module):
    """``quantizer(encoder(x))``: an encoder's output quantized, the inference edge x -> z_q of
    VQ-VAE's graph ([1] Fig. 1). Its Output carries the quantizer's aux (indices, codebook and
    commitment terms, usage). ``encoder`` may read a dict of parents (``combine="dict"``)."""

    def __init__(self, encoder: nn.Module, quantizer: VectorQuantizer):
        super().__init__()
        self.encoder, self.quantizer = encoder, quantizer

    def forward(self, x) -> Output:
        return self.quantizer(self.encoder(x))


class CodeIndices(nn.Module):
    """The indices of quantized codes, ``(B, D, *grid) -> (B, *grid)``: the edge z_q -> c of
    VQ-VAE's graph, from the quantized vectors to the discrete code the prior models. It
    shares ``quantizer``'s codebook (the same module)."""

    def __init__(self, quantizer: VectorQuantizer):
        super().__init__()
        self.quantizer = quantizer

    def forward(self, z_q: torch.Tensor) -> torch.Tensor:
        return self.quantizer.indices(z_q)


class CodeEmbedding(nn.Module):
    """The codes of indices, ``(B, *grid) -> (B, D, *grid)``: the generative edge c -> z_q
    of VQ-VAE's graph (a lookup in ``quantizer``'s codebook, the same module), through which
    codes drawn from the prior are decoded."""

    def __init__(self, quantizer: VectorQuantizer):
        super().__init__()
        self.quantizer = quantizer

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return self.quantizer.embed(c)
