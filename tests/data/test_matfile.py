"""The MATLAB 5 structure check that runs before SciPy parses an EEGLAB ``.set``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from brainalign.data.edf import read_raw_safely
from brainalign.data.matfile import check_mat5, is_mat5
from brainalign.errors import DataError

SET = Path("formats/EEGLAB/test_raw.set")


@pytest.mark.parametrize("compress", [False, True])
def test_valid_files_pass(tmp_path: Path, compress: bool) -> None:
    cells = np.empty((2, 3), dtype=object)
    for i in range(6):
        cells.flat[i] = np.arange(i)
    content = {
        "EEG": {
            "data": np.zeros((4, 100), np.float32),
            "chanlocs": [{"labels": "Fz"}, {"labels": "Cz"}],
            "event": np.array([], dtype=object),
            "setname": "x",
        },
        "cells": cells,
    }
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, content, do_compression=compress)
    assert is_mat5(path)
    check_mat5(path)


@pytest.mark.realdata
def test_flipped_dimension_byte_is_refused_at_once(data_root: Path, tmp_path: Path) -> None:
    """Found by the fuzz tests: byte 166 of the real .set (the top-level struct's
    second dimension) set to 0xA6 makes scipy.io.loadmat loop for minutes over 10.9
    million phantom struct elements, growing to gigabytes."""
    data = bytearray((data_root / SET).read_bytes())
    data[166] = 0xA6
    path = tmp_path / "test_raw.set"
    path.write_bytes(bytes(data))
    (tmp_path / "test_raw.fdt").symlink_to(data_root / SET.with_suffix(".fdt"))
    start = time.monotonic()
    with pytest.raises(DataError, match=r"test_raw\.set: corrupt MATLAB file: a 1x10878977 struct array needs"):
        read_raw_safely(path, preload=True)
    assert time.monotonic() - start < 5
    check_mat5(data_root / SET)  # the original passes


def test_truncated_and_padded_elements(tmp_path: Path) -> None:
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, {"a": {"b": np.ones(50)}})
    full = path.read_bytes()
    path.write_bytes(full[: len(full) - 30])
    with pytest.raises(DataError, match="runs past its parent|announces .* past its parent"):
        check_mat5(path)
    path.write_bytes(full[:100])
    with pytest.raises(DataError, match="truncated MATLAB file"):
        check_mat5(path)
