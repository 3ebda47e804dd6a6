"""EEG + ECG fusion classifier (every mode, probing vs fine-tuning) and loading
pre-trained encoder weights from a run's safetensors file."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from brainalign.errors import ConfigError, ContractError, DataError
from brainalign.models import ProjectionHead, create_encoder
from brainalign.models.aligned import AlignedModel
from brainalign.models.cbramod_mae import CBraModMAE
from brainalign.models.fusion import FusionClassifier, load_pretrained_encoder
from brainalign.training.checkpoint import save_weights

SMALL = dict(emb_dim=16, width=32, depth=1, heads=4, dim_feedforward=64, dropout=0.0, patch_size=100)
N_CLASSES = 3


@pytest.fixture(autouse=True)
def _seed_quiet_single_thread():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
    torch.set_num_threads(threads)


def eeg_encoder(width: int = 32) -> nn.Module:
    return CBraModMAE(5, 400, 200.0, **{**SMALL, "width": width})


def ecg_encoder() -> nn.Module:
    return CBraModMAE(2, 200, 200.0, modality="ecg", **SMALL)


def plain_ecg_encoder() -> nn.Module:
    """An encoder without patch tokens (an embedding only)."""
    return create_encoder("lstm", 2, 200, 200.0, emb_dim=12, num_layers=1, hidden_size=8, modality="ecg")


def batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 5, 400), torch.randn(n, 2, 200)


def grad_norm(module: nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("mode", ["eeg", "pair", "concat", "cross_attention"])
@pytest.mark.parametrize("ecg_factory", [ecg_encoder, plain_ecg_encoder], ids=["tokens", "embedding"])
def test_every_mode_produces_logits(mode, ecg_factory):
    model = FusionClassifier(eeg_encoder(), ecg_factory(), N_CLASSES, mode=mode, hidden=16)
    logits = model(*batch())
    assert logits.shape == (4, N_CLASSES) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert grad_norm(model.head) > 0


@pytest.mark.parametrize("mode", ["concat", "cross_attention"])
def test_fused_modes_use_both_modalities(mode):
    model = FusionClassifier(eeg_encoder(), ecg_encoder(), N_CLASSES, mode=mode, hidden=16).eval()
    eeg, ecg = batch()
    with torch.no_grad():
        base = model(eeg, ecg)
        assert not torch.allclose(base, model(eeg, torch.randn_like(ecg)))
        assert not torch.allclose(base, model(torch.randn_like(eeg), ecg))
    model(eeg, ecg).sum().backward()
    assert grad_norm(model.eeg_encoder) > 0 and grad_norm(model.ecg_encoder) > 0


def test_cross_attention_on_two_embeddings_uses_both():
    model = FusionClassifier(
        eeg_encoder(), plain_ecg_encoder(), N_CLASSES, mode="cross_attention", hidden=16, use_tokens=False
    ).eval()
    eeg, ecg = batch()
    with torch.no_grad():
        assert not torch.allclose(model(eeg, ecg), model(eeg, torch.randn_like(ecg)))


def test_eeg_mode_ignores_the_ecg_input_and_encoder():
    ecg = ecg_encoder()
    model = FusionClassifier(eeg_encoder(), ecg, N_CLASSES, mode="eeg", hidden=16).eval()
    eeg, ecg_x = batch()
    with torch.no_grad():
        torch.testing.assert_close(model(eeg, ecg_x), model(eeg, None))
        torch.testing.assert_close(model(eeg, ecg_x), model(eeg, torch.randn_like(ecg_x)))
    model(eeg, ecg_x).sum().backward()
    assert all(p.grad is None for p in ecg.parameters())
    assert grad_norm(model.eeg_encoder) > 0
    assert model.ecg_encoder is None
    assert not {id(p) for p in ecg.parameters()} & {id(p) for p in model.parameters()}


def test_pair_mode_ignores_the_eeg_input():
    model = FusionClassifier(eeg_encoder(), ecg_encoder(), N_CLASSES, mode="pair", hidden=16).eval()
    eeg, ecg = batch()
    with torch.no_grad():
        torch.testing.assert_close(model(eeg, ecg), model(None, ecg))


def test_freeze_encoders_for_probing_and_unfreeze_for_fine_tuning():
    model = FusionClassifier(eeg_encoder(), ecg_encoder(), N_CLASSES, mode="concat", hidden=16, dropout=0.5)
    model.freeze_encoders(True).train()
    assert not any(p.requires_grad for p in model.eeg_encoder.parameters())
    assert not model.eeg_encoder.training and not model.ecg_encoder.training
    assert model.head.training
    model(*batch()).sum().backward()
    assert all(p.grad is None for p in model.eeg_encoder.parameters())
    assert grad_norm(model.head) > 0
    model.freeze_encoders(False)
    assert all(p.requires_grad for p in model.ecg_encoder.parameters())
    assert model.ecg_encoder.training


def test_configuration_and_input_errors():
    with pytest.raises(ConfigError, match="unknown mode"):
        FusionClassifier(eeg_encoder(), ecg_encoder(), N_CLASSES, mode="sum")
    with pytest.raises(ConfigError, match="needs an ecg encoder"):
        FusionClassifier(eeg_encoder(), None, N_CLASSES, mode="concat")
    model = FusionClassifier(eeg_encoder(), ecg_encoder(), N_CLASSES, mode="concat", hidden=16)
    eeg, ecg = batch()
    with pytest.raises(ContractError, match="needs ecg input"):
        model(eeg, None)
    with pytest.raises(ContractError, match="batch"):
        model(eeg, ecg[:2])


def _pretraining_run(tmp_path, encoder: nn.Module):
    """A run folder as the trainer writes it: the AlignedModel's weights in model.safetensors."""
    run = tmp_path / "run"
    run.mkdir()
    save_weights(AlignedModel(encoder, ProjectionHead(encoder.emb_dim, 8)), run / "model.safetensors")
    return run


def _assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)


def test_load_pretrained_encoder_round_trips_through_safetensors(tmp_path):
    pretrained = eeg_encoder()
    run = _pretraining_run(tmp_path, pretrained)
    for source in (run, run / "model.safetensors", str(run)):
        fresh = eeg_encoder()
        assert not torch.equal(fresh.temporal_embed.weight, pretrained.temporal_embed.weight)
        assert load_pretrained_encoder(source, fresh) is fresh
        _assert_same_weights(fresh, pretrained)
    fresh = eeg_encoder()
    load_pretrained_encoder(pretrained.state_dict(), fresh, prefix="")
    _assert_same_weights(fresh, pretrained)


def test_load_pretrained_encoder_refuses_bad_sources(tmp_path):
    run = _pretraining_run(tmp_path, eeg_encoder())
    with pytest.raises(DataError, match="shapes do not fit"):
        load_pretrained_encoder(run, eeg_encoder(width=16))
    with pytest.raises(DataError, match="do not fit the encoder"):
        load_pretrained_encoder(run, plain_ecg_encoder())
    with pytest.raises(DataError, match="no weights with prefix 'ecg_encoder.'"):
        load_pretrained_encoder(run, eeg_encoder(), prefix="ecg_encoder.")
    with pytest.raises(DataError, match="weights file not found"):
        load_pretrained_encoder(tmp_path / "nowhere", eeg_encoder())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes((run / "model.safetensors").read_bytes()[:100])
    with pytest.raises(DataError, match="truncated.safetensors: not a valid safetensors file"):
        load_pretrained_encoder(truncated, eeg_encoder())
