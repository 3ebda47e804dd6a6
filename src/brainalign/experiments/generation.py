"""Generation from EEG on the shared recordings: images (N170, P300) and text (eegmat).

``run_generation_experiment(data_dir, out_dir, quick, seed)`` runs everything and
returns plain-JSON results (also written to ``out_dir/results.json``), with figures
in ``out_dir``.

Images (eeg-notebooks N170 faces/houses, 96 stimuli; P300 cats/dogs, 8 stimuli):

1. Held-out trials: each subject's own sessions (or time blocks) split
   train/test (:func:`brainalign.data.splits.within_subject_split`).
2. EEG encoder, fitted on the training trials: ERP features (epoch resampled to
   32 Hz) + standardisation + balanced logistic regression. Its EEG embedding is the
   decision value (the log-odds of the classes). Training-trial embeddings are taken
   out of fold, so the image map and the class code see held-out-like values.
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

Text (eegmat, rest vs mental arithmetic, held-out subjects, 5 subject-grouped folds):
band log power (<= 40 Hz) of 2 s windows, standardised on the training subjects, is
the EEG embedding; (a) retrieval of the nearest training description through a
ridge map into MiniLM sentence space, (b) a small transformer decoder conditioned on
EEG memory tokens, decoded free-running from the EEG embedding alone. Attribute
accuracy (the task parsed back out of the sentence) with a subject-clustered CI and
a permutation p-value (recording labels permuted within subject), a noise-input
control, a decoder trained on shuffled pairs, and the most frequent sentence.
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

__all__ = ["run_generation_experiment", "image_experiment", "text_experiment"]

_ERP_RATE = 32.0


# --------------------------------------------------------------------------- helpers
def _quiet() -> None:
    import mne

    mne.set_log_level("ERROR")
    logging.getLogger("mne").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module="brainalign.preprocessing")


def _balanced(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, p))


def _score(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray | None, seed: int,
           n_boot: int = 1000, n_perm: int = 1000) -> dict[str, float]:
    """Balanced accuracy with a bootstrap CI clustered by ``groups`` (recordings) and a
    trial-permutation p-value; chance 1 / n_classes."""
    from brainalign.evaluation.stats import bootstrap_ci, permutation_pvalue

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    value = _balanced(y_true, y_pred)
    try:
        low, high = bootstrap_ci(_balanced, y_true, y_pred, n_boot=n_boot, seed=seed, groups=groups)
    except Exception:  # too few groups for a clustered interval: fall back to trials
        low, high = bootstrap_ci(_balanced, y_true, y_pred, n_boot=n_boot, seed=seed)
    p = permutation_pvalue(_balanced, y_true, y_pred, n_perm=n_perm, seed=seed)
    return {"value": value, "ci_low": low, "ci_high": high, "p_value": p,
            "chance": 1.0 / len(np.unique(y_true)), "n": int(len(y_true))}


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

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced",
                                                              random_state=seed))


def _embed(model, feats: np.ndarray) -> np.ndarray:
    z = model.decision_function(feats)
    return np.asarray(z, dtype=np.float32).reshape(len(feats), -1)


def image_experiment(name: str, root: Path, labels: list[str], out_dir: Path, *, resolution: int,
                     steps: int, time_limit_s: float | None, seed: int, gan_overrides: dict | None = None,
                     n_figure_trials: int = 8) -> dict[str, Any]:
    """One eeg-notebooks set: EEG encoder, image map, GAN, scores and figures."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from brainalign.data.splits import within_subject_split
    from brainalign.generation.figures import save_trial_grid
    from brainalign.generation.gan import GANConfig, generate_images, save_gan, train_gan
    from brainalign.generation.image_map import ClassCode, ImageToEEGMap, map_class_consistency, n_way_identification
    from brainalign.generation.images import EffNetFeatures, load_images
    from brainalign.generation.metrics import (ClassProbe, diversity, frechet_distance, kernel_inception_distance,
                                               memorisation, real_floor)

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    reader, windows = _eegnb_windows(root, labels)
    table = windows.table
    y_all = table["label"].astype(str).to_numpy()
    split = within_subject_split(table, test=0.2, seed=seed)
    tr, te = split.train, split.test
    recordings = table["recording"].astype(str).to_numpy()

    # --- EEG encoder (train trials only)
    feats = _erp(np.asarray(windows.data), windows.sfreq)
    enc = _erp_encoder(seed).fit(feats[tr], y_all[tr])
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    z_tr = np.asarray(cross_val_predict(_erp_encoder(seed), feats[tr], y_all[tr], cv=cv,
                                        method="decision_function"), dtype=np.float32).reshape(len(tr), -1)
    z_te = _embed(enc, feats[te])
    y_tr, y_te = y_all[tr], y_all[te]
    groups_te = recordings[te]
    enc_pred = enc.predict(feats[te])
    decoding = _score(y_te, enc_pred, groups_te, seed)

    # --- stimuli and their features
    class_images = reader.class_images()
    stim_paths = [str(p) for c in labels for p in class_images[c]]
    stim_labels = np.array([c for c in labels for _ in class_images[c]])
    effnet = EffNetFeatures()
    full_feats = effnet.tower.encode(stim_paths).detach().numpy()  # full-resolution features, input of the map
    real_small = load_images(stim_paths, resolution)
    real_feats = effnet(real_small)  # at the generator's resolution, for probe and distances
    path_row = {p: i for i, p in enumerate(stim_paths)}

    probe = ClassProbe(seed=seed).fit(real_feats, stim_labels)

    # --- image -> EEG space (pairs: each training trial's recorded class image, its out-of-fold embedding)
    trial_img = np.array([path_row[str(p)] for p in table["image"].astype(str)])
    map_real = ImageToEEGMap("ridge", seed=seed).fit(full_feats[trial_img[tr]], z_tr)
    map_shuf = ImageToEEGMap("ridge", seed=seed).fit(full_feats[trial_img[tr]], z_tr, shuffle=True)
    image_map: dict[str, Any] = {"note": (
        "which exact image a trial showed is not recorded, only its class: the map can at best learn the "
        "class mean of the EEG embedding, so image -> EEG -> image is class-conditional generation")}
    for tag, m in (("map", map_real), ("shuffled_map", map_shuf)):
        mapped_stim = m.predict(full_feats)
        image_map[tag] = {
            "n_way2_identification_test_trials": n_way_identification(
                m.predict(full_feats[trial_img[te]]), z_te, n_way=2, items=y_te, seed=seed),
            "class_consistency_of_mapped_stimuli": map_class_consistency(mapped_stim, stim_labels, z_tr, y_tr)[
                "balanced_accuracy"],
            "alpha": float(m.model[-1].alpha_),
        }
    image_map["chance"] = {"n_way2_identification_test_trials": 0.5, "class_consistency_of_mapped_stimuli": 0.5}
    conds = map_real.predict(full_feats)

    # --- GAN on all stimulus images, conditioned on their mapped embeddings
    cfg = GANConfig(resolution=resolution, cond_dim=conds.shape[1], **(gan_overrides or {}))
    torch.set_num_threads(1)
    result = train_gan(real_small, torch.from_numpy(conds), cfg, steps=steps, seed=seed, time_limit_s=time_limit_s,
                       log_every=100)
    gan_dir = save_gan(result, out_dir / f"{name}_gan", extra={"dataset": name, "labels": labels})
    G = result.generator_ema

    # --- EEG -> code -> images, with controls
    code = ClassCode("hard").fit(z_tr, y_tr, conds, stim_labels)
    soft = ClassCode("soft").fit(z_tr, y_tr, conds, stim_labels)
    x_tr = np.asarray(windows.data)[tr]
    noise = rng.standard_normal((len(te),) + x_tr.shape[1:]).astype(np.float32) * x_tr.std(axis=0, keepdims=True)
    z_noise = _embed(enc, _erp(noise, windows.sfreq))
    conditions = {
        "eeg": code.transform(z_te),
        "eeg_soft": soft.transform(z_te),
        "shuffled_eeg": code.transform(z_te[rng.permutation(len(te))]),
        "noise": code.transform(z_noise),
        "true_class": code.of_class(y_te),
    }
    consistency: dict[str, Any] = {}
    generated: dict[str, torch.Tensor] = {}
    for tag, c in conditions.items():
        imgs = generate_images(G, c, seed=seed + 1)
        generated[tag] = imgs
        pred = probe.predict(effnet(imgs))
        consistency[tag] = _score(y_te, pred, groups_te, seed)
        if tag == "eeg":
            consistency["eeg_agreement_with_encoder_prediction"] = float(np.mean(pred == code.predict(z_te)))
    # image -> EEG space -> image for every stimulus (in-sample: the GAN trained on these images)
    recon = {}
    for tag, m in (("map", map_real), ("shuffled_map", map_shuf)):
        pred = probe.predict(effnet(generate_images(G, m.predict(full_feats), seed=seed + 2)))
        recon[tag] = _balanced(stim_labels, pred)

    # --- distances on EfficientNet-Lite0 features (same set sizes for generated and floor)
    gen_feats = effnet(generated["eeg"])
    floor = real_floor(real_feats, seed=seed, kid_subset=50)
    half = len(real_feats) // 2
    fds, kids = [], []
    for _ in range(10):
        order = rng.permutation(len(real_feats))
        gsel = rng.choice(len(gen_feats), size=half, replace=len(gen_feats) < half)
        fds.append(frechet_distance(gen_feats[gsel], real_feats[order[:half]]))
        kids.append(kernel_inception_distance(gen_feats[gsel], real_feats[order[:half]], subset_size=50,
                                              n_subsets=10, seed=int(rng.integers(1 << 31)))[0])
    distances = {"fd_effnet": float(np.mean(fds)), "kid_effnet": float(np.mean(kids)), **floor,
                 "note": f"generated vs real sets of {half} images each, floor: two real halves of {half}"}
    div = {"generated_eeg": diversity(gen_feats), "real": diversity(real_feats)}
    for c in labels:
        sel = y_te == c
        if sel.sum() >= 2:
            div[f"generated_eeg_{c}"] = diversity(gen_feats[sel])
        div[f"real_{c}"] = diversity(real_feats[stim_labels == c])
    memo = memorisation(gen_feats, real_feats)

    # --- figure: generated per held-out trial beside real stimuli of its class
    show = np.concatenate([rng.choice(np.flatnonzero(y_te == c), size=min(n_figure_trials // 2, int((y_te == c).sum())),
                                      replace=False) for c in labels])
    real_by_class = {c: real_small[stim_labels == c] for c in labels}
    fig_path = save_trial_grid(
        out_dir / f"{name}_trials.png",
        generated=generated["eeg"][show], trial_labels=y_te[show], real_by_class=real_by_class,
        decoded=code.predict(z_te[show]), n_real=3, seed=seed,
        title=f"{name}: EEG-conditioned images of held-out trials (left) beside real stimuli of the trial's class")

    return _json({
        "dataset": name,
        "labels": labels,
        "n_trials": {"train": len(tr), "test": len(te)},
        "n_stimuli": len(stim_paths),
        "resolution": resolution,
        "encoder": "ERP (32 Hz) + StandardScaler + balanced logistic regression; embedding = decision value",
        "encoder_decoding": decoding,
        "image_map": image_map,
        "class_consistency": consistency,
        "probe_ceiling_real_images": probe.ceiling,
        "reconstruction_image_to_eeg_to_image": {**recon, "chance": 1.0 / len(labels),
                                                 "note": "in-sample: the generator was trained on these images"},
        "distances": distances,
        "diversity": div,
        "memorisation": memo,
        "gan": {"steps": result.steps, "seconds": result.seconds, "ada_p": result.ada_p,
                "config": cfg.to_dict(), "dir": str(gan_dir), "last_log": result.log[-1]},
        "figure": str(fig_path),
        "seconds": time.perf_counter() - t0,
    })
