"""Named preprocessing pipelines, kept as data.

Each preset is a pipeline spec (the dictionary :meth:`Pipeline.from_dict` reads)
plus a description, its source, and named parameters with defaults. A parameter
is referenced in the spec as the string ``"$name"`` and replaced by its value:
``get_preset("eegclip", crop_s=180)``. Being plain data, a preset can be printed,
diffed, and saved next to every output like any other pipeline.
"""
from __future__ import annotations

import copy
from typing import Any

from brainalign.errors import ConfigError
from brainalign.preprocessing.pipeline import Pipeline

#: The 21 electrodes of the TUH EEG Corpus used by EEG-CLIP (10-20 names; the
#: recordings' "EEG FP1-REF", "EEG T3-LE"... map onto them through the aliases).
EEGCLIP_CHANNELS = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4",
                    "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2", "A1", "A2"]

#: The 17 occipital and parietal channels of the THINGS-EEG2 preprocessed release
#: (Gifford et al. 2022), in the release's order.
THINGS_EEG2_CHANNELS = ["Pz", "P3", "P7", "O1", "Oz", "O2", "P4", "P8", "P1", "P5",
                        "PO7", "PO3", "POz", "PO4", "PO8", "P6", "P2"]

#: The 19 scalp electrodes of the international 10-20 system (eegmat's montage).
TEN_TWENTY_19 = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4",
                 "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2"]

def _published_epochs(units: str) -> dict[str, Any]:
    """Pipeline of a benchmark released as ready-cut epochs: the epochs are used as
    published, after checking that every sample is finite and that the rate is
    ``$sfreq``. Shared by the presets of the epoched releases below."""
    return {
        "modality": "eeg",
        "units": units,
        "steps": [
            {"step": "CheckFinite"},
            {"step": "CheckRate", "sfreq": "$sfreq"},
        ],
    }


PRESETS: dict[str, dict[str, Any]] = {
    "eegclip": {
        "description": (
            "EEG-CLIP (N'dir & Schirrmeister 2025, arXiv 2503.16531) on TUH EEG: the 21 "
            "common electrodes (alias-mapped), first 60 s dropped, the next crop_s seconds "
            "kept, clipped to ±800 µV, average reference, resampled to 100 Hz, each channel "
            "z-scored over the recording, cut into 12 s windows every 5.19 s."
        ),
        "source": (
            "Paper: first minute removed, first 2 minutes used, 21 channels, ±800 µV, 100 Hz. "
            "Public code (github.com/tidiane-camaret/EEGClip, configs/preprocess_config.py and "
            "scripts/experiments/train_eegclip_tuh.py): crop to 3 min, ×1e6, clip ±800 µV, "
            "average reference, divide by 30, resample 100 Hz; windows of 1200 samples every "
            "519 samples between 60 s and 180 s. Cropping to 3 min then windowing from 60 s "
            "is the same span as DropStart(60) + crop_s=120, which this preset uses. "
            "Difference: the code scales µV by 1/30; this preset z-scores each channel. "
            "The code's channel list is sorted alphabetically; here the order is the 10-20 "
            "order above."
        ),
        "params": {"crop_s": 120.0, "window_s": 12.0, "stride_s": 5.19, "sfreq": 100.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": EEGCLIP_CHANNELS, "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "DropStart", "seconds": 60.0},
                {"step": "Crop", "tmin": 0.0, "duration": "$crop_s"},
                {"step": "Clip", "abs_uv": 800.0},
                {"step": "Rereference", "ref": "average"},
                {"step": "Resample", "sfreq": "$sfreq"},
                {"step": "Standardize", "method": "recording"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s"},
            ],
        },
    },
    "nice_things_eeg2": {
        "description": (
            "NICE (Song et al. 2024, ICLR, arXiv 2308.13234) on the THINGS-EEG2 preprocessed "
            "release read by the things_eeg2 reader: 17 occipital/parietal channels at 100 Hz, "
            "post-stimulus samples only (0 to 0.79 s: the release ends at 0.8 s), and the "
            "repetitions of each image averaged, in both splits (4 per training image, 80 per "
            "test image)."
        ),
        "source": (
            "NICE code (github.com/eeyhsong/NICE-EEG): nice_stand.py averages the repetition "
            "axis of both preprocessed_eeg_training.npy and preprocessed_eeg_test.npy "
            "(np.mean(axis=1)). Its own preprocessing (preprocessing/preprocessing_utils.py) "
            "differs from the public release: all 63 channels, epochs -0.2..1.0 s with baseline "
            "correction on the 200 ms before onset, resampled to 250 Hz, the first 50 samples "
            "(the baseline) dropped, i.e. 0..1 s, then multivariate noise normalisation (MVNN). "
            "The public release (Gifford et al. 2022) is 17 channels, 100 Hz, -0.2..0.8 s, "
            "baseline-corrected and MVNN-whitened; MVNN is done upstream and is not a step here. "
            "For NICE's own 250 Hz files set sfreq=250 and tmax=1.0 and pick their channels."
        ),
        "params": {"sfreq": 100.0, "tmin": 0.0, "tmax": None},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite"},
                {"step": "PickChannels", "channels": THINGS_EEG2_CHANNELS, "on_missing": "raise"},
                {"step": "CheckRate", "sfreq": "$sfreq"},
                {"step": "Crop", "tmin": "$tmin", "tmax": "$tmax"},
                {"step": "AverageRepetitions", "by": "condition"},
            ],
        },
    },
    "eegmat_windows": {
        "description": (
            "eegmat (PhysioNet mental arithmetic): the 19 10-20 electrodes, band-pass "
            "0.5-40 Hz, resampled to 100 Hz, non-overlapping 2 s windows labelled with the "
            "recording's condition (rest / arithmetic), in µV."
        ),
        "source": (
            "The low-pass at 40 Hz is deliberate: 11 of the files were low-passed at 45 Hz by "
            "the distributors and others not, so power above ~40 Hz reveals the condition "
            "(data README, known quirks). 2 s windows follow the reference protocol of the "
            "shared data."
        ),
        "params": {"window_s": 2.0, "stride_s": 2.0, "sfreq": 100.0, "l_freq": 0.5, "h_freq": 40.0,
                   "last_s": None},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": TEN_TWENTY_19, "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Resample", "sfreq": "$sfreq"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s", "last_s": "$last_s"},
            ],
        },
    },
    "eegmat_ecg_windows": {
        "description": (
            "eegmat ECG (the one 'ECG ECG' lead): band-pass 0.5-40 Hz, resampled to 100 Hz, "
            "non-overlapping 2 s windows labelled with the recording's condition, in µV. The "
            "windowing is that of 'eegmat_windows', so with the same parameters row i of both "
            "presets is the same recording and start (EEG and ECG of one time span)."
        ),
        "source": (
            "Same filter band, rate and windows as 'eegmat_windows' (the 40 Hz low-pass also keeps "
            "the files' differing filtering out); the rate keeps the QRS band (5-20 Hz) used for "
            "R-peak detection. The ECG of Subject02_1 and Subject13_1 shows no heartbeat (data README)."
        ),
        "params": {"window_s": 2.0, "stride_s": 2.0, "sfreq": 100.0, "l_freq": 0.5, "h_freq": 40.0},
        "pipeline": {
            "modality": "ecg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite", "modality": "ecg"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq", "modality": "ecg"},
                {"step": "Resample", "sfreq": "$sfreq", "modality": "ecg"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s"},
            ],
        },
    },
    "dreamer_windows": {
        "description": (
            "DREAMER (Katsigiannis & Ramzan 2018): the 14 Emotiv EPOC electrodes at their 128 Hz, "
            "band-pass 0.5-45 Hz, non-overlapping 2 s windows over the concatenated clips, in µV "
            "(for self-supervised pre-training: windows carry no clip label)."
        ),
        "source": (
            "Paper: 14 channels at 128 Hz; emotion features from the theta, alpha and beta bands "
            "(4-30 Hz) of the last 60 s of each clip. Here every 2 s of the recording is a window "
            "(a window may straddle a junction between clips); the Emotiv DC offset is removed by "
            "the high-pass."
        ),
        "params": {"window_s": 2.0, "stride_s": 2.0, "l_freq": 0.5, "h_freq": 45.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8",
                                                      "T8", "FC6", "F4", "F8", "AF4"], "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "CheckRate", "sfreq": 128.0},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s"},
            ],
        },
    },
    "dreamer_clip_windows": {
        "description": (
            "DREAMER for emotion recognition: the 14 Emotiv electrodes at 128 Hz, band-pass "
            "0.5-45 Hz, 2 s windows inside the last 60 s of each film clip, each labelled with "
            "its clip's rating (the reader's label, e.g. valence high / low)."
        ),
        "source": (
            "Katsigiannis & Ramzan 2018 analyse the last 60 s of each clip; windows never straddle "
            "two clips. Row i matches row i of 'dreamer_ecg_clip_windows' (same clip, same start)."
        ),
        "params": {"window_s": 2.0, "stride_s": 2.0, "last_s": 60.0, "l_freq": 0.5, "h_freq": 45.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": ["AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8",
                                                      "T8", "FC6", "F4", "F8", "AF4"], "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "CheckRate", "sfreq": 128.0},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s", "within_trials": True,
                 "last_s": "$last_s"},
            ],
        },
    },
    "dreamer_ecg_clip_windows": {
        "description": (
            "DREAMER ECG (2 leads, 256 Hz), band-pass 0.5-45 Hz, cut like 'dreamer_clip_windows' "
            "(2 s windows in the last 60 s of each clip), so EEG and ECG windows pair row by row."
        ),
        "source": "The ECG half of the CBraMod + ECG emotion-recognition set-up on DREAMER.",
        "params": {"window_s": 2.0, "stride_s": 2.0, "last_s": 60.0, "l_freq": 0.5, "h_freq": 45.0},
        "pipeline": {
            "modality": "ecg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite", "modality": "ecg"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq", "modality": "ecg"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$stride_s", "within_trials": True,
                 "last_s": "$last_s"},
            ],
        },
    },
    "n170_epochs": {
        "description": (
            "eeg-notebooks N170 (Muse, faces vs houses): TP9 AF7 AF8 TP10, band-pass 1-30 Hz, "
            "resampled to 128 Hz, epochs -0.1..0.6 s around each stimulus (house, face), "
            "baseline-corrected on the 100 ms before onset, in µV."
        ),
        "source": "eeg-notebooks N170 analysis: 1-30 Hz band-pass, -0.1..0.6 s epochs, baseline before onset.",
        "params": {"sfreq": 128.0, "tmin": -0.1, "tmax": 0.6, "l_freq": 1.0, "h_freq": 30.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": ["TP9", "AF7", "AF8", "TP10"], "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Resample", "sfreq": "$sfreq"},
                {"step": "EventWindow", "tmin": "$tmin", "tmax": "$tmax", "labels": ["house", "face"],
                 "baseline": [None, 0.0]},
            ],
        },
    },
    "eegmmidb_mi": {
        "description": (
            "EEGMMIDB motor execution/imagery: all 64 channels at 160 Hz, band-pass 8-30 Hz "
            "(mu and beta), 4 s epochs from each T1/T2 cue onset (left/right fist, both "
            "fists/feet), in µV; rest (T0) periods are not epoched."
        ),
        "source": "Common CSP protocol on this set (e.g. MNE's motor imagery CSP example: 7/8-30 Hz, 0..4 s after the cue).",
        "params": {"l_freq": 8.0, "h_freq": 30.0, "tmin": 0.0, "tmax": 4.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite"},
                {"step": "CheckRate", "sfreq": 160.0},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "EventWindow", "tmin": "$tmin", "tmax": "$tmax",
                 "labels": ["left_fist", "right_fist", "both_fists", "both_feet"]},
            ],
        },
    },
    "n400_epochs": {
        "description": (
            "N400 semantic priming (MNE epochs, 32 channels, 50 Hz, -0.2..0.98 s): the published "
            "epochs as they are, checked for rate and finite samples, in µV. Labels related / "
            "unrelated come from the reader; the metadata columns FAS and button leak the "
            "label and must not be used as inputs."
        ),
        "source": "M. van Vliet, neuroscience_tutorials (epochs distributed already cut and filtered).",
        "params": {"sfreq": 50.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite"},
                {"step": "CheckRate", "sfreq": "$sfreq"},
            ],
        },
    },
    "eegcvpr40_epochs": {
        "description": (
            "EEGCVPR40 (Spampinato et al. 2017) as released: 128 channels at 1 kHz, samples "
            "20:460 of each trial (440 samples, cut by the eegcvpr40 reader), band-passed and "
            "z-scored upstream (eeg_5_95_std.pth: 5-95 Hz), so in arbitrary units."
        ),
        "source": (
            "The reference loader of the release (perceivelab/eeg_visual_classification, "
            "EEGDataset) keeps eeg[:, 20:460] and drops trials outside 450-600 samples; the "
            "triplet and EEGClip code of Singh et al. 2024 (github.com/prajwalsingh/"
            "EEGStyleGAN-ADA, EEG2Feat/*/CVPR40/config.py: timestep = 440) uses the same "
            "440-sample crop. Nothing is filtered again here."
        ),
        "params": {"sfreq": 1000.0},
        "pipeline": _published_epochs("uV"),
    },
    "thoughtviz_epochs": {
        "description": (
            "ThoughtViz (Kumar et al. 2018 / Tirupattur et al. 2018) as released: 14 Emotiv "
            "EPOC channels, 32 samples at 128 Hz per trial, in the release's own (arbitrary) "
            "units."
        ),
        "source": (
            "ThoughtViz data/eeg/<subset>/data.pkl (x: N x 14 x 32 x 1); Singh et al. 2024 "
            "(EEG2Feat/*/Thoughtviz/config.py: input_size = 14, timestep = 32) feed it unchanged."
        ),
        "params": {"sfreq": 128.0},
        "pipeline": _published_epochs("uV"),
    },
    "kaneshiro_epochs": {
        "description": (
            "Kaneshiro et al. 2015 object-category EEG as released: 124 channels, 32 samples "
            "at 62.5 Hz (0-496 ms after onset), in µV, as preprocessed by the authors before "
            "release."
        ),
        "source": (
            "Stanford Digital Repository release (S1.mat..S10.mat, X_3D 124 x 32 x trials); "
            "Singh et al. 2024 (EEG2Feat/*/Object/config.py: input_size = 124, timestep = 32) "
            "use the trials unchanged."
        ),
        "params": {"sfreq": 62.5},
        "pipeline": _published_epochs("uV"),
    },
    "smni_epochs": {
        "description": (
            "UCI EEG Database (SMNI alcoholism study): the 61 scalp channels (X, Y and nd are "
            "typed misc by the reader and left out), the 1 s trials at their 256 Hz as recorded, "
            "in µV; optionally resampled (sfreq). Labels and texts come from the smni reader "
            "(group by default, or the stimulus condition)."
        ),
        "source": (
            "UCI EEG Database (Begleiter, SUNY Downstate): 64 electrodes, 256 Hz, 1 s after the "
            "stimulus; the headers say 416 samples but every file holds 256. The trials are used "
            "as distributed (no further filtering: a 1 s epoch is too short for a clean FIR "
            "band-pass)."
        ),
        "params": {"sfreq": 256.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "CheckFinite"},
                {"step": "CheckRate", "sfreq": 256.0},
                {"step": "Resample", "sfreq": "$sfreq"},
            ],
        },
    },
    "p300_epochs": {
        "description": (
            "eeg-notebooks visual P300 (Muse, cats vs dogs): TP9 AF7 AF8 TP10, band-pass 1-30 Hz, "
            "resampled to 128 Hz, epochs -0.1..0.8 s around each stimulus (target, nontarget), "
            "no baseline correction, in µV. Epochs above 100 µV peak-to-peak are not dropped here: "
            "the evaluation drops them (brainalign.experiments.fair) so that every pipeline sees "
            "the same epochs."
        ),
        "source": (
            "eeg-notebooks P300 analysis (visual_p300): raw.filter(1, 30), Epochs(tmin=-0.1, "
            "tmax=0.8, baseline=None, reject={'eeg': 100e-6}); decoding with XdawnCovariances("
            "estimator='oas') + TangentSpace + LogisticRegression."
        ),
        "params": {"sfreq": 128.0, "tmin": -0.1, "tmax": 0.8, "l_freq": 1.0, "h_freq": 30.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": ["TP9", "AF7", "AF8", "TP10"], "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Resample", "sfreq": "$sfreq"},
                {"step": "EventWindow", "tmin": "$tmin", "tmax": "$tmax", "labels": ["target", "nontarget"]},
            ],
        },
    },
    "cbramod_pretrain": {
        "description": (
            "CBraMod pre-training (Wang et al. 2025, ICLR, arXiv 2412.07236) on TUH EEG: the 19 "
            "10-20 electrodes, band-pass 0.3-75 Hz, 60 Hz notch, resampled to 200 Hz, "
            "non-overlapping 30 s windows (30 one-second patches per channel), in µV."
        ),
        "source": (
            "Paper, pre-training data: TUEG, 19 common channels, 0.3-75 Hz band-pass, 60 Hz "
            "notch, 200 Hz, 30 s samples; samples with any amplitude above 100 µV are removed "
            "and the signal is expressed in units of 100 µV. Code (github.com/wjq-learning/"
            "CBraMod, pretrain_main.py): seq_len 30 patches of in_dim 200 samples. "
            "Differences: no window is rejected for amplitude (there is no rejection step), and "
            "the signal stays in µV (a constant factor of 100)."
        ),
        "params": {"window_s": 30.0, "sfreq": 200.0, "l_freq": 0.3, "h_freq": 75.0},
        "pipeline": {
            "modality": "eeg",
            "units": "uV",
            "steps": [
                {"step": "PickChannels", "channels": TEN_TWENTY_19, "on_missing": "raise"},
                {"step": "CheckFinite"},
                {"step": "Filter", "l_freq": "$l_freq", "h_freq": "$h_freq"},
                {"step": "Notch", "freqs": [60.0]},
                {"step": "Resample", "sfreq": "$sfreq"},
                {"step": "Window", "length_s": "$window_s", "stride_s": "$window_s"},
            ],
        },
    },
}


def _substitute(obj: Any, params: dict[str, Any]) -> Any:
    """Replace every ``"$name"`` string in ``obj`` by ``params[name]``."""
    if isinstance(obj, dict):
        return {k: _substitute(v, params) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_substitute(v, params) for v in obj]
    if isinstance(obj, str) and obj.startswith("$"):
        return params[obj[1:]]
    return obj


def available_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    return {name: preset["description"] for name, preset in PRESETS.items()}


def get_preset(name: str, **params: Any) -> Pipeline:
    """The named preset as a :class:`Pipeline`, with ``params`` overriding its defaults.
    ConfigError on an unknown preset or parameter."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    preset = PRESETS[name]
    unknown = sorted(set(params) - set(preset["params"]))
    if unknown:
        raise ConfigError(f"preset {name!r}: unknown parameter(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(preset['params']))}")
    values = {**preset["params"], **params}
    return Pipeline.from_dict(_substitute(copy.deepcopy(preset["pipeline"]), values))
