"""A small conditional GAN whose condition is a vector (an EEG or image embedding).

Written for this project (after the ideas of StyleGAN2-ADA / EEGStyleGAN-ADA and
DiffAugment, none of their code):

* :class:`MappingNetwork`: the condition is embedded by a linear layer, concatenated
  with the noise ``z`` and mapped by an MLP to a style vector ``w``.
* :class:`Generator`: a learned 4x4 constant, then one block per doubling of the
  resolution (nearest upsampling, a 3x3 convolution, per-pixel noise, AdaIN: instance
  normalisation whose per-channel scale and bias come from ``w``), each with a 1x1 conv
  to RGB whose outputs are summed up the resolutions (bilinear upsampling; StyleGAN2's
  skip generator), then ``tanh``. The resolution (8..256, a power of two) is a parameter.
* :class:`Discriminator`: stride-2 convolutions down to 4x4, a linear layer to a
  feature ``h``, and a projection head ``D(x, c) = psi(h) + <embed(c), h>`` (Miyato &
  Koyama 2018) conditioned on the same condition vector as the generator.

The networks are deliberately lean (one convolution per resolution): on a shared
two-core CPU a training step's cost is almost all convolution.
* :func:`train_gan`: non-saturating logistic loss, R1 penalty on real images,
  exponential moving average (EMA) of the generator weights, and differentiable
  augmentation of real and fake images before D, its probability steered by the
  ADA-style controller of :mod:`brainalign.generation.augment`. ``init=`` starts from a
  trained lower-resolution result (:func:`grown_networks`: progressive growing, after
  Karras et al. 2018): the low-resolution stages are learned cheaply first, and the new
  top stage then trains on top of them.

Training is deterministic for a seed (the global torch RNG is forked, so the caller's
state is untouched). :func:`save_gan` / :func:`load_generator` use safetensors plus a
JSON config; nothing is pickled.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brainalign.errors import ConfigError, DataError
from brainalign.generation.augment import AdaController, DiffAugment

__all__ = [
    "Discriminator",
    "GANConfig",
    "GANTrainResult",
    "Generator",
    "MappingNetwork",
    "generate_images",
    "grown_networks",
    "load_generator",
    "save_gan",
    "train_gan",
]

_CONFIG_FILE = "gan_config.json"
_WEIGHTS_FILE = "gan.safetensors"
_FORMAT = "brainalign-cgan/2"  # 2: one RGB output per resolution


@dataclass
class GANConfig:
    """Architecture and training settings (everything needed to rebuild the networks).

    ``channels`` caps the width; the 4x4 stage has ``channels`` feature maps and every
    doubling of the resolution halves them down to at least ``min_channels``.
    """

    resolution: int = 32
    cond_dim: int = 16
    z_dim: int = 64
    w_dim: int = 128
    cond_embed_dim: int = 64
    mapping_layers: int = 2
    channels: int = 64
    min_channels: int = 16
    # training
    batch_size: int = 16
    lr_g: float = 2e-3
    lr_d: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.1
    r1_interval: int = 16
    ema_decay: float = 0.995
    ema_warmup: int = 100
    augment: tuple[str, ...] = ("color", "translation", "cutout")
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_step: float = 0.01
    ada_p_init: float = 0.0
    ada_p_max: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        res = int(self.resolution)
        if res < 8 or res > 256 or res & (res - 1):
            raise ConfigError(f"GAN resolution must be a power of two in 8..256, got {self.resolution}")
        for name in ("cond_dim", "z_dim", "w_dim", "cond_embed_dim", "channels", "min_channels", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"GANConfig.{name} must be a positive integer, got {value!r}")
        self.betas = tuple(float(b) for b in self.betas)
        self.augment = tuple(self.augment)

    @property
    def n_blocks(self) -> int:
        return int(math.log2(self.resolution)) - 2

    def stage_channels(self) -> list[int]:
        """Channels at 4x4, 8x8, ..., resolution."""
        return [max(self.min_channels, self.channels >> i) for i in range(self.n_blocks + 1)]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["betas"] = list(self.betas)
        out["augment"] = list(self.augment)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown GANConfig keys {unknown}")
        return cls(**data)


# ------------------------------------------------------------------------ networks
class MappingNetwork(nn.Module):
    """``(z, c) -> w``: the condition embedded linearly, concatenated with the
    (normalised) noise, then ``layers`` fully connected layers with leaky ReLU."""

    def __init__(self, z_dim: int, cond_dim: int, cond_embed_dim: int, w_dim: int, layers: int):
        super().__init__()
        self.embed = nn.Linear(cond_dim, cond_embed_dim)
        dims = [z_dim + cond_embed_dim] + [w_dim] * layers
        self.net = nn.Sequential(
            *[m for a, b in itertools.pairwise(dims) for m in (nn.Linear(a, b), nn.LeakyReLU(0.2))]
        )

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        e = self.embed(c)
        e = e * torch.rsqrt(e.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.net(torch.cat([z, e], dim=1))


class AdaIN(nn.Module):
    """Instance normalisation with a per-channel scale and bias predicted from ``w``."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.affine = nn.Linear(w_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        with torch.no_grad():
            self.affine.bias.copy_(torch.cat([torch.ones(channels), torch.zeros(channels)]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.affine(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return F.instance_norm(x) * scale + bias


class _SynthesisBlock(nn.Module):
    """(upsample x2,) one 3x3 convolution, per-pixel noise, leaky ReLU, AdaIN."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = AdaIN(c_out, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(x)
        x = x + self.noise_strength * torch.randn_like(x[:, :1])
        return self.norm(F.leaky_relu(x, 0.2), w)


class Generator(nn.Module):
    """Conditional generator: ``forward(z, c) -> images (batch, 3, res, res)`` in [-1, 1]."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        ch = config.stage_channels()
        self.mapping = MappingNetwork(
            config.z_dim, config.cond_dim, config.cond_embed_dim, config.w_dim, config.mapping_layers
        )
        self.const = nn.Parameter(torch.randn(1, ch[0], 4, 4))
        # conditions are standardised with the training conditions' statistics (set by train_gan)
        self.register_buffer("cond_mean", torch.zeros(config.cond_dim))
        self.register_buffer("cond_std", torch.ones(config.cond_dim))
        blocks = [_SynthesisBlock(ch[0], ch[0], config.w_dim, upsample=False)]
        blocks += [_SynthesisBlock(ch[i], ch[i + 1], config.w_dim, upsample=True) for i in range(config.n_blocks)]
        self.blocks = nn.ModuleList(blocks)
        # one 1x1 RGB output per resolution, summed up the resolutions (StyleGAN2's "skip"
        # generator): each stage adds detail to the upsampled image of the stages below it
        self.to_rgb = nn.ModuleList([nn.Conv2d(ch[0], 3, 1)] + [nn.Conv2d(c, 3, 1) for c in ch[1:]])

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        x = self.const.expand(len(w), -1, -1, -1)
        rgb: torch.Tensor | None = None
        for block, to_rgb in zip(self.blocks, self.to_rgb):
            x = block(x, w)
            y = to_rgb(x)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + y
        assert rgb is not None
        return torch.tanh(rgb)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if c.ndim != 2 or c.shape[1] != self.config.cond_dim:
            raise DataError(
                None, f"the generator needs conditions (batch, {self.config.cond_dim}), got {tuple(c.shape)}"
            )
        c = (c - self.cond_mean) / self.cond_std
        return self.synthesis(self.mapping(z, c))


class _DownBlock(nn.Module):
    """A 4x4 convolution with stride 2 (halves the side) and leaky ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x), 0.2)


class Discriminator(nn.Module):
    """Projection discriminator: ``forward(x, c) -> (batch,)`` logits."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        ch = config.stage_channels()[::-1]  # resolution ... 4x4
        self.from_rgb = nn.Conv2d(3, ch[0], 1)
        self.blocks = nn.Sequential(*[_DownBlock(ch[i], ch[i + 1]) for i in range(config.n_blocks)])
        self.final_conv = nn.Conv2d(ch[-1], ch[-1], 3, padding=1)
        self.fc = nn.Linear(ch[-1] * 16, config.w_dim)
        self.out = nn.Linear(config.w_dim, 1)
        self.cond_embed = nn.Linear(config.cond_dim, config.w_dim)
        self.register_buffer("cond_mean", torch.zeros(config.cond_dim))
        self.register_buffer("cond_std", torch.ones(config.cond_dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = (c - self.cond_mean) / self.cond_std
        h = F.leaky_relu(self.from_rgb(x), 0.2)
        h = self.blocks(h)
        h = F.leaky_relu(self.final_conv(h), 0.2)
        h = F.leaky_relu(self.fc(h.flatten(1)), 0.2)
        proj = (self.cond_embed(c) * h).sum(dim=1) / math.sqrt(h.shape[1])
        return self.out(h).squeeze(1) + proj


# ------------------------------------------------------------------------ training
@dataclass
class GANTrainResult:
    """What :func:`train_gan` returns: the networks and a per-step log."""

    generator: Generator
    generator_ema: Generator
    discriminator: Discriminator
    config: GANConfig
    steps: int
    seconds: float
    log: list[dict[str, float]]
    ada_p: float
    #: the training stages (resolution, steps, seconds): one, or two after progressive growing
    stages: list[dict[str, float]] = field(default_factory=list)


def _check_training_inputs(images: torch.Tensor, conds: torch.Tensor, config: GANConfig) -> None:
    res = config.resolution
    if images.ndim != 4 or tuple(images.shape[1:]) != (3, res, res):
        raise DataError(None, f"training images must be (n, 3, {res}, {res}), got {tuple(images.shape)}")
    if conds.ndim != 2 or conds.shape != (len(images), config.cond_dim):
        raise DataError(None, f"conditions must be ({len(images)}, {config.cond_dim}), got {tuple(conds.shape)}")
    if not torch.isfinite(images).all() or not torch.isfinite(conds).all():
        raise DataError(None, "training images or conditions contain NaN/Inf")
    if images.min() < -1.001 or images.max() > 1.001:
        raise DataError(None, "training images must be scaled to [-1, 1]")


@torch.no_grad()
def _ema_update(target: nn.Module, source: nn.Module, decay: float) -> None:
    for p_t, p_s in zip(target.parameters(), source.parameters()):
        p_t.lerp_(p_s, 1.0 - decay)
    for b_t, b_s in zip(target.buffers(), source.buffers()):
        b_t.copy_(b_s)


def _copy_matching(target: nn.Module, source: nn.Module, rename: Callable[[str], str | None]) -> int:
    """Copy every tensor of ``source`` whose renamed key exists in ``target`` with the same
    shape; returns how many were copied."""
    own = target.state_dict()
    n = 0
    with torch.no_grad():
        for key, value in source.state_dict().items():
            new_key = rename(key)
            if new_key is not None and new_key in own and own[new_key].shape == value.shape:
                own[new_key].copy_(value)
                n += 1
    return n


def grown_networks(previous: GANTrainResult, config: GANConfig) -> tuple[Generator, Discriminator]:
    """A generator and a discriminator for ``config`` (a higher resolution than
    ``previous.config``, otherwise the same widths) that start from ``previous``'s
    trained networks: the generator keeps its mapping, constant and every stage it had
    with its RGB output; the new top stages' RGB outputs start at zero, so the grown
    generator starts by drawing exactly the upsampled images of the previous one. The
    discriminator keeps its lower stages (the new ones are prepended after ``from_rgb``)
    and its head. Other new weights start from their fresh initialisation."""
    old = previous.config
    if config.resolution <= old.resolution:
        raise ConfigError(f"growing needs a higher resolution than {old.resolution}, got {config.resolution}")
    if config.stage_channels()[: old.n_blocks + 1] != old.stage_channels() or config.cond_dim != old.cond_dim:
        raise ConfigError("growing needs the same widths and condition size at the shared stages")
    G, D = Generator(config), Discriminator(config)
    shift = config.n_blocks - old.n_blocks

    def d_key(key: str) -> str:
        if key.startswith("blocks."):
            head, idx, rest = key.split(".", 2)
            return f"{head}.{int(idx) + shift}.{rest}"
        return key

    with torch.no_grad():
        for to_rgb in G.to_rgb[old.n_blocks + 1 :]:
            nn.init.zeros_(to_rgb.weight)
            nn.init.zeros_(to_rgb.bias)
    _copy_matching(G, previous.generator, lambda k: k)
    _copy_matching(D, previous.discriminator, d_key)
    return G, D


def train_gan(
    images: torch.Tensor,
    conds: torch.Tensor,
    config: GANConfig,
    steps: int,
    seed: int = 0,
    *,
    fake_conds: torch.Tensor | None = None,
    time_limit_s: float | None = None,
    log_every: int = 50,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    init: GANTrainResult | None = None,
    grow_steps: int = 0,
) -> GANTrainResult:
    """Train a conditional GAN on ``images`` (n, 3, res, res) in [-1, 1] with one
    condition vector per image (``conds``, (n, cond_dim)).

    Each step draws a batch of real images with their conditions; fakes are generated
    from conditions drawn from ``fake_conds`` (default: ``conds``). D is trained on
    augmented reals and fakes (non-saturating logistic loss, R1 on the augmented reals
    every ``r1_interval`` steps, lazily scaled), then G; the EMA generator follows G.
    ``time_limit_s`` stops early (the result says how many steps ran). Deterministic
    for a ``seed`` on a given machine and thread count. ``init``: start from a trained
    lower-resolution result (:func:`grown_networks`; its ADA probability carries over).
    ``grow_steps`` > 0: progressive growing in one call, first ``grow_steps`` steps at half
    the resolution (the images 2x2 average-pooled), then ``steps`` at ``config.resolution``
    from there; ``stages`` of the result lists both.
    """
    images = torch.as_tensor(images, dtype=torch.float32)
    conds = torch.as_tensor(conds, dtype=torch.float32)
    _check_training_inputs(images, conds, config)
    if grow_steps > 0:
        if init is not None:
            raise ConfigError("grow_steps and init are exclusive")
        low_config = GANConfig.from_dict({**config.to_dict(), "resolution": config.resolution // 2})
        low = train_gan(
            F.avg_pool2d(images, 2),
            conds,
            low_config,
            grow_steps,
            seed,
            fake_conds=fake_conds,
            time_limit_s=time_limit_s,
            log_every=log_every,
            callback=callback,
        )
        left = None if time_limit_s is None else max(0.0, time_limit_s - low.seconds)
        high = train_gan(
            images,
            conds,
            config,
            steps,
            seed,
            fake_conds=fake_conds,
            time_limit_s=left,
            log_every=log_every,
            callback=callback,
            init=low,
        )
        high.stages = low.stages + high.stages
        high.seconds += low.seconds
        return high
    pool = conds if fake_conds is None else torch.as_tensor(fake_conds, dtype=torch.float32)
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        G, D = (Generator(config), Discriminator(config)) if init is None else grown_networks(init, config)
        mean, std = pool.mean(0), pool.std(0, unbiased=False)
        std = torch.where(std > 1e-6, std, torch.ones_like(std))
        for net in (G, D):
            net.cond_mean.copy_(mean)
            net.cond_std.copy_(std)
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=config.betas)
        # lazy R1: the regulariser runs every r1_interval steps, so D's betas are adapted
        ratio = config.r1_interval / (config.r1_interval + 1)
        opt_d = torch.optim.Adam(
            D.parameters(), lr=config.lr_d * ratio, betas=(config.betas[0] ** ratio, config.betas[1] ** ratio)
        )
        p_init = config.ada_p_init if init is None else init.ada_p
        augment = DiffAugment(config.augment, p=p_init)
        ada = AdaController(
            target=config.ada_target,
            interval=config.ada_interval,
            step=config.ada_step,
            p=p_init,
            p_max=config.ada_p_max,
        )
        n, bs = len(images), config.batch_size
        log: list[dict[str, float]] = []
        start = time.perf_counter()
        done = 0
        for step in range(steps):
            idx = torch.randint(0, n, (bs,), generator=gen)
            real, c_real = images[idx], conds[idx]
            c_fake = pool[torch.randint(0, len(pool), (bs,), generator=gen)]
            z = torch.randn(bs, config.z_dim, generator=gen)
            # --- discriminator
            augment.p = ada.p
            with torch.no_grad():
                fake = G(z, c_fake)
            d_real = D(augment(real), c_real)
            d_fake = D(augment(fake), c_fake)
            loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            ada.accumulate(d_real.detach())
            r1 = torch.zeros(())
            if config.r1_gamma > 0 and step % config.r1_interval == 0:
                real_r1 = augment(real).detach().requires_grad_(True)
                out = D(real_r1, c_real)
                (grad,) = torch.autograd.grad(out.sum(), real_r1, create_graph=True)
                r1 = grad.pow(2).sum(dim=(1, 2, 3)).mean()
                opt_d.zero_grad(set_to_none=True)
                (0.5 * config.r1_gamma * config.r1_interval * r1).backward()
                opt_d.step()
            # --- generator
            z = torch.randn(bs, config.z_dim, generator=gen)
            c_g = pool[torch.randint(0, len(pool), (bs,), generator=gen)]
            loss_g = F.softplus(-D(augment(G(z, c_g)), c_g)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            decay = 0.0 if step < config.ema_warmup else config.ema_decay
            _ema_update(G_ema, G, decay)
            ada.maybe_update()
            done = step + 1
            if step % log_every == 0 or done == steps:
                row = {
                    "step": float(step),
                    "loss_d": loss_d.item(),
                    "loss_g": loss_g.item(),
                    "r1": r1.item(),
                    "ada_p": float(ada.p),
                    "r_t": float(ada.last_r),
                    "seconds": time.perf_counter() - start,
                }
                log.append(row)
                if callback is not None:
                    callback(step, row)
            if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
                break
        seconds = time.perf_counter() - start
    stage = {"resolution": float(config.resolution), "steps": float(done), "seconds": seconds}
    return GANTrainResult(G.eval(), G_ema, D.eval(), config, done, seconds, log, float(ada.p), [stage])


@torch.no_grad()
def generate_images(
    generator: Generator, conds: Any, seed: int = 0, batch_size: int = 64, truncation: float = 1.0
) -> torch.Tensor:
    """Images (n, 3, res, res) in [-1, 1] for conditions ``conds`` (n, cond_dim), with
    noise drawn from ``seed`` (the same seed gives the same images). ``truncation`` < 1
    scales the noise toward zero."""
    c = torch.as_tensor(np.asarray(conds, dtype=np.float32))
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(len(c), generator.config.z_dim, generator=gen) * truncation
    generator = generator.eval()
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the per-pixel noise inputs
        for i in range(0, len(c), batch_size):
            out.append(generator(z[i : i + batch_size], c[i : i + batch_size]))
    return torch.cat(out) if out else torch.zeros(0, 3, generator.config.resolution, generator.config.resolution)


# ------------------------------------------------------------------------ save/load
def save_gan(
    result: GANTrainResult,
    out_dir: str | os.PathLike,
    *,
    extra: dict[str, Any] | None = None,
    include_discriminator: bool = True,
) -> Path:
    """Write ``gan_config.json`` and ``gan.safetensors`` (EMA generator, generator and,
    unless told otherwise, the discriminator) into ``out_dir``; returns the folder."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    modules = {"g_ema": result.generator_ema, "g": result.generator}
    if include_discriminator:
        modules["d"] = result.discriminator
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = value.detach().cpu().contiguous()
    tmp = out / (_WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": _FORMAT})
    tmp.replace(out / _WEIGHTS_FILE)
    meta = {
        "format": _FORMAT,
        "config": result.config.to_dict(),
        "steps": result.steps,
        "seconds": result.seconds,
        "stages": result.stages,
        "ada_p": result.ada_p,
        "extra": extra or {},
    }
    tmp_json = out / (_CONFIG_FILE + ".tmp")
    tmp_json.write_text(json.dumps(meta, indent=2))
    tmp_json.replace(out / _CONFIG_FILE)
    return out


def load_generator(run_dir: str | os.PathLike, which: str = "g_ema") -> tuple[Generator, dict[str, Any]]:
    """The generator (``"g_ema"`` by default, or ``"g"``) saved by :func:`save_gan`,
    in eval mode, with the saved metadata. Reads JSON and safetensors only."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(run_dir)
    cfg_path = folder / _CONFIG_FILE
    try:
        meta = json.loads(cfg_path.read_text())
    except FileNotFoundError:
        raise DataError(cfg_path, "no GAN config here") from None
    except json.JSONDecodeError as err:
        raise DataError(cfg_path, f"not valid JSON ({err})") from None
    if meta.get("format") != _FORMAT:
        raise DataError(cfg_path, f"not a {_FORMAT} config (format {meta.get('format')!r})")
    config = GANConfig.from_dict(meta["config"])
    try:
        tensors = load_file(str(folder / _WEIGHTS_FILE))
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise DataError(folder / _WEIGHTS_FILE, f"cannot read the weights: {err}") from None
    prefix = which + "."
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise DataError(folder / _WEIGHTS_FILE, f"holds no {which!r} weights")
    G = Generator(config)
    try:
        G.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise DataError(folder / _WEIGHTS_FILE, f"weights do not fit the config: {err}") from None
    return G.eval().requires_grad_(False), meta
