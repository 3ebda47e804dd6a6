"""Issue 10: one encoder aligned to text across eegmat, EEGMMIDB, SMNI and P300 together,
against per-dataset encoders (plain functions returning JSON-able dicts, like
:mod:`brainalign.experiments.fair`).

Front ends (parameter-free or fitted on each fold's training rows only, fixed before any
run), one per dataset, the same as the per-dataset protocols of ``fair``:

* eegmat: absolute log band power (1-40 Hz, 5 bands x 19 channels, 2 s windows; the last
  60 s of rest and the task), z-scored per subject with its calibration block (the first
  60 s of rest, never evaluated): ``fair.eegmat_set``, normalisation ``"calibration"``;
* EEGMMIDB S001: left vs right fist (executed R03, imagined R04, 4 s from the cue, 8-30
  Hz), log power in the mu (8-13 Hz) and beta (13-30 Hz) bands of the 64 channels;
  training-fold statistics;
* SMNI: OAS covariance of the 61 scalp channels, tangent space at the training trials'
  log-Euclidean mean (``fair._TangentSpace``); no per-subject normalisation (the group is a
  subject-level label);
* P300: xDAWN covariances (4 filters, OAS) + tangent space, fitted on the training epochs
  (the front end of ``fair.xdawn_ts_lr``); epochs above 100 µV dropped.

Every front end is followed by a StandardScaler fitted on the training rows. The network
(:class:`brainalign.models.multi_adapter.MultiAdapterHead`): a linear adapter per dataset
into a shared MLP trunk, aligned by CLIP with frozen MiniLM embeddings of each row's text
(:func:`brainalign.training.arrays.fit_clip`). The joint model trains on the union of the
four datasets' training rows; each per-dataset model is the same network with one adapter
trained on that dataset's training rows only, with the same fold, seed and configuration.

Folds (``n_splits`` = 5 fold indices per seed, the same for every model): eegmat and SMNI
GroupKFold by subject (``fair._subject_folds``); P300 within subject, session-disjoint
where sessions exist (fold k tests session k of subjects 1 and 3, k < 3, and the k-th
stratified fifth of subject 4's single session), trained on every other P300 epoch;
EEGMMIDB (one subject) run-disjoint: fold 0 trains on executed and tests imagined, fold 1
the reverse; in folds 2-4 its 30 trials only train. A dataset with no test rows in a fold
still contributes its rows to the joint model's training.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from brainalign.evaluation.baselines import band_log_power
from brainalign.evaluation.stats import permutation_pvalue
from brainalign.experiments import fair
from brainalign.preprocessing.normalize import make_normalizer

__all__ = ["DATASETS", "EEGMMIDB_PROMPTS", "MultiConfig", "DatasetPart", "load_parts", "multidataset_text"]

DATASETS = ("eegmat", "eegmmidb", "smni", "p300")

#: EEGMMIDB zero-shot prompts, reworded (the reader's texts: "[imagined] opening and
#: closing of the left/right fist")
EEGMMIDB_PROMPTS: dict[str, list[str]] = {
    "left_fist": ["a movement of the left hand", "squeezing the left hand into a fist"],
    "right_fist": ["a movement of the right hand", "squeezing the right hand into a fist"],
}


@dataclass(frozen=True)
class MultiConfig:
    """The head and its optimisation, fixed before any run (``fair.HeadConfig``'s values)."""

    emb_dim: int = 64
    hidden: int = 64
    depth: int = 1
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    temperature: float = 0.07


@dataclass
class DatasetPart:
    """One dataset's rows: labels, subjects, texts, zero-shot prompts, folds and a front end.

    ``features(train)`` returns the standardised front-end features of every row, every
    statistic fitted on the rows ``train``. ``folds(seed)`` returns ``n_splits`` pairs
    ``(train, test)`` (``test`` may be empty). ``perm`` holds the permutation test's
    ``groups``/``units`` (None or an array per row)."""

    name: str
    task: str
    y: np.ndarray
    subjects: np.ndarray
    texts: np.ndarray
    classes: list[str]
    prompts: dict[str, list[str]]
    features: Callable[[np.ndarray], np.ndarray]
    folds: Callable[[int], list[tuple[np.ndarray, np.ndarray]]]
    normalization: dict[str, Any]
    front_end: str
    boot_units: np.ndarray
    boot_unit_name: str
    perm: dict[str, np.ndarray | None] = field(default_factory=dict)
    subject_level: bool = False

    def __len__(self) -> int:
        return len(self.y)


def _scaled(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    return StandardScaler().fit(x[train]).transform(x).astype(np.float32)


def _pad_folds(folds: list[tuple[np.ndarray, np.ndarray]], n: int, n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` extended to ``n`` with (every row, no row): the dataset only trains there."""
    empty = np.zeros(0, dtype=int)
    return folds + [(np.arange(n_rows), empty)] * (n - len(folds))


def _eegmat_part(n_splits: int, data_dir: str | os.PathLike | None) -> DatasetPart:
    data = fair.eegmat_set(2.0, data_dir)
    x, y, groups, recordings = data.eval_part()
    cal_x, cal_g = data.calib_part()
    texts = data.table["text"].iloc[data.eval_rows].astype(str).to_numpy()

    def features(train: np.ndarray) -> np.ndarray:
        xn, _ = fair._normalise_fold("calibration", x, groups, train, cal_x, cal_g, labels=y)
        return _scaled(xn, train)

    return DatasetPart(
        name="eegmat",
        task="rest vs arithmetic (2 s windows, last 60 s of rest)",
        y=y,
        subjects=groups,
        texts=texts,
        classes=["rest", "arithmetic"],
        prompts=fair.EEGMAT_PROMPTS,
        features=features,
        folds=lambda seed: fair._subject_folds(groups, n_splits, seed),
        normalization=make_normalizer("calibration").record(),
        front_end="log band power 1-40 Hz, 19 channels x 5 bands",
        boot_units=groups,
        boot_unit_name="subject",
        perm={"groups": groups, "units": recordings},
    )


def _eegmmidb_part(n_splits: int, data_dir: str | os.PathLike | None) -> DatasetPart:
    w = fair._windows("eegmmidb", "eegmmidb_mi", data_dir)
    t = w.table
    rows = np.flatnonzero(t["label"].isin(["left_fist", "right_fist"]).to_numpy())
    t = t.iloc[rows]
    y = (t["label"] == "right_fist").to_numpy().astype(int)
    runs = t["run"].astype(str).to_numpy()
    bands = {"mu": (8.0, 13.0), "beta": (13.0, 30.0)}
    x = fair.cached_array(
        "eegmmidb_mi_mu_beta",
        [w.pipeline, len(w), sorted(rows.tolist())],
        lambda: band_log_power(w.data[rows], w.sfreq, bands),
    )
    run_values = sorted(set(runs))  # 03 executed, 04 imagined

    def folds(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        base = [
            (np.flatnonzero(runs == run_values[0]), np.flatnonzero(runs == run_values[1])),
            (np.flatnonzero(runs == run_values[1]), np.flatnonzero(runs == run_values[0])),
        ]
        return _pad_folds(base, n_splits, len(y))

    return DatasetPart(
        name="eegmmidb",
        task="S001 left vs right fist, run-disjoint (executed R03 <-> imagined R04)",
        y=y,
        subjects=t["subject"].astype(str).to_numpy(),
        texts=t["text"].astype(str).to_numpy(),
        classes=["left_fist", "right_fist"],
        prompts=EEGMMIDB_PROMPTS,
        features=lambda train: _scaled(x, train),
        folds=folds,
        normalization={"method": "training-fold standardisation only", "transductive": False},
        front_end="log power 8-13 and 13-30 Hz, 64 channels (4 s from the cue, 8-30 Hz)",
        boot_units=np.arange(len(y)).astype(str),
        boot_unit_name="trial (one subject)",
        perm={"groups": runs, "units": None},
    )


def _smni_part(n_splits: int, data_dir: str | os.PathLike | None) -> DatasetPart:
    d = fair._smni_parts(data_dir)
    subjects, y, covs = d["subjects"], d["group"], d["cov"]

    w = d["windows"]

    def features(train: np.ndarray) -> np.ndarray:
        # the tangent encoder's front end (as fair.smni_aligned): log map at the training mean
        import torch

        from brainalign.models import create_encoder

        enc: Any = create_encoder(
            "tangent", n_chans=w.n_channels, n_times=w.n_times, sfreq=w.sfreq, reference="logeuclid"
        )
        enc.set_reference(covs[train])
        with torch.no_grad():
            tangent = enc.tangent(torch.as_tensor(covs, dtype=torch.float32)).numpy()
        return _scaled(tangent, train)

    return DatasetPart(
        name="smni",
        task="alcoholic vs control, per trial (and per subject: mean over its trials)",
        y=y,
        subjects=subjects,
        texts=d["windows"].table["text"].astype(str).to_numpy(),
        classes=["control", "alcoholic"],
        prompts=fair.SMNI_PROMPTS["reworded"],
        features=features,
        folds=lambda seed: fair._subject_folds(subjects, n_splits, seed),
        normalization={"method": "none per subject (subject-level label); training statistics", "transductive": False},
        front_end="OAS covariance, 61 channels, tangent space at the training log-Euclidean mean",
        boot_units=subjects,
        boot_unit_name="subject",
        perm={"groups": None, "units": subjects},
        subject_level=True,
    )


def _p300_part(n_splits: int, data_dir: str | os.PathLike | None) -> DatasetPart:
    w, keep = fair.p300_epochs(data_dir)
    x, y, subjects, sessions = fair._p300_parts(w, keep)
    units = np.char.add(np.char.add(subjects.astype(str), "/"), sessions.astype(str))
    classes = ["nontarget", "target"]

    def features(train: np.ndarray) -> np.ndarray:
        # the tangent encoder's xDAWN front end (as fair.p300_aligned), fitted on the training epochs
        import torch

        from brainalign.models import create_encoder

        enc: Any = create_encoder("tangent", n_chans=w.n_channels, n_times=w.n_times, sfreq=w.sfreq, xdawn_filters=4)
        enc.fit_reference(x[train], y[train])
        with torch.no_grad():
            tangent = enc.features(torch.as_tensor(x, dtype=torch.float32)).numpy()
        return _scaled(tangent, train)

    def folds(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        tests: list[list[np.ndarray]] = [[] for _ in range(n_splits)]
        for s in sorted(set(subjects), key=int):
            rows = np.flatnonzero(subjects == s)
            sess = sorted(set(sessions[rows]))
            if len(sess) > 1:
                for k, v in enumerate(sess[:n_splits]):
                    tests[k].append(rows[sessions[rows] == v])
            else:
                skf = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
                for k, (_, te) in enumerate(skf.split(rows, y[rows])):
                    tests[k].append(rows[te])
        out = []
        for parts in tests:
            test = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=int)
            out.append((np.setdiff1d(np.arange(len(y)), test), test))
        return out

    return DatasetPart(
        name="p300",
        task="target vs non-target, within subject (session-disjoint where sessions exist)",
        y=y,
        subjects=subjects,
        texts=np.array([fair.P300_TEXTS[classes[v]] for v in y]),
        classes=classes,
        prompts=fair.P300_PROMPTS,
        features=features,
        folds=folds,
        normalization={"method": "training statistics (xDAWN, reference, scaler)", "transductive": False},
        front_end="xDAWN (4 filters/class + prototypes, OAS) covariances, tangent space at the training Riemannian mean",
        boot_units=units,
        boot_unit_name="subject x session",
        perm={"groups": units, "units": None},
    )


_LOADERS: dict[str, Callable[[int, str | os.PathLike | None], DatasetPart]] = {
    "eegmat": _eegmat_part,
    "eegmmidb": _eegmmidb_part,
    "smni": _smni_part,
    "p300": _p300_part,
}


def load_parts(
    names: Sequence[str] = DATASETS, n_splits: int = 5, data_dir: str | os.PathLike | None = None
) -> list[DatasetPart]:
    """The :class:`DatasetPart` of each named dataset (real data)."""
    return [_LOADERS[n](n_splits, data_dir) for n in names]


def _zero_shot(module: Any, proj: Any, feats: np.ndarray, d: int, part: DatasetPart) -> np.ndarray:
    """Class-1 minus class-0 cosine similarity with the text prototypes of ``part.prompts``."""
    from brainalign.evaluation.zeroshot import build_text_classifier
    from brainalign.evaluation.zeroshot import zero_shot_scores as scores
    from brainalign.training.arrays import embed, project

    prompts = {c: part.prompts[c] for c in part.classes}
    _, protos = build_text_classifier(prompts, lambda texts: project(proj, fair.text_embeddings(texts)))
    emb = embed(module, [feats, np.full(len(feats), d, dtype=np.int64)])
    sim = np.asarray(scores(emb, protos))
    return sim[:, 1] - sim[:, 0]


def run_folds(
    parts: Sequence[DatasetPart], seeds: Sequence[int], n_splits: int, cfg: MultiConfig, log: Callable[[str], None]
) -> dict[str, dict[str, dict[int, np.ndarray]]]:
    """Out-of-fold scores ``{dataset: {method: {seed: score per row}}}`` of the methods
    ``joint`` (zero-shot of the joint model), ``single`` (zero-shot of the per-dataset
    model), ``joint_shuffled`` (the joint model trained with each dataset's texts permuted
    among its training rows), ``lr`` (class-balanced LR on the same features)."""
    from brainalign.models.multi_adapter import MultiAdapterHead, pad_features
    from brainalign.training.arrays import FitConfig, fit_clip

    fit = FitConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        temperature=cfg.temperature,
    )
    head_kw: dict[str, Any] = {"hidden": cfg.hidden, "emb_dim": cfg.emb_dim, "depth": cfg.depth, "dropout": cfg.dropout}
    all_texts = np.concatenate([p.texts for p in parts])
    text_values, text_index = np.unique(all_texts, return_inverse=True)
    text_emb = fair.text_embeddings(list(text_values))
    offsets = np.cumsum([0] + [len(p) for p in parts])
    methods = ("joint", "single", "joint_shuffled", "lr")
    out = {p.name: {m: {s: np.full(len(p), np.nan) for s in seeds} for m in methods} for p in parts}
    for seed in seeds:
        fold_lists = [p.folds(seed) for p in parts]
        for k in range(n_splits):
            t0 = time.perf_counter()
            run_seed = 1000 * seed + k
            trains = [fl[k][0] for fl in fold_lists]
            tests = [fl[k][1] for fl in fold_lists]
            feats = [p.features(tr) for p, tr in zip(parts, trains)]
            x_train, d_train = pad_features([f[tr] for f, tr in zip(feats, trains)])
            t_train = np.concatenate([text_index[offsets[i] + tr] for i, tr in enumerate(trains)])
            joint = MultiAdapterHead([f.shape[1] for f in feats], **head_kw)
            _seeded(joint, run_seed)
            proj = fit_clip(joint, [x_train, d_train], t_train, text_emb, fit, run_seed)
            rng = np.random.default_rng(run_seed + 7919)
            shuffled_t = np.concatenate([rng.permutation(text_index[offsets[i] + tr]) for i, tr in enumerate(trains)])
            joint_s = MultiAdapterHead([f.shape[1] for f in feats], **head_kw)
            _seeded(joint_s, run_seed)
            proj_s = fit_clip(joint_s, [x_train, d_train], shuffled_t, text_emb, fit, run_seed)
            for i, p in enumerate(parts):
                tr, te = trains[i], tests[i]
                if len(te) == 0:
                    continue
                out[p.name]["joint"][seed][te] = _zero_shot(joint, proj, feats[i][te], i, p)
                out[p.name]["joint_shuffled"][seed][te] = _zero_shot(joint_s, proj_s, feats[i][te], i, p)
                single = MultiAdapterHead([feats[i].shape[1]], **head_kw)
                _seeded(single, run_seed)
                zeros = np.zeros(len(tr), dtype=np.int64)
                proj_1 = fit_clip(single, [feats[i][tr], zeros], text_index[offsets[i] + tr], text_emb, fit, run_seed)
                out[p.name]["single"][seed][te] = _zero_shot(single, proj_1, feats[i][te], 0, p)
                lr = fair._logreg(run_seed).fit(feats[i][tr], p.y[tr])
                out[p.name]["lr"][seed][te] = lr.decision_function(feats[i][te])
            log(f"    multidataset seed {seed} fold {k}: {time.perf_counter() - t0:.0f} s")
    return out


def _seeded(module: Any, seed: int) -> None:
    """Re-initialise ``module``'s parameters from ``seed`` (the same start for every model
    built with that seed, whatever was drawn before)."""
    import torch

    torch.manual_seed(seed)
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()


def _ba(y: np.ndarray, score: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, score > 0))


def summarise_part(
    part: DatasetPart,
    scores: dict[str, dict[int, np.ndarray]],
    seeds: Sequence[int],
    n_boot: int = 2000,
    n_perm: int = 1000,
) -> dict[str, Any]:
    """Per method: balanced accuracy and AUC of the pooled out-of-fold scores (mean and sd
    over seeds; per subject for subject-level labels); for ``joint`` a permutation p-value
    (seed 0) and a bootstrap interval; paired bootstrap differences ``joint - single`` and
    ``joint - lr`` (whole ``boot_units`` resampled, every seed stacked)."""
    tested = ~np.isnan(scores["joint"][seeds[0]])
    y, units = part.y[tested], part.boot_units[tested]
    res: dict[str, Any] = {
        "task": part.task,
        "front_end": part.front_end,
        "normalization": part.normalization,
        "n_tested": int(tested.sum()),
        "n_rows": len(part),
        "n_subjects_tested": len(set(part.subjects[tested])),
        "bootstrap_unit": part.boot_unit_name,
        "prompts": part.prompts,
        "methods": {},
    }
    for m, per_seed in scores.items():
        rows = [
            {"balanced_accuracy": _ba(y, per_seed[s][tested]), "auc": fair._auc(y, per_seed[s][tested])} for s in seeds
        ]
        if part.subject_level:
            subj = pd.unique(part.subjects[tested])
            ys = np.array([y[part.subjects[tested] == g][0] for g in subj])
            for r, s in zip(rows, seeds):
                mean = np.array([per_seed[s][tested][part.subjects[tested] == g].mean() for g in subj])
                r["subject_balanced_accuracy"] = _ba(ys, mean)
                r["subject_auc"] = fair._auc(ys, mean)
        res["methods"][m] = fair.summarise(rows)
    ys, us = np.tile(y, len(seeds)), np.tile(units, len(seeds))
    stacked = {m: np.concatenate([scores[m][s][tested] for s in seeds]) > 0 for m in scores}
    low, high = fair.subject_bootstrap(ys, stacked["joint"].astype(int), us, n_boot=n_boot)
    res["methods"]["joint"]["ci_bootstrap"] = [low, high]
    for m in ("joint", "joint_shuffled"):
        pred = (scores[m][seeds[0]][tested] > 0).astype(int)
        groups = None if part.perm.get("groups") is None else np.asarray(part.perm["groups"])[tested]
        units_p = None if part.perm.get("units") is None else np.asarray(part.perm["units"])[tested]
        res["methods"][m]["p_permutation_seed0"] = float(
            permutation_pvalue(balanced_accuracy_score, y, pred, n_perm=n_perm, seed=0, groups=groups, units=units_p)
        )
    for other in ("single", "lr"):
        res[f"joint_minus_{other}"] = fair.paired_subject_bootstrap(
            ys, stacked["joint"].astype(int), stacked[other].astype(int), us, n_boot=n_boot
        )
    return res


def multidataset_text(
    seeds: Sequence[int] = (0, 1, 2),
    n_splits: int = 5,
    cfg: MultiConfig | None = None,
    datasets: Sequence[str] = DATASETS,
    n_boot: int = 2000,
    n_perm: int = 1000,
    data_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """The joint text-aligned encoder against per-dataset encoders (see the module
    docstring): ``{"datasets": {name: summary}, ...}`` with, per dataset, the joint
    model's zero-shot, the per-dataset model's, the shuffled-text control and LR on the
    same features, and paired bootstrap differences."""
    fair._torch_threads()
    cfg = cfg or MultiConfig()
    t0 = time.perf_counter()
    parts = load_parts(datasets, n_splits, data_dir)
    scores = run_folds(parts, seeds, n_splits, cfg, log)
    return {
        "task": "one text-aligned encoder across " + ", ".join(p.name for p in parts) + " vs per-dataset encoders",
        "protocol": f"{n_splits} fold indices x {len(seeds)} seeds; per dataset: its own fold kind (module docstring)",
        "model": "per-dataset linear adapter -> shared MLP trunk, CLIP with frozen MiniLM (one text projection)",
        "head_config": cfg.__dict__,
        "seeds": list(seeds),
        "n_train_rows": {p.name: len(p) for p in parts},
        "datasets": {p.name: summarise_part(p, scores[p.name], seeds, n_boot, n_perm) for p in parts},
        "seconds": round(time.perf_counter() - t0, 1),
    }
