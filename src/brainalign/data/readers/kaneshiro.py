"""Reader: the Kaneshiro et al. (2015, PLoS ONE 10(8): e0135697) object-category EEG
set ("Object category EEG dataset", Stanford Digital Repository).

Layout: one MATLAB file per subject, ``root/S1.mat`` .. ``root/S10.mat``, each with

* ``X_3D``: 124 channels x 32 samples x 5188 trials (EGI HydroCel GSN-128, first
  124 electrodes, 62.5 Hz, from stimulus onset), microvolts;
* ``categoryLabels`` (1..6), ``exemplarLabels`` (1..72), optionally ``blockLabels``,
  ``sub``, ``Fs``, ``t``.

The re-exported files used by the MatClassRSA toolbox (``S01.mat``: ``X``,
``labels6``, ``labels72``, ``fs``, ``subID``, ``t``) are read too, as are
MATLAB v7.3 (HDF5) files. Stimulus images are optional: ``root/stimuli/`` with one
file per exemplar whose name ends in its number (``stimulus01.png`` .. ``stimulus72.png``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.io

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.readers._epoched import (
    epochs_from_array,
    image_files,
    trials_frame,
)
from brainalign.data.recording import Recording
from brainalign.errors import DataError

CATEGORIES = ("Human Body", "Human Face", "Animal Body", "Animal Face", "Fruit Vegetable", "Inanimate Object")
SFREQ = 62.5
N_CHANNELS = 124
_FILE = re.compile(r"^S(\d{1,2})\.mat$")
#: Variable names: original release first, MatClassRSA re-export second.
_MAT_ERRORS = (OSError, ValueError, TypeError, KeyError, NotImplementedError, scipy.io.matlab.MatReadError)
_NAMES = {
    "data": ("X_3D", "X"),
    "category": ("categoryLabels", "labels6"),
    "exemplar": ("exemplarLabels", "labels72"),
    "block": ("blockLabels",),
    "sfreq": ("Fs", "fs"),
    "times": ("t",),
    "subject": ("sub", "subID"),
}


def _variables(path: Path) -> dict[str, Any]:
    """The variables of ``path`` that :data:`_NAMES` lists, as numpy arrays or strings
    in MATLAB's dimension order."""
    wanted = {n for names in _NAMES.values() for n in names}
    try:
        if scipy.io.matlab.matfile_version(path)[0] == 2:  # v7.3: HDF5
            out: dict[str, Any] = {}
            with h5py.File(path, "r") as h5:
                for name in wanted & set(h5.keys()):
                    node = h5[name]
                    if not isinstance(node, h5py.Dataset):
                        continue
                    value = node[()]
                    if node.attrs.get("MATLAB_class", b"") in (b"char", "char"):
                        out[name] = "".join(chr(c) for c in np.asarray(value).ravel())
                    else:  # h5py sees MATLAB's column-major arrays transposed
                        out[name] = np.asarray(value).T
            return out
        mat = scipy.io.loadmat(path, variable_names=sorted(wanted))
        return {k: v for k, v in mat.items() if not k.startswith("__")}
    except _MAT_ERRORS as err:
        raise DataError(path, f"cannot read MATLAB file ({type(err).__name__}: {err})") from None


def _pick(variables: dict[str, Any], key: str) -> Any:
    return next((variables[n] for n in _NAMES[key] if n in variables), None)


def _shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape (MATLAB order) of ``path``, without reading the data."""
    try:
        if scipy.io.matlab.matfile_version(path)[0] == 2:
            with h5py.File(path, "r") as h5:
                return {
                    name: tuple(reversed(node.shape)) for name, node in h5.items() if isinstance(node, h5py.Dataset)
                }
        return {name: tuple(shape) for name, shape, _cls in scipy.io.whosmat(path)}
    except _MAT_ERRORS as err:
        raise DataError(path, f"cannot read MATLAB file ({type(err).__name__}: {err})") from None


def _labels(value: Any, name: str, n: int, path: Path) -> np.ndarray:
    """One integer label per trial, or :class:`DataError`."""
    flat = np.asarray(value, dtype=float).ravel()
    if len(flat) != n or not np.isfinite(flat).all() or (flat != np.round(flat)).any():
        raise DataError(path, f"{name} labels should be {n} whole numbers, one per trial")
    return flat.astype(int)


def _scalar(value: Any) -> Any:
    """A MATLAB scalar or string as a Python value (None when absent or empty)."""
    if value is None or isinstance(value, str):
        return value
    flat = np.asarray(value).ravel()
    return flat[0].item() if flat.size else None


@register_reader
class KaneshiroReader(Reader):
    """Kaneshiro object-category EEG: one recording per subject file.

    Trials: ``label`` (category name), ``text`` (category name, lower case),
    ``category`` (1..6), ``exemplar`` (1..72), ``block`` (when present), ``image``
    (when ``root/stimuli`` exists). Samples are stored in volts.
    """

    name = "kaneshiro"
    modalities = ("eeg", "image", "text")

    @classmethod
    def detect(cls, root: Path) -> bool:
        files = [p for p in root.iterdir() if _FILE.match(p.name)] if root.is_dir() else []
        if not files:
            return False
        try:
            names = set(_shapes(files[0]))
        except DataError:
            return False
        return "X_3D" in names or {"X", "labels6"} <= names

    def refs(self) -> list[RecordingRef]:
        files = sorted(
            (p for p in self.root.iterdir() if _FILE.match(p.name)), key=lambda p: int(_FILE.match(p.name).group(1))
        )
        return [RecordingRef(key=p.stem, subject=f"{int(_FILE.match(p.name).group(1)):02d}", paths=(p,)) for p in files]

    def _stimuli(self) -> dict[int, Path] | None:
        folder = self.root / "stimuli"
        if not folder.is_dir():
            return None
        out = {}
        for path in image_files(folder):
            number = re.search(r"(\d+)$", path.stem)
            if number:
                out[int(number.group(1))] = path
        return out

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        var = _variables(path)
        x, category, exemplar = _pick(var, "data"), _pick(var, "category"), _pick(var, "exemplar")
        if x is None or category is None:
            raise DataError(path, "missing X_3D (or X) and categoryLabels (or labels6)")
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[0] != N_CHANNELS:
            raise DataError(path, f"expected {N_CHANNELS} channels x times x trials, got shape {x.shape}")
        n = x.shape[2]
        category = _labels(category, "category", n, path)
        exemplar = None if exemplar is None else _labels(exemplar, "exemplar", n, path)
        block = _pick(var, "block")
        block = None if block is None else _labels(block, "block", n, path)
        if category.min() < 1 or category.max() > len(CATEGORIES):
            raise DataError(path, f"category labels outside 1..{len(CATEGORIES)}")
        sfreq = float(_scalar(_pick(var, "sfreq")) or SFREQ)
        epochs = epochs_from_array(
            np.transpose(x, (2, 0, 1)).astype(np.float64) * 1e-6,
            [f"E{i + 1}" for i in range(N_CHANNELS)],
            sfreq,
            tmin=self._tmin(_pick(var, "times"), x.shape[1], sfreq),
            path=path,
        )
        epochs.set_montage("GSN-HydroCel-128", on_missing="ignore")
        names = [CATEGORIES[c - 1] for c in category]
        stimuli = self._stimuli()
        image = None
        if stimuli is not None:
            if exemplar is None:
                raise DataError(path, "stimulus images need exemplarLabels, which the file lacks")
            missing = sorted(set(exemplar.tolist()) - set(stimuli))
            if missing:
                raise DataError(self.root / "stimuli", f"no image for exemplar(s) {missing[:5]}")
            image = [str(stimuli[e]) for e in exemplar]
        columns: dict[str, Any] = {
            "label": names,
            "image": image,
            "text": [s.lower() for s in names],
            "category": category,
        }
        if exemplar is not None:
            columns["exemplar"] = exemplar
        if block is not None:
            columns["block"] = block
        return Recording(
            signals={"eeg": epochs},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            trials=trials_frame(n, **columns),
            units={"eeg": "V"},
            metadata={"subject_in_file": _scalar(_pick(var, "subject"))},
        )

    @staticmethod
    def _tmin(times: Any, n_times: int, sfreq: float) -> float:
        """Epoch start in seconds: from the file's ``t`` (seconds or milliseconds,
        told apart by its span), else 0 (epochs start at stimulus onset)."""
        if times is None:
            return 0.0
        t = np.asarray(times, dtype=float).ravel()
        if len(t) != n_times or n_times < 2:
            return 0.0
        span_s = (n_times - 1) / sfreq
        in_ms = abs((t[-1] - t[0]) - span_s * 1000) < abs((t[-1] - t[0]) - span_s)
        return float(t[0] / 1000 if in_ms else t[0])

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Trials over ``refs``, from the data variable's header only."""
        total = 0
        for ref in refs:
            shapes = _shapes(ref.paths[0])
            name = next((n for n in _NAMES["data"] if n in shapes), None)
            if name is None:
                raise DataError(ref.paths[0], "no X_3D (or X) variable")
            total += shapes[name][-1]
        return total

    def images(self) -> list[Path]:
        stimuli = self._stimuli()
        return [stimuli[k] for k in sorted(stimuli)] if stimuli else []
