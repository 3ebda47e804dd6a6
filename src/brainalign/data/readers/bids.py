"""Reader: BIDS datasets (EEG), through mne-bids.

Layout: a BIDS root (``dataset_description.json`` and ``sub-*/`` folders). Every
data file of the chosen datatype (``sub-*/[ses-*/]eeg/*_eeg.<ext>``; derivatives are
ignored) is one recording, listed with :func:`mne_bids.find_matching_paths` and read
with :func:`mne_bids.read_raw_bids`.

* ``signals``: one MNE Raw per signal modality found among the channel types of
  ``channels.tsv`` (``eeg``, ``eog``, ``ecg``...), in volts.
* ``trials``: the rows of ``*_events.tsv`` (``onset`` in seconds from the first
  sample, ``duration``, ``label`` = ``trial_type`` or else ``value``, and every
  other column). Per the BIDS specification, a ``stim_file`` column names the
  stimulus shown at that onset, relative to the root's ``stimuli/`` folder; it is
  resolved to an absolute path in ``image`` (None where ``n/a``). A stimulus file
  that does not exist raises :class:`DataError` naming it.
* ``metadata``: the subject's row of ``participants.tsv`` (age, sex, hand...;
  ``n/a`` -> None) plus the BIDS entities (task, session, run...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mne_bids
import pandas as pd
from mne_bids.config import ALLOWED_DATATYPE_EXTENSIONS

from brainalign.data.base import Reader, RecordingRef, register_reader
from brainalign.data.edf import check_finite
from brainalign.data.recording import Recording, split_modalities
from brainalign.errors import DataError

#: the BIDS entities a RecordingRef carries, to rebuild its BIDSPath
_ENTITIES = ("subject", "session", "task", "acquisition", "run", "processing", "recording", "space", "split")


def read_tsv(path: Path) -> pd.DataFrame:
    """A BIDS TSV file: tab-separated, ``n/a`` for missing values (and only that:
    a label such as ``NA`` stays a string)."""
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(path, f"cannot read TSV file: {err}") from err


@register_reader
class BidsReader(Reader):
    """BIDS root read through mne-bids (see the module docstring).

    Parameters
    ----------
    datatype:
        BIDS datatype folder to read (default ``"eeg"``).
    """

    name = "bids"
    modalities = ("eeg", "image")

    def __init__(self, root: str | os.PathLike, datatype: str = "eeg", **params: Any):
        super().__init__(root, **params)
        if datatype not in ALLOWED_DATATYPE_EXTENSIONS:
            raise DataError(self.root, f"unknown BIDS datatype {datatype!r}")
        self.datatype = datatype

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        return (root / "dataset_description.json").is_file() and any(p.is_dir() for p in root.glob("sub-*"))

    # ---------------------------------------------------------------- listing
    def refs(self) -> list[RecordingRef]:
        paths = mne_bids.find_matching_paths(
            self.root,
            datatypes=self.datatype,
            suffixes=self.datatype,
            extensions=ALLOWED_DATATYPE_EXTENSIONS[self.datatype],
            ignore_json=True,
            ignore_nosub=True,
        )
        out = []
        for bp in sorted(paths, key=lambda p: str(p.fpath)):
            events = self._events_path(bp)
            entities = tuple((k, bp.entities[k]) for k in _ENTITIES if bp.entities.get(k) is not None)
            out.append(
                RecordingRef(
                    key=bp.basename,
                    subject=bp.subject,
                    paths=(bp.fpath,) + ((events,) if events.is_file() else ()),
                    session=bp.session,
                    run=bp.run,
                    extra=entities + (("extension", bp.extension), ("events", events)),
                )
            )
        return out

    def _bids_path(self, ref: RecordingRef) -> mne_bids.BIDSPath:
        entities = {k: ref.get(k) for k in _ENTITIES if ref.get(k) is not None}
        return mne_bids.BIDSPath(
            root=self.root,
            datatype=self.datatype,
            suffix=self.datatype,
            extension=ref.get("extension"),
            check=False,
            **entities,
        )

    def _events_path(self, bp: mne_bids.BIDSPath) -> Path:
        return Path(bp.copy().update(suffix="events", extension=".tsv", split=None).fpath)

    def n_trials(self, refs: list[RecordingRef]) -> int | None:
        """Rows of the events files (text only, no signal read)."""
        counts = [len(read_tsv(ev)) for ref in refs if (ev := ref.get("events")).is_file()]
        return sum(counts) if counts else None

    def images(self) -> list[Path]:
        """The stimulus files named by the events files, each once."""
        return self.summary_images(self.refs())

    def summary_images(self, refs: list[RecordingRef]) -> list[Path]:
        """The stimulus files named by the events files of ``refs``, each once."""
        found: dict[Path, None] = {}
        for ref in refs:
            events: Path = ref.get("events")
            if events.is_file():
                images = self._images(read_tsv(events), events)
                found.update(dict.fromkeys(p for p in images if p is not None))
        return list(found)

    def check(self, ref: RecordingRef) -> None:
        """As :meth:`Reader.check`, and every stimulus file its events name exists."""
        super().check(ref)
        self.summary_images([ref])

    def summary(self, count_trials: bool = True) -> dict[str, Any]:
        """As :meth:`Reader.summary`; ``image`` is listed only when events name
        stimulus files."""
        out = super().summary(count_trials)
        if "images" not in out:
            out["modalities"] = [m for m in out["modalities"] if m != "image"]
        return out

    # ---------------------------------------------------------------- reading
    def load(self, ref: RecordingRef) -> Recording:
        bp = self._bids_path(ref)
        fpath = Path(bp.fpath)
        if not fpath.exists():
            raise DataError(fpath, "BIDS data file not found")
        try:
            raw = mne_bids.read_raw_bids(bp, verbose="error")
            raw.load_data(verbose="error")
        except DataError:
            raise
        except Exception as err:  # MNE/mne-bids raise many types on bad files or sidecars
            raise DataError(fpath, f"cannot read BIDS recording (truncated or corrupt?): {err}") from err
        check_finite(raw, fpath)
        signals = split_modalities(raw)
        if self.datatype == "eeg" and "eeg" not in signals:
            raise DataError(fpath, f"no EEG channel (channel types: {sorted(set(raw.get_channel_types()))})")
        events: Path = ref.get("events")
        metadata = self._participant(ref.subject)
        metadata.update({k: ref.get(k) for k in _ENTITIES if ref.get(k) is not None})
        return Recording(
            signals=signals,
            subject=ref.subject,
            dataset=self.root.name,
            source=ref.paths,
            session=ref.session,
            run=ref.run,
            metadata=metadata,
            trials=self._trials(events) if events.is_file() else None,
            units={m: "V" for m in signals},
        )

    def _participant(self, subject: str) -> dict[str, Any]:
        """The subject's row of ``participants.tsv`` (empty without one)."""
        path = self.root / "participants.tsv"
        if not path.is_file():
            return {}
        table = read_tsv(path)
        if "participant_id" not in table.columns:
            raise DataError(path, "no participant_id column")
        rows = table[table["participant_id"].astype(str) == f"sub-{subject}"]
        if rows.empty:
            return {}
        return {k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in rows.iloc[0].items()}

    def _trials(self, events: Path) -> pd.DataFrame:
        table = read_tsv(events)
        if "onset" not in table.columns:
            raise DataError(events, "events file has no onset column")
        trials = table.copy()
        if "trial_type" in table.columns:
            trials["label"] = table["trial_type"]
        elif "value" in table.columns:
            trials["label"] = table["value"].astype(str).where(table["value"].notna())
        else:
            trials["label"] = pd.NA
        if "stim_file" in table.columns:
            trials["image"] = [None if p is None else str(p) for p in self._images(table, events)]
        return trials

    def _images(self, table: pd.DataFrame, events: Path) -> list[Path | None]:
        """``stim_file`` resolved against ``<root>/stimuli`` (None where ``n/a``);
        raises DataError naming a stimulus file that does not exist or lies
        outside ``stimuli/``."""
        if "stim_file" not in table.columns:
            return []
        stimuli = (self.root / "stimuli").resolve()
        out: list[Path | None] = []
        for name in table["stim_file"]:
            if pd.isna(name):
                out.append(None)
                continue
            path = (stimuli / str(name)).resolve()
            if not path.is_relative_to(stimuli):
                raise DataError(path, f"stimulus file named in {events.name} lies outside {stimuli}")
            if not path.is_file():
                raise DataError(path, f"stimulus file named in {events.name} does not exist")
            out.append(path)
        return out
