"""The shared multi-task EEG encoder against the single-task encoders (issue 11).

Three arms, trained by the one trainer with the same NICE encoder, split, seed and
schedule: ``image`` (``n170_image``: CLIP with the stimulus images), ``text`` (the same
recipe paired with each trial's text through frozen MiniLM) and ``shared``
(``n170_shared``: one encoder, an image head and a text head, both CLIP terms). Each
arm is trained once per subject-disjoint fold (``data.split.kind: kfold`` by subject:
one test subject, one validation subject, the rest for training), so every N170 window
is scored once, by the model that never saw its subject.

Zero-shot faces vs houses on the held-out subjects:

* ``image prototypes``: the EEG embedding (image space) against each class's normalised
  centre of its stimulus images' embeddings;
* ``text prompts``: the EEG embedding (text space) against each class's prompt ensemble
  (:data:`TEMPLATES`; one of them is the training text, so this is text-prototype
  classification of the two training classes, not an unseen class).

Scores are balanced accuracies over the pooled test windows with a percentile bootstrap
CI and a permutation p-value (:func:`~brainalign.evaluation.stats.score_with_stats`); the
shared-minus-single difference has a paired bootstrap CI over the same windows.

``python -m brainalign.experiments.shared_encoder --out DIR [--folds 5] [--epochs 20]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

#: arm -> (recipe, overrides): the same encoder, split and schedule
ARMS: dict[str, tuple[str, list[str]]] = {
    "image": ("n170_image", []),
    "text": ("n170_image", ["data.pair=text", "model.pair.name=minilm", "name=n170_text"]),
    "shared": ("n170_shared", []),
}
#: the text prompts of each class (the reader's trial text is the first)
TEMPLATES = ("a photograph of a {}", "a photo of a {}", "an image of a {}")
CLASSES = ("face", "house")


def fold_overrides(fold: int, n_folds: int, seed: int, epochs: int) -> list[str]:
    return [
        f"seed={seed}",
        "data.split.kind=kfold",
        "data.split.by=subject",
        f"data.split.n_splits={n_folds}",
        f"data.split.fold={fold}",
        "data.split.val=1",
        f"data.split.seed={seed}",
        f"train.epochs={epochs}",
        "train.device=cpu",
    ]


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
    and from text prompts, where the run has that modality."""
    from brainalign.evaluation.zeroshot import build_text_classifier, class_prototypes, zero_shot_predict

    out = {}
    kind = modality or run.config["pair_kind"]
    z = run.encode_eeg(x, normalized=True, modality=modality)
    if kind == "image":
        emb = run.encode_pairs(list(stimuli["image"]), modality=modality)
        names, protos = class_prototypes(emb, stimuli["label"].astype(str).to_numpy())
    else:
        prompts = {c: [t.format(c) for t in TEMPLATES] for c in CLASSES}
        names, protos = build_text_classifier(prompts, lambda p: run.encode_pairs(p, modality=modality))
    pred = zero_shot_predict(z, protos, list(names))
    out[kind] = np.array([CLASSES.index(str(p)) for p in pred])
    return out


def compare(
    out: str | Path, data_dir: Any = None, n_folds: int = 5, epochs: int = 20, seed: int = 0, n_boot: int = 1000
) -> dict[str, Any]:
    """Train the three arms on every fold, score them and write ``out/results.json``."""
    from sklearn.metrics import balanced_accuracy_score

    import brainalign
    from brainalign.evaluation.stats import bootstrap_ci, score_with_stats
    from brainalign.recipes import recipe_path
    from brainalign.training.data import build_paired_data
    from brainalign.training.recipe import load_recipe
    from brainalign.utils.io import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    preds: dict[str, list[np.ndarray]] = {}
    truth: list[np.ndarray] = []
    subjects: list[np.ndarray] = []
    seconds: dict[str, float] = {arm: 0.0 for arm in ARMS}
    top1: dict[str, list[float]] = {}
    for fold in range(n_folds):
        common = fold_overrides(fold, n_folds, seed, epochs)
        data = None
        for arm, (recipe, extra) in ARMS.items():
            folder = out / "runs" / f"{arm}_fold{fold}"
            seconds[arm] += _train(recipe, [*common, *extra], folder, data_dir)
            metrics = json.loads((folder / "metrics.json").read_text())
            for k, v in metrics.items():
                if k.startswith("test_top1") and not k.endswith("chance"):
                    top1.setdefault(f"{arm}:{k}", []).append(float(v))
            if data is None:  # every arm splits the same windows the same way
                rec = load_recipe(recipe_path(recipe), [*common, *extra])
                data = build_paired_data(rec.data, data_dir, progress=False, seed=seed)
                test = data.part("test")
                table = data.windows.table
                x = np.asarray(data.windows.data[test], dtype=np.float32)
                truth.append(np.array([CLASSES.index(str(v)) for v in table["label"].iloc[test]]))
                subjects.append(table["subject"].astype(str).to_numpy()[test])
                stimuli = table[["image", "label"]].drop_duplicates("image")
            run = brainalign.load(folder)
            for modality in run.modalities or [None]:
                for kind, p in _zero_shot(run, modality, x, stimuli).items():
                    preds.setdefault(f"{arm}:{kind}", []).append(p)
    y = np.concatenate(truth)
    subj = np.concatenate(subjects)
    scores: dict[str, Any] = {}
    pooled = {key: np.concatenate(v) for key, v in preds.items()}
    for key, p in pooled.items():
        s = score_with_stats(balanced_accuracy_score, y, p, chance=0.5, n_boot=n_boot, n_perm=n_boot, seed=seed)
        per_subject = {
            str(g): float(balanced_accuracy_score(y[subj == g], p[subj == g]))
            for g in np.unique(subj)
            if len(np.unique(y[subj == g])) == 2
        }
        scores[key] = {**s.to_dict(), "per_subject": per_subject}

    def diff(yt: np.ndarray, both: np.ndarray) -> float:
        return float(balanced_accuracy_score(yt, both[:, 0]) - balanced_accuracy_score(yt, both[:, 1]))

    differences = {}
    for kind in ("image", "text"):
        both = np.stack([pooled[f"shared:{kind}"], pooled[f"{kind}:{kind}"]], axis=1)
        low, high = bootstrap_ci(diff, y, both, n_boot=n_boot, seed=seed)
        differences[f"shared - {kind}-only ({kind} zero-shot)"] = {
            "value": diff(y, both),
            "ci_low": low,
            "ci_high": high,
        }
    results = {
        "protocol": (
            f"N170 faces vs houses, {n_folds} subject-disjoint folds (kfold by subject: 1 test, 1 validation "
            f"subject), seed {seed}, {epochs} epochs (early stopping on validation loss, patience 5); "
            f"{len(y)} test windows pooled over folds; balanced accuracy, 95% trial bootstrap CI ({n_boot} draws), "
            "permutation p-value; differences: paired bootstrap over the same windows"
        ),
        "scores": scores,
        "differences": differences,
        "test_top1_per_fold": top1,
        "train_seconds": seconds,
        "templates": list(TEMPLATES),
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    r = compare(args.out, args.data_dir, args.folds, args.epochs, args.seed)
    for key, s in r["scores"].items():
        print(f"{key:16s} {s['value']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] p={s['p_value']:.3f}")
    for key, d in r["differences"].items():
        print(f"{key}: {d['value']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]")
    print(f"train seconds: {r['train_seconds']}; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
