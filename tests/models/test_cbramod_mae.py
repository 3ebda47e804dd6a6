"""CBraMod-style dual-masked pre-training encoder (``cbramod_mae``): shapes on many
montages, the dual mask, the loss contract, learning, and signal-space reconstructions."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError, ContractError
from brainalign.models import create_encoder, list_encoders
from brainalign.models.cbramod_mae import CBraModMAE, random_subset
from brainalign.objectives.loss import MaskedReconstructionLoss

SMALL = dict(emb_dim=16, width=32, depth=1, heads=4, dim_feedforward=64, dropout=0.0)


@pytest.fixture(autouse=True)
def _seed_quiet_single_thread():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
    torch.set_num_threads(threads)


def small(n_chans: int, n_times: int = 400, patch_size: int = 100, **kw) -> CBraModMAE:
    return create_encoder("cbramod_mae", n_chans, n_times, 200.0, patch_size=patch_size, **{**SMALL, **kw})


def test_registered():
    assert "cbramod_mae" in list_encoders()


@pytest.mark.parametrize(
    "n_chans,n_times,patch_size,modality",
    [
        (1, 400, 100, "ecg"),
        (2, 300, 100, "ecg"),
        (12, 1000, 250, "ecg"),
        (19, 400, 200, "eeg"),
        (64, 200, 50, "eeg"),
    ],
)
def test_shapes_for_any_montage_and_length(n_chans, n_times, patch_size, modality):
    enc = small(n_chans, n_times, patch_size, modality=modality, spectral_weight=1.0)
    n_patches = n_times // patch_size
    x = torch.randn(3, n_chans, n_times)
    emb = enc(x)
    assert emb.shape == (3, 16) and torch.isfinite(emb).all()
    assert enc.forward_tokens(x).shape == (3, n_chans, n_patches, 32)
    out = enc.forward_mae(x)
    width = patch_size + patch_size // 2 + 1
    assert out.pred.shape == out.target.shape == (3, n_chans * n_patches, width)
    assert out.mask.shape == (3, n_chans * n_patches)
    loss = MaskedReconstructionLoss()(*out)
    loss.backward()
    assert enc.temporal_embed.weight.grad.abs().sum() > 0
    assert enc.contract.modality == modality


def test_config_round_trip_rebuilds_the_same_encoder():
    enc = small(5, modality="ecg", spectral_weight=0.5, conditional_pos=False)
    again = create_encoder(**json.loads(json.dumps(enc.encoder_config())))
    again.load_state_dict(enc.state_dict())
    enc.eval()
    again.eval()
    x = torch.randn(2, 5, 400)
    with torch.no_grad():
        torch.testing.assert_close(again(x), enc(x))
    assert again.contract.modality == "ecg" and again.conditional_pos is None


def test_configuration_errors():
    with pytest.raises(ConfigError, match="multiple of patch_size=200"):
        create_encoder("cbramod_mae", 4, 333, 200.0, **SMALL)
    with pytest.raises(ConfigError, match="heads must be even"):
        small(4, heads=3)
    with pytest.raises(ConfigError, match="lead_mask_ratio"):
        small(4, lead_mask_ratio=1.0)
    with pytest.raises(ConfigError, match="spectral_weight"):
        small(4, spectral_weight=-1.0)


def test_wrong_input_or_mask_shape_is_a_contract_error():
    enc = small(4)
    with pytest.raises(ContractError, match=r"\(batch, 4, 400\)"):
        enc.forward_mae(torch.randn(2, 5, 400))
    with pytest.raises(ContractError, match="mask must have shape"):
        enc.forward_mae(torch.randn(2, 4, 400), mask=torch.zeros(2, 4, 3, dtype=torch.bool))


def test_random_subset_sizes_and_expectation():
    g = torch.Generator().manual_seed(1)
    sub = random_subset((4000,), 10, 0.33, 10, generator=g)
    counts = sub.sum(dim=1)
    assert set(counts.tolist()) <= {3, 4}  # floor(3.3 + u)
    assert abs(counts.float().mean().item() - 3.3) < 0.05
    capped = random_subset((100,), 5, 0.95, 4, generator=g)
    assert (capped.sum(dim=1) == 4).all()


def test_dual_mask_patch_ratio_within_visible_leads_and_whole_leads():
    enc = small(10, n_times=2000, patch_mask_ratio=0.33, lead_mask_ratio=0.2)
    mask = enc.sample_mask(3000, generator=torch.Generator().manual_seed(2))
    assert mask.shape == (3000, 10, 20)
    whole = mask.all(dim=-1)  # 6 or 7 of 20 patches by patch masking, so "all" means a masked lead
    assert (whole.sum(dim=1) <= 9).all()
    assert abs(whole.sum(dim=1).float().mean().item() - 2.0) < 0.1  # 0.2 * 10 leads
    visible_fraction = mask[~whole].float().mean().item()
    assert abs(visible_fraction - 0.33) < 0.01


def test_whole_lead_masking_hides_every_patch_and_never_all_leads():
    only_leads = small(3, n_times=800, patch_mask_ratio=0.0, lead_mask_ratio=0.5)
    mask = only_leads.sample_mask(2000, generator=torch.Generator().manual_seed(3))
    assert torch.equal(mask.all(dim=-1), mask.any(dim=-1))  # leads are hidden whole or not at all
    n_hidden = mask.all(dim=-1).sum(dim=1)
    assert set(n_hidden.tolist()) == {1, 2}  # floor(1.5 + u), and 2 is the cap (3 - 1)
    greedy = small(3, n_times=800, patch_mask_ratio=0.0, lead_mask_ratio=0.99)
    assert (greedy.sample_mask(500).all(dim=-1).sum(dim=1) == 2).all()


def test_whole_lead_masking_is_disabled_for_one_lead():
    enc = small(1, n_times=2000, patch_mask_ratio=0.0, lead_mask_ratio=0.9, modality="ecg")
    assert not enc.sample_mask(500).any()
    enc = small(1, n_times=2000, patch_mask_ratio=0.5, lead_mask_ratio=0.9, modality="ecg")
    assert (enc.sample_mask(500).sum(dim=-1) == 10).all()  # exactly half of 20 patches, never the whole lead


def test_hidden_samples_do_not_leak_into_the_predictions():
    enc = small(4).eval()
    x = torch.randn(2, 4, 400)
    mask = enc.sample_mask(2)
    noisy = x + 5.0 * torch.randn_like(x) * mask.repeat_interleave(100, dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_mae(x, mask).pred, enc.forward_mae(noisy, mask).pred)
        assert not torch.allclose(enc.forward_mae(x, mask).pred, enc.forward_mae(noisy, ~mask).pred)


def test_loss_is_computed_on_masked_patches_only():
    enc = small(3, spectral_weight=1.0).eval()
    x = torch.randn(2, 3, 400)
    with torch.no_grad():
        pred, target, mask = enc.forward_mae(x)
    hidden = mask.bool()
    assert hidden.any() and (~hidden).any()
    loss = MaskedReconstructionLoss()
    expected = ((pred - target) ** 2)[hidden].mean()
    torch.testing.assert_close(loss(pred, target, mask), expected)
    changed_visible = pred.clone()
    changed_visible[~hidden] += 100.0
    torch.testing.assert_close(loss(changed_visible, target, mask), expected)
    changed_hidden = pred.clone()
    changed_hidden[hidden] += 1.0
    assert loss(changed_hidden, target, mask) > expected + 0.5


def test_targets_are_the_patches_and_their_weighted_spectrum():
    enc = small(2, spectral_weight=4.0)
    x = torch.randn(1, 2, 400, dtype=torch.float64)
    target = enc.double().forward_mae(x).target.numpy()
    patches = x.numpy().reshape(2 * 4, 100)  # lead-major tokens
    np.testing.assert_allclose(target[0, :, :100], patches)
    spectrum = np.abs(np.fft.rfft(patches, axis=-1)) / 100
    np.testing.assert_allclose(target[0, :, 100:], math.sqrt(4.0) * spectrum, atol=1e-12)


def test_optimisation_on_sinusoids_reduces_the_reconstruction_loss():
    t = torch.arange(400) / 200.0
    freqs = torch.tensor([3.0, 5.0, 7.0, 11.0])
    phases = torch.linspace(0, math.pi, 6)
    x = torch.sin(2 * math.pi * freqs[None, :, None] * t + phases[:, None, None]).float()  # (6, 4, 400)
    enc = small(4, patch_size=50, spectral_weight=0.5, patch_mask_ratio=0.5, lead_mask_ratio=0.25)
    loss_fn = MaskedReconstructionLoss()
    eval_mask = enc.sample_mask(6, generator=torch.Generator().manual_seed(4))

    def eval_loss() -> float:
        enc.eval()
        with torch.no_grad():
            value = loss_fn(*enc.forward_mae(x, eval_mask)).item()
        enc.train()
        return value

    before = eval_loss()
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    for _ in range(80):
        opt.zero_grad()
        loss_fn(*enc.forward_mae(x)).backward()
        opt.step()
    after = eval_loss()
    assert after < 0.3 * before, (before, after)


def test_reconstruct_returns_signal_space_traces():
    enc = small(3, spectral_weight=1.0)
    x = torch.randn(2, 3, 400)
    mask = enc.sample_mask(2)
    masked, recon, sample_mask = enc.reconstruct(x, mask)
    assert masked.shape == recon.shape == sample_mask.shape == (2, 3, 400)
    assert enc.training  # the previous mode is restored
    assert torch.equal(sample_mask, mask.repeat_interleave(100, dim=-1))
    assert torch.equal(torch.isnan(masked), sample_mask)
    assert torch.equal(masked[~sample_mask], x[~sample_mask])
    enc.eval()
    with torch.no_grad():
        pred = enc.forward_mae(x, mask).pred[..., :100]  # the time part, lead-major tokens
    torch.testing.assert_close(recon, pred.reshape(2, 3, 4, 100).reshape(2, 3, 400))
    masked, recon, sample_mask = enc.reconstruct(x)  # a fresh dual mask
    assert sample_mask.any() and torch.equal(torch.isnan(masked), sample_mask)
