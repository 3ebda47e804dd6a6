"""The encoders with a classical front end: bandpower, tangent, spatial_filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.errors import ConfigError
from brainalign.evaluation.baselines import band_log_power
from brainalign.models import create_encoder, list_encoders

torch.set_num_threads(1)


def _train(encoder, x, y, epochs=60, lr=1e-2, seed=0):
    """A linear classifier on the encoder's embedding, trained with cross-entropy; returns
    the training accuracy on held-out-free data and the encoder (eval mode)."""
    torch.manual_seed(seed)
    clf = torch.nn.Linear(encoder.emb_dim, 2)
    opt = torch.optim.Adam([p for p in encoder.parameters() if p.requires_grad] + list(clf.parameters()), lr=lr)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    for _ in range(epochs):
        encoder.train()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(clf(encoder(xt)), yt)
        loss.backward()
        opt.step()
    encoder.eval()
    return clf


def _accuracy(encoder, clf, x, y) -> float:
    with torch.no_grad():
        return float((clf(encoder(torch.as_tensor(x, dtype=torch.float32))).argmax(1).numpy() == y).mean())


def _alpha_trials(n, n_chans=4, sfreq=100.0, n_times=200, seed=0):
    """Class 1 has a 10 Hz rhythm on channel 0, class 0 does not: a band-power contrast."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, n_chans, n_times)) * 5
    x[:, 0] += (y[:, None] * 8) * np.sin(2 * np.pi * 10 * t + rng.uniform(0, 6.28, (n, 1)))
    return x, y


def _covariance_trials(n, n_chans=6, n_times=128, seed=0):
    """Class 1 mixes a strong source into channels 0-2 (a spatial-covariance contrast)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, n_chans, n_times))
    source = rng.standard_normal((n, 1, n_times)) * 2
    pattern = np.zeros((1, n_chans, 1))
    pattern[0, :3, 0] = [1.0, -1.0, 0.5]
    x += y[:, None, None] * source * pattern
    return x, y


def test_registered():
    names = list_encoders()
    assert {"bandpower", "tangent", "spatial_filter", "erp"} <= set(names)


# ----------------------------------------------------------------------------- erp
def test_erp_features_equal_the_baseline_and_learn_an_evoked_contrast():
    from brainalign.experiments.fair import erp_bins
    from brainalign.training.heads import HeadConfig, train_ce_head

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    x = rng.standard_normal((600, 5, 130)) * 3
    x[:, 2, 40:60] += y[:, None] * 2.0  # a late positivity on channel 2 in class 1
    enc = create_encoder("erp", n_chans=5, n_times=130, sfreq=128.0, emb_dim=8)
    assert enc.encoder_config()["name"] == "erp" and enc.n_bins == 32 and enc.n_features == 5 * 32
    feats = enc.features(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(feats, erp_bins(x, 128.0, 32.0), atol=1e-5)
    enc.set_feature_stats(feats[:400].mean(0), feats[:400].std(0))
    clf = train_ce_head(enc, feats[:400], y[:400], HeadConfig(emb_dim=8), seed=0)
    with torch.no_grad():
        pred = clf(enc.head(torch.as_tensor(feats[400:], dtype=torch.float32))).argmax(1).numpy()
    assert (pred == y[400:]).mean() >= 0.75
    assert torch.allclose(enc(torch.as_tensor(x[:3], dtype=torch.float32)), enc.head(torch.as_tensor(feats[:3])))
    with pytest.raises(ConfigError, match="statistics"):
        enc.set_feature_stats(np.zeros(3), np.ones(3))
    with pytest.raises(ConfigError, match="bin"):
        create_encoder("erp", n_chans=2, n_times=4, sfreq=256.0, bin_hz=32.0)


# ----------------------------------------------------------------------- bandpower
def test_bandpower_features_equal_the_baseline_and_learn_alpha():
    x, y = _alpha_trials(160)
    enc = create_encoder("bandpower", n_chans=4, n_times=200, sfreq=100.0, emb_dim=16)
    assert enc.encoder_config()["name"] == "bandpower"
    feats = enc.features(torch.as_tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(feats, band_log_power(x, 100.0), atol=1e-4)
    assert enc(torch.as_tensor(x[:3], dtype=torch.float32)).shape == (3, 16)
    enc.set_feature_stats(feats[:100].mean(0), feats[:100].std(0))
    clf = _train(enc, x[:100], y[:100])
    assert _accuracy(enc, clf, x[100:], y[100:]) >= 0.9
    with pytest.raises(ConfigError, match="band"):
        create_encoder("bandpower", n_chans=4, n_times=200, sfreq=100.0, bands={"hi": [45, 60]})


def test_bandpower_gradients_reach_the_mlp_and_the_input():
    enc = create_encoder("bandpower", n_chans=3, n_times=100, sfreq=100.0, emb_dim=8)
    x = torch.randn(4, 3, 100, requires_grad=True)
    enc(x).pow(2).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.mlp.parameters())
    assert x.grad is not None and x.grad.abs().sum() > 0


# ------------------------------------------------------------------------- tangent
def test_tangent_matches_pyriemann_and_learns_a_covariance_contrast():
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace

    x, y = _covariance_trials(160)
    enc = create_encoder("tangent", n_chans=6, n_times=128, sfreq=128.0, emb_dim=16)
    enc.fit_reference(x[:100])
    covs = Covariances(estimator="oas").fit_transform(x)
    np.testing.assert_allclose(
        enc.covariances(torch.as_tensor(x, dtype=torch.float32)).numpy(), covs, rtol=1e-3, atol=1e-4
    )
    ts = TangentSpace(metric="riemann").fit(covs[:100])
    np.testing.assert_allclose(enc.features(torch.as_tensor(x[100:])).numpy(), ts.transform(covs[100:]), atol=2e-3)
    clf = _train(enc, x[:100], y[:100])
    assert _accuracy(enc, clf, x[100:], y[100:]) >= 0.9
    # reference="logeuclid": the same log map at the training matrices' log-Euclidean mean
    from pyriemann.utils.mean import mean_logeuclid
    from pyriemann.utils.tangentspace import tangent_space

    le = create_encoder("tangent", n_chans=6, n_times=128, sfreq=128.0, reference="logeuclid").fit_reference(x[:100])
    np.testing.assert_allclose(
        le.features(torch.as_tensor(x[100:])).numpy(),
        tangent_space(covs[100:], mean_logeuclid(covs[:100]), metric="riemann"),
        atol=2e-3,
    )
    with pytest.raises(ConfigError, match="reference"):
        create_encoder("tangent", n_chans=6, n_times=128, sfreq=128.0, reference="euclid")


def test_tangent_xdawn_matches_xdawn_covariances():
    from pyriemann.estimation import XdawnCovariances
    from pyriemann.tangentspace import TangentSpace

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    x = rng.standard_normal((120, 4, 64))
    x[:, :2, 20:30] += y[:, None, None] * 3.0  # an evoked response in class 1
    enc = create_encoder("tangent", n_chans=4, n_times=64, sfreq=64.0, emb_dim=8, xdawn_filters=2)
    enc.fit_reference(x[:80], y[:80])
    ref = XdawnCovariances(nfilter=2, estimator="oas").fit(x[:80], y[:80])
    covs = ref.transform(x)
    np.testing.assert_allclose(
        enc.covariances(torch.as_tensor(x, dtype=torch.float32)).numpy(), covs, rtol=2e-3, atol=1e-3
    )
    ts = TangentSpace(metric="riemann").fit(covs[:80])
    np.testing.assert_allclose(enc.features(torch.as_tensor(x[80:])).numpy(), ts.transform(covs[80:]), atol=5e-3)
    with pytest.raises(ConfigError, match="labels"):
        enc.fit_reference(x[:80])
    out = enc(torch.as_tensor(x[:5], dtype=torch.float32))
    out.sum().backward()
    assert all(p.grad is not None for p in enc.mlp.parameters())


# -------------------------------------------------------------------- spatial filter
@pytest.mark.parametrize("mode, n_features", [("logvar", 4), ("erp", 4 * 8), ("both", 4 + 4 * 8)])
def test_spatial_filter_shapes_and_gradients(mode, n_features):
    enc = create_encoder(
        "spatial_filter", n_chans=6, n_times=64, sfreq=64.0, emb_dim=8, n_filters=4, mode=mode, n_bins=8
    )
    x = torch.randn(5, 6, 64)
    assert enc.features(x).shape == (5, n_features)
    out = enc(x)
    assert out.shape == (5, 8)
    out.pow(2).sum().backward()
    assert enc.filters.grad is not None and enc.filters.grad.abs().sum() > 0


def test_spatial_filter_csp_init_learns_a_covariance_contrast():
    x, y = _covariance_trials(200)
    enc = create_encoder("spatial_filter", n_chans=6, n_times=128, sfreq=128.0, emb_dim=8, n_filters=4)
    enc.init_filters(x[:120], y[:120], method="csp")
    assert np.allclose(np.linalg.norm(enc.filters.detach().numpy(), axis=1), 1.0, atol=1e-5)
    clf = _train(enc, x[:120], y[:120])
    assert _accuracy(enc, clf, x[120:], y[120:]) >= 0.9
    enc2 = create_encoder("spatial_filter", n_chans=6, n_times=128, sfreq=128.0, n_filters=4, mode="erp")
    enc2.init_filters(x[:120], y[:120], method="xdawn")
    with pytest.raises(ConfigError, match="init"):
        enc2.init_filters(x[:120], y[:120], method="ica")
