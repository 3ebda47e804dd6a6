"""Baselines on synthetic windows whose answer is known, plus CSP + LDA on EEGMMIDB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.data.splits import Split
from brainalign.errors import DataError
from brainalign.evaluation.baselines import (
    BANDS,
    BASELINES,
    band_log_power,
    detect_r_peaks,
    hrv_features,
    run_baseline,
    run_baselines,
)
from brainalign.preprocessing.pipeline import Windows

N_TRAIN, N_VAL, N_TEST = 100, 20, 80
N = N_TRAIN + N_VAL + N_TEST


def _windows(data: np.ndarray, labels: np.ndarray, sfreq: float, ch_names: list[str] | None = None) -> Windows:
    """Windows of ``data`` with one recording per 10 rows and the given labels."""
    n = len(data)
    table = pd.DataFrame({"recording": [f"rec{i // 10}" for i in range(n)], "subject": "s1", "label": list(labels)})
    names = ch_names or [f"C{i}" for i in range(data.shape[1])]
    return Windows(data.astype(np.float32), names, sfreq, table)


def _split(n: int = N) -> Split:
    """Contiguous train / val / test positions."""
    return Split(
        train=np.arange(N_TRAIN),
        val=np.arange(N_TRAIN, N_TRAIN + N_VAL),
        test=np.arange(N_TRAIN + N_VAL, n),
        kind="synthetic",
    )


def _classes(rng: np.random.Generator, n: int = N) -> np.ndarray:
    """Balanced labels "a"/"b" in random order."""
    return rng.permutation(np.array(["a", "b"] * (n // 2), dtype=object))


def erp_windows(seed: int = 0) -> Windows:
    """8 channels, 0.8 s at 100 Hz, white noise (5 µV); class "b" adds a 3 µV bump at 0.3 s
    with a fixed spatial pattern."""
    rng = np.random.default_rng(seed)
    labels = _classes(rng)
    t = np.arange(80) / 100.0
    bump = np.exp(-0.5 * ((t - 0.3) / 0.04) ** 2)
    pattern = np.linspace(1.0, 0.3, 8)
    data = 5.0 * rng.standard_normal((N, 8, 80))
    data[labels == "b"] += 3.0 * pattern[:, None] * bump[None, :]
    return _windows(data, labels, 100.0)


def alpha_windows(seed: int = 0) -> Windows:
    """8 channels, 2 s at 100 Hz, white noise (5 µV) plus a 10 Hz rhythm of random phase,
    strong on C0 for class "a" and on C1 for class "b"."""
    rng = np.random.default_rng(seed)
    labels = _classes(rng)
    t = np.arange(200) / 100.0
    data = 5.0 * rng.standard_normal((N, 8, 200))
    for i, label in enumerate(labels):
        wave = np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 2 * np.pi))
        strong, weak = (0, 1) if label == "a" else (1, 0)
        data[i, strong] += 4.0 * wave
        data[i, weak] += 1.0 * wave
    return _windows(data, labels, 100.0)


def ecg_trace(rng: np.random.Generator, bpm: float, sfreq: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """An ECG-like trace in µV (R wave 1 mV, T wave, baseline wander, noise) and its beat samples."""
    t = np.arange(int(seconds * sfreq)) / sfreq
    beats = [rng.uniform(0.05, 0.5)]
    while beats[-1] < seconds - 0.1:
        beats.append(beats[-1] + 60.0 / bpm * (1 + 0.03 * rng.standard_normal()))
    beats = np.array([b for b in beats if b < seconds - 0.1])
    x = 60.0 * rng.standard_normal(len(t)) + 150.0 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    for b in beats:
        x += 1000.0 * np.exp(-0.5 * ((t - b) / 0.012) ** 2) + 250.0 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
    return x, np.round(beats * sfreq).astype(int)


def ecg_windows(seed: int = 0) -> Windows:
    """8 s of ECG at 250 Hz per window: class "a" near 62 bpm, class "b" near 80 bpm."""
    rng = np.random.default_rng(seed)
    labels = _classes(rng)
    data = np.stack([ecg_trace(rng, rng.normal(62.0 if lab == "a" else 80.0, 6.0), 250.0, 8.0)[0] for lab in labels])[
        :, None, :
    ]
    return _windows(data, labels, 250.0, ["ECG"])


CASES = {
    "xdawn_ts_lr": (erp_windows, {"nfilter": 2}),
    "erp_lr": (erp_windows, {"target_sfreq": 25.0, "C": 0.1}),
    "csp_lda": (alpha_windows, {}),
    "bandpower_lr": (alpha_windows, {}),
    "ecg_hrv_lr": (ecg_windows, {}),
}


def _shuffled(windows: Windows, seed: int = 1) -> Windows:
    table = windows.table.copy()
    table["label"] = np.random.default_rng(seed).permutation(table["label"].to_numpy())
    return Windows(windows.data, windows.ch_names, windows.sfreq, table)


@pytest.mark.parametrize("name", sorted(CASES))
def test_baseline_learns_the_effect_and_not_shuffled_labels(name):
    make, options = CASES[name]
    windows = make()
    result = run_baseline(name, windows, _split(), seed=0, **options)
    assert result["balanced_accuracy"] > 0.8, result
    assert result["auc"] > 0.85, result
    assert (result["n_train"], result["n_val"], result["n_test"]) == (N_TRAIN + N_VAL, 0, N_TEST)
    assert result["seconds"] > 0
    again = run_baseline(name, windows, _split(), seed=0, **options)
    assert again["balanced_accuracy"] == result["balanced_accuracy"] and again["auc"] == result["auc"]
    null = run_baseline(name, _shuffled(windows), _split(), seed=0, **options)
    assert abs(null["balanced_accuracy"] - 0.5) < 0.15, null


def test_predictions_are_the_test_windows_classes_in_split_order():
    windows = erp_windows()
    result = run_baseline("erp_lr", windows, _split(), seed=0, return_predictions=True, target_sfreq=25.0, C=0.1)
    pred = result["predictions"]
    truth = windows.table["label"].to_numpy()[_split().test]
    assert len(pred) == N_TEST and set(pred) <= {"a", "b"}
    # the balanced accuracy it reports is that of these predictions, window by window
    recall = [np.mean(pred[truth == c] == c) for c in ("a", "b")]
    assert result["balanced_accuracy"] == pytest.approx(np.mean(recall))
    assert "predictions" not in run_baseline("erp_lr", windows, _split(), seed=0, target_sfreq=25.0, C=0.1)


def test_chance_is_one_over_the_classes():
    windows = alpha_windows()
    result = run_baseline("chance", windows, _split())
    assert result["balanced_accuracy"] == 0.5
    assert result["auc"] == 0.5
    three = windows.table.copy()
    three["label"] = np.array(["a", "b", "c"] * (N // 3 + 1))[:N]
    result = run_baseline("chance", Windows(windows.data, windows.ch_names, 100.0, three), _split())
    assert result["balanced_accuracy"] == pytest.approx(1 / 3)
    assert "auc" not in result


def test_band_log_power_matches_a_sine():
    """A 10 Hz sine of amplitude A has power A²/2, all of it in the alpha band."""
    t = np.arange(400) / 100.0
    data = np.zeros((1, 2, 400))
    data[0, 0] = 3.0 * np.sin(2 * np.pi * 10.0 * t)
    data[0, 1] = 1e-3 * np.sin(2 * np.pi * 20.0 * t)
    features = band_log_power(data, 100.0).reshape(2, len(BANDS))
    alpha = list(BANDS).index("alpha")
    assert features[0, alpha] == pytest.approx(np.log10(4.5), abs=0.02)
    assert features[0].argmax() == alpha and features[1].argmax() == list(BANDS).index("beta")
    with pytest.raises(DataError, match="gamma"):
        band_log_power(data, 70.0)  # gamma reaches above 35 Hz


def test_r_peaks_and_heart_rate_of_a_synthetic_ecg():
    rng = np.random.default_rng(3)
    for bpm, sign in ((55.0, 1.0), (95.0, -1.0)):  # either polarity of the lead
        trace, beats = ecg_trace(rng, bpm, 250.0, 10.0)
        peaks = detect_r_peaks(sign * trace, 250.0)
        assert len(peaks) == len(beats)
        assert np.abs(peaks - beats).max() <= 2
        rate, mean_hr, sdnn, rmssd = hrv_features((sign * trace)[None], 250.0)[0]
        rr = np.diff(beats) / 250.0
        assert mean_hr == pytest.approx(60.0 / rr.mean(), rel=0.01)
        assert sdnn == pytest.approx(1000.0 * rr.std(), abs=8.0)
        assert rate == pytest.approx(60.0 * len(beats) / 10.0)
        assert rmssd > 0


def test_ecg_rows_align_with_eeg_windows():
    ecg = ecg_windows()
    eeg = _windows(np.random.default_rng(0).standard_normal((N, 4, 50)), ecg.table["label"].to_numpy(), 100.0)
    result = run_baselines(["ecg_hrv_lr", "chance"], eeg, _split(), ecg_windows=ecg)
    assert result["ecg_hrv_lr"]["balanced_accuracy"] > 0.8
    assert result["chance"]["balanced_accuracy"] == 0.5
    with pytest.raises(DataError, match="rows"):
        run_baseline("ecg_hrv_lr", eeg, _split(), ecg_windows=ecg.select(np.arange(N - 1)))
    moved = ecg.table.copy()
    moved["recording"] = np.roll(moved["recording"].to_numpy(), 10)
    with pytest.raises(DataError, match="recording"):
        run_baseline("ecg_hrv_lr", eeg, _split(), ecg_windows=Windows(ecg.data, ecg.ch_names, 250.0, moved))
    with pytest.raises(DataError, match="ECG"):
        run_baseline("ecg_hrv_lr", eeg, _split())  # 4 EEG channels, none an ECG


def test_eegclassifier_trains_on_train_and_validates_on_val_only():
    windows = alpha_windows()
    options = {"epochs": 2, "batch_size": 20, "model_kwargs": {"n_filters_time": 8, "n_filters_spat": 8}}
    result = run_baseline("eegclassifier", windows, _split(), seed=0, **options)
    assert (result["n_train"], result["n_val"], result["n_test"]) == (N_TRAIN, N_VAL, N_TEST)
    assert result["epochs_run"] == 2 and len(result["val_loss"]) == 2
    assert np.isfinite(result["val_loss"]).all() and 0.0 <= result["balanced_accuracy"] <= 1.0

    test_shuffled = windows.table.copy()
    test_rows = _split().test
    test_shuffled.loc[test_rows, "label"] = np.random.default_rng(5).permutation(test_shuffled.loc[test_rows, "label"])
    other = run_baseline(
        "eegclassifier", Windows(windows.data, windows.ch_names, 100.0, test_shuffled), _split(), seed=0, **options
    )
    assert other["val_loss"] == result["val_loss"]

    val_flipped = windows.table.copy()
    val_rows = _split().val
    val_flipped.loc[val_rows, "label"] = val_flipped.loc[val_rows, "label"].map({"a": "b", "b": "a"})
    flipped = run_baseline(
        "eegclassifier", Windows(windows.data, windows.ch_names, 100.0, val_flipped), _split(), seed=0, **options
    )
    assert flipped["val_loss"] != result["val_loss"]

    no_val = Split(train=np.arange(N_TRAIN), val=np.array([], dtype=int), test=test_rows, kind="synthetic")
    with pytest.raises(DataError, match="validation"):
        run_baseline("eegclassifier", windows, no_val, **options)
    with pytest.raises(DataError, match="unknown eegclassifier model"):
        run_baseline("eegclassifier", windows, _split(), model="resnet", **options)


def test_bad_input_raises_data_error():
    windows = alpha_windows()
    with pytest.raises(DataError, match="unknown baseline"):
        run_baseline("svm", windows, _split())
    with pytest.raises(DataError, match="no label column"):
        run_baseline("chance", windows, _split(), label_col="condition")
    data = np.array(windows.data)
    data[N_TRAIN + N_VAL + 3, 2, 7] = np.nan
    with pytest.raises(DataError, match="NaN.*rec12"):
        run_baseline("csp_lda", Windows(data, windows.ch_names, 100.0, windows.table), _split())
    unseen = windows.table.copy()
    unseen.loc[N - 1, "label"] = "c"
    with pytest.raises(DataError, match="absent from training"):
        run_baseline("bandpower_lr", Windows(windows.data, windows.ch_names, 100.0, unseen), _split())
    with pytest.raises(DataError, match="outside"):
        run_baseline("chance", windows.select(np.arange(N - 5)), _split())
    with pytest.raises(DataError, match="n_component"):
        run_baseline("csp_lda", windows, _split(), n_component=4)
    with pytest.raises(DataError, match="not run"):
        run_baselines(["chance"], windows, _split(), options={"csp_lda": {}})
    assert set(BASELINES) == {
        "chance",
        "xdawn_ts_lr",
        "csp_lda",
        "bandpower_lr",
        "ecg_hrv_lr",
        "erp_lr",
        "eegclassifier",
    }


@pytest.mark.realdata
def test_csp_lda_eegmmidb_executed_to_imagined(data_root):
    """Train on executed left/right fist (R03), test on imagined (R04); reference 0.733."""
    from brainalign.data import open_dataset
    from brainalign.preprocessing import cached_windows, get_preset

    reader = open_dataset(data_root / "eegmmidb")
    refs = [ref for ref in reader.refs() if ref.subject == "001" and int(ref.run) in (3, 4)]
    assert len(refs) == 2
    windows = cached_windows([reader.load(ref) for ref in refs], get_preset("eegmmidb_mi"), progress=False)
    runs = windows.table["run"].astype(int).to_numpy()
    split = Split(
        train=np.flatnonzero(runs == 3), val=np.array([], dtype=int), test=np.flatnonzero(runs == 4), kind="run"
    )
    result = run_baseline("csp_lda", windows, split)
    print(f"EEGMMIDB S001 R03 -> R04 CSP+LDA: {result}")
    assert np.isfinite(result["balanced_accuracy"]) and np.isfinite(result["auc"])
    assert result["n_test"] == 15
