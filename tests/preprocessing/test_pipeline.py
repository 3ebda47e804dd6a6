"""Pipeline: serialisation, hashing, window extraction, presets."""

from __future__ import annotations

import hashlib
import json

import mne
import numpy as np
import pandas as pd
import pytest

from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing import (
    PRESETS,
    Clip,
    Crop,
    DropStart,
    EventWindow,
    Filter,
    Pipeline,
    Resample,
    Standardize,
    Window,
    get_preset,
)

mne.set_log_level("ERROR")


def make_rec(
    seed: int = 0,
    ch_names=("Fp1", "Cz", "O1"),
    sfreq: float = 200.0,
    seconds: float = 20.0,
    subject: str = "01",
    label: str = "rest",
) -> Recording:
    data = np.random.default_rng(seed).standard_normal((len(ch_names), int(sfreq * seconds))) * 20e-6
    raw = mne.io.RawArray(data, mne.create_info(list(ch_names), sfreq, "eeg"))
    trials = pd.DataFrame(
        {"onset": [3.0, 7.5, 12.0], "label": ["face", "house", "face"], "text": ["a face", None, "a face"]}
    )
    return Recording(
        {"eeg": raw},
        subject=subject,
        dataset="syn",
        source=(f"/fake/sub{subject}.edf",),
        session="1",
        metadata={"label": label},
        text="recording text",
        trials=trials,
    )


PIPE = Pipeline([DropStart(2), Crop(duration=10), Filter(1, 40), Clip(800), Resample(100), Window(2, 1)])


def test_round_trip_same_hash_and_same_output(tmp_path):
    again = Pipeline.from_dict(PIPE.to_dict())
    assert again == PIPE and again.hash() == PIPE.hash()
    for name in ("p.yaml", "p.json"):
        PIPE.save(tmp_path / name)
        loaded = Pipeline.load(tmp_path / name)
        assert loaded.hash() == PIPE.hash()
    a, b = PIPE.transform(make_rec()), loaded.transform(make_rec())
    np.testing.assert_array_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_hash_is_stable_and_parameter_sensitive():
    p = Pipeline([Resample(100.0), Window(2.0)])
    q = Pipeline.from_dict({"steps": [{"step": "Window", "length_s": 2}, {"step": "Resample", "sfreq": 100}][::-1]})
    assert p.hash() == q.hash()  # 100 vs 100.0 spelled alike
    # a pure function of the spec (nothing session-dependent), spelled out here by hand
    spec = {
        "modality": "eeg",
        "units": "uV",
        "steps": [
            {"step": "Resample", "modality": "eeg", "sfreq": 100},
            {
                "step": "Window",
                "modality": "all",
                "length_s": 2,
                "stride_s": None,
                "label_key": "label",
                "within_trials": False,
                "last_s": None,
            },
        ],
    }
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    assert p.hash() == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert Pipeline([Resample(101), Window(2)]).hash() != p.hash()
    assert Pipeline([Window(2), Resample(100)]).hash() != p.hash()  # order matters


def test_windows_are_microvolts_with_table():
    rec = make_rec()
    w = Pipeline([Window(2.0, 2.0)]).transform(rec)
    raw = rec.eeg.get_data()
    assert w.data.dtype == np.float32 and w.unit == "uV" and w.sfreq == 200.0
    assert w.data.shape == (10, 3, 400) and w.ch_names == ["Fp1", "Cz", "O1"]
    np.testing.assert_allclose(w.data[3], raw[:, 1200:1600] * 1e6, rtol=1e-6)
    t = w.table
    assert list(t.columns[:10]) == [
        "recording",
        "dataset",
        "subject",
        "session",
        "run",
        "window",
        "start",
        "label",
        "image",
        "text",
    ]
    assert t["recording"].unique().tolist() == ["syn_sub-01_ses-1"]
    assert t["window"].tolist() == list(range(10)) and t["start"].tolist() == [2.0 * k for k in range(10)]
    assert set(t["label"]) == {"rest"} and set(t["text"]) == {"recording text"}
    assert t["image"].isna().all() and t["run"].isna().all()


def test_start_times_count_from_the_source_start_after_cropping():
    w = Pipeline([DropStart(2), Resample(100), EventWindow(-0.5, 0.5)]).transform(make_rec())
    np.testing.assert_allclose(w.table["start"], [2.5, 7.0, 11.5])
    assert w.table["label"].tolist() == ["face", "house", "face"]
    assert w.table["text"].tolist() == ["a face", "recording text", "a face"]  # trial text, else recording's


def test_standardised_windows_are_in_arbitrary_units():
    w = Pipeline([Standardize(), Window(5.0)]).transform(make_rec())
    assert w.unit == "a.u."
    assert abs(float(w.data.mean())) < 0.05 and abs(float(w.data.std()) - 1) < 0.05


def test_many_recordings_are_stacked_and_checked():
    w = PIPE.transform([make_rec(0, subject="01"), make_rec(1, subject="02")])
    assert len(w) == 18 and w.table["subject"].tolist() == ["01"] * 9 + ["02"] * 9
    assert w.table["window"].tolist() == list(range(9)) * 2
    other = make_rec(2, ch_names=("Fp1", "Cz", "O2"), subject="03")
    with pytest.raises(DataError, match="sub03.edf") as err:
        PIPE.transform([make_rec(0), other])
    assert "O2" in str(err.value)
    sub = w.select(w.table["subject"] == "02")
    assert len(sub) == 9 and sub.table["subject"].unique().tolist() == ["02"]


def test_bad_data_and_bad_specs_are_reported():
    with pytest.raises(ConfigError, match="Window"):
        Pipeline([Resample(100)]).transform(make_rec())
    with pytest.raises(DataError, match="sub01.edf"):  # MNE refuses a cut-off above Nyquist
        Pipeline([Filter(1, 150), Window(2)]).transform(make_rec())
    with pytest.raises(ConfigError, match="stepz"):
        Pipeline.from_dict({"stepz": []})
    with pytest.raises(DataError, match="no recordings"):
        PIPE.transform([])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_round_trip_and_take_parameters(name):
    p = get_preset(name)
    assert Pipeline.from_dict(p.to_dict()).hash() == p.hash()
    param, value = next(iter(PRESETS[name]["params"].items()))
    changed = get_preset(name, **{param: (value or 0) + 1})
    assert changed.hash() != p.hash()
    with pytest.raises(ConfigError):
        get_preset(name, not_a_param=1)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="eegclip"):
        get_preset("nope")


def test_eegclip_preset_on_tuh_style_names():
    """TUH names ("EEG FP1-REF", "EEG T3-REF") map onto the 21 EEG-CLIP electrodes."""
    tuh = [
        "FP1",
        "FP2",
        "F7",
        "F3",
        "FZ",
        "F4",
        "F8",
        "T3",
        "C3",
        "CZ",
        "C4",
        "T4",
        "T5",
        "P3",
        "PZ",
        "P4",
        "T6",
        "O1",
        "O2",
        "A1",
        "A2",
    ]
    names = [f"EEG {n}-REF" for n in tuh[::-1]] + ["EEG EKG1-REF"]
    rng = np.random.default_rng(0)
    sfreq, seconds = 250.0, 200.0
    data = rng.standard_normal((len(names), int(sfreq * seconds))) * 30e-6
    data[3, 30000] = 0.01  # a 10 mV artefact, clipped
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "eeg"))
    rec = Recording({"eeg": raw}, subject="x", dataset="tuh", source=("/fake/tuh.edf",))
    w = get_preset("eegclip").transform(rec)
    assert w.ch_names == [
        "Fp1",
        "Fp2",
        "F7",
        "F3",
        "Fz",
        "F4",
        "F8",
        "T7",
        "C3",
        "Cz",
        "C4",
        "T8",
        "P7",
        "P3",
        "Pz",
        "P4",
        "P8",
        "O1",
        "O2",
        "A1",
        "A2",
    ]
    assert w.sfreq == 100.0 and w.n_times == 1200 and w.unit == "a.u."
    assert len(w) == (12000 - 1200) // 519 + 1  # 120 s at 100 Hz, 12 s windows every 5.19 s
    np.testing.assert_allclose(w.table["start"][:3], [60.0, 65.19, 70.38])
    with pytest.raises(DataError, match="A1"):
        get_preset("eegclip").transform(
            Recording({"eeg": raw.copy().drop_channels(["EEG A1-REF"])}, subject="x", dataset="tuh")
        )


@pytest.mark.realdata
def test_eegmat_preset_on_real_file(data_root):
    from brainalign.data import open_dataset

    reader = open_dataset(data_root / "eegmat")
    ref = next(r for r in reader.refs() if r.key.endswith("_2") or "2" in (r.run or ""))
    w = get_preset("eegmat_windows").transform(reader.load(ref))
    assert w.data.shape[1:] == (19, 200) and w.sfreq == 100.0 and w.unit == "uV"
    assert len(w) == 31  # 62 s in 2 s windows
    assert set(w.table["label"]) == {"arithmetic"}
    assert np.isfinite(w.data).all() and 1 < float(w.data.std()) < 200  # µV range


def test_nice_preset_on_things_eeg2_release_layout():
    """As the things_eeg2 reader returns the release: 17 channels, 100 Hz from -0.2 s, a.u."""
    from brainalign.preprocessing.presets import THINGS_EEG2_CHANNELS

    names = THINGS_EEG2_CHANNELS[::-1]
    data = np.random.default_rng(0).standard_normal((12, 17, 100))  # 3 images x 4 repetitions
    epochs = mne.EpochsArray(data, mne.create_info(names, 100.0, "eeg"), tmin=-0.2)
    trials = pd.DataFrame(
        {
            "onset": np.nan,
            "condition": np.repeat([0, 1, 2], 4),
            "label": np.repeat(list("abc"), 4),
            "repetition": np.tile(np.arange(4), 3),
        }
    )
    rec = Recording(
        {"eeg": epochs}, subject="01", dataset="things_eeg2", run="test", trials=trials, units={"eeg": "a.u."}
    )
    w = get_preset("nice_things_eeg2").transform(rec)
    assert w.ch_names == THINGS_EEG2_CHANNELS and w.unit == "a.u." and w.data.shape == (3, 17, 80)
    order = [names.index(c) for c in THINGS_EEG2_CHANNELS]
    np.testing.assert_allclose(w.data[1], data[4:8].mean(axis=0)[order][:, 20:], rtol=1e-5, atol=1e-6)
    assert w.table["label"].tolist() == ["a", "b", "c"] and w.table["n_repetitions"].tolist() == [4, 4, 4]
