"""The conditional GAN at a tiny size: shapes, determinism, save/load, checks."""

from __future__ import annotations

import pytest
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.generation.gan import (
    Discriminator,
    GANConfig,
    Generator,
    generate_images,
    grown_networks,
    load_generator,
    save_gan,
    train_gan,
)

TINY = {
    "resolution": 8,
    "cond_dim": 3,
    "z_dim": 8,
    "w_dim": 16,
    "cond_embed_dim": 8,
    "channels": 8,
    "min_channels": 4,
    "batch_size": 4,
    "ema_warmup": 1,
    "ada_interval": 1,
    "ada_step": 0.1,
}


def _data(n=6, res=8, cond_dim=3):
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, res, res, generator=gen) * 2 - 1, torch.randn(n, cond_dim, generator=gen)


@pytest.mark.parametrize("res", [8, 16])
def test_shapes(res):
    cfg = GANConfig(**{**TINY, "resolution": res})
    G, D = Generator(cfg), Discriminator(cfg)
    img = G(torch.randn(5, cfg.z_dim), torch.randn(5, cfg.cond_dim))
    assert img.shape == (5, 3, res, res)
    assert img.abs().max() <= 1.0
    assert D(img, torch.randn(5, cfg.cond_dim)).shape == (5,)


def test_bad_config_and_inputs():
    with pytest.raises(ConfigError):
        GANConfig(resolution=12)
    with pytest.raises(ConfigError):
        GANConfig(resolution=4)
    cfg = GANConfig(**TINY)
    x, c = _data()
    with pytest.raises(DataError):
        train_gan(x * 3, c, cfg, steps=1)  # not in [-1, 1]
    with pytest.raises(DataError):
        train_gan(x, c[:, :2], cfg, steps=1)  # wrong condition size


def test_training_is_deterministic_for_a_seed():
    cfg = GANConfig(**TINY)
    x, c = _data()
    state = torch.random.get_rng_state()
    a = train_gan(x, c, cfg, steps=3, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is untouched
    b = train_gan(x, c, cfg, steps=3, seed=7)
    other = train_gan(x, c, cfg, steps=3, seed=8)
    for (k, pa), pb, _po in zip(
        a.generator_ema.state_dict().items(),
        b.generator_ema.state_dict().values(),
        other.generator_ema.state_dict().values(),
    ):
        assert torch.equal(pa, pb), k
    assert any(not torch.equal(pa, po) for pa, po in zip(a.generator.parameters(), other.generator.parameters()))
    img_a = generate_images(a.generator_ema, c, seed=3)
    img_b = generate_images(b.generator_ema, c, seed=3)
    assert torch.equal(img_a, img_b)
    assert a.steps == 3 and len(a.log) >= 1


def test_augmentation_runs_inside_training():
    cfg = GANConfig(**{**TINY, "ada_p_init": 0.5})
    x, c = _data()
    result = train_gan(x, c, cfg, steps=2, seed=0)
    assert 0.0 <= result.ada_p <= 1.0


def test_save_load_round_trip(tmp_path):
    cfg = GANConfig(**TINY)
    x, c = _data()
    result = train_gan(x, c, cfg, steps=2, seed=0)
    save_gan(result, tmp_path / "gan", extra={"note": "test"})
    assert not list((tmp_path / "gan").glob("*.pkl")) and not list((tmp_path / "gan").glob("*.pt"))
    G, meta = load_generator(tmp_path / "gan")
    assert meta["extra"] == {"note": "test"} and meta["steps"] == 2
    assert torch.equal(generate_images(G, c, seed=5), generate_images(result.generator_ema, c, seed=5))
    G_raw, _ = load_generator(tmp_path / "gan", which="g")
    assert torch.equal(generate_images(G_raw, c, seed=5), generate_images(result.generator, c, seed=5))


def test_load_refuses_bad_folders(tmp_path):
    with pytest.raises(DataError):
        load_generator(tmp_path)
    (tmp_path / "gan_config.json").write_text("{not json")
    with pytest.raises(DataError):
        load_generator(tmp_path)


def test_growing_keeps_the_trained_stages():
    """Progressive growing: the 16 px networks start from the trained 8 px ones (the
    generator's lower stages and the discriminator's lower stages and head, shifted by the
    new stage), the new stages start fresh, and training goes on from there."""
    small = train_gan(*_data(), GANConfig(**TINY), steps=2, seed=0)
    big_cfg = GANConfig(**{**TINY, "resolution": 16})
    G, D = grown_networks(small, big_cfg)
    old_g, old_d = small.generator.state_dict(), small.discriminator.state_dict()
    for key in ("mapping.net.0.weight", "const", "blocks.1.conv.weight", "to_rgb.1.weight"):
        assert torch.equal(G.state_dict()[key], old_g[key]), key
    # the new stage's RGB output starts at zero: the grown generator draws the upsampled old images
    z, cond = torch.randn(3, big_cfg.z_dim), torch.randn(3, big_cfg.cond_dim)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        old_img = small.generator(z, cond)
        torch.manual_seed(0)
        new_img = G.eval()(z, cond)
    up = torch.nn.functional.interpolate(torch.atanh(old_img), scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(new_img, torch.tanh(up), atol=1e-5, rtol=1e-4)
    assert torch.equal(D.state_dict()["blocks.1.conv.weight"], old_d["blocks.0.conv.weight"])
    assert torch.equal(D.state_dict()["fc.weight"], old_d["fc.weight"])
    fresh = Generator(big_cfg).state_dict()["blocks.2.conv.weight"]
    assert G.state_dict()["blocks.2.conv.weight"].shape == fresh.shape  # the new stage exists, untrained
    x16, c = _data(res=16)
    grown = train_gan(x16, c, big_cfg, steps=2, seed=0, init=small)
    assert grown.steps == 2 and generate_images(grown.generator_ema, c, seed=1).shape == (6, 3, 16, 16)
    two_stage = train_gan(x16, c, big_cfg, steps=2, seed=0, grow_steps=3)  # both stages in one call
    assert [(st["resolution"], st["steps"]) for st in two_stage.stages] == [(8, 3), (16, 2)]
    with pytest.raises(ConfigError):
        train_gan(x16, c, big_cfg, steps=1, init=small, grow_steps=1)
    with pytest.raises(ConfigError):
        grown_networks(small, GANConfig(**TINY))  # not a higher resolution
    with pytest.raises(ConfigError):
        grown_networks(small, GANConfig(**{**TINY, "resolution": 16, "channels": 16}))  # other widths
