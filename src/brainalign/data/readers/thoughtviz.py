"""Reader: ThoughtViz (Tirupattur et al., ACM MM 2018; data of Kumar et al. 2018).

Layout (the released ``data`` folder)::

    root/eeg/char/data.pkl      # pickled dict (Python 2): x_train, y_train, x_test, y_test
    root/eeg/digit/data.pkl     #   x: N x 14 channels x 32 samples x 1 (Emotiv EPOC, 128 Hz)
    root/eeg/image/data.pkl     #   y: N x 10 one-hot
    root/images/<...>/<class>/  # optional stimulus images per class, e.g.
                                # images/ImageNet-Filtered/Apple/*.jpg, images/A/*.png

The pickles are read with a restricted unpickler that rebuilds numpy arrays and
builtin containers only (keys may be byte strings, as in the Python 2 files).
Trials are not paired with one exact image, only with a class, so ``image`` is
empty; :meth:`ThoughtVizReader.class_images` lists the images of each class.
"""

from __future__ import annotations

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
from brainalign.errors import DataError
from brainalign.utils.safeload import load_pickle_safely

#: Class names in one-hot order, per subset (from the ThoughtViz code release).
CLASSES: dict[str, tuple[str, ...]] = {
    "char": ("A", "C", "F", "H", "J", "M", "P", "S", "T", "Y"),
    "digit": tuple(str(d) for d in range(10)),
    "image": ("Apple", "Car", "Dog", "Gold", "Mobile", "Rose", "Scooter", "Tiger", "Wallet", "Watch"),
}
#: Emotiv EPOC channel order.
CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
SFREQ = 128.0
_KEYS = ("x_train", "y_train", "x_test", "y_test")


@register_reader
class ThoughtVizReader(Reader):
    """ThoughtViz: one recording per subset (``char``, ``digit``, ``image``) holding
    its train and test trials (column ``split``). Subjects are not recorded in the
    release (``subject`` is ``"all"``).

    Trials: ``label`` and ``text`` (class name), ``class_index``, ``split``.
    """

    name = "thoughtviz"
    modalities = ("eeg", "image", "text")

    @classmethod
    def detect(cls, root: Path) -> bool:
        return any((root / "eeg" / subset / "data.pkl").is_file() for subset in CLASSES)

    def refs(self) -> list[RecordingRef]:
        return [
            RecordingRef(key=subset, subject="all", paths=(self.root / "eeg" / subset / "data.pkl",), run=subset)
            for subset in CLASSES
            if (self.root / "eeg" / subset / "data.pkl").is_file()
        ]

    def _read(self, path: Path, subset: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"train": (x, class index), "test": (...)}`` with x as trials x channels x times."""
        obj: Any = load_pickle_safely(path)
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a pickled dict, found {type(obj).__name__}")
        obj = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
        missing = [k for k in _KEYS if k not in obj]
        if missing:
            raise DataError(path, f"missing keys {missing}")
        out = {}
        for part in ("train", "test"):
            x, y = np.asarray(obj[f"x_{part}"]), np.asarray(obj[f"y_{part}"])
            if x.ndim == 4 and x.shape[3] == 1:
                x = x[..., 0]
            if x.ndim != 3 or x.shape[1] != len(CHANNELS):
                raise DataError(
                    path,
                    f"x_{part} should be N x {len(CHANNELS)} x times (x 1), got shape {np.shape(obj[f'x_{part}'])}",
                )
            n_classes = len(CLASSES[subset])
            if y.ndim != 2 or y.shape != (x.shape[0], n_classes):
                raise DataError(path, f"y_{part} should be one-hot {x.shape[0]} x {n_classes}, got shape {y.shape}")
            out[part] = (x.astype(np.float64, copy=False), y.argmax(axis=1))
        return out

    def load(self, ref: RecordingRef) -> Recording:
        path, subset = ref.paths[0], ref.key
        parts = self._read(path, subset)
        data = np.concatenate([parts["train"][0], parts["test"][0]])
        classes = np.concatenate([parts["train"][1], parts["test"][1]])
        split = ["train"] * len(parts["train"][1]) + ["test"] * len(parts["test"][1])
        names = [CLASSES[subset][c] for c in classes]
        epochs = epochs_from_array(data, CHANNELS, SFREQ, path=path)
        trials = trials_frame(len(classes), label=names, image=None, text=names, class_index=classes, split=split)
        return Recording(
            signals={"eeg": epochs},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            run=subset,
            trials=trials,
            units={"eeg": "a.u."},
            metadata={"subset": subset},
        )

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        return sum(len(c) for ref in refs for _, c in self._read(ref.paths[0], ref.key).values())

    def class_images(self, subset: str) -> dict[str, list[Path]]:
        """Images of each class of ``subset`` found under ``root/images`` (a folder
        named after the class, at most two levels down); classes without one are left out."""
        base = self.root / "images"
        if not base.is_dir():
            return {}
        folders = [p for p in base.iterdir() if p.is_dir()]
        folders += [q for p in folders for q in p.iterdir() if q.is_dir()]
        out: dict[str, list[Path]] = {}
        for cls in CLASSES[subset]:
            match = next((f for f in sorted(folders) if f.name == cls), None)
            if match is not None:
                out[cls] = image_files(match)
        return out

    def images(self) -> list[Path]:
        return [p for ref in self.refs() for files in self.class_images(ref.key).values() for p in files]
