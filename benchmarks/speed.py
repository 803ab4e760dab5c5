"""Steps per second of the compiled VAE against the same networks in a plain PyTorch loop
and in Pyro SVI (Trace_ELBO), and of the compiled GAN against a plain PyTorch GAN loop,
side by side in one process.

The model is the 784-400-20 Bernoulli VAE with Adam. Every variant starts from the same
weights and sees the same batch; steps are interleaved one by one (A, B, C, A, B, C, ...)
so that drift of the machine (clock, other processes) hits all variants alike, and the
figure reported is the ratio of each variant's steps per second to plain PyTorch's. The
compiled step is ``Trainer.step``, the very code ``Trainer.fit`` runs.

    python benchmarks/speed.py [--steps 1000] [--batch-sizes 32 128] [--threads 2]

With the ``peers`` extra installed (``pip install -e .[peers]``), Pixyz and pythae VAEs
with the same networks are timed too.

``--models kv-cache`` times ``CausalTransformer.sample`` drawing a 7x7 grid of codes (49
tokens of a 64-code vocabulary, the default 4-layer, d=128 transformer) with the key/value
cache against recomputing the prefix at every token, runs interleaved the same way, both
from the same ``torch.Generator`` seed on each repeat; it checks that the two draw the very
same codes (``torch.equal``) and reports the cached runs' speed as a ratio to recomputing.

    python benchmarks/speed.py --models kv-cache --batch-sizes 64 [--kv-repeats 5]

``--models vqvae`` times the catalogue VQ-VAE (``unidgm.models.build("vqvae")``: conv encoder
to a 7x7 grid of 32-d vectors, a 128-code EMA codebook with k-means initialisation, conv
decoder) in its first stage, the autoencoder's ``elbo`` phase, against the loop a PyTorch
user writes with the very same encoder, quantizer and decoder: Bernoulli cross-entropy
summed over pixels plus 0.25 times the commitment term, Adam over encoder and decoder. The
batch is random grey images of MNIST's shape (1, 28, 28). Before timing it checks that the
two sides' first losses agree, and it refuses to report if they do not.

    python benchmarks/speed.py --models vqvae --steps 300 [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F

import unidgm
import unidgm.models
from unidgm.nets import MLP, CausalTransformer
from unidgm.train import Trainer


def networks(seed=0):
    torch.manual_seed(seed)
    return MLP(784, [400], 40), MLP(20, [400], 784)


def vae_graph(enc, dec):
    g = unidgm.Graph("vae")
    g.visible("x", "bernoulli", shape=(784,))
    g.latent("z", "normal", shape=(20,), prior="standard")
    g.generative("z", "x", dec)
    g.inference("x", "z", enc)
    return g


def unidgm_step(x):
    enc, dec = networks()
    model = unidgm.compile(vae_graph(enc, dec))
    data = SimpleNamespace(train={"x": x}, val=None, test=None)
    trainer = Trainer(model, data, progress=False, device="cpu", lr=1e-3, batch_size=x.shape[0], max_steps=10**9)
    batch = {"x": x}
    return lambda: trainer.step(batch)


def plain_step(x):
    """The hand-written loop a PyTorch user writes for the same VAE."""
    enc, dec = networks()
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loc, log_scale = enc(x).chunk(2, -1)
        z = loc + log_scale.exp() * torch.randn_like(loc)
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="none").sum(-1)
        kl = (0.5 * (loc * loc + (2 * log_scale).exp() - 1) - log_scale).sum(-1)
        loss = (rec + kl).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def pyro_step(x):
    """The same graph's Pyro model/guide under SVI with Trace_ELBO (what a Pyro user runs)."""
    import pyro

    enc, dec = networks()
    model = unidgm.compile(vae_graph(enc, dec))
    pyro.clear_param_store()
    svi = pyro.infer.SVI(model.pyro_model, model.pyro_guide, pyro.optim.Adam({"lr": 1e-3}), pyro.infer.Trace_ELBO())
    batch = {"x": x}
    return lambda: svi.step(batch)


def peer_steps(x):
    """Pixyz and pythae VAEs with the same networks, when installed."""
    steps = {}
    try:
        from pixyz.distributions import Bernoulli, Normal
        from pixyz.losses import KullbackLeibler, LogProb, Expectation as E
        from pixyz.models import Model

        enc, dec = networks()

        class Q(Normal):
            def __init__(self):
                super().__init__(var=["z"], cond_var=["x"], name="q")
                self.net = enc

            def forward(self, x):
                loc, log_scale = self.net(x).chunk(2, -1)
                return {"loc": loc, "scale": log_scale.exp()}

        class P(Bernoulli):
            def __init__(self):
                super().__init__(var=["x"], cond_var=["z"], name="p")
                self.net = dec

            def forward(self, z):
                return {"probs": torch.sigmoid(self.net(z))}

        q, p = Q(), P()
        prior = Normal(loc=torch.tensor(0.0), scale=torch.tensor(1.0), var=["z"], features_shape=[20], name="p_prior")
        loss = (KullbackLeibler(q, prior) - E(q, LogProb(p))).mean()
        pixyz_vae = Model(loss, distributions=[p, q], optimizer=torch.optim.Adam, optimizer_params={"lr": 1e-3})
        steps["pixyz"] = lambda: pixyz_vae.train({"x": x})
    except ImportError:
        pass
    try:
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder

        enc, dec = networks()

        class Enc(BaseEncoder):
            def __init__(self):
                super().__init__()
                self.net = enc

            def forward(self, x):
                loc, log_scale = self.net(x.reshape(x.shape[0], -1)).chunk(2, -1)
                return ModelOutput(embedding=loc, log_covariance=2 * log_scale)

        class Dec(BaseDecoder):
            def __init__(self):
                super().__init__()
                self.net = dec

            def forward(self, z):
                return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

        pythae_vae = VAE(VAEConfig(input_dim=(784,), latent_dim=20, reconstruction_loss="bce"),
                         encoder=Enc(), decoder=Dec())
        opt = torch.optim.Adam(pythae_vae.parameters(), lr=1e-3)
        inputs = {"data": x}

        def step():
            opt.zero_grad(set_to_none=True)
            loss = pythae_vae(inputs).loss
            loss.backward()
            opt.step()

        steps["pythae"] = step
    except ImportError:
        pass
    return steps


def gan_networks(seed=0):
    torch.manual_seed(seed)
    from unidgm.models.parts import discriminator, generator

    return generator(64, (784,), "mlp", (256, 256)), discriminator((784,), "mlp", (256, 256))


def unidgm_gan_step(x):
    """The catalogue GAN's graph with the same networks, through Trainer.step (both phases)."""
    gen, disc = gan_networks()
    g = unidgm.Graph("gan")
    g.visible("x", "normal", shape=(784,))
    g.latent("z", "normal", shape=(64,), prior="standard")
    g.generative("z", "x", gen, deterministic=True)
    g.adversarial("x", disc)
    model = unidgm.compile(g, "adversarial")
    data = SimpleNamespace(train={"x": x}, val=None, test=None)
    trainer = Trainer(model, data, progress=False, device="cpu", lr=2e-4, betas=(0.5, 0.999),
                      batch_size=x.shape[0], max_steps=10**9, monitor=None)
    batch = {"x": x}
    return lambda: trainer.step(batch)


def plain_gan_step(x):
    """The hand-written non-saturating GAN loop: a discriminator step on detached fakes,
    then a generator step, as in Goodfellow et al. (2014), Alg. 1."""
    gen, disc = gan_networks()
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    n = x.shape[0]

    def step():
        opt_d.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = gen(torch.randn(n, 64))
        v_real, v_fake = disc(x).reshape(-1), disc(fake).reshape(-1)
        d_loss = F.softplus(-v_real).mean() + F.softplus(v_fake).mean()
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss = F.softplus(-disc(gen(torch.randn(n, 64))).reshape(-1)).mean()
        g_loss.backward()
        opt_g.step()
        return g_loss

    return step


def vqvae_graph(seed=0):
    """The catalogue VQ-VAE with its defaults; the same seed gives the same initial weights."""
    torch.manual_seed(seed)
    return unidgm.models.build("vqvae")


def unidgm_vqvae_step(x):
    """The catalogue VQ-VAE through Trainer.step; its first stage runs the ``elbo`` phase only
    (the autoencoder), and with max_steps=10**9 that stage lasts far beyond the benchmark.
    The step function carries its trainer, so that the stage can be checked."""
    model = unidgm.compile(vqvae_graph())
    data = SimpleNamespace(train={"x": x}, val=None, test=None)
    trainer = Trainer(model, data, progress=False, device="cpu", lr=1e-3, batch_size=x.shape[0],
                      max_steps=10**9, monitor=None)
    batch = {"x": x}

    def step():
        return trainer.step(batch)["loss"]

    step.trainer = trainer
    return step


def plain_vqvae_step(x, beta=0.25):
    """The hand-written VQ-VAE loop with the catalogue graph's own networks (same seed, so the
    same weights): van den Oord et al. (2017) Eq. 3 with EMA codes, where the codebook term
    drops (their Appendix A.1)."""
    g = vqvae_graph()
    quantized = g.edge_into("z_q", "inference").net
    encoder, quantizer = quantized.encoder, quantized.quantizer
    decoder = g.edge_into("x", "generative").net
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        out = quantizer(encoder(x))                                      # k-means on the first call, EMA each call
        logits = decoder(out.value)                                      # (B, 1, 28, 28)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        loss = rec.mean() + beta * out.aux["commitment"].mean()
        loss.backward()
        opt.step()
        return loss

    return step


def first_losses_agree(variants, seed=2, rtol=1e-4):
    """Runs each variant's first step from the same global RNG state (k-means draws its initial
    codes from it) and returns ``{name: loss, ..., "rel_diff": d, "agree": d <= rtol}``."""
    losses = {}
    for name, fn in variants.items():
        torch.manual_seed(seed)
        losses[name] = float(fn().detach())
    ref = losses["plain"]
    diff = max(abs(v - ref) for v in losses.values()) / max(abs(ref), 1e-12)
    return {**{k: round(v, 6) for k, v in losses.items()}, "rel_diff": float(f"{diff:.3g}"), "agree": diff <= rtol}


def measure(batch_size, steps, warmup, model="vae"):
    torch.manual_seed(1)
    extra = {}
    if model == "vqvae":
        x = torch.rand(batch_size, 1, 28, 28)                            # grey images in [0, 1]
        variants = {"plain": plain_vqvae_step(x), "unidgm": unidgm_vqvae_step(x)}
        extra["first_step_loss"] = first_losses_agree(variants)
        if not extra["first_step_loss"]["agree"]:
            raise SystemExit(f"vqvae, batch {batch_size}: the first step's losses differ ({extra['first_step_loss']}); "
                             f"the two loops no longer compute the same thing, so their speeds do not compare")
        warmup = max(warmup - 1, 0)                                      # the check was the first warm-up step
    elif model == "gan":
        x = torch.bernoulli(torch.rand(batch_size, 784))
        variants = {"plain": plain_gan_step(x), "unidgm": unidgm_gan_step(x)}
    else:
        x = torch.bernoulli(torch.rand(batch_size, 784))
        variants = {"plain": plain_step(x), "unidgm": unidgm_step(x), "pyro": pyro_step(x)}
        variants.update(peer_steps(x))
    seconds = dict.fromkeys(variants, 0.0)
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    for _ in range(steps):
        for name, fn in variants.items():
            t = time.perf_counter()
            fn()
            seconds[name] += time.perf_counter() - t
    if model == "vqvae":
        extra["stage"] = variants["unidgm"].trainer.stage               # still the autoencoder's stage
        if extra["stage"] != 0:
            raise SystemExit(f"vqvae, batch {batch_size}: the trainer left stage 0 (now {extra['stage']}) while timing; "
                             f"the prior's stage is not what the plain loop does")
    rate = {name: steps / s for name, s in seconds.items()}
    rows = {name: {"steps_per_s": round(r, 1), "ratio_to_plain": round(r / rate["plain"], 3)} for name, r in rate.items()}
    return {**rows, **extra}


def measure_kv_cache(batch_size, repeats, warmup=1, vocab_size=64, grid=(7, 7), seed=0):
    """Whole-grid sampling runs per second with the key/value cache (``cached``) and without
    (``recompute``, the baseline), interleaved; each repeat seeds both runs' generators alike,
    and ``identical`` records whether every pair drew the same codes."""
    torch.manual_seed(seed)
    length = grid[0] * grid[1]                                           # 49 codes, raster order
    prior = CausalTransformer(vocab_size, length)
    variants = {"recompute": False, "cached": True}

    def run(cache, repeat):
        gen = torch.Generator().manual_seed(seed + repeat)
        return prior.sample(batch_size, length, generator=gen, cache=cache)

    identical = True
    for r in range(warmup):
        draws = [run(cache, -1 - r) for cache in variants.values()]
        identical &= torch.equal(*draws)
    seconds = dict.fromkeys(variants, 0.0)
    for r in range(repeats):
        draws = []
        for name, cache in variants.items():
            t = time.perf_counter()
            draws.append(run(cache, r))
            seconds[name] += time.perf_counter() - t
        identical &= torch.equal(*draws)
    rate = {name: repeats / s for name, s in seconds.items()}
    rows = {name: {"runs_per_s": round(r, 2), "ratio_to_recompute": round(r / rate["recompute"], 3)}
            for name, r in rate.items()}
    return {**rows, "identical": identical, "tokens": length, "vocab_size": vocab_size}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--models", nargs="+", default=["vae", "gan", "vqvae", "kv-cache"],
                    choices=["vae", "gan", "vqvae", "kv-cache"],
                    help="vae: the 784-400-20 VAE; gan: a 64-256-256-784 MLP GAN (both phases per step); "
                         "vqvae: the catalogue VQ-VAE's autoencoder stage on 1x28x28 images; "
                         "kv-cache: a CausalTransformer sampling 7x7 codes with and without its key/value cache")
    ap.add_argument("--kv-repeats", type=int, default=5,
                    help="interleaved sampling runs per variant for kv-cache (one more warms up)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    steps = f", {args.steps} interleaved steps per variant" if set(args.models) - {"kv-cache"} else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads{steps}")
    for m in args.models:
        for b in args.batch_sizes:
            if m == "kv-cache":
                results[f"{m}/{b}"] = r = measure_kv_cache(b, args.kv_repeats)
                print(f"\n{m}, batch {b} ({r['tokens']} tokens of {r['vocab_size']}, {args.kv_repeats} interleaved "
                      f"runs, identical draws: {r['identical']}):")
                print(f"  {'variant':10s} {'runs/s':>9s} {'ratio to recompute':>19s}")
                for name in ("recompute", "cached"):
                    print(f"  {name:10s} {r[name]['runs_per_s']:9.2f} {r[name]['ratio_to_recompute']:19.3f}")
                continue
            results[f"{m}/{b}"] = r = measure(b, args.steps, args.warmup, m)
            if "first_step_loss" in r:
                c = r["first_step_loss"]
                print(f"\n{m}, batch {b}: first-step loss unidgm {c['unidgm']:.6f}, plain {c['plain']:.6f} "
                      f"(relative difference {c['rel_diff']:.2g}); timed in stage {r['stage']}")
            print(f"\n{m}, batch {b}:  {'variant':8s} {'steps/s':>9s} {'ratio to plain':>15s}")
            for name, row in r.items():
                if not isinstance(row, dict) or "steps_per_s" not in row:
                    continue
                print(f"  {' ' * len(m)}           {name:8s} {row['steps_per_s']:9.1f} {row['ratio_to_plain']:15.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    differ = [k for k, r in results.items() if r.get("identical") is False]
    if differ:
        raise SystemExit(f"{', '.join(differ)}: sampling with and without the key/value cache drew different codes "
                         f"from the same seed; the two paths no longer compute the same thing")


if __name__ == "__main__":
    main()
