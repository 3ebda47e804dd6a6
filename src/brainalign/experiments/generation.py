"""Generation from EEG on the shared recordings: images (N170, P300) and text (eegmat).

``run_generation_experiment(data_dir, out_dir, quick, seed)`` runs everything and
returns plain-JSON results (also written to ``out_dir/results.json``), with figures
in ``out_dir``.

Images (eeg-notebooks N170 faces/houses, 96 stimuli; P300 cats/dogs, 8 stimuli):

1. Held-out trials: each subject's own sessions (or time blocks) split
   train/test (:func:`brainalign.data.splits.within_subject_split`).
2. EEG encoder, fitted on the training trials, one per subject (the N170 effect
   changes sign between subjects): ERP features (epoch resampled to 32 Hz) +
   standardisation + balanced logistic regression. Its EEG embedding is the decision
   value (the log-odds of the classes). Training-trial embeddings are taken out of
   fold, so the image map and the class code see held-out-like values.
3. Image -> EEG space: ridge from frozen EfficientNet-Lite0 features of each
   training trial's paired stimulus to the trial's EEG embedding, against the same
   map fitted on shuffled pairs. Which exact image a trial showed is not recorded
   (only its class), so the best such a map can learn is the class mean of the EEG
   embedding, and image -> EEG -> image reduces to class-conditional generation.
4. The GAN is trained on ALL stimulus images, each conditioned on its mapped EEG
   embedding (so it learns from images alone), then conditioned on held-out EEG
   through the class code (:class:`brainalign.generation.image_map.ClassCode`).
5. Scores: class consistency of the generated images (a probe on EfficientNet-Lite0
   features of the real stimuli; its cross-validated accuracy on real images is the
   ceiling) against the encoder's own decoding accuracy on the same trials, shuffled
   EEG conditioning, noise in place of EEG, and true-class conditioning;
   ``fd_effnet`` / ``kid_effnet`` with the real-vs-real floor; diversity;
   memorisation.

Text (eegmat, rest vs mental arithmetic, held-out subjects, 3 subject-grouped folds):
band log power (<= 40 Hz) of 2 s windows, standardised on the training subjects, is
the EEG embedding; (a) retrieval of the nearest training description through a
ridge map into MiniLM sentence space, (b) a small transformer decoder conditioned on
EEG memory tokens, decoded free-running from the EEG embedding alone. Attribute
accuracy (the task parsed back out of the sentence) with a subject-clustered CI and
a permutation p-value (recording labels permuted within subject), noise and
shuffled EEG in place of the window's EEG, a decoder trained on shuffled pairs, and
the most frequent sentence.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["image_experiment", "run_generation_experiment", "text_experiment"]

_ERP_RATE = 32.0


# --------------------------------------------------------------------------- helpers
def _quiet() -> None:
    import mne

    mne.set_log_level("ERROR")
    logging.getLogger("mne").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="brainalign.preprocessing")


def _say(msg: str) -> None:
    import sys

    print(f"[generation {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _balanced(y: np.ndarray, p: np.ndarray) -> float:
    """Balanced accuracy (the mean recall of the classes present in ``y``), as
    sklearn's ``balanced_accuracy_score`` computes it, without its input validation:
    the bootstrap and the permutation test call it thousands of times (sklearn's
    checks took 11 ms a call, 160 s of a quick run)."""
    y, p = np.asarray(y), np.asarray(p)
    classes = np.unique(y)
    return float(np.mean([np.mean(p[y == c] == c) for c in classes]))


def _score(
    y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None, seed: int, n_boot: int = 1000, n_perm: int = 1000
) -> dict[str, float]:
    """Balanced accuracy with a bootstrap CI clustered by ``groups`` (recordings) and a
    trial-permutation p-value; chance 1 / n_classes."""
    from brainalign.errors import DataError
    from brainalign.evaluation.stats import bootstrap_ci, permutation_pvalue

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    value = _balanced(y_true, y_pred)
    try:
        low, high = bootstrap_ci(_balanced, y_true, y_pred, n_boot=n_boot, seed=seed, groups=groups)
    except DataError:  # too few groups for a clustered interval: fall back to trials
        low, high = bootstrap_ci(_balanced, y_true, y_pred, n_boot=n_boot, seed=seed)
    p = permutation_pvalue(_balanced, y_true, y_pred, n_perm=n_perm, seed=seed)
    return {
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "chance": 1.0 / len(np.unique(y_true)),
        "n": len(y_true),
    }


def _json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return _json(obj.tolist())
    return obj


# ------------------------------------------------------------------------ image data
def _eegnb_windows(root: Path, labels: list[str]):
    from brainalign.data import open_dataset
    from brainalign.preprocessing import Pipeline, cached_windows
    from brainalign.preprocessing.presets import PRESETS, _substitute

    preset = PRESETS["n170_epochs"]  # the same epoching for the P300 set, with its own labels
    spec = _substitute(copy.deepcopy(preset["pipeline"]), dict(preset["params"]))
    spec["steps"][-1]["labels"] = labels
    reader = open_dataset(root)
    windows = cached_windows(reader, Pipeline.from_dict(spec), progress=False)
    return reader, windows


def _erp(x: np.ndarray, sfreq: float) -> np.ndarray:
    from brainalign.evaluation.baselines import erp_features

    return erp_features(x, sfreq, target_sfreq=_ERP_RATE)


def _erp_encoder(seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced", random_state=seed)
    )


class _PerSubjectEncoder:
    """One ERP + logistic-regression model per subject (the N170 face/house effect changes
    sign between subjects, so a pooled model averages it away). The embedding is the
    subject's model's decision value."""

    def __init__(self, seed: int):
        self.seed = seed
        self.models: dict[str, Any] = {}

    def fit(self, feats: np.ndarray, y: np.ndarray, subjects: np.ndarray) -> _PerSubjectEncoder:
        for s in np.unique(subjects):
            rows = subjects == s
            self.models[s] = _erp_encoder(self.seed).fit(feats[rows], y[rows])
        return self

    def embed(self, feats: np.ndarray, subjects: np.ndarray) -> np.ndarray:
        out = np.zeros((len(feats), 1), dtype=np.float32)
        for s in np.unique(subjects):
            rows = subjects == s
            out[rows, 0] = self.models[s].decision_function(feats[rows])
        return out

    def predict(self, feats: np.ndarray, subjects: np.ndarray) -> np.ndarray:
        out = np.empty(len(feats), dtype=object)
        for s in np.unique(subjects):
            rows = subjects == s
            out[rows] = self.models[s].predict(feats[rows])
        return out.astype(str)

    def out_of_fold(self, feats: np.ndarray, y: np.ndarray, subjects: np.ndarray, folds: int = 5) -> np.ndarray:
        """Embeddings of the training trials from models that did not see them."""
        from sklearn.model_selection import StratifiedKFold

        out = np.zeros((len(feats), 1), dtype=np.float32)
        for s in np.unique(subjects):
            rows = np.flatnonzero(subjects == s)
            k = int(min(folds, np.unique(y[rows], return_counts=True)[1].min()))
            for a, b in StratifiedKFold(k, shuffle=True, random_state=self.seed).split(rows, y[rows]):
                model = _erp_encoder(self.seed).fit(feats[rows[a]], y[rows[a]])
                out[rows[b], 0] = model.decision_function(feats[rows[b]])
        return out


def image_experiment(
    name: str,
    root: Path,
    labels: list[str],
    out_dir: Path,
    *,
    resolution: int,
    steps: int,
    time_limit_s: float | None,
    seed: int,
    gan_overrides: dict | None = None,
    n_figure_trials: int = 8,
    feature_size: int = 128,
    max_scored_trials: int = 240,
    grow_steps: int = 0,
) -> dict[str, Any]:
    """One eeg-notebooks set: EEG encoder, image map, GAN, scores and figures. ``grow_steps``
    > 0: the GAN first trains that many steps at half the resolution, then grows
    (:func:`~brainalign.generation.gan.grown_networks`) and trains ``steps`` at ``resolution``."""
    from brainalign.data.splits import within_subject_split
    from brainalign.generation.figures import save_trial_grid
    from brainalign.generation.gan import GANConfig, generate_images, save_gan, train_gan
    from brainalign.generation.image_map import ClassCode, ImageToEEGMap, map_class_consistency, n_way_identification
    from brainalign.generation.images import EffNetFeatures, load_images
    from brainalign.generation.metrics import (
        ClassProbe,
        diversity,
        frechet_distance,
        kernel_inception_distance,
        memorisation,
        real_floor,
    )

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    reader, windows = _eegnb_windows(root, labels)
    table = windows.table
    y_all = table["label"].astype(str).to_numpy()
    split = within_subject_split(table, test=0.2, seed=seed)
    tr, te = split.train, split.test
    recordings = table["recording"].astype(str).to_numpy()

    # --- EEG encoder (train trials only), one per subject
    subjects = table["subject"].astype(str).to_numpy()
    feats = _erp(np.asarray(windows.data), windows.sfreq)
    enc = _PerSubjectEncoder(seed).fit(feats[tr], y_all[tr], subjects[tr])
    z_tr = enc.out_of_fold(feats[tr], y_all[tr], subjects[tr])
    z_te = enc.embed(feats[te], subjects[te])
    y_tr, y_te = y_all[tr], y_all[te]
    groups_te = recordings[te]
    enc_pred = enc.predict(feats[te], subjects[te])
    decoding = _score(y_te, enc_pred, groups_te, seed)

    # --- stimuli and their features
    class_images = reader.class_images()
    stim_paths = [str(p) for c in labels for p in class_images[c]]
    stim_labels = np.array([c for c in labels for _ in class_images[c]])
    _say(f"{name}: {len(tr)} training and {len(te)} test trials; decoding {decoding['value']:.3f}")
    effnet = EffNetFeatures(size=feature_size)
    full_feats = effnet.tower.encode(stim_paths).detach().numpy()  # full-resolution features, input of the map
    real_small = load_images(stim_paths, resolution)
    real_feats = effnet(real_small)  # at the generator's resolution, for probe and distances
    path_row = {p: i for i, p in enumerate(stim_paths)}

    probe = ClassProbe(seed=seed).fit(real_feats, stim_labels)
    nn_probe = ClassProbe(kind="nearest").fit(real_feats, stim_labels)
    # decided by the stimulus set's size, before any generated image is scored: a logistic
    # probe fitted on a handful of images a class does not transfer to generated images
    primary_probe = "nearest_stimulus" if np.unique(stim_labels, return_counts=True)[1].min() < 10 else "logistic"

    # --- image -> EEG space (pairs: each training trial's recorded class image, its out-of-fold embedding)
    trial_img = np.array([path_row[str(p)] for p in table["image"].astype(str)])
    map_real = ImageToEEGMap("ridge", seed=seed).fit(full_feats[trial_img[tr]], z_tr)
    map_shuf = ImageToEEGMap("ridge", seed=seed).fit(full_feats[trial_img[tr]], z_tr, shuffle=True)
    image_map: dict[str, Any] = {
        "note": (
            "which exact image a trial showed is not recorded, only its class: the map can at best learn the "
            "class mean of the EEG embedding, so image -> EEG -> image is class-conditional generation"
        )
    }
    for tag, m in (("map", map_real), ("shuffled_map", map_shuf)):
        mapped_stim = m.predict(full_feats)
        image_map[tag] = {
            "n_way2_identification_test_trials": n_way_identification(
                m.predict(full_feats[trial_img[te]]), z_te, n_way=2, items=y_te, seed=seed
            ),
            "class_consistency_of_mapped_stimuli": map_class_consistency(mapped_stim, stim_labels, z_tr, y_tr)[
                "balanced_accuracy"
            ],
            "alpha": float(m.model[-1].alpha_),
        }
    image_map["chance"] = {"n_way2_identification_test_trials": 0.5, "class_consistency_of_mapped_stimuli": 0.5}
    conds = map_real.predict(full_feats)

    # --- GAN on all stimulus images, conditioned on their mapped embeddings
    cfg = GANConfig(resolution=resolution, cond_dim=conds.shape[1], **(gan_overrides or {}))
    torch.set_num_threads(1)
    grow = f" after {grow_steps} steps at {resolution // 2} px" if grow_steps else ""
    _say(f"{name}: training the {resolution} px GAN ({steps} steps{grow}, {time_limit_s} s at most)")
    result = train_gan(
        real_small,
        torch.from_numpy(conds),
        cfg,
        steps=steps,
        seed=seed,
        time_limit_s=time_limit_s,
        log_every=100,
        grow_steps=grow_steps,
    )
    gan_dir = save_gan(result, out_dir / f"{name}_gan", extra={"dataset": name, "labels": labels})
    G = result.generator_ema
    _say(f"{name}: GAN trained, {result.steps} steps in {result.seconds:.0f} s; scoring")

    # --- EEG -> code -> images, with controls
    code = ClassCode("hard").fit(z_tr, y_tr, conds, stim_labels)
    soft = ClassCode("soft").fit(z_tr, y_tr, conds, stim_labels)
    x_tr = np.asarray(windows.data)[tr]
    noise = rng.standard_normal((len(te),) + x_tr.shape[1:]).astype(np.float32) * x_tr.std(axis=0, keepdims=True)
    z_noise = enc.embed(_erp(noise, windows.sfreq), subjects[te])
    # images are scored on a seeded random subset of the test trials (EfficientNet features of
    # every generated image dominate the cost); the encoder is scored on the same subset too
    scored = np.sort(rng.choice(len(te), size=min(max_scored_trials, len(te)), replace=False))
    z_te, y_te, groups_te, z_noise = z_te[scored], y_te[scored], groups_te[scored], z_noise[scored]
    decoding_scored = _score(y_te, enc_pred[scored], groups_te, seed)
    conditions = {
        "eeg": code.transform(z_te),
        "eeg_soft": soft.transform(z_te),
        "shuffled_eeg": code.transform(z_te[rng.permutation(len(z_te))]),
        "noise": code.transform(z_noise),
        "true_class": code.of_class(y_te),
    }
    consistency: dict[str, Any] = {}
    consistency_nn: dict[str, Any] = {}
    generated: dict[str, torch.Tensor] = {}
    for tag, c in conditions.items():
        imgs = generate_images(G, c, seed=seed + 1)
        generated[tag] = imgs
        feats_gen = effnet(imgs)
        pred = probe.predict(feats_gen)
        consistency[tag] = _score(y_te, pred, groups_te, seed)
        consistency_nn[tag] = _score(y_te, nn_probe.predict(feats_gen), groups_te, seed)
        if tag == "eeg":
            consistency["eeg_agreement_with_encoder_prediction"] = float(np.mean(pred == code.predict(z_te)))
    # image -> EEG space -> image for every stimulus (in-sample: the GAN trained on these images)
    recon = {}
    for tag, m in (("map", map_real), ("shuffled_map", map_shuf)):
        recon_feats = effnet(generate_images(G, m.predict(full_feats), seed=seed + 2))
        recon[tag] = _balanced(stim_labels, (probe if primary_probe == "logistic" else nn_probe).predict(recon_feats))

    # --- distances on EfficientNet-Lite0 features (same set sizes for generated and floor)
    gen_feats = effnet(generated["eeg"])
    floor = real_floor(real_feats, seed=seed, kid_subset=50)
    half = len(real_feats) // 2
    fds, kids = [], []
    for _ in range(10):
        order = rng.permutation(len(real_feats))
        gsel = rng.choice(len(gen_feats), size=half, replace=len(gen_feats) < half)
        fds.append(frechet_distance(gen_feats[gsel], real_feats[order[:half]]))
        kids.append(
            kernel_inception_distance(
                gen_feats[gsel], real_feats[order[:half]], subset_size=50, n_subsets=10, seed=int(rng.integers(1 << 31))
            )[0]
        )
    distances = {
        "fd_effnet": float(np.mean(fds)),
        "kid_effnet": float(np.mean(kids)),
        **floor,
        "note": f"generated vs real sets of {half} images each, floor: two real halves of {half}",
    }
    div = {"generated_eeg": diversity(gen_feats), "real": diversity(real_feats)}
    for c in labels:
        sel = y_te == c
        if sel.sum() >= 2:
            div[f"generated_eeg_{c}"] = diversity(gen_feats[sel])
        div[f"real_{c}"] = diversity(real_feats[stim_labels == c])
    memo = memorisation(gen_feats, real_feats)

    # --- figure: generated per held-out trial beside real stimuli of its class
    show = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_te == c), size=min(n_figure_trials // 2, int((y_te == c).sum())), replace=False)
            for c in labels
        ]
    )
    real_by_class = {c: real_small[stim_labels == c] for c in labels}
    fig_path = save_trial_grid(
        out_dir / f"{name}_trials.png",
        generated=generated["eeg"][show],
        trial_labels=y_te[show],
        real_by_class=real_by_class,
        decoded=code.predict(z_te[show]),
        n_real=3,
        seed=seed,
        title=f"{name}: EEG-conditioned images of held-out trials (left) beside real stimuli of the trial's class",
    )

    return _json(
        {
            "dataset": name,
            "labels": labels,
            "n_trials": {"train": len(tr), "test": len(te)},
            "n_stimuli": len(stim_paths),
            "resolution": resolution,
            "encoder": (
                "per subject: ERP (32 Hz) + StandardScaler + balanced logistic regression, fitted on the "
                "subject's training trials; embedding = decision value (training trials: out of fold)"
            ),
            "encoder_decoding": decoding,
            "encoder_decoding_scored_trials": decoding_scored,
            "n_scored_trials": len(scored),
            "image_map": image_map,
            "class_consistency": consistency,
            "probe_ceiling_real_images": probe.ceiling,
            "class_consistency_nearest_stimulus": consistency_nn,
            "probe_ceiling_nearest_stimulus": nn_probe.ceiling,
            "primary_probe": primary_probe,
            "reconstruction_image_to_eeg_to_image": {
                **recon,
                "chance": 1.0 / len(labels),
                "note": "in-sample: the generator was trained on these images",
            },
            "distances": distances,
            "diversity": div,
            "memorisation": memo,
            "gan": {
                "steps": result.steps,
                "seconds": result.seconds,
                "stages": result.stages,
                "ada_p": result.ada_p,
                "config": cfg.to_dict(),
                "dir": str(gan_dir),
                "last_log": result.log[-1],
            },
            "figure": str(fig_path),
            "feature_extractor": f"EfficientNet-Lite0 (ImageNet), pooled 1280-d, input resized to {feature_size} px",
            "seconds": time.perf_counter() - t0,
        }
    )


# ------------------------------------------------------------------------------ text
TASK_WORDS = {"rest": ["rest"], "arithmetic": ["arithmetic", "subtraction"]}


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(p)))


def _text_scores(
    sentences: list[str],
    refs: list[str],
    labels: np.ndarray,
    subjects: np.ndarray,
    recordings: np.ndarray,
    seed: int,
    n_perm: int = 1000,
) -> dict[str, Any]:
    """Attribute accuracy (subject-clustered bootstrap CI; p from permuting the
    recordings' labels within subject), BLEU, ROUGE, distinct-n, distinct outputs."""
    from brainalign.evaluation.stats import bootstrap_ci, chance_level, permutation_pvalue
    from brainalign.generation.metrics import bleu, distinct_n, n_distinct, parse_attribute, rouge

    parsed = np.array([parse_attribute(s, TASK_WORDS) or "none" for s in sentences], dtype=object)
    y = np.asarray(labels, dtype=object)
    acc = _accuracy(y, parsed)
    low, high = bootstrap_ci(_accuracy, y, parsed, n_boot=1000, seed=seed, groups=subjects)
    p = permutation_pvalue(_accuracy, y, parsed, n_perm=n_perm, seed=seed, groups=subjects, units=recordings)
    return {
        "attribute_accuracy": {
            "value": acc,
            "ci_low": low,
            "ci_high": high,
            "p_value": p,
            "chance": chance_level(y, "accuracy"),
            "n": len(y),
        },
        "named_no_task_fraction": float(np.mean(parsed == "none")),
        "bleu4": bleu(sentences, refs),
        "rouge": rouge(sentences, refs),
        "distinct_1": distinct_n(sentences, 1),
        "distinct_2": distinct_n(sentences, 2),
        "n_distinct_outputs": n_distinct(sentences),
    }


def text_experiment(
    data_dir: Path,
    out_dir: Path,
    *,
    n_folds: int,
    epochs: int,
    seed: int,
    decoder_options: dict | None = None,
    max_windows_per_recording: int | None = None,
    batch_size: int = 128,
) -> dict[str, Any]:
    """EEG -> text on eegmat, subject-grouped folds (every subject held out once)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    from brainalign.data import open_dataset
    from brainalign.evaluation.baselines import band_log_power
    from brainalign.generation.figures import sentence_table
    from brainalign.generation.text import EEGToText, TextRetriever, minilm_tokenizer, most_frequent
    from brainalign.models.towers import TextTower
    from brainalign.preprocessing import cached_windows, get_preset

    t0 = time.perf_counter()
    reader = open_dataset(data_dir / "eegmat")
    windows = cached_windows(reader, get_preset("eegmat_windows", last_s=60.0), progress=False)
    table = windows.table.reset_index(drop=True)
    if max_windows_per_recording is not None:
        keep = table.groupby("recording", sort=False).head(max_windows_per_recording).index.to_numpy()
        windows, table = windows.select(keep), table.iloc[keep].reset_index(drop=True)
    feats = band_log_power(np.asarray(windows.data), windows.sfreq).astype(np.float32)
    labels = table["label"].astype(str).to_numpy()
    texts = table["text"].astype(str).tolist()
    subjects = table["subject"].astype(str).to_numpy()
    recordings = table["recording"].astype(str).to_numpy()
    _say(f"eegmat: {len(table)} windows, {len(np.unique(subjects))} subjects")

    tokenizer = minilm_tokenizer()
    minilm = TextTower(frozen=True)
    text_cache: dict[str, np.ndarray] = {}

    def encode_texts(sentences: list[str]) -> np.ndarray:
        todo = [s for s in sentences if s not in text_cache]
        if todo:
            with torch.no_grad():
                for s, e in zip(todo, minilm.encode(todo).numpy()):
                    text_cache[s] = e
        return np.stack([text_cache[s] for s in sentences])

    rng = np.random.default_rng(seed)
    subj_ids = np.unique(subjects)
    order = {s: i for i, s in enumerate(rng.permutation(subj_ids))}  # seeded assignment of subjects to folds
    groups = np.array([order[s] for s in subjects])
    outputs: dict[str, list[str]] = {
        k: [""] * len(table)
        for k in (
            "decoder",
            "decoder_beam",
            "decoder_noise_input",
            "decoder_shuffled_eeg_input",
            "decoder_shuffled_pairs",
            "retrieval",
            "retrieval_noise_input",
            "most_frequent_sentence",
        )
    }
    probe_pred = np.empty(len(table), dtype=object)
    fold_log = []
    opts = {
        "d_model": 64,
        "n_heads": 4,
        "n_layers": 2,
        "ff_dim": 128,
        "n_memory": 4,
        "max_len": 40,
        **(decoder_options or {}),
    }
    for fold, (tr, te) in enumerate(GroupKFold(n_splits=n_folds).split(feats, labels, groups)):
        scaler = StandardScaler().fit(feats[tr])
        e_tr, e_te = scaler.transform(feats[tr]).astype(np.float32), scaler.transform(feats[te]).astype(np.float32)
        noise = np.random.default_rng(seed + fold).standard_normal(e_te.shape).astype(np.float32)
        t_tr = [texts[i] for i in tr]
        probe = LogisticRegression(max_iter=3000, class_weight="balanced").fit(e_tr, labels[tr])
        probe_pred[te] = probe.predict(e_te)
        tf = time.perf_counter()
        fit = {"epochs": epochs, "batch_size": batch_size, "lr": 3e-3, "seed": seed + fold}
        dec = EEGToText(tokenizer, **opts).fit(e_tr, t_tr, **fit)
        shuffled = [t_tr[i] for i in np.random.default_rng(seed + 100 + fold).permutation(len(t_tr))]
        dec_shuf = EEGToText(tokenizer, **opts).fit(e_tr, shuffled, **fit)
        e_te_shuffled = e_te[np.random.default_rng(seed + 200 + fold).permutation(len(e_te))]
        retr = TextRetriever(encode_texts).fit(e_tr, t_tr)
        beam_rows = np.sort(np.random.default_rng(seed).choice(len(te), size=min(60, len(te)), replace=False))
        for key, sents in (
            ("decoder", dec.generate(e_te)),
            ("decoder_beam", dec.generate(e_te[beam_rows], beam_size=3) if fold == 0 else None),
            ("decoder_noise_input", dec.generate(noise)),
            ("decoder_shuffled_eeg_input", dec.generate(e_te_shuffled)),
            ("decoder_shuffled_pairs", dec_shuf.generate(e_te)),
            ("retrieval", retr.generate(e_te)),
            ("retrieval_noise_input", retr.generate(noise)),
            ("most_frequent_sentence", [most_frequent(t_tr)] * len(te)),
        ):
            if sents is None:
                continue
            for i, s in zip(te[beam_rows] if key == "decoder_beam" else te, sents):
                outputs[key][i] = s
        if fold == 0:
            dec.save(out_dir / "eegmat_eeg2text_fold0")
        fold_log.append(
            {
                "fold": fold,
                "n_train": len(tr),
                "n_test": len(te),
                "test_subjects": sorted(set(subjects[te].tolist())),
                "decoder_seconds": time.perf_counter() - tf,
                "final_loss": dec.log[-1]["loss"],
            }
        )
        _say(f"eegmat fold {fold}: {time.perf_counter() - tf:.0f} s, loss {dec.log[-1]['loss']:.3f}")

    results: dict[str, Any] = {}
    for key, sents in outputs.items():
        rows = np.array([i for i, s in enumerate(sents) if s != "" or key != "decoder_beam"])
        if key == "decoder_beam":
            rows = np.array([i for i, s in enumerate(sents) if s != ""])
            if not len(rows):
                continue
        results[key] = _text_scores(
            [sents[i] for i in rows], [texts[i] for i in rows], labels[rows], subjects[rows], recordings[rows], seed
        )
        if key == "decoder_beam":
            results[key]["note"] = "beam search (3) on 60 windows of the first fold's test subjects only"
    probe_score = _text_scores([str(p) for p in probe_pred], texts, labels, subjects, recordings, seed)
    results["encoder_probe_reference"] = {
        "attribute_accuracy": probe_score["attribute_accuracy"],
        "note": "logistic regression on the same EEG embedding (class label, not text)",
    }
    show = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), size=6, replace=False) for c in ("rest", "arithmetic")]
    )
    samples = [
        {
            "label": str(labels[i]),
            "subject": str(subjects[i]),
            "generated": outputs["decoder"][i],
            "retrieved": outputs["retrieval"][i],
            "reference": texts[i],
        }
        for i in show
    ]
    table_txt = sentence_table([outputs["decoder"][i] for i in show], [texts[i] for i in show], labels[show], width=90)
    (out_dir / "eegmat_sentences.txt").write_text(table_txt)
    return _json(
        {
            "dataset": "eegmat",
            "protocol": f"{n_folds} subject-grouped folds (every subject held out once), 2 s windows, last 60 s of rest",
            "eeg_embedding": "log band power (1-40 Hz, 5 bands x 19 channels), standardised on the training subjects",
            "n_windows": len(table),
            "results": results,
            "note": (
                "the eegmat sentences are templated (age, sex, task, counting quality): BLEU/ROUGE are high for any "
                "sentence of the template, so attribute accuracy is the measure; age and sex are subject-level and "
                "cannot be known for held-out subjects"
            ),
            "folds": fold_log,
            "sentence_table": table_txt,
            "samples": samples,
            "seconds": time.perf_counter() - t0,
        }
    )


# ------------------------------------------------------------------------------- all
def run_generation_experiment(
    data_dir: str | os.PathLike, out_dir: str | os.PathLike, quick: bool, seed: int
) -> dict[str, Any]:
    """Images on N170 and P300, text on eegmat; results (plain JSON) also written to
    ``out_dir/results.json``, figures and the saved generators into ``out_dir``.

    ``quick``: 16 px generators trained for a few dozen steps and a decoder trained
    for one epoch on a subset: a smoke run of the whole path (minutes), whose scores
    mean nothing. Otherwise 32 px generators (9 minutes each) and full text folds.
    """
    _quiet()
    data_dir, out = Path(data_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    image_settings = (
        {"resolution": 16, "steps": 30, "time_limit_s": None, "max_scored_trials": 48}
        if quick
        else {"resolution": 32, "steps": 1_000_000, "time_limit_s": 540.0}
    )
    results: dict[str, Any] = {"quick": quick, "seed": seed, "images": {}}
    for name, folder, labels in (
        ("n170", "eegnb_n170", ["house", "face"]),
        ("p300", "eegnb_p300", ["nontarget", "target"]),
    ):
        if not (data_dir / folder).is_dir():
            results["images"][name] = {"skipped": f"{data_dir / folder} not found"}
            continue
        results["images"][name] = image_experiment(name, data_dir / folder, labels, out, seed=seed, **image_settings)
    if (data_dir / "eegmat").is_dir():
        results["text"] = text_experiment(
            data_dir,
            out,
            n_folds=2 if quick else 3,
            epochs=1 if quick else 12,
            seed=seed,
            max_windows_per_recording=4 if quick else None,
        )
    else:
        results["text"] = {"skipped": f"{data_dir / 'eegmat'} not found"}
    results["seconds"] = time.perf_counter() - t0
    results = _json(results)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
