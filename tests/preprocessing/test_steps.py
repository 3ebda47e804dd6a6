"""Each preprocessing step against values computed independently with numpy."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing.steps import (
    STEPS,
    AverageRepetitions,
    CheckFinite,
    CheckRate,
    Clip,
    Crop,
    DropStart,
    EventWindow,
    Filter,
    Notch,
    PickChannels,
    Rereference,
    Resample,
    Standardize,
    Step,
    Window,
)

mne.set_log_level("ERROR")
SOURCE = "/data/fake/rec01.edf"


def make_rec(
    data: np.ndarray, sfreq: float, ch_names: list[str] | None = None, *, trials: pd.DataFrame | None = None, **kwargs
) -> Recording:
    """A Recording around ``data`` (volts, channels x times)."""
    ch_names = ch_names or [f"C{i}" for i in range(data.shape[0])]
    raw = mne.io.RawArray(data.copy(), mne.create_info(ch_names, sfreq, "eeg"))
    return Recording({"eeg": raw}, subject="01", dataset="syn", source=(SOURCE,), trials=trials, **kwargs)


def rand(n_ch: int, n_times: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_ch, n_times)) * 20e-6


def amplitude_at(x: np.ndarray, sfreq: float, freq: float) -> float:
    """Amplitude of the ``freq`` Hz sinusoid in ``x`` (1-D), from the FFT."""
    spec = np.abs(np.fft.rfft(x)) * 2 / len(x)
    return float(spec[int(round(freq * len(x) / sfreq))])


# ------------------------------------------------------------------ channels
def test_pick_channels_maps_aliases_and_reorders():
    data = rand(4, 100)
    rec = make_rec(data, 100.0, ["EEG T3-REF", "EEG Fp1-LE", "Cz", "EEG O1-LE"])
    out = PickChannels(["Fp1", "T3", "Cz"]).apply(rec)
    assert out.ch_names == ["Fp1", "T7", "Cz"]
    np.testing.assert_array_equal(out.eeg.get_data(), data[[1, 0, 2]])
    assert rec.ch_names == ["EEG T3-REF", "EEG Fp1-LE", "Cz", "EEG O1-LE"]  # caller untouched


def test_pick_channels_missing_names_file_and_channels():
    rec = make_rec(rand(2, 100), 100.0, ["Fp1", "Cz"])
    with pytest.raises(DataError) as err:
        PickChannels(["Fp1", "O2", "Pz"]).apply(rec)
    assert SOURCE in str(err.value) and "O2" in str(err.value) and "Pz" in str(err.value)
    out = PickChannels(["O2", "Cz", "Fp1"], on_missing="ignore").apply(rec)
    assert out.ch_names == ["Cz", "Fp1"]


def test_pick_channels_ambiguous_alias_is_an_error():
    rec = make_rec(rand(2, 100), 100.0, ["T3", "T7"])
    with pytest.raises(DataError, match="T7"):
        PickChannels(["T7"]).apply(rec)


def test_rereference_average_subtracts_channel_mean():
    data = rand(3, 200)
    out = Rereference("average").apply(make_rec(data, 100.0))
    np.testing.assert_allclose(out.eeg.get_data(), data - data.mean(axis=0), atol=1e-15)


# ---------------------------------------------------------------------- time
def test_drop_start_removes_exactly_n_seconds_and_shifts_trials():
    data = rand(2, 1000)
    trials = pd.DataFrame({"onset": [1.0, 5.0], "label": ["a", "b"]})
    out = DropStart(3).apply(make_rec(data, 100.0, trials=trials))
    np.testing.assert_array_equal(out.eeg.get_data(), data[:, 300:])
    assert out.trials["onset"].tolist() == [2.0] and out.trials["label"].tolist() == ["b"]
    with pytest.raises(DataError, match=SOURCE):
        DropStart(10).apply(make_rec(data, 100.0))


def test_crop_duration_and_end_beyond_data():
    data = rand(2, 1000)
    out = Crop(tmin=1.0, duration=2.0).apply(make_rec(data, 100.0))
    np.testing.assert_array_equal(out.eeg.get_data(), data[:, 100:300])
    out = Crop(tmin=4.0, tmax=60.0).apply(make_rec(data, 100.0))
    np.testing.assert_array_equal(out.eeg.get_data(), data[:, 400:])
    with pytest.raises(ConfigError):
        Crop(tmax=1.0, duration=1.0)


def test_resample_n_times_and_waveform():
    sfreq, t = 250.0, np.arange(1000) / 250.0
    data = np.vstack([np.sin(2 * np.pi * 5 * t)]) * 1e-5
    out = Resample(100).apply(make_rec(data, sfreq))
    assert out.sfreq == 100.0 and out.eeg.n_times == 400
    t_new = np.arange(400) / 100.0
    expected = np.sin(2 * np.pi * 5 * t_new) * 1e-5
    np.testing.assert_allclose(out.eeg.get_data()[0, 50:350], expected[50:350], atol=5e-8)  # 0.5 %


# ----------------------------------------------------------------- filtering
def test_bandpass_keeps_passband_removes_rest():
    sfreq, t = 250.0, np.arange(2500) / 250.0
    x = np.sin(2 * np.pi * 2 * t) + np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 40 * t)
    out = Filter(8, 12).apply(make_rec(x[None] * 1e-5, sfreq)).eeg.get_data()[0] / 1e-5
    mid = out[500:2000]
    assert amplitude_at(mid, sfreq, 10) > 0.9
    assert amplitude_at(mid, sfreq, 2) < 0.02 and amplitude_at(mid, sfreq, 40) < 0.02


def test_notch_on_raw_and_epochs():
    sfreq, t = 500.0, np.arange(5000) / 500.0
    x = (np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 50 * t))[None] * 1e-5
    out = Notch([50.0, 100.0, 300.0]).apply(make_rec(x, sfreq)).eeg.get_data()[0, 1000:4000] / 1e-5
    assert amplitude_at(out, sfreq, 50) < 0.02 and amplitude_at(out, sfreq, 10) > 0.95
    epochs = mne.EpochsArray(np.stack([x, x]), mne.create_info(1, sfreq, "eeg"))
    rec = Recording({"eeg": epochs}, subject="01", dataset="syn")
    ep = Notch([50.0]).apply(rec).eeg.get_data()[1, 0, 1000:4000] / 1e-5
    assert amplitude_at(ep, sfreq, 50) < 0.02


# ---------------------------------------------------------------- amplitudes
def test_clip_bounds_at_800_microvolts():
    data = rand(2, 500)
    data[0, 10], data[1, 20] = 2000e-6, -5000e-6
    out = Clip(800).apply(make_rec(data, 100.0)).eeg.get_data()
    assert np.abs(out).max() == pytest.approx(800e-6)
    inside = np.abs(data) <= 800e-6
    np.testing.assert_array_equal(out[inside], data[inside])
    assert out[0, 10] == pytest.approx(800e-6) and out[1, 20] == pytest.approx(-800e-6)


def test_standardize_recording_zscores_each_channel():
    data = rand(3, 1000) + np.array([[5e-6], [-30e-6], [0.0]])
    out = Standardize().apply(make_rec(data, 100.0))
    x = out.eeg.get_data()
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(x.std(axis=1), 1, atol=1e-9)
    assert out.units["eeg"] == "a.u."


def test_standardize_exponential_matches_weighted_average_formula():
    data = rand(2, 60, seed=3)
    alpha = 0.1
    out = (
        Standardize(method="exponential", factor_new=alpha, init_block_size=None)
        .apply(make_rec(data, 100.0))
        .eeg.get_data()
    )
    x = data * 1e6  # computed in µV
    n = x.shape[1]
    w = (1 - alpha) ** np.arange(n)
    mean = np.array([[(w[: t + 1] * xc[t::-1]).sum() / w[: t + 1].sum() for t in range(n)] for xc in x])
    d = x - mean
    var = np.array([[(w[: t + 1] * dc[t::-1] ** 2).sum() / w[: t + 1].sum() for t in range(n)] for dc in d])
    np.testing.assert_allclose(out, d / np.maximum(np.sqrt(var), 1e-4), rtol=1e-6, atol=1e-9)


# -------------------------------------------------------------------- checks
def test_check_rate():
    rec = make_rec(rand(1, 100), 128.0)
    assert CheckRate(128).apply(rec).sfreq == 128.0
    with pytest.raises(DataError, match="128 Hz, expected 100 Hz") as err:
        CheckRate(100).apply(rec)
    assert SOURCE in str(err.value)


def test_check_finite_names_file_and_channel():
    data = rand(3, 100)
    data[1, 50] = np.nan
    data[2, 3] = np.inf
    with pytest.raises(DataError) as err:
        CheckFinite().apply(make_rec(data, 100.0, ["Fp1", "Cz", "Oz"]))
    msg = str(err.value)
    assert SOURCE in msg and "Cz" in msg and "Oz" in msg and "Fp1" not in msg


# ----------------------------------------------------------------- windowing
def test_window_counts_contents_and_labels():
    data = rand(2, 1000)
    rec = make_rec(data, 100.0, metadata={"label": "rest"}, text="a resting subject")
    out = Window(2.0, 1.0).apply(rec)
    x = out.eeg.get_data()
    assert x.shape == ((1000 - 200) // 100 + 1, 2, 200)
    for k in range(x.shape[0]):
        np.testing.assert_array_equal(x[k], data[:, 100 * k : 100 * k + 200])
    assert out.trials["start"].tolist() == [float(k) for k in range(9)]
    assert set(out.trials["label"]) == {"rest"} and set(out.trials["text"]) == {"a resting subject"}


def test_window_last_seconds_of_a_whole_recording():
    rec = make_rec(rand(2, 1000), 100.0, metadata={"label": "rest"})
    out = Window(2.0, last_s=4.0).apply(rec)  # 10 s: windows starting at 6 and 8 s only
    assert out.trials["start"].tolist() == [6.0, 8.0]
    np.testing.assert_array_equal(out.eeg.get_data()[0], rec.eeg.get_data()[:, 600:800])
    assert len(Window(2.0, last_s=100.0).apply(rec).trials) == 5


def test_window_cuts_every_modality_on_one_time_grid():
    eeg = mne.io.RawArray(rand(2, 1000), mne.create_info(2, 100.0, "eeg"))
    ecg = mne.io.RawArray(rand(1, 2490), mne.create_info(["ECG"], 250.0, "ecg"))  # 9.96 s
    rec = Recording({"eeg": eeg, "ecg": ecg}, subject="01", dataset="syn")
    out = Window(2.0).apply(rec)
    assert len(out.signals["eeg"]) == len(out.signals["ecg"]) == 4 == len(out.trials)
    np.testing.assert_array_equal(out.signals["ecg"].get_data()[3], ecg.get_data()[:, 1500:2000])


def test_event_window_slices_around_onsets_and_drops_edges():
    data = rand(2, 1000)
    trials = pd.DataFrame(
        {
            "onset": [0.05, 2.0, 5.0, 6.0, 9.9],
            "label": ["a", "b", "a", "c", "a"],
            "image": ["i0", "i1", "i2", "i3", "i4"],
        }
    )
    out = EventWindow(-0.1, 0.5, labels=["a", "b"]).apply(make_rec(data, 100.0, trials=trials))
    x = out.eeg.get_data()
    assert x.shape == (2, 2, 60)
    np.testing.assert_array_equal(x[0], data[:, 190:250])
    np.testing.assert_array_equal(x[1], data[:, 490:550])
    assert out.trials["label"].tolist() == ["b", "a"] and out.trials["image"].tolist() == ["i1", "i2"]
    np.testing.assert_allclose(out.trials["start"], [1.9, 4.9])


def test_event_window_baseline():
    data = np.ones((1, 1000)) * 7e-6
    data[0, 500:] += 3e-6
    trials = pd.DataFrame({"onset": [5.0], "label": ["x"]})
    out = EventWindow(-0.2, 0.2, baseline=[None, 0.0]).apply(make_rec(data, 100.0, trials=trials))
    x = out.eeg.get_data()[0, 0]
    # baseline = mean over -0.2..0 s inclusive (20 samples at 7 µV, the one at 0 s at 10 µV)
    base = (20 * 7e-6 + 10e-6) / 21
    np.testing.assert_allclose(x, np.r_[np.full(20, 7e-6), np.full(20, 10e-6)] - base, atol=1e-15)


def test_average_repetitions_averages_by_image():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((6, 2, 10))
    epochs = mne.EpochsArray(data, mne.create_info(2, 100.0, "eeg"), tmin=-0.2)
    trials = pd.DataFrame({"onset": np.nan, "image": ["a", "b", "a", "c", "b", "a"], "label": list("xyxzyx")})
    rec = Recording({"eeg": epochs}, subject="01", dataset="syn", trials=trials)
    out = AverageRepetitions(by="image").apply(rec)
    x = out.eeg.get_data()
    np.testing.assert_allclose(x[0], data[[0, 2, 5]].mean(axis=0))
    np.testing.assert_allclose(x[1], data[[1, 4]].mean(axis=0))
    np.testing.assert_allclose(x[2], data[3])
    assert out.trials["image"].tolist() == ["a", "b", "c"]
    assert out.trials["n_repetitions"].tolist() == [3, 2, 1]
    assert out.eeg.tmin == pytest.approx(-0.2)


def test_kind_checks():
    rec = make_rec(rand(1, 300), 100.0)
    with pytest.raises(DataError, match="epoched data"):
        AverageRepetitions().apply(rec)
    windowed = Window(1.0).apply(rec)
    with pytest.raises(DataError, match="continuous data"):
        DropStart(1).apply(windowed)
    with pytest.raises(DataError, match="'ecg'"):
        Filter(1, 10, modality="ecg").apply(rec)


# ------------------------------------------------------------- serialisation
EXAMPLES = [
    PickChannels(["Fp1", "Cz"], on_missing="ignore"),
    Rereference(["A1", "A2"]),
    DropStart(60),
    Crop(tmin=1, duration=30),
    Resample(128),
    Filter(1, 40, modality=["eeg", "ecg"]),
    Notch([50, 100]),
    Clip(500),
    Standardize(method="exponential"),
    CheckRate(250),
    CheckFinite(),
    Window(2, 1, label_key="condition"),
    EventWindow(-0.1, 0.6, labels=["a"], baseline=[None, 0]),
    AverageRepetitions(by="condition"),
]


def test_every_step_has_an_example():
    assert {type(s).__name__ for s in EXAMPLES} == set(STEPS)


@pytest.mark.parametrize("step", EXAMPLES, ids=lambda s: type(s).__name__)
def test_to_dict_from_dict_round_trip(step: Step):
    spec = step.to_dict()
    assert spec["step"] == type(step).__name__
    assert Step.from_dict(spec) == step


def test_from_dict_rejects_unknown_names():
    with pytest.raises(ConfigError, match="Resampel"):
        Step.from_dict({"step": "Resampel", "sfreq": 100})
    with pytest.raises(ConfigError, match="sfrq"):
        Step.from_dict({"step": "Resample", "sfrq": 100})
    with pytest.raises(ConfigError):
        Step.from_dict({"step": "Resample"})


def test_window_within_trials_keeps_each_trials_label_and_last_seconds():
    """Windows are cut inside each labelled trial (never across two), take the
    trial's label, and with last_s only from the trial's last seconds."""
    from brainalign.preprocessing.steps import Window

    trials = pd.DataFrame(
        {"onset": [1.0, 20.0], "duration": [10.0, 6.0], "label": ["high", "low"], "valence": [4.0, 2.0]}
    )
    rec = make_rec(rand(2, 100 * 30), 100.0, trials=trials)
    out = Window(length_s=2.0, within_trials=True, last_s=6.0).apply(rec)
    t = out.trials
    assert t["label"].tolist() == ["high"] * 3 + ["low"] * 3
    assert np.allclose(t["start"], [5.0, 7.0, 9.0, 20.0, 22.0, 24.0])
    assert t["valence"].tolist() == [4.0] * 3 + [2.0] * 3
    data = out.get_data(units="V")
    assert data.shape == (6, 2, 200)
    assert np.allclose(data[0], rec.get_data(units="V")[:, 500:700])
