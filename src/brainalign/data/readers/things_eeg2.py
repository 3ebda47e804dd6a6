"""Reader: THINGS-EEG2, preprocessed release (Gifford et al. 2022, NeuroImage 264).

Layout (as published on OSF and used by NICE-EEG, ATM...)::

    root/sub-01/preprocessed_eeg_training.npy   # dict: preprocessed_eeg_data
    root/sub-01/preprocessed_eeg_test.npy       #   (images x repetitions x channels x times),
                                                #   ch_names (list of str), times (seconds)
    root/training_images/00001_aardvark/aardvark_01b.jpg ...   # 1654 concepts x 10 images
    root/test_images/00001_aircraft_carrier/aircraft_carrier_06s.jpg ...  # 200 x 1

(the image folders may also sit in ``root/image_set`` or ``root/Image_set``, or be
given with ``images_root``). Training is 16540 x 4 x 17 x 100, test 200 x 80 x 17 x
100 at 100 Hz from -0.2 s. Row ``i`` of the EEG is the ``i``-th image when concept
folders, then files inside each, are sorted by name.

The ``.npy`` files are pickles (``np.save`` of a dict); they are read with the
restricted unpickler of :mod:`brainalign.utils.safeload`, never ``np.load(allow_pickle=True)``.
The data are multivariate-noise-normalised, so units are arbitrary (``"a.u."``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.readers._epoched import (
    epochs_from_array,
    image_files,
    trials_frame,
)
from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.utils.safeload import load_numpy_pickle

_FILES = {"training": "preprocessed_eeg_training.npy", "test": "preprocessed_eeg_test.npy"}
_IMAGE_PARENTS = (".", "image_set", "Image_set")
_KEYS = ("preprocessed_eeg_data", "ch_names", "times")


@register_reader
class ThingsEEG2Reader(Reader):
    """THINGS-EEG2 preprocessed EEG, one recording per subject and split.

    Parameters: ``split`` (``"training"`` or ``"test"``), ``average_repetitions``
    (average the repetitions of each image, as NICE-EEG does on the test set),
    ``images_root`` (folder holding ``training_images``/``test_images``).

    Trials: ``label`` (concept name, e.g. ``"aircraft_carrier"``; the condition
    index when no images are found), ``image``, ``text`` (concept name in words,
    ``"aircraft carrier"``), ``condition`` (image index), ``repetition``
    (``NaN`` after averaging).
    """

    name = "things_eeg2"
    modalities = ("eeg", "image", "text")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "training",
        average_repetitions: bool = False,
        images_root: str | os.PathLike | None = None,
    ):
        super().__init__(root, split=split, average_repetitions=average_repetitions, images_root=images_root)
        if split not in _FILES:
            raise ConfigError(f"things_eeg2: split must be one of {sorted(_FILES)}, not {split!r}")
        self.split = split
        self.average_repetitions = bool(average_repetitions)
        self.images_root = Path(images_root).expanduser() if images_root is not None else None
        self._n_trials: dict[Path, int] = {}

    @classmethod
    def detect(cls, root: Path) -> bool:
        return any(next(root.glob(f"sub-*/{name}"), None) is not None for name in _FILES.values())

    def refs(self) -> list[RecordingRef]:
        files = sorted(self.root.glob(f"sub-*/{_FILES[self.split]}"))
        return [
            RecordingRef(
                key=f"{f.parent.name}_{self.split}",
                subject=f.parent.name[len("sub-") :],
                paths=(f,),
                extra=(("split", self.split),),
            )
            for f in files
        ]

    # ----------------------------------------------------------------- images
    def _image_dir(self) -> Path | None:
        folder = f"{self.split}_images"
        if self.images_root is not None:
            if not (self.images_root / folder).is_dir():
                raise DataError(self.images_root / folder, "image folder does not exist")
            return self.images_root / folder
        for parent in _IMAGE_PARENTS:
            if (self.root / parent / folder).is_dir():
                return self.root / parent / folder
        return None

    def _image_table(self) -> list[tuple[str, Path]]:
        """``(concept folder, image path)`` per image condition, in EEG row order."""
        folder = self._image_dir()
        if folder is None:
            return []
        return [
            (concept.name, image)
            for concept in sorted(p for p in folder.iterdir() if p.is_dir())
            for image in image_files(concept)
        ]

    def images(self) -> list[Path]:
        return [path for _, path in self._image_table()]

    # ------------------------------------------------------------------- data
    def _read(self, path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
        obj: Any = load_numpy_pickle(path)
        if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
            obj = obj.item()
        if not isinstance(obj, dict) or any(k not in obj for k in _KEYS):
            raise DataError(
                path,
                f"expected a dict with keys {list(_KEYS)}, found "
                f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}",
            )
        data = np.asarray(obj["preprocessed_eeg_data"])
        ch_names = [str(c) for c in obj["ch_names"]]
        times = np.asarray(obj["times"], dtype=float).ravel()
        if data.ndim != 4:
            raise DataError(
                path, f"preprocessed_eeg_data should be images x repetitions x channels x times, got shape {data.shape}"
            )
        if data.shape[2:] != (len(ch_names), len(times)):
            raise DataError(
                path,
                f"data shape {data.shape} does not match {len(ch_names)} channel names and {len(times)} time points",
            )
        if len(times) < 2 or not np.all(np.diff(times) > 0):
            raise DataError(path, "times must hold at least two increasing time points")
        self._n_trials[path] = data.shape[0] * (1 if self.average_repetitions else data.shape[1])
        return data, ch_names, times

    def load(self, ref: RecordingRef) -> Recording:
        path = ref.paths[0]
        data, ch_names, times = self._read(path)
        n_images, n_reps = data.shape[:2]
        table = self._image_table()
        if table and len(table) != n_images:
            raise DataError(self._image_dir(), f"{len(table)} images but {path.name} holds {n_images} image conditions")
        if self.average_repetitions:
            epochs_data, reps = data.mean(axis=1), np.full(n_images, np.nan)
            condition = np.arange(n_images)
        else:
            epochs_data = data.reshape(n_images * n_reps, *data.shape[2:])
            condition, reps = np.repeat(np.arange(n_images), n_reps), np.tile(np.arange(n_reps), n_images)
        # rounded: 1/median(diff) of the release's times gives 99.99999999999991 Hz
        sfreq = round(1.0 / float(np.median(np.diff(times))), 6)
        epochs = epochs_from_array(epochs_data, ch_names, sfreq, tmin=float(times[0]), path=path)
        if table:
            concepts = [folder.split("_", 1)[1] if "_" in folder else folder for folder, _ in table]
            label = [concepts[i] for i in condition]
            text = [concepts[i].replace("_", " ") for i in condition]
            image = [str(table[i][1]) for i in condition]
        else:
            label, text, image = condition.tolist(), None, None
        trials = trials_frame(len(condition), label=label, image=image, text=text, condition=condition, repetition=reps)
        return Recording(
            signals={"eeg": epochs},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            session=None,
            run=self.split,
            trials=trials,
            units={"eeg": "a.u."},
            metadata={"split": self.split, "repetitions": int(n_reps), "average_repetitions": self.average_repetitions},
        )

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Trials over ``refs``. The pickled files carry their shape only inside the
        payload, so each file not yet read by this reader is read once."""
        total = 0
        for ref in refs:
            path = ref.paths[0]
            if path not in self._n_trials:
                self._read(path)
            total += self._n_trials[path]
        return total
