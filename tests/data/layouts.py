"""Writers of tiny folders in exactly the published layouts (names, containers,
keys, dtypes, axis order) of the benchmarks that cannot be downloaded here. Only
the sizes are small. Each writer returns what it wrote, so that tests can compare
what a reader returns with values computed here, independently of the reader.

Reusable by any test: ``from tests.data.layouts import write_things_eeg2``.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io
import torch
from PIL import Image


# --------------------------------------------------------------------- images
def write_image(path: Path, seed: int) -> Path:
    """A tiny RGB JPEG or PNG (by suffix) whose colour depends on ``seed``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(path)
    return path


@dataclass
class Written:
    """What a writer put on disk."""

    root: Path
    #: per subject (or subset / file key): the arrays written, in the file's own layout
    arrays: dict[str, Any] = field(default_factory=dict)
    #: image paths in the order the layout defines
    images: list[Path] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- THINGS-EEG2
#: The 17 occipital/parietal channels of the preprocessed release, in its order.
THINGS_CHANNELS = [
    "Pz",
    "P3",
    "P7",
    "O1",
    "Oz",
    "O2",
    "P4",
    "P8",
    "P1",
    "P5",
    "PO7",
    "PO3",
    "POz",
    "PO4",
    "PO8",
    "P6",
    "P2",
]
_THINGS_TRAIN = ["aardvark", "abacus", "accordion", "acorn", "air_conditioner", "air_mattress"]
_THINGS_TEST = ["aircraft_carrier", "antelope", "backscratcher", "balance_beam", "banana"]


def write_things_eeg2(
    root: Path,
    n_subjects: int = 2,
    n_train_concepts: int = 3,
    imgs_per_concept: int = 2,
    n_test: int = 2,
    reps: tuple[int, int] = (4, 80),
    n_times: int = 100,
    image_parent: str = ".",
    seed: int = 0,
) -> Written:
    """``root/sub-XX/preprocessed_eeg_{training,test}.npy`` (``np.save`` of a dict of
    float64 images x repetitions x 17 x times, ``ch_names``, ``times`` from -0.2 s at
    100 Hz) and ``root/<image_parent>/{training,test}_images/<NNNNN_concept>/<file>.jpg``.
    ``arrays[f"sub-XX/{split}"]`` is the EEG array."""
    rng = np.random.default_rng(seed)
    out = Written(root)
    times = np.round(-0.2 + np.arange(n_times) / 100.0, 4)
    splits = {"training": (n_train_concepts * imgs_per_concept, reps[0]), "test": (n_test, reps[1])}
    for s in range(1, n_subjects + 1):
        for split, (n_images, n_reps) in splits.items():
            data = rng.standard_normal((n_images, n_reps, len(THINGS_CHANNELS), n_times))
            path = root / f"sub-{s:02d}" / f"preprocessed_eeg_{split}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(
                path,
                {"preprocessed_eeg_data": data, "ch_names": list(THINGS_CHANNELS), "times": times},
                allow_pickle=True,
            )
            out.arrays[f"sub-{s:02d}/{split}"] = data
    base = root / image_parent
    for c, concept in enumerate(_THINGS_TRAIN[:n_train_concepts]):
        for k in range(imgs_per_concept):
            # file names as in THINGS: <concept>_<NN><letter>.jpg; letters make the
            # name order differ from a plain numeric one
            name = f"{concept}_{k + 1:02d}{'bs'[k % 2]}.jpg"
            out.images.append(write_image(base / "training_images" / f"{c + 1:05d}_{concept}" / name, c * 10 + k))
    out.extra["test_images"] = [
        write_image(base / "test_images" / f"{c + 1:05d}_{concept}" / f"{concept}_06s.jpg", 1000 + c)
        for c, concept in enumerate(_THINGS_TEST[:n_test])
    ]
    out.extra["times"] = times
    return out


# ------------------------------------------------------------------ EEGCVPR40
EEGCVPR40_WNIDS = ["n02389026", "n03888257", "n07753592", "n02510455", "n03452741"]


def write_eegcvpr40(
    root: Path,
    n_subjects: int = 2,
    n_classes: int = 3,
    imgs_per_class: int = 2,
    n_channels: int = 128,
    short_trials: tuple[int, ...] = (1,),
    n_splits: int = 2,
    eeg_file: str = "eeg_5_95_std.pth",
    legacy_format: bool = False,
    with_images: bool = True,
    seed: int = 0,
) -> Written:
    """``root/eeg_5_95_std.pth`` ({dataset: [{eeg: FloatTensor(128, T), image, label,
    subject}], labels: [wnid], images: [wnid_N]}), ``root/block_splits_by_image_all.pth``
    ({splits: [{train, val, test}]}, split by image) and ``root/images/<wnid>/<name>.JPEG``.
    Each subject sees every image once; trials listed in ``short_trials`` are 440
    samples long (the others 500..519), as faulty recordings in the release are."""
    rng = np.random.default_rng(seed)
    labels = EEGCVPR40_WNIDS[:n_classes]
    images = [f"{w}_{1000 + k * 7}" for w in labels for k in range(imgs_per_class)]
    dataset = []
    for subject in range(1, n_subjects + 1):
        for image_idx in rng.permutation(len(images)):
            n = len(dataset)
            length = 440 if n in short_trials else 500 + int(rng.integers(0, 20))
            dataset.append(
                {
                    "eeg": torch.from_numpy(rng.standard_normal((n_channels, length)).astype(np.float32)),
                    "image": int(image_idx),
                    "label": int(image_idx) // imgs_per_class,
                    "subject": subject,
                }
            )
    root.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"dataset": dataset, "labels": labels, "images": images},
        root / eeg_file,
        _use_new_zipfile_serialization=not legacy_format,
    )
    splits = []
    for s in range(n_splits):
        order = np.random.default_rng(seed + 1 + s).permutation(len(images))
        part_of = {int(img): ("train", "val", "test")[min(i * 3 // len(images), 2)] for i, img in enumerate(order)}
        splits.append(
            {p: [i for i, d in enumerate(dataset) if part_of[d["image"]] == p] for p in ("train", "val", "test")}
        )
    torch.save(
        {"splits": splits}, root / "block_splits_by_image_all.pth", _use_new_zipfile_serialization=not legacy_format
    )
    out = Written(root, arrays={"dataset": dataset}, extra={"labels": labels, "image_names": images, "splits": splits})
    if with_images:
        out.images = [
            write_image(root / "images" / name.split("_")[0] / f"{name}.JPEG", i) for i, name in enumerate(images)
        ]
    return out


# ------------------------------------------------------------------ ThoughtViz
THOUGHTVIZ_CLASSES = {
    "char": ["A", "C", "F", "H", "J", "M", "P", "S", "T", "Y"],
    "digit": [str(d) for d in range(10)],
    "image": ["Apple", "Car", "Dog", "Gold", "Mobile", "Rose", "Scooter", "Tiger", "Wallet", "Watch"],
}


class Py2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Protocol-2 pickler that writes what Python 2 wrote for the ThoughtViz files:
    strings and bytes as 8-bit ``BINSTRING``s and numpy globals under ``numpy.core``."""

    def __init__(self, file: Any):
        super().__init__(file, protocol=2)

    def _save_8bit(self, obj: bytes | str) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + len(data).to_bytes(4, "little") + data)
        self.memoize(obj)

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]
    dispatch[bytes] = _save_8bit
    dispatch[str] = _save_8bit


def write_thoughtviz(
    root: Path,
    subsets: tuple[str, ...] = ("image", "char"),
    n_train: int = 6,
    n_test: int = 4,
    with_images: bool = True,
    seed: int = 0,
) -> Written:
    """``root/eeg/<subset>/data.pkl``: a Python-2-style pickle of {b"x_train": float64
    N x 14 x 32 x 1, b"y_train": float64 N x 10 one-hot, b"x_test", b"y_test"}, and
    ``root/images/<group>/<class>/*.jpg`` for the image classes."""
    rng = np.random.default_rng(seed)
    out = Written(root)
    for subset in subsets:
        arrays = {}
        for part, n in (("train", n_train), ("test", n_test)):
            classes = rng.integers(0, 10, n)
            arrays[f"x_{part}"] = rng.standard_normal((n, 14, 32, 1))
            arrays[f"y_{part}"] = np.eye(10)[classes]
        path = root / "eeg" / subset / "data.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            Py2StylePickler(fh).dump({k.encode(): v for k, v in arrays.items()})
        out.arrays[subset] = arrays
    if with_images:
        for c, cls in enumerate(THOUGHTVIZ_CLASSES["image"][:3]):
            out.images += [
                write_image(root / "images" / "ImageNet-Filtered" / cls / f"{cls.lower()}_{k}.jpg", c * 10 + k)
                for k in range(2)
            ]
    return out


# ----------------------------------------------------------------- Kaneshiro
def _mat73(path: Path, variables: dict[str, np.ndarray | str]) -> None:
    """A MATLAB v7.3 file: HDF5 with MATLAB's 512-byte header, arrays stored
    transposed (column-major) with their MATLAB_class, strings as uint16 chars."""
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    header = header.ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"
    with h5py.File(path, "w", userblock_size=512) as h5:
        for name, value in variables.items():
            if isinstance(value, str):
                ds = h5.create_dataset(name, data=np.array([[ord(c)] for c in value], dtype=np.uint16))
                ds.attrs["MATLAB_class"] = np.bytes_("char")
            else:
                ds = h5.create_dataset(name, data=np.asarray(value).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))


KANESHIRO_CHANNELS = 124


def write_kaneshiro(
    root: Path,
    n_subjects: int = 2,
    n_trials: int = 12,
    n_times: int = 32,
    variant: str = "original",
    mat73: bool = False,
    stimuli: bool = True,
    seed: int = 0,
) -> Written:
    """``root/S1.mat``.. (``variant="original"``: X_3D 124 x times x trials in µV,
    categoryLabels, exemplarLabels, blockLabels, sub, Fs, N, T as doubles) or
    ``root/S01.mat``.. (``variant="matclassrsa"``: X, labels6, labels72, fs, subID,
    t in ms), MATLAB v5 or v7.3; ``root/stimuli/stimulusNN.png``."""
    rng = np.random.default_rng(seed)
    out = Written(root)
    root.mkdir(parents=True, exist_ok=True)
    for s in range(1, n_subjects + 1):
        x = rng.standard_normal((KANESHIRO_CHANNELS, n_times, n_trials)) * 10.0
        exemplar = rng.integers(1, 73, n_trials).astype(float)
        category = np.ceil(exemplar / 12)
        if variant == "original":
            name = f"S{s}.mat"
            variables: dict[str, Any] = {
                "X_3D": x,
                "categoryLabels": category[None, :],
                "exemplarLabels": exemplar[None, :],
                "blockLabels": (np.arange(n_trials) // 4 + 1.0)[None, :],
                "sub": np.array([[float(s)]]),
                "Fs": np.array([[62.5]]),
                "N": np.array([[float(n_trials)]]),
                "T": np.array([[float(n_times)]]),
            }
        else:
            name = f"S{s:02d}.mat"
            variables = {
                "X": x,
                "labels6": category[None, :],
                "labels72": exemplar[None, :],
                "fs": np.array([[62.5]]),
                "subID": f"{s:02d}",
                "t": (np.arange(n_times) * 16.0)[None, :],
            }
        if mat73:
            _mat73(root / name, variables)
        else:
            scipy.io.savemat(root / name, variables, do_compression=True)
        out.arrays[name] = {"x": x, "category": category.astype(int), "exemplar": exemplar.astype(int)}
    if stimuli:
        out.images = [write_image(root / "stimuli" / f"stimulus{k:02d}.png", k) for k in range(1, 73)]
    return out


# ---------------------------------------------------------------------- TUAB
TUH_LABELS = ["EEG FP1-REF", "EEG FP2-REF", "EEG CZ-REF", "EEG T3-REF", "EEG O1-REF", "EEG EKG1-REF", "PHOTIC-REF"]


def _tuh_edf(
    path: Path, subject: str, seed: int, sfreq: int = 256, seconds: int = 4, labels: list[str] = TUH_LABELS
) -> np.ndarray:
    """A plain EDF (no EDF+ annotations) with TUH channel labels in µV and TUH's
    patient field; returns the samples written, in volts."""
    import edfio

    rng = np.random.default_rng(seed)
    data_uv = rng.standard_normal((len(labels), sfreq * seconds)) * 20.0
    signals = [
        edfio.EdfSignal(row, sfreq, label=label, physical_dimension="uV", physical_range=(-1000.0, 1000.0))
        for row, label in zip(data_uv, labels)
    ]
    edf = edfio.Edf(signals, data_record_duration=1)
    edf.local_patient_identification = f"{subject} F 01-JAN-1988 {subject} Age:23"
    path.parent.mkdir(parents=True, exist_ok=True)
    edf.write(path)
    return data_uv * 1e-6


def write_tuab(
    root: Path,
    layout: str = "v3",
    reports: bool = True,
    seed: int = 0,
    seconds: int = 4,
    labels: list[str] = TUH_LABELS,
) -> Written:
    """A TUH tree. ``layout``: ``"v3"`` (TUAB flat), ``"v2"`` (TUAB with subject
    and session folders) or ``"tueg"`` (TUEG v2, session report ``<subj>_<ses>.txt``
    in the session folder). Each EDF lasts ``seconds`` and holds the channels
    ``labels``. ``arrays[stem]`` holds the volts written,
    ``extra["files"][stem]`` (path, label, split), ``extra["reports"][stem]`` the text."""
    out = Written(root, extra={"files": {}, "reports": {}})
    if layout == "tueg":
        entries = [("aaaaaaaa", "s001", "t000", None, None), ("aaaaaaab", "s002", "t001", None, None)]
    else:
        entries = [
            ("aaaaaaav", "s004", "t000", "train", "normal"),
            ("aaaaaaaw", "s001", "t000", "train", "abnormal"),
            ("aaaaaaax", "s002", "t001", "eval", "abnormal"),
        ]
    for k, (subject, session, token, split, label) in enumerate(entries):
        stem = f"{subject}_{session}_{token}"
        if layout == "v3":
            folder = root / "edf" / split / label / "01_tcp_ar"
            report = folder / f"{stem}.txt"
        elif layout == "v2":
            folder = root / "edf" / split / label / "01_tcp_ar" / subject[-3:] / subject / f"{session}_2013_02_26"
            report = folder / f"{subject}_{session}.txt"
        else:
            session_dir = root / "edf" / subject[:3] / subject / f"{session}_2015_12_30"
            folder = session_dir / "01_tcp_ar"
            report = session_dir / f"{subject}_{session}.txt"
        out.arrays[stem] = _tuh_edf(folder / f"{stem}.edf", subject, seed + k, seconds=seconds, labels=labels)
        out.extra["files"][stem] = (folder / f"{stem}.edf", label, split)
        if reports:
            text = (
                f"CLINICAL HISTORY: {k + 40} year old with spells.\n"
                f"IMPRESSION: {'Abnormal' if label == 'abnormal' else 'Normal'} EEG. Café au lait."
            )
            report.write_bytes(text.encode("latin-1") if k == 1 else text.encode("utf-8"))
            out.extra["reports"][stem] = text
    return out


# --------------------------------------------------------------- bad payloads
class SideEffect:
    """Pickles to a call of ``os.mkdir(marker)``: loading it unsafely creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.mkdir, (self.marker,))
