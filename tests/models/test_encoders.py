"""Encoder registry, every registered encoder's forward/backward, NICE, MAE and projection heads."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from braindecode.models.labram import LABRAM_CHANNEL_ORDER
from torch import nn

from brainalign.errors import ConfigError, ContractError
from brainalign.models import ProjectionHead, create_encoder, list_encoders
from brainalign.models.mae import MAEEncoder
from brainalign.models.nice import ChannelGraphAttention, ChannelSelfAttention

EMB = 24

#: Small configurations; odd channel counts and window lengths where the model allows them.
SMALL = {
    "deep4": [dict(n_chans=21, n_times=400, sfreq=100), dict(n_chans=7, n_times=333, sfreq=100)],
    "shallow": [dict(n_chans=7, n_times=333, sfreq=100, n_filters_time=8, n_filters_spat=8)],
    "eegnet": [dict(n_chans=7, n_times=333, sfreq=128)],
    "lstm": [dict(n_chans=7, n_times=101, sfreq=100, num_layers=2, hidden_size=16)],
    "spectral": [dict(n_chans=7, n_times=200, sfreq=100), dict(n_chans=1, n_times=333, sfreq=128, relative=False)],
    "cnn_triplet": [
        dict(n_chans=5, n_times=101, sfreq=100, filters=(8, 16)),
        dict(n_chans=1, n_times=77, sfreq=100, filters=(4, 4, 4)),
    ],
    "nice": [dict(n_chans=7, n_times=131, sfreq=100, n_filters=8)],
    "nice_sa": [dict(n_chans=3, n_times=131, sfreq=100, n_filters=8, attn_dim=8)],
    "nice_ga": [dict(n_chans=11, n_times=97, sfreq=100, n_filters=8)],
    "mae": [
        dict(
            n_chans=7,
            n_times=101,
            sfreq=100,
            patch_size=5,
            width=32,
            depth=1,
            heads=2,
            decoder_width=16,
            decoder_depth=1,
            decoder_heads=2,
        )
    ],
    "cbramod_mae": [
        dict(n_chans=5, n_times=400, sfreq=200, patch_size=100, width=32, depth=1, heads=4, dim_feedforward=64)
    ],
    # Foundation models once each, at a valid size (n_times a multiple of the patch for
    # CBraMod / LaBraM, LaBraM with 10-10 names), shrunk to one or two layers.
    "cbramod": [dict(n_chans=5, n_times=400, sfreq=200, n_layer=1, dim_feedforward=64)],
    "labram": [dict(ch_names=LABRAM_CHANNEL_ORDER[:6], n_times=400, sfreq=200, num_layers=1)],
    "biot": [dict(n_chans=5, n_times=400, sfreq=200, num_layers=1, embed_dim=32, num_heads=2)],
    "eegpt": [dict(n_chans=5, n_times=256, sfreq=256, depth=1, embed_dim=32, num_heads=2)],
    # classical front ends (tests/models/test_fair_encoders.py checks them against their baselines)
    "bandpower": [dict(n_chans=7, n_times=200, sfreq=100)],
    "erp": [dict(n_chans=7, n_times=203, sfreq=100, bin_hz=25.0)],
    "tangent": [dict(n_chans=5, n_times=128, sfreq=128), dict(n_chans=4, n_times=100, sfreq=100, xdawn_filters=2)],
    "spatial_filter": [dict(n_chans=7, n_times=128, sfreq=128, n_filters=4, mode="both", n_bins=8)],
}
CASES = [(name, kw) for name, kws in SMALL.items() for kw in kws]


@pytest.fixture(autouse=True)
def _seed_and_quiet():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _first_layer(enc: nn.Module) -> nn.Module:
    return next(m for m in enc.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear, nn.LSTM)))


def test_every_encoder_is_registered_and_tested():
    assert set(list_encoders()) == set(SMALL)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{k.get('n_chans', 'names')}x{k['n_times']}" for n, k in CASES])
def test_forward_backward_and_config_round_trip(name, kw):
    enc = create_encoder(name, emb_dim=EMB, **kw)
    x = torch.randn(3, enc.n_chans, enc.n_times)
    out = enc(x)
    assert out.shape == (3, EMB)
    assert torch.isfinite(out).all()
    out.pow(2).sum().backward()
    first = _first_layer(enc)
    grads = [p.grad for p in first.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)

    assert enc.contract.n_chans == enc.n_chans and enc.contract.n_times == kw["n_times"]
    assert enc.contract.sfreq == kw["sfreq"]
    config = json.loads(json.dumps(enc.encoder_config()))
    assert config["name"] == name
    again = create_encoder(**config)
    again.load_state_dict(enc.state_dict())
    enc.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(x), enc(x))


def test_default_embedding_sizes():
    assert create_encoder("lstm", 4, 50, 100.0, num_layers=1).emb_dim == 128
    assert create_encoder("nice", 4, 100, 250.0).emb_dim == 768


def test_mae_encodes_ecg_with_an_ecg_contract():
    enc = create_encoder(
        "mae",
        12,
        500,
        500.0,
        modality="ecg",
        patch_size=25,
        width=16,
        depth=1,
        heads=2,
        decoder_width=8,
        decoder_depth=1,
        decoder_heads=2,
    )
    assert enc.contract.modality == "ecg"
    assert enc(torch.randn(2, 12, 500)).shape == (2, 128)
    assert create_encoder(**enc.encoder_config()).contract.modality == "ecg"


def test_registry_errors():
    with pytest.raises(ConfigError, match="unknown encoder 'resnet'"):
        create_encoder("resnet", 4, 100, 100.0)
    with pytest.raises(ConfigError, match="hiden_size"):
        create_encoder("lstm", 4, 100, 100.0, hiden_size=3)
    with pytest.raises(ConfigError, match="n_filter_time"):
        create_encoder("deep4", 4, 400, 100.0, n_filter_time=3)
    with pytest.raises(ConfigError, match="missing required arguments"):
        create_encoder("lstm", n_chans=4)
    with pytest.raises(ConfigError, match="3 channel names"):
        create_encoder("lstm", 4, 100, 100.0, ch_names=["a", "b", "c"])


def test_foundation_model_constraints_are_reported():
    with pytest.raises(ConfigError, match="multiple of patch_size=200"):
        create_encoder("cbramod", 5, 333, 200.0, n_layer=1)
    with pytest.raises(ConfigError, match="give ch_names"):
        create_encoder("labram", 5, 400, 200.0, num_layers=1)
    with pytest.raises(ConfigError, match="XYZ"):
        create_encoder("labram", n_times=400, sfreq=200.0, ch_names=["FP1", "XYZ"], num_layers=1)


def test_wrong_input_shape_is_a_contract_error():
    enc = create_encoder("lstm", 4, 50, 100.0, num_layers=1, hidden_size=8)
    with pytest.raises(ContractError, match=r"\(batch, 4, 50\)"):
        enc(torch.randn(2, 5, 50))


def test_chs_info_gives_channel_names():
    chs_info = [{"ch_name": n, "loc": [0.0] * 12} for n in ("Fz", "Cz", "Pz")]
    enc = create_encoder("lstm", n_times=50, sfreq=100.0, chs_info=chs_info, num_layers=1, hidden_size=8)
    assert enc.contract.ch_names == ("Fz", "Cz", "Pz")
    assert enc.encoder_config()["kwargs"]["ch_names"] == ["Fz", "Cz", "Pz"]


def test_lstm_and_cnn_can_normalise():
    for name, kw in (("lstm", dict(num_layers=2, hidden_size=8)), ("cnn_triplet", dict(filters=(4, 8)))):
        out = create_encoder(name, 6, 60, 100.0, normalize=True, **kw)(torch.randn(5, 6, 60))
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(5))


@pytest.mark.parametrize("variant", ["nice", "nice_sa", "nice_ga"])
@pytest.mark.parametrize("n_chans", [1, 2, 17])
def test_nice_any_channel_count(variant, n_chans):
    enc = create_encoder(variant, n_chans, 120, 250.0, emb_dim=16, n_filters=4, attn_dim=8)
    out = enc(torch.randn(2, n_chans, 120))
    assert out.shape == (2, 16)
    (out * torch.randn_like(out)).sum().backward()  # a plain sum of a LayerNorm output has zero gradient
    assert enc.tsconv[0].weight.grad.abs().sum() > 0


def test_nice_flattened_size_matches_the_paper():
    # 63 channels x 250 samples: 40 maps x ((250 - 25 + 1 - 51) // 5 + 1) = 40 x 36 = 1440 (NICE's Proj_eeg input).
    enc = create_encoder("nice", 63, 250, 250.0, emb_dim=8)
    assert enc.projection[0].in_features == 1440
    with pytest.raises(ConfigError, match="shorter than"):
        create_encoder("nice", 4, 60, 250.0)


def test_graph_attention_matches_the_gat_formula():
    torch.manual_seed(1)
    gat = ChannelGraphAttention(n_times=6, dropout=0.0).eval()
    nn.init.normal_(gat.bias)
    x = torch.randn(2, 4, 6)
    h = x @ gat.weight.weight.T
    expected = torch.empty_like(x)
    for b in range(2):
        for i in range(4):
            e = torch.stack(
                [torch.nn.functional.leaky_relu(gat.att_src @ h[b, i] + gat.att_dst @ h[b, j], 0.2) for j in range(4)]
            )
            alpha = torch.softmax(e, dim=0)
            expected[b, i] = x[b, i] + sum(alpha[j] * h[b, j] for j in range(4)) + gat.bias
    torch.testing.assert_close(gat(x), expected)


@pytest.mark.parametrize("module", [ChannelSelfAttention(10, 4, 0.0), ChannelGraphAttention(10, 0.0)])
def test_spatial_modules_are_channel_permutation_equivariant(module):
    module.eval()
    x = torch.randn(3, 5, 10)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(module(x[:, perm]), module(x)[:, perm])


def _small_mae(patch_size: int):
    return create_encoder(
        "mae",
        3,
        200,
        100.0,
        emb_dim=16,
        patch_size=patch_size,
        width=32,
        depth=1,
        heads=2,
        decoder_width=16,
        decoder_depth=1,
        decoder_heads=2,
    )


def test_mae_masks_three_quarters_and_targets_the_patches():
    mae = _small_mae(patch_size=2)
    x = torch.randn(4, 3, 200)
    pred, target, mask = mae.forward_mae(x)
    assert pred.shape == target.shape == (4, 100, 6)
    assert mask.shape == (4, 100)
    torch.testing.assert_close(mask.mean(dim=1), torch.full((4,), 0.75))
    assert not torch.equal(mask[0], mask[1])  # an independent mask per sample
    # Patch 7 of sample 2 holds samples 14..15 of every channel, channel-major.
    torch.testing.assert_close(target[2, 7], x[2, :, 14:16].reshape(-1))


def test_mae_loss_decreases_on_a_fixed_batch():
    mae = _small_mae(patch_size=5)
    t = torch.arange(200) / 100.0
    x = torch.stack([torch.sin(2 * torch.pi * f * t + p) for f, p in ((3, 0), (5, 1), (7, 2))])
    x = x.expand(4, -1, -1).contiguous()
    opt = torch.optim.Adam(mae.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        loss = mae.reconstruction_loss(*mae.forward_mae(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = sum(losses[-5:]) / 5
    assert final < 0.65 * losses[0]
    # ...and beats predicting zeros, whose loss is the mean square of the sines, 0.5.
    assert final < 0.45


def test_mae_loss_counts_masked_patches_only():
    pred = torch.zeros(1, 3, 2)
    target = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]])
    mask = torch.tensor([[0.0, 1.0, 0.0]])
    assert torch.isclose(MAEEncoder.reconstruction_loss(pred, target, mask), torch.tensor(4.0))


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_projection_head_depth_and_normalisation(depth):
    head = ProjectionHead(32, depth=depth)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == depth
    assert linears[-1].out_features == 64
    assert sum(isinstance(m, nn.ReLU) for m in head.modules()) == depth - 1
    out = head(torch.randn(7, 32) * 10)
    assert out.shape == (7, 64)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(7))
    assert ProjectionHead(**head.config()).config() == head.config()


def test_projection_head_rejects_depth_zero():
    with pytest.raises(ConfigError, match="depth"):
        ProjectionHead(8, depth=0)


def test_an_encoder_that_cannot_fit_the_window_is_a_config_error():
    """braindecode's ShallowFBCSPNet cannot pool a 60-sample window: the recipe
    author gets a ConfigError naming the encoder and the input size, not a
    ValueError from deep inside braindecode."""
    from brainalign.errors import ConfigError
    from brainalign.models.registry import create_encoder

    with pytest.raises(ConfigError, match=r"shallow cannot be built for 32 channels x 60 samples at 50 Hz"):
        create_encoder("shallow", n_chans=32, n_times=60, sfreq=50, emb_dim=16)


def test_spectral_encoder_reads_welch_power():
    """The in-network spectrum equals scipy's Welch estimate (symmetric Hann, 50% overlap), in
    log10, and the relative variant ignores each channel's gain."""
    import numpy as np
    from scipy.signal import welch
    from scipy.signal.windows import hann

    from brainalign.models.spectral import log_power_spectrum

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 400))
    logp = log_power_spectrum(torch.from_numpy(x), 100.0, seg=100, fmin=1.0, fmax=40.0, relative=False).numpy()
    freqs, psd = welch(
        x,
        fs=100.0,
        window=hann(100, sym=True),
        nperseg=100,
        noverlap=50,
        detrend="constant",
        scaling="spectrum",
        axis=-1,
    )
    keep = (freqs >= 1.0) & (freqs <= 40.0)
    # same shape of spectrum up to a constant factor (scipy's window normalisation)
    diff = logp - np.log10(psd[..., keep])
    assert np.allclose(diff, diff.mean(), atol=1e-6)
    rel = log_power_spectrum(torch.from_numpy(x), 100.0, 100, 1.0, 40.0, relative=True)
    rel_scaled = log_power_spectrum(
        torch.from_numpy(x * np.array([1, 10, 0.1, 3.0])[None, :, None]), 100.0, 100, 1.0, 40.0, relative=True
    )
    torch.testing.assert_close(rel, rel_scaled)


def test_spectral_encoder_separates_alpha_from_theta():
    """A few steps of supervised training tell 10 Hz from 6 Hz oscillations of random
    amplitude: the encoder reads frequency content, not amplitude."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(200) / 100.0

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 2, (n,), generator=g)
        f = torch.where(y == 1, 10.0, 6.0)[:, None, None]
        amp = 10 ** (2 * torch.rand(n, 3, 1, generator=g))
        x = amp * torch.sin(2 * torch.pi * f * t + 6 * torch.rand(n, 3, 1, generator=g))
        return x + torch.randn(n, 3, 200, generator=g), y

    enc = create_encoder("spectral", n_chans=3, n_times=200, sfreq=100.0, emb_dim=2)
    opt = torch.optim.Adam(enc.parameters(), 1e-2)
    for _ in range(30):
        x, y = batch(64)
        opt.zero_grad()
        nn.functional.cross_entropy(enc(x), y).backward()
        opt.step()
    enc.eval()
    x, y = batch(200)
    assert (enc(x).argmax(1) == y).float().mean() > 0.95


def test_spectral_encoder_rejects_bad_bands():
    with pytest.raises(ConfigError, match="Nyquist"):
        create_encoder("spectral", n_chans=2, n_times=200, sfreq=100.0, fmax=60.0)
    with pytest.raises(ConfigError, match="seg_s"):
        create_encoder("spectral", n_chans=2, n_times=50, sfreq=100.0, seg_s=1.0)
