"""``brainalign generate RUN --data SPLIT_OR_FOLDER --out DIR``: images and sentences
from the EEG embeddings of a trained run.

A run folder of ``brainalign train`` (``config.json`` + ``model.safetensors``) whose
EEG was paired with images or with text gets *generation heads* in
``RUN/generation/`` (:func:`fit_generation_heads`, or ``generate --fit-heads``):

* image runs: a conditional GAN (:mod:`brainalign.generation.gan`) trained on the
  run's stimulus images, each conditioned on its own shared-space embedding (the
  run's image head is the image -> EEG-space map), plus the stimuli at the
  generator's resolution (``stimuli.safetensors``), so that the run folder alone
  draws real stimuli beside the generated ones. At generation time each trial's
  EEG embedding selects its nearest stimulus embedding (cosine, the run's zero-shot
  retrieval) and the generator draws from that condition. Where the exact image of a
  trial is not recorded (N170, P300: only its class), this is class-conditional
  generation through retrieval.
* text runs: a small transformer decoder (:class:`brainalign.generation.text.EEGToText`)
  trained on the training windows' embeddings (``train_embeddings.npy``) and their
  sentences, decoded free-running from EEG alone; the nearest training sentence in the
  shared space (retrieval) is written beside it.

:func:`generate_from_run` encodes the EEG of the run's ``test`` / ``val`` / ``train``
part (the split is rebuilt from the data directory and checked identical to the saved
one) or of every window of another folder in the training data's layout, and writes
into ``DIR``: ``grid_NNN.png`` (each trial's generated image beside real stimuli of
its class), ``images.npy`` (uint8, every trial's image), ``trials.csv``,
``texts.jsonl`` (trial, generated sentence, retrieved sentence, reference) and
``summary.json``. ``DIR`` is written under a temporary name and renamed into place
when complete: a failure leaves no half-written folder. Only JSON, NumPy (no pickle)
and safetensors files are read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brainalign.errors import ConfigError, DataError
from brainalign.utils.io import atomic_path, atomic_write_text

__all__ = ["HEADS_DIR", "fit_generation_heads", "generate_from_run", "load_heads_manifest"]

#: sub-folder of a run folder that holds the generation heads
HEADS_DIR = "generation"
_MANIFEST = "manifest.json"
_FORMAT = "brainalign-generation-heads/1"
_SPLITS = ("test", "val", "train")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, f"missing ({what})") from None
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read {what}: {err}") from None


def _load_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, f"missing ({what}); retrain the run with this version") from None
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read {what}: {err}") from None


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _train_table(run_dir: Path) -> Any:
    from brainalign.training.trainer import TRAIN_WINDOWS, table_from_json

    path = run_dir / TRAIN_WINDOWS
    return table_from_json(_read_json(path, "the training window table"), path)


def _image_labels(paths: list[str], table: Any, pair_column: str, label_column: str) -> list[str]:
    """The class of each stimulus image: the label of the training windows paired with it."""
    if label_column not in table or pair_column not in table:
        return ["?"] * len(paths)
    first = table.drop_duplicates(pair_column).set_index(pair_column)[label_column].astype(str).to_dict()
    return [str(first.get(p, "?")) for p in paths]


# ----------------------------------------------------------------------------- fit
def fit_generation_heads(
    run_dir: str | os.PathLike,
    *,
    resolution: int = 32,
    gan_steps: int = 2000,
    grow_steps: int = 0,
    gan_time_limit_s: float | None = None,
    gan_overrides: dict[str, Any] | None = None,
    text_epochs: int = 12,
    text_time_limit_s: float | None = None,
    decoder_options: dict[str, Any] | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train the generation heads of a finished image- or text-paired run into
    ``RUN/generation/`` (replaced atomically when complete); returns that folder.
    ``grow_steps`` > 0: the GAN first trains that many steps at half the resolution, then
    grows to ``resolution`` (progressive growing; how the 64 px generator trains in minutes)."""
    from brainalign.training.api import load
    from brainalign.training.trainer import PAIR_EMBEDDINGS, TRAIN_EMBEDDINGS

    run = Path(run_dir)
    model = load(run)
    kind = model.config.get("pair_kind")
    if kind not in ("image", "text"):
        raise DataError(run, f"generation needs a run paired with images or text; this one is paired with {kind!r}")
    recipe = model.config["recipe"]["data"]
    pair_column, label_column = str(recipe.get("pair")), str(recipe.get("label", "label"))
    say = log or (lambda _msg: None)
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "pair_kind": kind,
        "seed": seed,
        "run": model.config["recipe"]["name"],
    }
    with atomic_path(run / HEADS_DIR, is_dir=True) as tmp:
        if kind == "image":
            from safetensors.torch import save_file

            from brainalign.generation.gan import GANConfig, save_gan, train_gan
            from brainalign.generation.images import load_images

            pairs = _load_npy(run / PAIR_EMBEDDINGS, "the stimulus embeddings")
            paths = list(model.pair_values)
            if len(pairs) != len(paths) or len(paths) == 0:
                raise DataError(run / PAIR_EMBEDDINGS, f"{len(pairs)} embeddings for {len(paths)} stimulus images")
            labels = _image_labels(paths, _train_table(run), pair_column, label_column)
            images = load_images(paths, resolution)
            cfg = GANConfig(resolution=resolution, cond_dim=int(pairs.shape[1]), **(gan_overrides or {}))
            grow = f" after {grow_steps} at {resolution // 2} px" if grow_steps else ""
            say(f"training a {resolution} px GAN on {len(paths)} stimuli ({gan_steps} steps at most{grow})")
            result = train_gan(
                images,
                torch.from_numpy(pairs.astype(np.float32)),
                cfg,
                steps=gan_steps,
                seed=seed,
                time_limit_s=gan_time_limit_s,
                log_every=max(1, gan_steps // 20),
                grow_steps=grow_steps,
            )
            save_gan(result, tmp / "gan", include_discriminator=False, extra={"run": manifest["run"]})
            save_file(
                {"images": images.contiguous(), "conds": torch.from_numpy(pairs.astype(np.float32)).contiguous()},
                str(tmp / "stimuli.safetensors"),
            )
            manifest["image"] = {
                "gan": "gan",
                "stimuli": "stimuli.safetensors",
                "labels": labels,
                "names": [Path(p).name for p in paths],
                "resolution": resolution,
                "steps": result.steps,
                "stages": result.stages,
                "seconds": round(result.seconds, 1),
                "conditioning": "each trial's nearest stimulus embedding (cosine) in the run's shared space",
            }
        else:
            from brainalign.generation.text import EEGToText, minilm_tokenizer

            z_train = _load_npy(run / TRAIN_EMBEDDINGS, "the training embeddings")
            table = _train_table(run)
            if pair_column not in table:
                raise DataError(run, f"the training window table has no {pair_column!r} column")
            texts = table[pair_column].astype(str).tolist()
            if len(texts) != len(z_train):
                raise DataError(run / TRAIN_EMBEDDINGS, f"{len(z_train)} embeddings for {len(texts)} training windows")
            opts = {"d_model": 64, "n_heads": 4, "n_layers": 2, "ff_dim": 128, "n_memory": 4, "max_len": 40}
            opts.update(decoder_options or {})
            say(f"training the EEG -> text decoder on {len(texts)} windows ({text_epochs} epochs)")
            dec = EEGToText(minilm_tokenizer(), **opts).fit(
                z_train, texts, epochs=text_epochs, seed=seed, time_limit_s=text_time_limit_s
            )
            dec.save(tmp / "text_decoder")
            manifest["text"] = {
                "decoder": "text_decoder",
                "epochs": len(dec.log),
                "final_loss": dec.log[-1]["loss"],
                "trained_on": "the training windows' shared-space embeddings (train_embeddings.npy) and sentences",
            }
        manifest["seconds"] = round(time.perf_counter() - t0, 1)
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return run / HEADS_DIR


def load_heads_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The generation heads' manifest of a run folder (DataError naming the file if absent or bad)."""
    run = Path(run_dir)
    path = run / HEADS_DIR / _MANIFEST
    if not (run / "config.json").is_file():
        raise DataError(run, "not a run folder (no config.json)")
    if not path.is_file():
        raise DataError(
            path, "missing: this run has no generation heads; fit them with `brainalign generate RUN --fit-heads ...`"
        )
    manifest = _read_json(path, "the generation heads' manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise DataError(path, f"not a {_FORMAT} manifest")
    return manifest


# ------------------------------------------------------------------------ generate
def _windows_of(model: Any, data: str, data_dir: str | os.PathLike | None) -> tuple[np.ndarray, Any, str]:
    """(EEG windows, their table, a description) of a split of the run or of a folder."""
    if data in _SPLITS:
        from brainalign.training.data import build_paired_data
        from brainalign.training.recipe import recipe_from_dict

        recipe = recipe_from_dict(model.config["recipe"])
        paired = build_paired_data(recipe.data, data_dir, progress=False, seed=recipe.seed)
        if paired.split.to_dict() != model.config["split"]:
            raise DataError(model.run_dir, "the data directory no longer yields the split this model was trained with")
        rows = paired.part(data)
        if len(rows) == 0:
            raise DataError(model.run_dir, f"the run's {data!r} part holds no window")
        table = paired.windows.table.iloc[rows].reset_index(drop=True)
        return np.asarray(paired.windows.data[rows]), table, f"the run's {data} part"
    folder = Path(data)
    if not folder.exists():
        raise DataError(
            folder, f"no such folder; --data takes {', '.join(_SPLITS)} or a folder in the training data's layout"
        )
    from brainalign.experiments.evaluate import _new_windows

    windows, reader = _new_windows(model, str(folder), data_dir)
    if len(windows.table) == 0:
        raise DataError(folder, "no window to encode")
    return np.asarray(windows.data), windows.table.reset_index(drop=True), f"every window of {folder} ({reader})"


def _column(table: Any, name: str, n: int) -> list[str]:
    return table[name].astype(str).tolist() if name in table else [""] * n


def generate_from_run(
    run_dir: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    max_grid_trials: int = 64,
    trials_per_grid: int = 16,
    n_real: int = 3,
) -> dict[str, Any]:
    """Encode the EEG of ``data`` (``test``, ``val``, ``train`` or a folder) with the
    run's encoder, generate from the embeddings, and write the outputs into ``out``
    (which must not exist or be empty); returns the summary (also ``summary.json``)."""
    from brainalign.training.api import load
    from brainalign.training.trainer import PAIR_EMBEDDINGS

    t0 = time.perf_counter()
    run, out = Path(run_dir), Path(out)
    if max_grid_trials < 0 or trials_per_grid < 1:
        raise ConfigError("max_grid_trials must be >= 0 and trials_per_grid >= 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(out, "exists and is not an empty folder; choose another --out")
    manifest = load_heads_manifest(run)
    heads = run / HEADS_DIR
    model = load(run)
    x, table, described = _windows_of(model, data, data_dir)
    z = model.encode_eeg(x)
    n = len(z)
    label_column = str(model.config["recipe"]["data"].get("label", "label"))
    pair_column = str(model.config["recipe"]["data"].get("pair"))
    labels = _column(table, label_column, n)
    base_rows = [
        {
            "trial": i,
            "subject": s,
            "recording": r,
            "label": lab,
        }
        for i, (s, r, lab) in enumerate(zip(_column(table, "subject", n), _column(table, "recording", n), labels))
    ]
    summary: dict[str, Any] = {
        "run": str(run),
        "recipe": model.config["recipe"]["name"],
        "data": described,
        "n_trials": n,
        "files": [],
    }
    with atomic_path(out, is_dir=True) as tmp:
        if "image" in manifest:
            from safetensors.torch import load_file

            from brainalign.generation.figures import save_trial_grid
            from brainalign.generation.gan import generate_images, load_generator
            from brainalign.generation.images import to_uint8

            spec = manifest["image"]
            generator, _ = load_generator(heads / str(spec["gan"]))
            stim_path = heads / str(spec["stimuli"])
            try:
                stim = load_file(str(stim_path))
            except Exception as err:  # noqa: BLE001 - safetensors raises its own types on a bad file
                raise DataError(stim_path, f"cannot read the stimuli: {err}") from None
            stim_labels = np.asarray(spec["labels"], dtype=object)
            conds = stim["conds"].numpy()
            if conds.shape[1] != z.shape[1] or len(conds) != len(stim_labels):
                raise DataError(stim_path, f"stimulus conditions {conds.shape} do not fit {z.shape[1]}-d embeddings")
            nearest = (_unit(z) @ _unit(conds).T).argmax(1)
            decoded = stim_labels[nearest].astype(str)
            images = generate_images(generator, conds[nearest], seed=seed)
            np.save(tmp / "images.npy", to_uint8(images), allow_pickle=False)
            real_by_class = {str(c): stim["images"][stim_labels == c] for c in np.unique(stim_labels)}
            shown = np.arange(min(n, max_grid_trials))
            grid_of = [""] * n
            for page, start in enumerate(range(0, len(shown), trials_per_grid)):
                rows = shown[start : start + trials_per_grid]
                name = f"grid_{page:03d}.png"
                # real stimuli of the trial's class (its decoded class when the trial's own is unknown)
                cls = [labels[i] if labels[i] in real_by_class else decoded[i] for i in rows]
                save_trial_grid(
                    tmp / name,
                    generated=images[rows],
                    trial_labels=cls,
                    real_by_class=real_by_class,
                    decoded=[decoded[i] for i in rows],
                    n_real=n_real,
                    seed=seed,
                    title=f"{summary['recipe']}: generated from EEG (left) beside real stimuli of the trial's class",
                )
                summary["files"].append(name)
                for i in rows:
                    grid_of[i] = name
            for i, row in enumerate(base_rows):
                row.update(
                    {"nearest_stimulus": spec["names"][nearest[i]], "decoded_class": decoded[i], "grid": grid_of[i]}
                )
            summary["files"].append("images.npy")
            summary["image"] = {
                "resolution": spec["resolution"],
                "conditioning": spec["conditioning"],
                "decoded_class_counts": {str(k): int(v) for k, v in zip(*np.unique(decoded, return_counts=True))},
            }
        if "text" in manifest:
            from brainalign.generation.text import EEGToText

            spec = manifest["text"]
            decoder = EEGToText.load(heads / str(spec["decoder"]))
            generated = decoder.generate(z)
            retrieved = [""] * n
            pair_path = run / PAIR_EMBEDDINGS
            if pair_path.is_file() and model.pair_values:
                pairs = _load_npy(pair_path, "the sentence embeddings")
                retrieved = [model.pair_values[k] for k in (_unit(z) @ _unit(pairs).T).argmax(1)]
            refs = _column(table, pair_column, n)
            lines = [
                json.dumps({**row, "generated": g, "retrieved": r, "reference": ref})
                for row, g, r, ref in zip(base_rows, generated, retrieved, refs)
            ]
            (tmp / "texts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary["files"].append("texts.jsonl")
            summary["text"] = {"n_distinct_generated": len(set(generated)), "decoding": "greedy, free-running"}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(base_rows[0]) if base_rows else ["trial"])
        writer.writeheader()
        writer.writerows(base_rows)
        (tmp / "trials.csv").write_text(buf.getvalue(), encoding="utf-8")
        summary["files"].append("trials.csv")
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(tmp / "summary.json", json.dumps(summary, indent=2))
    return summary
