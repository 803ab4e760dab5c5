"""A small causal transformer over token sequences: an autoregressive prior for discrete codes.

GPT-style ([1], [2]): ``p(x) = prod_t p(x_t | x_<t)``, each factor a softmax over the
``vocab_size`` tokens, computed for all t in one pass by causal self-attention. The code grid
of a VQ-VAE, flattened row by row, is such a sequence; the transformer is then its learned prior
(in place of the PixelCNN of [3], as in [4]), and later the text-then-image token model of [5].

The network: a token embedding and a learned position embedding, ``layers`` pre-LayerNorm blocks
``x + attn(LN(x))``, ``x + mlp(LN(x))`` of causal multi-head self-attention ([1] Sec. 3.2) and a
4x MLP with GELU, a final LayerNorm and a linear head to logits (the layout of GPT-2, [2]
Sec. 2.3, whose initialisation it also takes). A start token, the extra vocabulary entry
``vocab_size``, is shifted in before the sequence, so that the first real token is predicted too;
with ``condition_classes`` a learned class embedding is added to the start token's input.

Costs, for T positions, width d and L layers: :meth:`~CausalTransformer.forward` and
:meth:`~CausalTransformer.log_prob` are one pass, O(L T^2 d) attention and O(L T d^2) projections.
:meth:`~CausalTransformer.sample` with ``cache=True`` keeps each layer's keys and values (2 L n T d
numbers), so the t-th new token costs one position's projections and O(t) attention; with
``cache=False`` each step recomputes the whole prefix, O(t^2) attention per token.

References:
    [1] Vaswani et al. Attention Is All You Need. NeurIPS 2017.
    [2] Radford, Wu, Child, Luan, Amodei, Sutskever. Language Models are Unsupervised Multitask
        Learners (GPT-2). 2019.
    [3] van den Oord, Vinyals, Kavukcuoglu. Neural Discrete Representation Learning. NeurIPS 2017.
    [4] Esser, Rombach, Ommer. Taming Transformers for High-Resolution Image Synthesis. CVPR 2021.
    [5] Ramesh et al. Zero-Shot Text-to-Image Generation (DALL-E). ICML 2021.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError, GraphError

# A layer's cache: preallocated keys and values, each (n, heads, length, d_model / heads).
KVCache = tuple[torch.Tensor, torch.Tensor]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions <= t ([1] Sec. 3.2.3)."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)   # queries, keys and values of all heads at once
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, position: int = 0) -> torch.Tensor:
        """Without a cache, ``x`` is the whole sequence ``(B, T, d)``. With one, ``x`` is the single
        position ``position`` ``(B, 1, d)``: its key and value are written into the cache and it
        attends to the cached positions ``0..position``, which are all in its past."""
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, D/H)
        if cache is not None:
            assert T == 1, "the cache is filled one position at a time"
            keys, values = cache
            keys[:, :, position] = k[:, :, 0]
            values[:, :, position] = v[:, :, 0]
            k, v = keys[:, :, :position + 1], values[:, :, :position + 1]          # (B, H, position + 1, D/H)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=cache is None)               # (B, H, T, D/H)
        y = y.transpose(1, 2).reshape(B, T, D)                                    # heads side by side again
        return self.drop(self.proj(y))


class Block(nn.Module):
    """``x + attn(LN(x))``, then ``x + mlp(LN(x))``: the pre-LayerNorm block of [2] Sec. 2.3."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, position: int = 0) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cache, position)
        return x + self.mlp(self.norm2(x))


class CausalTransformer(nn.Module):
    """An autoregressive distribution over sequences of ``vocab_size`` tokens, up to ``max_len`` long.

    ``forward(tokens)`` gives logits ``(B, T, vocab_size)`` whose position t predicts ``tokens[:, t]``
    from ``tokens[:, :t]`` (teacher forcing; the start token is shifted in here, not by the
    caller); :meth:`log_prob` sums their log-softmax at the tokens; :meth:`sample` draws whole
    sequences. The defaults suit a 7 x 7 code grid (49 tokens).

    Args:
        vocab_size: the number of tokens (a VQ-VAE's codebook size); the start token is the extra
            embedding entry ``vocab_size``, never predicted.
        max_len: the longest sequence, the number of learned positions.
        d_model: the width d of the embeddings and of every block.
        heads: attention heads; each has ``d_model // heads`` dimensions.
        layers: the number of transformer blocks.
        dropout: dropout on the embeddings, the attention weights and each residual branch, in
            training mode only; sampling never drops.
        condition_classes: with C classes, a learned class embedding is added to the start
            token's input and every call then needs ``condition`` (int64 labels ``(B,)``); ``None``
            is an unconditional model.
    """

    def __init__(self, vocab_size: int, max_len: int, *, d_model: int = 128, heads: int = 4, layers: int = 4,
                 dropout: float = 0.0, condition_classes: int | None = None):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("max_len", max_len), ("d_model", d_model),
                            ("heads", heads), ("layers", layers)):
            _check_positive(name, value)
        if condition_classes is not None:
            _check_positive("condition_classes", condition_classes, "or None for an unconditional model")
        if d_model % heads:
            raise ConfigError(f"CausalTransformer: d_model must be divisible by heads, got d_model={d_model} and "
                              f"heads={heads}; pass e.g. d_model={heads * max(1, round(d_model / heads))} "
                              f"or heads={math.gcd(d_model, heads)}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"CausalTransformer: dropout must be in [0, 1), got {dropout}; the default is 0")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.d_model, self.heads, self.layers, self.dropout = d_model, heads, layers, dropout
        self.condition_classes = condition_classes

        self.token = nn.Embedding(vocab_size + 1, d_model)      # entry vocab_size is the start token
        self.position = nn.Embedding(max_len, d_model)
        self.condition = nn.Embedding(condition_classes, d_model) if condition_classes else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

        # [2] Sec. 2.3: weights N(0, 0.02), and the residual branches' output layers scaled down by
        # 1/sqrt(N) for the N = 2 * layers residual additions, so the residual stream's variance
        # does not grow with depth.
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for out in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(out.weight, std=0.02 / math.sqrt(2 * layers))

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, max_len={self.max_len}, d_model={self.d_model}, heads={self.heads}, "
                f"layers={self.layers}, dropout={self.dropout}, condition_classes={self.condition_classes}")

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T, vocab_size)`` for int64 ``tokens`` ``(B, T)``; position t sees ``tokens[:, :t]``."""
        tokens = self._check_tokens(tokens)
        condition = self._check_condition(condition, tokens.shape[0])
        start = tokens.new_full((tokens.shape[0], 1), self.vocab_size)
        inputs = torch.cat([start, tokens[:, :-1]], 1)                   # (B, T): shifted right by the start token
        x = self._embed(inputs, condition, position=0)                   # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))                                   # (B, T, vocab_size)

    def log_prob(self, tokens: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(tokens) = sum_t log p(tokens_t | tokens_<t)``, per sequence ``(B,)``; a grid of
        codes ``(B, H, W)`` is read flattened in raster order (a density edge's values)."""
        if isinstance(tokens, torch.Tensor) and tokens.dim() > 2:
            tokens = tokens.flatten(1)
        logp = self(tokens, condition).log_softmax(-1)                   # (B, T, vocab_size)
        return logp.gather(-1, tokens.long().unsqueeze(-1)).squeeze(-1).sum(-1)

    @torch.no_grad()
    def sample(self, n: int, length: int | tuple, condition: torch.Tensor | int | None = None, temperature: float = 1.0,
               top_k: int | None = None, generator: torch.Generator | None = None, cache: bool = True,
               prefix: torch.Tensor | None = None, allowed: tuple[int, int] | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` tokens, int64 ``(n, length)``, drawn one token at a time
        (``length`` may be a node's shape, as a density edge passes it: ``(T,)``, or a grid
        ``(H, W)`` drawn in raster order and returned as ``(n, H, W)``).

        Each token is drawn from ``softmax(logits / temperature)``, restricted to the ``top_k``
        most likely tokens when given (``top_k=1`` is the greedy path). ``condition`` is one
        class for all (an int) or one per sequence ``(n,)``. ``cache=True`` keeps the keys and
        values of the past positions; ``cache=False`` recomputes the prefix each step, the same
        computation up to rounding, with the same random draws from ``generator`` in the same order.
        Dropout is off whatever the mode, which is restored afterwards.

        ``prefix`` ``(n, P)`` fixes the first P tokens (a caption before its image's codes,
        Ramesh et al. 2021): they are read, not drawn, and the ``length`` tokens after them are
        returned; ``allowed=(lo, hi)`` draws only tokens in ``[lo, hi)`` (an image's codes in a
        vocabulary shared with text), the others' probabilities set to zero.
        """
        _check_positive("n", n)
        grid = None
        if isinstance(length, tuple) and len(length) > 1 and all(isinstance(v, int) and v > 0 for v in length):
            grid, length = length, math.prod(length)
        if isinstance(length, tuple) and len(length) == 1:
            length = length[0]
        _check_positive("length", length)
        given = 0 if prefix is None else prefix.shape[-1]
        if prefix is not None and (prefix.dim() != 2 or prefix.shape[0] != n):
            raise ConfigError(f"CausalTransformer.sample: prefix must be ({n}, P) tokens, got {tuple(prefix.shape)}")
        if allowed is not None and not (isinstance(allowed, tuple) and len(allowed) == 2
                                        and 0 <= allowed[0] < allowed[1] <= self.vocab_size):
            raise ConfigError(f"CausalTransformer.sample: allowed must be a range (lo, hi) within [0, "
                              f"{self.vocab_size}], got {allowed!r}")
        if given and given + length > self.max_len:
            raise ConfigError(f"CausalTransformer.sample: {given} prefix tokens and {length} more exceed max_len="
                              f"{self.max_len}; build the model with max_len={given + length}")
        if length > self.max_len:
            raise ConfigError(f"CausalTransformer.sample: length={length} exceeds max_len={self.max_len}; "
                              f"sample at most {self.max_len} tokens or build the model with max_len={length}")
        if not (isinstance(temperature, (int, float)) and 0.0 < temperature < math.inf):
            raise ConfigError(f"CausalTransformer.sample: temperature must be positive and finite, got "
                              f"{temperature}; for the most likely tokens pass top_k=1")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or not 1 <= top_k <= self.vocab_size):
            raise ConfigError(f"CausalTransformer.sample: top_k must be None or an integer in [1, {self.vocab_size}] "
                              f"(vocab_size), got {top_k!r}")
        device = self.head.weight.device
        if isinstance(condition, int) and not isinstance(condition, bool):
            condition = torch.full((n,), condition, dtype=torch.long, device=device)
        condition = self._check_condition(condition, n)

        training = self.training
        self.train(False)
        try:
            total = given + length
            tokens = torch.empty(n, total, dtype=torch.long, device=device)
            if given:
                tokens[:, :given] = self._check_tokens(prefix.to(device))
            start = torch.full((n, 1), self.vocab_size, dtype=torch.long, device=device)
            head_dim = self.d_model // self.heads
            kv = [(torch.empty(n, self.heads, total, head_dim, device=device, dtype=self.head.weight.dtype),
                   torch.empty(n, self.heads, total, head_dim, device=device, dtype=self.head.weight.dtype))
                  for _ in self.blocks] if cache else None
            mask = None
            if allowed is not None:
                mask = torch.ones(self.vocab_size, dtype=torch.bool, device=device)
                mask[allowed[0]:allowed[1]] = False
            for t in range(total):
                if t < given and not cache:
                    continue  # a prefix token is read, not drawn; recomputation reads it from tokens
                if cache:
                    # Only position t's input goes in: the start token, then the token drawn last.
                    x = self._embed(start if t == 0 else tokens[:, t - 1:t], condition, position=t)  # (n, 1, d)
                    for block, layer_cache in zip(self.blocks, kv):
                        x = block(x, layer_cache, t)
                    logits = self.head(self.norm(x[:, -1]))              # (n, vocab_size)
                else:
                    # forward() of the t + 1 tokens so far (the last is a placeholder it never sees).
                    logits = self(torch.cat([tokens[:, :t], start.new_zeros(n, 1)], 1), condition)[:, -1]
                if t < given:
                    continue  # the prefix's keys and values are cached; its token is given
                if mask is not None:
                    logits = logits.masked_fill(mask, -math.inf)
                tokens[:, t] = self._pick(logits, temperature, top_k, generator)
        finally:
            self.train(training)
        tokens = tokens[:, given:]
        return tokens if grid is None else tokens.reshape((n,) + tuple(grid))

    def _embed(self, inputs: torch.Tensor, condition: torch.Tensor | None, position: int) -> torch.Tensor:
        """Token plus position embeddings of ``inputs`` ``(B, T)`` at positions ``position..position+T-1``;
        the class embedding joins position 0, the start token."""
        positions = torch.arange(position, position + inputs.shape[1], device=inputs.device)
        x = self.token(inputs) + self.position(positions)                # (B, T, d)
        if condition is not None and position == 0:
            x = torch.cat([x[:, :1] + self.condition(condition)[:, None], x[:, 1:]], 1)
        return self.drop(x)

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float, top_k: int | None,
              generator: torch.Generator | None) -> torch.Tensor:
        """One token per row of ``logits`` ``(n, vocab_size)``, int64 ``(n,)``."""
        logits = logits / temperature
        if top_k is not None:
            kth = logits.topk(top_k, -1).values[:, -1:]                  # (n, 1): the k-th largest logit
            logits = logits.masked_fill(logits < kth, -math.inf)
        return draw_categorical(logits.softmax(-1), generator)

    def _check_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] < 1:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise GraphError(f"CausalTransformer: tokens must be a (B, T) tensor with T >= 1, got {shape}; "
                             f"flatten a code grid with tokens.flatten(1)")
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise GraphError(f"CausalTransformer: tokens must be integer indices, got dtype {tokens.dtype}; "
                             f"pass tokens.long()")
        if tokens.shape[1] > self.max_len:
            raise GraphError(f"CausalTransformer: the sequence has {tokens.shape[1]} tokens but "
                             f"max_len={self.max_len}; build the model with max_len={tokens.shape[1]} or shorten "
                             f"the sequence")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise GraphError(f"CausalTransformer: tokens must lie in [0, {self.vocab_size}) (vocab_size), got "
                             f"values in [{int(tokens.min())}, {int(tokens.max())}]; build the model with vocab_size "
                             f"at least the codebook size")
        return tokens.long()

    def _check_condition(self, condition: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.condition_classes is None:
            if condition is not None:
                raise GraphError("CausalTransformer: a condition was given but the model is unconditional; "
                                 "build it with condition_classes=C or pass condition=None")
            return None
        if condition is None:
            raise GraphError(f"CausalTransformer: the model has condition_classes={self.condition_classes}, so "
                             f"condition (int64 class labels, shape ({batch},)) is required")
        if (not isinstance(condition, torch.Tensor) or condition.shape != (batch,) or condition.is_floating_point()
                or condition.is_complex() or condition.dtype == torch.bool):
            what = f"{condition.dtype} {tuple(condition.shape)}" if isinstance(condition, torch.Tensor) else \
                type(condition).__name__
            raise GraphError(f"CausalTransformer: condition must be integer class labels of shape ({batch},), one per "
                             f"sequence, got {what}")
        if batch and (condition.min() < 0 or condition.max() >= self.condition_classes):
            raise GraphError(f"CausalTransformer: condition labels must lie in [0, {self.condition_classes}) "
                             f"(condition_classes), got values in [{int(condition.min())}, {int(condition.max())}]")
        return condition.long()


def draw_categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``probs`` ``(n, K)``, int64 ``(n,)``, by inverting the cumulative
    distribution at one uniform draw per row: the categorical draw ``torch.multinomial`` makes,
    at a fraction of its cost on a CPU for the small batches of token-by-token sampling."""
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=probs.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp_(max=probs.shape[-1] - 1)


def _check_positive(name: str, value, fix: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"CausalTransformer: {name} must be a positive integer, got {value!r}; "
                          f"pass {name}=1 or more{' ' + fix if fix else ''}")
