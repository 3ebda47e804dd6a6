"""The shared multi-task EEG encoder against the single-task encoders (issue 11).

Three aligned arms, trained by the one trainer with the same NICE encoder, split, seed and
schedule: ``image`` (``n170_image``: CLIP with the stimulus images), ``text`` (the same
recipe paired with each trial's text through frozen MiniLM) and ``shared``
(``n170_shared``: one encoder, an image head and a text head, both CLIP terms). Beside
them, on the same split: ``supervised`` (the same recipe and NICE encoder trained with
cross-entropy on the labels, no pairing) and the classical pipelines ERP + LR and
xDAWN + tangent space + LR (:mod:`brainalign.evaluation.baselines`, fitted on the
training and validation windows): one model for all subjects, as the arms are, and
(``within`` only) one model per subject (``*_per_subject``), which is where the N170 is
decodable: the face/house effect changes sign between subjects, so a pooled model is near
chance even within subject.

Two protocols (``--protocol``):

* ``within`` (default; the benchmark's ``n170_image_within`` split): every subject's
  windows are split on its own (``data.split.kind: within_subject``, test 0.25, val 0.15):
  session-disjoint where a subject has enough sessions (subject 3), else contiguous time
  blocks (subjects 1, 2, 10, 11), so test trials are never trained on and are not
  interleaved with training trials; one model per arm, trained on every subject.
* ``subject``: ``n_folds`` subject-disjoint folds (``kfold`` by subject: one test, one
  validation subject), so every window is scored once by a model that never saw its
  subject. Cross-subject N170 decoding is at chance for the classical pipelines as well.

Zero-shot faces vs houses:

* ``image prototypes``: the EEG embedding (image space) against each class's normalised
  centre of its stimulus images' embeddings;
* ``text prompts``: the EEG embedding (text space) against each class's prompt ensemble
  (:data:`TEMPLATES`; one of them is the training text, so this is text-prototype
  classification of the two training classes, not an unseen class).

Statistics (:func:`score`): balanced accuracy over the pooled test windows; 95%
percentile bootstrap CI that resamples test windows *within each subject* (every subject
keeps its number of test windows, so the interval is about the trials, conditional on
these five subjects, not about new subjects); permutation p-value with labels permuted
within subject. Differences (shared minus single, and against the baselines) are paired:
the same resampled windows score both models.

``python -m brainalign.experiments.shared_encoder --out DIR [--protocol within|subject]
[--folds 5] [--epochs 20]``; the benchmark task is ``shared_encoder``
(:mod:`brainalign.experiments.tasks.shared_encoder`).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: arm -> (recipe, overrides): the same encoder, split and schedule
ARMS: dict[str, tuple[str, list[str]]] = {
    "image": ("n170_image", []),
    "text": ("n170_image", ["data.pair=text", "model.pair.name=minilm", "name=n170_text"]),
    "shared": ("n170_shared", []),
    # the same NICE encoder trained on the labels (cross-entropy, no pairing)
    "supervised": ("n170_image", ["data.pair=label", "objectives=[{name: ce}]", "name=n170_ce"]),
}
#: the shuffled-pairing control of the shared arm (``controls=True``)
SHUFFLED = ("n170_shared", ["data.shuffle_pairs=true", "name=n170_shared_shuffled"])
#: the classical pipelines fitted on the same split, and their options
BASELINES: dict[str, dict[str, Any]] = {"erp_lr": {}, "xdawn_ts_lr": {}}
#: the text prompts of each class (the reader's trial text is the first)
TEMPLATES = ("a photograph of a {}", "a photo of a {}", "an image of a {}")
CLASSES = ("face", "house")
PROTOCOLS = ("within", "subject")
#: the within-subject split (the benchmark's n170_image_within)
WITHIN_TEST, WITHIN_VAL = 0.25, 0.15


def split_overrides(protocol: str, fold: int, n_folds: int, seed: int, epochs: int) -> list[str]:
    """Recipe overrides of one fold (``within``: the one split) of ``protocol``."""
    common = [f"seed={seed}", f"data.split.seed={seed}", f"train.epochs={epochs}", "train.device=cpu"]
    if protocol == "within":
        return [
            *common,
            "data.split.kind=within_subject",
            f"data.split.test={WITHIN_TEST}",
            f"data.split.val={WITHIN_VAL}",
        ]
    if protocol == "subject":
        return [
            *common,
            "data.split.kind=kfold",
            "data.split.by=subject",
            f"data.split.n_splits={n_folds}",
            f"data.split.fold={fold}",
            "data.split.val=1",
        ]
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def _train(recipe: str, overrides: list[str], folder: Path, data_dir: Any) -> float:
    """Train into ``folder`` unless it holds a finished run of the same recipe; seconds spent."""
    from brainalign.recipes import recipe_path
    from brainalign.training.recipe import load_recipe, recorded_recipe
    from brainalign.training.trainer import train

    rec = load_recipe(recipe_path(recipe), overrides)
    if (folder / "metrics.json").exists():
        cfg = json.loads((folder / "config.json").read_text())
        if recorded_recipe(cfg.get("recipe")) == json.loads(json.dumps(rec.to_dict(), default=str)):
            return 0.0
        raise SystemExit(f"{folder} holds a run of another recipe; choose another --out")
    t0 = time.perf_counter()
    train(rec, folder, data_dir=data_dir, progress=False)
    return time.perf_counter() - t0


def _zero_shot(run: Any, modality: str | None, x: np.ndarray, stimuli: Any) -> dict[str, np.ndarray]:
    """Predicted class codes (index into :data:`CLASSES`) of ``x`` from image prototypes
    or from text prompts, whichever space ``modality`` (or the run's pairing) is."""
    from brainalign.evaluation.zeroshot import build_text_classifier, class_prototypes, zero_shot_predict

    kind = modality or run.config["pair_kind"]
    z = run.encode_eeg(x, normalized=True, modality=modality)
    if kind == "image":
        emb = run.encode_pairs(list(stimuli["image"]), modality=modality)
        names, protos = class_prototypes(emb, stimuli["label"].astype(str).to_numpy())
    else:
        prompts = {c: [t.format(c) for t in TEMPLATES] for c in CLASSES}
        names, protos = build_text_classifier(prompts, lambda p: run.encode_pairs(p, modality=modality))
    pred = zero_shot_predict(z, protos, list(names))
    return {kind: np.array([CLASSES.index(str(p)) for p in pred])}


def _supervised_predictions(folder: Path, table: Any) -> np.ndarray:
    """Class codes of the supervised run's test windows (its ``test_predictions.csv``,
    written in split order; checked against ``table``, the test windows' rows)."""
    import pandas as pd

    pred = pd.read_csv(folder / "test_predictions.csv")
    if len(pred) != len(table) or not np.array_equal(pred["start"].to_numpy(), table["start"].to_numpy()):
        raise RuntimeError(f"{folder}: test predictions do not match the split's test windows")
    proba = pred[[f"p_{c}" for c in CLASSES]].to_numpy()
    return proba.argmax(axis=1)


def _per_subject_baseline(name: str, options: dict[str, Any], windows: Any, split: Any, seed: int) -> np.ndarray:
    """Class codes of the test windows (``split.test`` order) from one baseline fitted on
    each subject's own training windows (train + val) and applied to its own test windows."""
    from brainalign.data.splits import Split
    from brainalign.evaluation.baselines import run_baseline

    subjects = windows.table["subject"].astype(str).to_numpy()
    out = np.full(len(split.test), -1)
    for s in np.unique(subjects[split.test]):
        rows = {part: split.part(part)[subjects[split.part(part)] == s] for part in ("train", "val", "test")}
        r = run_baseline(
            name, windows, Split(**rows, kind="within_subject"), seed=seed, return_predictions=True, **options
        )
        out[subjects[split.test] == s] = [CLASSES.index(str(v)) for v in r["predictions"]]
    return out


def bacc(y: np.ndarray, p: np.ndarray) -> float:
    """Balanced accuracy over the classes present in ``y``."""
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def stratified_ci(
    fn: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    p: np.ndarray,
    strata: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``fn(y, p)`` drawing windows with replacement
    within each stratum (subject): every stratum keeps its number of windows."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members])
        value = fn(y[idx], p[idx])
        if np.isfinite(value):
            values.append(value)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def score(y: np.ndarray, p: np.ndarray, subjects: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """Balanced accuracy, within-subject window-bootstrap CI, within-subject permutation p,
    chance 0.5, and the balanced accuracy of each subject with both classes in test."""
    from brainalign.evaluation.stats import permutation_pvalue

    low, high = stratified_ci(bacc, y, p, subjects, n_boot, seed)
    return {
        "value": bacc(y, p),
        "ci_low": low,
        "ci_high": high,
        "p_value": permutation_pvalue(bacc, y, p, n_perm=n_boot, seed=seed, groups=subjects),
        "chance": 0.5,
        "per_subject": {
            str(g): bacc(y[subjects == g], p[subjects == g])
            for g in np.unique(subjects)
            if len(np.unique(y[subjects == g])) == 2
        },
    }


def paired_difference(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, subjects: np.ndarray, n_boot: int, seed: int
) -> dict[str, float]:
    """``bacc(a) - bacc(b)`` on the same windows, with the within-subject paired bootstrap CI."""

    def diff(yt: np.ndarray, both: np.ndarray) -> float:
        return bacc(yt, both[:, 0]) - bacc(yt, both[:, 1])

    both = np.stack([a, b], axis=1)
    low, high = stratified_ci(diff, y, both, subjects, n_boot, seed)
    return {"value": diff(y, both), "ci_low": low, "ci_high": high}


#: (name, model a, model b) of the paired differences reported
DIFFERENCES = (
    ("shared - image-only (image zero-shot)", "shared:image", "image:image"),
    ("shared - text-only (text zero-shot)", "shared:text", "text:text"),
    ("shared (image) - supervised CE", "shared:image", "supervised:label"),
    ("shared (image) - erp_lr", "shared:image", "erp_lr"),
    ("supervised CE - erp_lr", "supervised:label", "erp_lr"),
    ("shared (image) - xdawn_ts_lr per subject", "shared:image", "xdawn_ts_lr_per_subject"),
)


def compare(
    out: str | Path,
    data_dir: Any = None,
    protocol: str = "within",
    n_folds: int = 5,
    epochs: int = 20,
    seed: int = 0,
    n_boot: int = 1000,
    arms: tuple[str, ...] = tuple(ARMS),
    baselines: dict[str, dict[str, Any]] | None = None,
    controls: bool = True,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Train the arms on every fold of ``protocol``, fit the baselines on the same splits,
    score everything on the same test windows and write ``out/results.json``.

    ``controls``: also train the shared recipe with shuffled pairings (``within`` only)."""
    import brainalign
    from brainalign.evaluation.baselines import run_baseline
    from brainalign.recipes import recipe_path
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe
    from brainalign.utils.io import atomic_write_text

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    baselines = dict(BASELINES if baselines is None else baselines)
    folds = 1 if protocol == "within" else n_folds
    runs: dict[str, tuple[str, list[str]]] = {a: ARMS[a] for a in arms}
    if controls and protocol == "within":
        runs["shared_shuffled"] = SHUFFLED
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    preds: dict[str, list[np.ndarray]] = {}
    truth: list[np.ndarray] = []
    subjects: list[np.ndarray] = []
    seconds: dict[str, float] = {name: 0.0 for name in [*runs, *baselines]}
    n_windows: dict[str, int] = {}
    for fold in range(folds):
        common = split_overrides(protocol, fold, n_folds, seed, epochs)
        # every arm splits the same windows the same way: the data (and split) of the first recipe
        data = build_paired_data(
            load_recipe(recipe_path("n170_image"), common).data, data_dir, progress=False, seed=seed
        )
        test = data.part("test")
        table = data.windows.table
        x = np.asarray(data.windows.data[test], dtype=np.float32)
        y = np.array([CLASSES.index(str(v)) for v in table["label"].iloc[test]])
        truth.append(y)
        subjects.append(table["subject"].astype(str).to_numpy()[test])
        for part in ("train", "val", "test"):
            n_windows[part] = n_windows.get(part, 0) + len(data.part(part))
        stimuli = table[["image", "label"]].drop_duplicates("image")
        for name, (recipe, extra) in runs.items():
            folder = out / "runs" / f"{name}_{protocol}_fold{fold}"
            spent = _train(recipe, [*common, *extra], folder, data_dir)
            seconds[name] += spent
            if spent:
                log(f"    trained {folder.name} in {spent:.0f} s")
            if name == "supervised":
                preds.setdefault("supervised:label", []).append(_supervised_predictions(folder, table.iloc[test]))
                continue
            run = brainalign.load(folder)
            for modality in run.modalities or [None]:
                for kind, p in _zero_shot(run, modality, x, stimuli).items():
                    preds.setdefault(f"{name}:{kind}", []).append(p)
        for name, options in baselines.items():
            t0 = time.perf_counter()
            r = run_baseline(name, data.windows, data.split, seed=seed, return_predictions=True, **options)
            preds.setdefault(name, []).append(np.array([CLASSES.index(str(v)) for v in r["predictions"]]))
            if protocol == "within":
                preds.setdefault(f"{name}_per_subject", []).append(
                    _per_subject_baseline(name, options, data.windows, data.split, seed)
                )
            seconds[name] += time.perf_counter() - t0
    y = np.concatenate(truth)
    subj = np.concatenate(subjects)
    pooled = {key: np.concatenate(v) for key, v in preds.items()}
    scores = {key: score(y, p, subj, n_boot, seed) for key, p in pooled.items()}
    differences = {
        name: paired_difference(y, pooled[a], pooled[b], subj, n_boot, seed)
        for name, a, b in DIFFERENCES
        if a in pooled and b in pooled
    }
    split = (
        f"within subject (data.split.kind=within_subject, test {WITHIN_TEST}, val {WITHIN_VAL}: "
        "session-disjoint for subjects with enough sessions, else contiguous time blocks; one model per arm "
        "trained on every subject's training part)"
        if protocol == "within"
        else f"{n_folds} subject-disjoint folds (kfold by subject: 1 test, 1 validation subject), pooled"
    )
    results = {
        "protocol": protocol,
        "description": (
            f"N170 faces vs houses, {split}; seed {seed}, {epochs} epochs (early stopping on validation loss, "
            f"patience 5); {len(y)} test windows; balanced accuracy, 95% bootstrap CI resampling test windows "
            f"within each subject ({n_boot} draws), permutation p-value with labels permuted within subject; "
            "differences: paired, the same resampled windows; baselines fitted on train + val"
        ),
        "n_windows": n_windows,
        "subjects": {str(g): int((subj == g).sum()) for g in np.unique(subj)},
        "scores": scores,
        "differences": differences,
        "train_seconds": seconds,
        "templates": list(TEMPLATES),
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="within")
    parser.add_argument("--folds", type=int, default=5, help="subject-disjoint folds (--protocol subject)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-controls", action="store_true", help="skip the shuffled-pairing shared arm")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    r = compare(
        args.out,
        args.data_dir,
        args.protocol,
        args.folds,
        args.epochs,
        args.seed,
        controls=not args.no_controls,
        log=print,
    )
    for key, s in r["scores"].items():
        print(f"{key:24s} {s['value']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] p={s['p_value']:.3f}")
    for key, d in r["differences"].items():
        print(f"{key}: {d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    print(f"seconds: {r['train_seconds']}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
