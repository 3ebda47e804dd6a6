"""Reader: EEGCVPR40 / "EEG-ImageNet" (Spampinato et al., CVPR 2017; perceivelab).

Layout (files in ``root`` or ``root/eeg``)::

    eeg_5_95_std.pth            # also eeg_55_95_std.pth, eeg_14_70_std.pth,
                                # eeg_signals_raw_with_mean_std.pth
        {"dataset": [{"eeg": FloatTensor(128, ~500), "image": int, "label": int,
                      "subject": int}, ...],          # 11965 trials, 6 subjects, 1 kHz
         "labels": ["n02389026", ...],                # 40 WordNet ids
         "images": ["n02389026_3929", ...]}           # 1996 ImageNet image names
    block_splits_by_image_all.pth      # {"splits": [{"train": [...], "val": [...],
    block_splits_by_image_single.pth   #              "test": [...]}, ...]}
    images/<wnid>/<image name>.JPEG    # optional (or imageNet_images/...)

Everything is read with ``torch.load(weights_only=True)``; a file with pickled
objects other than tensors and builtin containers is refused. Trials are cropped
to samples ``20:460`` by default, as the reference loader does. The signals come
band-passed and standardised, so units are arbitrary (``"a.u."``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.readers._epoched import epochs_from_array, trials_frame
from brainalign.data.recording import Recording
from brainalign.errors import ConfigError, DataError
from brainalign.utils.safeload import load_torch_safely

EEG_FILES = ("eeg_5_95_std.pth", "eeg_55_95_std.pth", "eeg_14_70_std.pth", "eeg_signals_raw_with_mean_std.pth")
SPLIT_FILES = ("block_splits_by_image_all.pth", "block_splits_by_image_single.pth")
PARTS = ("train", "val", "test")
SFREQ = 1000.0
#: Trial lengths the reference splitter keeps (shorter/longer recordings are faulty).
VALID_LENGTH = (450, 600)
_FOLDERS = (".", "eeg")
_IMAGE_FOLDERS = ("images", "imageNet_images")

#: The 40 ImageNet classes of the set, WordNet id -> ImageNet class name (the text of a trial).
CLASS_NAMES = {
    "n02106662": "German shepherd",
    "n02124075": "Egyptian cat",
    "n02281787": "lycaenid butterfly",
    "n02389026": "sorrel horse",
    "n02492035": "capuchin monkey",
    "n02504458": "African elephant",
    "n02510455": "giant panda",
    "n02607072": "anemone fish",
    "n02690373": "airliner",
    "n02906734": "broom",
    "n02951358": "canoe",
    "n02992529": "cellular telephone",
    "n03063599": "coffee mug",
    "n03100240": "convertible",
    "n03180011": "desktop computer",
    "n03197337": "digital watch",
    "n03272010": "electric guitar",
    "n03272562": "electric locomotive",
    "n03297495": "espresso maker",
    "n03376595": "folding chair",
    "n03445777": "golf ball",
    "n03452741": "grand piano",
    "n03584829": "iron",
    "n03590841": "jack-o'-lantern",
    "n03709823": "mailbag",
    "n03773504": "missile",
    "n03775071": "mitten",
    "n03792782": "mountain bike",
    "n03792972": "mountain tent",
    "n03877472": "pajama",
    "n03888257": "parachute",
    "n03982430": "pool table",
    "n04044716": "radio telescope",
    "n04069434": "reflex camera",
    "n04086273": "revolver",
    "n04120489": "running shoe",
    "n07753592": "banana",
    "n07873807": "pizza",
    "n11939491": "daisy",
    "n13054560": "bolete",
}


@register_reader
class EEGCVPR40Reader(Reader):
    """EEGCVPR40: one recording holding every trial of the chosen ``.pth`` file.

    Parameters: ``eeg_file`` (one of :data:`EEG_FILES`; default the first present),
    ``splits_file`` (one of :data:`SPLIT_FILES`), ``split`` (split index), ``part``
    (``"train"``, ``"val"``, ``"test"``, or None for all trials), ``subject``
    (1-6, or None for all), ``time_range`` (sample slice, default ``(20, 460)``),
    ``images_root`` (ImageNet folder with ``<wnid>/<name>.JPEG``; default
    ``root/images`` or ``root/imageNet_images`` when present). When an images folder
    is used, every trial's image must exist.

    Trials: ``label`` (WordNet id), ``text`` (class name), ``image``, ``class_index``,
    ``image_index``, ``subject``, ``index`` (position in the published list).
    """

    name = "eegcvpr40"
    modalities = ("eeg", "image", "text")

    def __init__(
        self,
        root: str | os.PathLike,
        eeg_file: str | None = None,
        splits_file: str = SPLIT_FILES[0],
        split: int = 0,
        part: str | None = None,
        subject: int | None = None,
        time_range: tuple[int, int] = (20, 460),
        images_root: str | os.PathLike | None = None,
    ):
        super().__init__(
            root,
            eeg_file=eeg_file,
            splits_file=splits_file,
            split=split,
            part=part,
            subject=subject,
            time_range=time_range,
            images_root=images_root,
        )
        if part is not None and part not in PARTS:
            raise ConfigError(f"eegcvpr40: part must be one of {PARTS} or None, not {part!r}")
        lo, hi = (int(t) for t in time_range)
        if not 0 <= lo < hi:
            raise ConfigError(f"eegcvpr40: time_range must be (start, stop) samples, not {time_range!r}")
        self.eeg_file, self.splits_file = eeg_file, splits_file
        self.split, self.part, self.subject, self.time_range = int(split), part, subject, (lo, hi)
        self.images_root = Path(images_root).expanduser() if images_root is not None else None
        self._container: tuple[list[dict[str, Any]], list[str], list[str]] | None = None

    @classmethod
    def detect(cls, root: Path) -> bool:
        return any((root / folder / name).is_file() for folder in _FOLDERS for name in EEG_FILES)

    def _find(self, name: str) -> Path:
        for folder in _FOLDERS:
            if (self.root / folder / name).is_file():
                return self.root / folder / name
        raise DataError(self.root / name, "file does not exist")

    def _eeg_path(self) -> Path:
        if self.eeg_file is not None:
            return self._find(self.eeg_file)
        for name in EEG_FILES:
            for folder in _FOLDERS:
                if (self.root / folder / name).is_file():
                    return self.root / folder / name
        raise DataError(self.root, f"none of {', '.join(EEG_FILES)} found")

    def refs(self) -> list[RecordingRef]:
        path = self._eeg_path()
        subject = "all" if self.subject is None else str(self.subject)
        part = "all" if self.part is None else f"split{self.split}-{self.part}"
        return [
            RecordingRef(
                key=f"{path.stem}_sub-{subject}_{part}",
                subject=subject,
                paths=(path,),
                extra=(("part", self.part), ("split", self.split)),
            )
        ]

    # ------------------------------------------------------------------- data
    def _read(self) -> tuple[list[dict[str, Any]], list[str], list[str]]:
        """The validated ``(dataset, labels, images)`` of the EEG file (read once)."""
        import torch  # lazily: listing datasets should not pay for importing torch

        if self._container is None:
            path = self._eeg_path()
            obj = load_torch_safely(path)
            if not isinstance(obj, dict) or any(k not in obj for k in ("dataset", "labels", "images")):
                raise DataError(path, "expected a dict with keys dataset, labels, images")
            dataset, labels, images = obj["dataset"], [str(x) for x in obj["labels"]], [str(x) for x in obj["images"]]
            for i, item in enumerate(dataset):
                if not (
                    isinstance(item, dict)
                    and isinstance(item.get("eeg"), torch.Tensor)
                    and item["eeg"].ndim == 2
                    and all(k in item for k in ("image", "label", "subject"))
                ):
                    raise DataError(path, f"dataset[{i}] is not {{eeg: 2-D tensor, image, label, subject}}")
                if not (0 <= int(item["label"]) < len(labels) and 0 <= int(item["image"]) < len(images)):
                    raise DataError(path, f"dataset[{i}] has label/image index out of range")
            self._container = (dataset, labels, images)
        return self._container

    def published_split(self, part: str, index: int = 0) -> list[int]:
        """Trial indices (into the published ``dataset`` list) of ``part`` of split
        ``index`` in ``splits_file``, keeping, like the reference splitter, only
        trials whose length lies in :data:`VALID_LENGTH`."""
        if part not in PARTS:
            raise ConfigError(f"eegcvpr40: part must be one of {PARTS}, not {part!r}")
        path = self._find(self.splits_file)
        obj = load_torch_safely(path)
        splits = obj.get("splits") if isinstance(obj, dict) else None
        if not isinstance(splits, list) or not splits:
            raise DataError(path, "expected a dict with a non-empty list under 'splits'")
        if not 0 <= index < len(splits):
            raise DataError(path, f"split index {index} out of range (the file has {len(splits)} splits)")
        entry = splits[index]
        if not isinstance(entry, dict) or part not in entry:
            raise DataError(path, f"split {index} has no {part!r} part")
        dataset = self._read()[0]
        idx = [int(i) for i in entry[part]]
        if any(not 0 <= i < len(dataset) for i in idx):
            raise DataError(path, f"split {index} {part!r} refers to trials beyond the {len(dataset)} in the EEG file")
        lo, hi = VALID_LENGTH
        return [i for i in idx if lo <= dataset[i]["eeg"].shape[1] <= hi]

    def _selected(self) -> list[int]:
        dataset = self._read()[0]
        idx = self.published_split(self.part, self.split) if self.part else range(len(dataset))
        return [i for i in idx if self.subject is None or int(dataset[i]["subject"]) == int(self.subject)]

    def _image_dir(self) -> Path | None:
        if self.images_root is not None:
            if not self.images_root.is_dir():
                raise DataError(self.images_root, "image folder does not exist")
            return self.images_root
        return next((self.root / f for f in _IMAGE_FOLDERS if (self.root / f).is_dir()), None)

    def _image_path(self, folder: Path, name: str) -> Path:
        wnid = name.split("_", 1)[0]
        path = folder / wnid / f"{name}.JPEG"
        if not path.is_file():
            raise DataError(path, f"image {name} of the EEG file is missing")
        return path

    def load(self, ref: RecordingRef) -> Recording:
        import torch

        path = ref.paths[0]
        dataset, labels, images = self._read()
        lo, hi = self.time_range
        selected = self._selected()
        keep = [i for i in selected if dataset[i]["eeg"].shape[1] >= hi]
        if not keep:
            raise DataError(path, f"no trial of the selection is at least {hi} samples long")
        n_channels = {dataset[i]["eeg"].shape[0] for i in keep}
        if len(n_channels) != 1:
            raise DataError(path, f"trials have different channel counts {sorted(n_channels)}")
        data = np.stack([dataset[i]["eeg"][:, lo:hi].to(torch.float64).numpy() for i in keep])
        ch_names = [f"EEG{c + 1:03d}" for c in range(data.shape[1])]
        epochs = epochs_from_array(data, ch_names, SFREQ, tmin=lo / SFREQ, path=path)
        wnids = [labels[int(dataset[i]["label"])] for i in keep]
        names = [images[int(dataset[i]["image"])] for i in keep]
        folder = self._image_dir()
        trials = trials_frame(
            len(keep),
            label=wnids,
            text=[CLASS_NAMES.get(w, w) for w in wnids],
            image=[str(self._image_path(folder, n)) for n in names] if folder is not None else None,
            image_name=names,
            class_index=[int(dataset[i]["label"]) for i in keep],
            image_index=[int(dataset[i]["image"]) for i in keep],
            subject=[int(dataset[i]["subject"]) for i in keep],
            index=keep,
        )
        return Recording(
            signals={"eeg": epochs},
            subject=ref.subject,
            dataset=self.name,
            source=(path,),
            trials=trials,
            units={"eeg": "a.u."},
            metadata={
                "eeg_file": path.name,
                "split": self.split,
                "part": self.part,
                "time_range": (lo, hi),
                "dropped_short_trials": len(selected) - len(keep),
            },
        )

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Trials :meth:`load` returns (the selection, less trials too short to crop)."""
        if not refs:
            return 0
        dataset, hi = self._read()[0], self.time_range[1]
        return sum(1 for i in self._selected() if dataset[i]["eeg"].shape[1] >= hi)

    def images(self) -> list[Path]:
        folder = self._image_dir()
        if folder is None:
            return []
        return [self._image_path(folder, name) for name in self._read()[2]]
