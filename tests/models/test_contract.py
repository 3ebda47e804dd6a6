"""InputContract: serialisation, checks that name each difference, channel reordering and resampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainalign.errors import ContractError, DataError
from brainalign.models.contract import InputContract

NAMES = ("Fz", "Cz", "Pz", "Oz")


def _contract(**kw) -> InputContract:
    base = dict(
        ch_names=NAMES, sfreq=100.0, n_times=200, units="uV", preprocessing={"bandpass": [0.5, 40.0]}, modality="eeg"
    )
    base.update(kw)
    return InputContract(**base)


def test_round_trip_through_json():
    contract = _contract()
    again = InputContract.from_dict(json.loads(json.dumps(contract.to_dict())))
    assert again == contract
    assert again.ch_names == NAMES and again.n_chans == 4
    assert again.preprocessing == {"bandpass": [0.5, 40.0]}


def test_from_dict_refuses_unknown_fields():
    data = _contract().to_dict()
    data["samplerate"] = 100
    with pytest.raises(ContractError, match="samplerate"):
        InputContract.from_dict(data)


def test_construction_validates():
    with pytest.raises(ContractError, match="n_chans=3"):
        _contract(n_chans=3)
    with pytest.raises(ContractError, match="duplicate"):
        _contract(ch_names=("Fz", "Fz"))
    with pytest.raises(ContractError, match="sampling rate"):
        _contract(sfreq=0)


def test_check_accepts_matching_input_and_unit_spellings():
    contract = _contract()
    contract.check(list(NAMES), 100.0, "uV", 200)
    contract.check(list(NAMES), 100, "µV", None)
    contract.check(list(NAMES), 100, "microvolts", 200)


def test_check_names_missing_and_unexpected_channels():
    with pytest.raises(ContractError) as err:
        _contract().check(["Fz", "Cz", "Pz", "O1"], 100.0, "uV", 200)
    assert "missing channels ['Oz']" in str(err.value)
    assert "unexpected channels ['O1']" in str(err.value)


def test_check_names_order_difference():
    with pytest.raises(ContractError, match="order differs"):
        _contract().check(["Cz", "Fz", "Pz", "Oz"], 100.0, "uV", 200)


def test_check_names_rate_units_and_length_together():
    with pytest.raises(ContractError) as err:
        _contract().check(list(NAMES), 250.0, "V", 300)
    msg = str(err.value)
    assert "250 Hz" in msg and "100 Hz" in msg
    assert "'V'" in msg and "'uV'" in msg
    assert "300 samples" in msg and "expected 200" in msg


def test_check_without_contract_names_compares_count():
    contract = InputContract(n_chans=3, sfreq=100.0, n_times=50)
    contract.check(["a", "b", "c"], 100.0, "uV", 50)
    with pytest.raises(ContractError, match="4 channels, expected 3"):
        contract.check(["a", "b", "c", "d"], 100.0, "uV", 50)


def test_adapt_reorders_drops_extra_and_matches_case():
    contract = _contract()
    given = ["OZ", "Pz", "EOG", "Fz", "cz"]
    data = np.arange(5, dtype=float)[:, None] * np.ones((5, 200))  # row i holds the value i
    out = contract.adapt(data, given, 100.0)
    assert out.shape == (4, 200)
    np.testing.assert_array_equal(out[:, 0], [3.0, 4.0, 1.0, 0.0])  # Fz, Cz, Pz, Oz


def test_adapt_names_missing_channels():
    with pytest.raises(ContractError, match=r"missing channels \['Oz'\]"):
        _contract().adapt(np.zeros((3, 200)), ["Fz", "Cz", "Pz"], 100.0)


def test_adapt_resamples_a_sine_to_the_contract_rate():
    contract = _contract(ch_names=("A", "B"), sfreq=100.0)
    src_rate, freq, seconds = 250.0, 5.0, 4.0
    t_src = np.arange(int(src_rate * seconds)) / src_rate
    sine = np.sin(2 * np.pi * freq * t_src)
    data = np.stack([np.stack([sine, 2 * sine])] * 2)  # (epochs, channels, times), channel order B, A below
    out = contract.adapt(data, ["B", "A"], src_rate)
    assert out.shape == (2, 2, int(100.0 * seconds))
    t_new = np.arange(out.shape[-1]) / 100.0
    expected = np.sin(2 * np.pi * freq * t_new)
    inner = slice(40, -40)  # the resampler's padding disturbs the edges only
    np.testing.assert_allclose(out[0, 0, inner], 2 * expected[inner], atol=1e-2)
    np.testing.assert_allclose(out[1, 1, inner], expected[inner], atol=1e-2)


def test_adapt_refuses_non_finite_data():
    data = np.zeros((4, 200))
    data[2, 5] = np.nan
    with pytest.raises(DataError, match="NaN"):
        _contract().adapt(data, list(NAMES), 100.0)
