"""``brainalign.load(RUN)``: the trained model back, its input contract enforced
(or the input adapted on request), and crafted pickles refused without running."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import mne
import numpy as np
import pytest
import scipy.signal
import torch

import brainalign
from brainalign.cli import main
from brainalign.errors import ContractError, DataError
from brainalign.training.recipe import recipe_from_dict
from brainalign.training.trainer import train

from .conftest import TINY_RECIPE

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def n400(data_root: Path) -> tuple[np.ndarray, list[str]]:
    """All 200 N400 epochs in µV (read with MNE, independently of the engine) and their channel names."""
    epochs = mne.read_epochs(data_root / "n400" / "subject04-epo.fif", verbose="error")
    picks = mne.pick_types(epochs.info, eeg=True)
    return epochs.get_data(picks=picks, units="uV").astype(np.float32), [epochs.ch_names[i] for i in picks]


@pytest.fixture(scope="module")
def model(trained_run: Path) -> brainalign.training.api.TrainedModel:
    return brainalign.load(trained_run)


@pytest.fixture(scope="module")
def test_windows(trained_run: Path, n400) -> np.ndarray:
    split = json.loads((trained_run / "config.json").read_text())["split"]
    return n400[0][split["test"]]


def test_load_reproduces_the_test_embeddings(model, trained_run: Path, test_windows: np.ndarray, n400) -> None:
    assert model.contract.ch_names == tuple(n400[1]) and model.contract.sfreq == 50.0
    assert model.classes == ["related", "unrelated"]
    expected = np.load(trained_run / "test_embeddings.npy", allow_pickle=False)
    np.testing.assert_allclose(model.encode_eeg(test_windows), expected, atol=1e-5)
    # one window (2-D) is a batch of one
    np.testing.assert_allclose(model.encode_eeg(test_windows[0]), expected[:1], atol=1e-5)


def test_contract_violations_name_the_difference(model, test_windows: np.ndarray, n400) -> None:
    names = list(n400[1])
    renamed = ["XX" if n == "Cz" else n for n in names]
    with pytest.raises(ContractError, match=r"missing channels \['Cz'\]; unexpected channels \['XX'\]"):
        model.encode_eeg(test_windows, ch_names=renamed)
    with pytest.raises(ContractError, match=r"missing channels \['Cz'\]"):
        model.encode_eeg(test_windows[:, :31], ch_names=names[:31])
    with pytest.raises(ContractError, match=r"shape \(batch, 32, 60\).*got \(40, 31, 60\)"):
        model.encode_eeg(test_windows[:, :31])  # no names: the count is checked
    with pytest.raises(ContractError, match="channel order differs"):
        model.encode_eeg(test_windows[:, ::-1], ch_names=names[::-1])
    with pytest.raises(ContractError, match="sampling rate is 100 Hz, expected 50 Hz"):
        model.encode_eeg(test_windows, sfreq=100.0)
    with pytest.raises(ContractError, match="units are 'V', expected 'uV'"):
        model.encode_eeg(test_windows * 1e-6, units="V")
    with pytest.raises(ContractError, match="window length is 50 samples, expected 60"):
        model.encode_eeg(test_windows[..., :50])
    # every difference at once, in one message
    with pytest.raises(ContractError, match=r"rate is 25 Hz.*units are 'mV'.*length is 30 samples"):
        model.encode_eeg(test_windows[..., :30], sfreq=25.0, units="mV")
    # equivalent spellings of the unit are accepted
    np.testing.assert_allclose(model.encode_eeg(test_windows, units="µV"), model.encode_eeg(test_windows), atol=0)


def test_adapt_reorders_channels_and_resamples(model, test_windows: np.ndarray, n400) -> None:
    names = list(n400[1])
    reference = model.encode_eeg(test_windows)
    perm = np.random.default_rng(0).permutation(len(names))
    shuffled, shuffled_names = test_windows[:, perm], [names[i] for i in perm]
    np.testing.assert_allclose(model.encode_eeg(shuffled, ch_names=shuffled_names, adapt=True), reference, atol=1e-6)
    # extra channels are dropped, names match case-insensitively
    extra = np.concatenate([shuffled, test_windows[:, :1]], axis=1)
    lower = [n.lower() for n in shuffled_names] + ["EOG"]
    np.testing.assert_allclose(model.encode_eeg(extra, ch_names=lower, adapt=True), reference, atol=1e-6)

    # the same windows at twice the rate (FFT interpolation, computed here with scipy)
    doubled = scipy.signal.resample(test_windows, 2 * test_windows.shape[-1], axis=-1)
    with pytest.raises(ContractError, match="sampling rate is 100 Hz"):
        model.encode_eeg(doubled, sfreq=100.0)
    adapted = model.encode_eeg(doubled, sfreq=100.0, adapt=True)
    np.testing.assert_allclose(adapted, reference, atol=5e-3)
    # (a meaningful tolerance: different windows have embeddings far apart)
    assert np.abs(reference[1:] - reference[:-1]).max() > 0.1
    with pytest.raises(ContractError, match=r"cannot adapt input: missing channels \['Cz'\]"):
        model.encode_eeg(test_windows[:, :31], ch_names=names[:31], adapt=True)


# ------------------------------------------------------------------ crafted pickles
class _Payload:
    """Unpickling this object calls ``open(marker, "w")``: a file appears if it runs."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _raw_pickle(marker: Path) -> bytes:
    return pickle.dumps({"optimizer": _Payload(marker)})


def _torch_zip_pickle(marker: Path) -> bytes:
    """A file in torch.save's zip layout whose data.pkl holds the payload."""
    buf = io.BytesIO()
    torch.save({"optimizer": {}, "scheduler": {}}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps({"optimizer": _Payload(marker), "scheduler": {}}, protocol=2)
            dst.writestr(item, data)
    return out.getvalue()


CRAFTS = {"pickle": _raw_pickle, "torch_zip": _torch_zip_pickle}


def _copy_run(trained_run: Path, dest: Path) -> Path:
    shutil.copytree(trained_run, dest, ignore=shutil.ignore_patterns("tb"))
    return dest


def test_payload_really_runs_when_unpickled(tmp_path: Path) -> None:
    """The control: an unrestricted loader does create the marker, so its absence below means something."""
    unsafe_loaders = {
        "pickle": lambda path: pickle.loads(path.read_bytes()),
        "torch_zip": lambda path: torch.load(path, weights_only=False),
    }
    for name, craft in CRAFTS.items():
        marker, blob = tmp_path / f"marker_{name}", tmp_path / f"{name}.bin"
        blob.write_bytes(craft(marker))
        unsafe_loaders[name](blob)
        assert marker.exists()


@pytest.mark.parametrize("craft", CRAFTS)
def test_load_refuses_a_pickled_model_file(craft: str, trained_run: Path, tmp_path: Path) -> None:
    run = _copy_run(trained_run, tmp_path / "run")
    marker = tmp_path / "marker"
    (run / "model.safetensors").write_bytes(CRAFTS[craft](marker))
    with pytest.raises(DataError, match=r"model\.safetensors: not a valid safetensors file"):
        brainalign.load(run)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the raw pickle's protocol 4
@pytest.mark.parametrize("name", ["optim.pt", "rng.pt"])
@pytest.mark.parametrize("craft", CRAFTS)
def test_resume_refuses_a_pickled_checkpoint(
    craft: str, name: str, trained_run: Path, real_env, tmp_path: Path
) -> None:
    run = _copy_run(trained_run, tmp_path / "run")
    marker = tmp_path / "marker"
    (run / "checkpoints" / "last" / name).write_bytes(CRAFTS[craft](marker))
    with pytest.raises(DataError, match=rf"last/{name}: refused"):
        train(recipe_from_dict(TINY_RECIPE), run, resume=True, progress=False)
    assert not marker.exists()


def test_cli_resume_refuses_a_pickled_checkpoint(
    trained_run: Path, real_env, write_recipe, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = _copy_run(trained_run, tmp_path / "run")
    marker = tmp_path / "marker"
    (run / "checkpoints" / "last" / "optim.pt").write_bytes(_torch_zip_pickle(marker))
    code = main(["train", str(write_recipe(TINY_RECIPE)), "--out", str(run), "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("brainalign train: error: ") and "optim.pt: refused" in err[-1]
    assert "Traceback" not in "\n".join(err) and "weights_only" not in err[-1]
    assert not marker.exists()


def test_load_refuses_what_is_not_a_run(trained_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a run folder"):
        brainalign.load(tmp_path)
    run = _copy_run(trained_run, tmp_path / "run")
    (run / "config.json").write_text("{truncated")
    with pytest.raises(DataError, match=r"config\.json: not valid JSON"):
        brainalign.load(run)
    run = _copy_run(trained_run, tmp_path / "run2")
    (run / "model.safetensors").write_bytes((trained_run / "model.safetensors").read_bytes()[:100])
    with pytest.raises(DataError, match=r"model\.safetensors: not a valid safetensors file"):
        brainalign.load(run)
