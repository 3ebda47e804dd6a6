"""A wheel built from the checkout, installed into a fresh virtualenv outside it,
finds its shipped recipes and presets (package data through importlib.resources)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, pathlib, brainalign
from brainalign.recipes import list_recipes, recipe_path
from brainalign.training.recipe import load_recipe
from brainalign.preprocessing.presets import PRESETS, get_preset
names = list_recipes()
for n in names:
    load_recipe(recipe_path(n))
for p in PRESETS.names():
    get_preset(p)
print(json.dumps({"file": brainalign.__file__, "recipes": names, "presets": PRESETS.names()}))
"""


@pytest.mark.slow
def test_installed_wheel_finds_its_recipes_and_presets(tmp_path: Path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("brainalign-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies come from this environment's site-packages (appended after the
    # new venv's own, where the wheel goes); its editable brainalign is not on that path
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib, str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(py), "-c", PROBE], check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    import json

    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(found["file"]).is_relative_to(env_dir), found["file"]  # the wheel, not the checkout
    assert {"eegmat_text", "n170_image", "n400_text", "published/nice_things_eeg2"} <= set(found["recipes"])
    assert {"eegmat_windows", "n170_epochs", "eegclip"} <= set(found["presets"])
