"""The vectorised text-column normalisation gives exactly the per-value result
(values and their types), including the odd values that must take the slow path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.preprocessing.pipeline import _text_column, _text_value, normalise_table

COLUMNS = [
    ["a", "", None, np.nan, pd.NA, "b"],  # the fast path: strings and missing values
    [None, None],
    [],
    ["", ""],
    [1, "x", None],
    [1.5, "a", np.nan],
    [True, "a"],  # numbers become their str()
    [np.float32("nan"), "a"],
    [pd.NaT, "a"],  # not missing for _text_value: "nan", "NaT"
    [np.str_("q"), "a"],  # a str subclass becomes a plain str
]


@pytest.mark.parametrize("values", COLUMNS)
def test_text_column_equals_the_per_value_rule(values):
    arr = np.array(values, dtype=object)
    got, want = list(_text_column(arr)), [_text_value(v) for v in arr]
    assert got == want
    assert [type(v) for v in got] == [type(v) for v in want]


def test_normalise_table_on_a_cache_shaped_table():
    table = pd.DataFrame(
        {
            "recording": ["r1"] * 3,
            "text": ["x", "", None],
            "start": [0.0, 2.0, 4.0],
            "label": pd.array(["a", None, "b"], dtype="string"),
            "window": [0, 1, 2],
        }
    )
    out = normalise_table(table)
    assert list(out["text"]) == ["x", None, None] and out["text"].dtype == object
    assert list(out["label"]) == ["a", None, "b"] and out["label"].dtype == object
    assert out["start"].tolist() == [0.0, 2.0, 4.0] and out["window"].dtype == np.int64
