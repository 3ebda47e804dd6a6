"""The project's errors print on one line."""

from __future__ import annotations

from brainalign.errors import DataError


def test_data_error_is_one_line_whatever_the_dependency_said() -> None:
    """Found by the fuzz tests: numpy's resize error, wrapped by the WFDB reader,
    spans four lines."""
    err = DataError("rec.dat", "cannot read: cannot resize an array\nby another object in this way.\n  Use np.resize")
    assert str(err) == "rec.dat: cannot read: cannot resize an array by another object in this way. Use np.resize"
    assert err.problem.count("\n") == 0
