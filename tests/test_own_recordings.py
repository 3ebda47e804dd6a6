"""The README's "Your own recordings" walk-through, run as written through the
command line on a folder of real eeg-notebooks P300 recordings.

The test builds ``my_p300/train`` (subjects 1 and 3) and ``my_p300/new_subjects``
(subject 4) from the shared ``eegnb_p300`` files, writes the README's recipe block
(checked equal to the shipped ``examples/own_muse_p300``), and runs the README's
``brainalign`` commands in order from that folder. Only the budget is changed:
one epoch for ``train``, 20 bootstrap / permutation draws and ``--json`` for
``evaluate``. Between training and evaluation the training folder is moved away
and the data directory points nowhere: evaluation on new subjects must need only
the run folder and the new folder. Expected values come from the CSV files.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from brainalign.preprocessing import Pipeline
from brainalign.recipes import recipe_path

README = Path(__file__).resolve().parents[1] / "README.md"
SOURCE = "eegnb_p300"
TRAIN_FILES = (
    "subject1/session1/data_2017-02-04-15_45_13.csv",
    "subject1/session1/data_2017-02-04-15_47_49.csv",
    "subject1/session2/data_2017-02-09-17.13.56.csv",
    "subject3/session2/data_2018-04-15-20.50.14.csv",
    "subject3/session2/data_2018-04-15-20.52.23.csv",
)
NEW_FILES = ("subject4/session1/data_2018-04-22-21.41.19.csv",)
#: only the budget differs from the README's commands
EXTRA = {"train": ["--set", "train.epochs=1"], "evaluate": ["--json", "--n-boot", "20", "--n-perm", "20"]}

pytestmark = pytest.mark.realdata


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Your own recordings\n(.*?)^## ", text, flags=re.S | re.M)
    assert match, "README has no 'Your own recordings' section"
    return match.group(1)


def _blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", section, flags=re.S | re.M)


def _markers(path: Path) -> Counter:
    """Non-zero values of the CSV's marker column, counted (read here, not by brainalign)."""
    with open(path, newline="") as fh:
        rows = csv.DictReader(fh)
        column = next(c for c in ("Marker", "Marker0") if c in (rows.fieldnames or []))
        return Counter(int(float(r[column])) for r in rows if float(r[column]) != 0)


def test_readme_walk_through_runs_as_written(data_root: Path, tmp_path: Path):
    section = _section()
    commands = [
        line.strip()
        for block in _blocks(section, "bash")
        for line in block.splitlines()
        if line.strip().startswith("brainalign ")
    ]
    assert [c.split()[1] for c in commands] == ["inspect", "train", "evaluate"], commands

    # the recipe shown in full is the shipped example
    (recipe_block,) = [b for b in _blocks(section, "yaml") if b.lstrip().startswith("#")]
    shipped = recipe_path("examples/own_muse_p300")
    assert yaml.safe_load(recipe_block) == yaml.safe_load(shipped.read_text(encoding="utf-8"))
    recipe = yaml.safe_load(recipe_block)
    (tmp_path / "own_muse_p300.yaml").write_text(recipe_block, encoding="utf-8")

    # the user's folder, from real recordings
    for part, files in (("train", TRAIN_FILES), ("new_subjects", NEW_FILES)):
        for rel in files:
            dest = tmp_path / "my_p300" / part / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_root / SOURCE / rel, dest)

    env = {**os.environ, "BRAINALIGN_DATA": str(tmp_path / "no_data_dir"), "OMP_NUM_THREADS": "1"}

    def run(command: str) -> subprocess.CompletedProcess:
        args = shlex.split(command)[1:]
        proc = subprocess.run(
            [sys.executable, "-m", "brainalign", *args, *EXTRA.get(args[0], [])],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        return proc

    # 1. inspect: channels, rate, and the events by marker value
    inspect, train, evaluate = commands
    out = run(inspect).stdout
    inspected = tmp_path / shlex.split(inspect)[2]
    counts = _markers(inspected)
    assert "channels    TP9 (eeg), AF7 (eeg), AF8 (eeg), TP10 (eeg)" in out
    assert "sfreq       256.0" in out
    assert f"events      {{'marker 1': {counts[1]}, 'marker 2': {counts[2]}}}" in out

    # 2-3. train with the recipe: the run folder records reader, parameters, resolved pipeline
    run(train)
    runs = tmp_path / shlex.split(train)[shlex.split(train).index("--out") + 1]
    config = json.loads((runs / "config.json").read_text())
    assert config["reader"] == {
        "name": "eegnb",
        "params": {"marker_map": {"1": "nontarget", "2": "target"}, "stimulus_dirs": None},
    }
    resolved = Pipeline.from_dict(recipe["data"]["pipeline"]).to_dict()
    assert config["pipeline"] == json.loads(json.dumps(resolved))
    assert config["contract"]["preprocessing"] == config["pipeline"]
    assert config["contract"]["ch_names"] == ["TP9", "AF7", "AF8", "TP10"] and config["contract"]["sfreq"] == 128
    assert config["contract"]["n_times"] == round(0.8 * 128) - round(-0.1 * 128)
    assert config["classes"] == ["nontarget", "target"]
    n_train = len(config["split"]["train"])
    assert np.load(runs / "train_embeddings.npy").shape == (n_train, recipe["model"]["head"]["dim"])
    table = json.loads((runs / "train_windows.json").read_text())
    assert table["n_rows"] == n_train
    assert set(table["columns"]["label"]) == {"nontarget", "target"}
    assert set(table["columns"]["subject"]) <= {"1", "3"}

    # 4. evaluate on new subjects with the training folder gone
    shutil.move(tmp_path / "my_p300" / "train", tmp_path / "elsewhere")
    results = json.loads(run(evaluate).stdout)
    assert list(results) == ["own_muse_p300:label"]
    metrics = results["own_muse_p300:label"]
    for name in ("prototype_bacc", "logreg_bacc", "knn_bacc", "kmeans_acc", "fewshot_100pct_bacc"):
        assert set(metrics[name]) == {"value", "ci_low", "ci_high", "p_value", "chance"}, name
        assert 0.0 <= metrics[name]["value"] <= 1.0
    assert metrics["logreg_bacc"]["chance"] == 0.5
    new = _markers(tmp_path / "my_p300" / "new_subjects" / NEW_FILES[0])
    # k-means' chance is the majority share of the scored windows: subject 4's non-targets
    # (every marker but the few whose window would run past the end of the file)
    assert metrics["kmeans_acc"]["chance"] == pytest.approx(new[1] / (new[1] + new[2]), abs=0.03)
