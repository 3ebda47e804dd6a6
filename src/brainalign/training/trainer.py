"""The training engine behind ``brainalign train``: one loop for every method.

Methods differ only in their recipe: the paired tower (text, image, none) and
the objectives (CLIP, SigLIP, semi-hard triplet, cross-entropy, weighted sums).

* Optimisation: AdamW with one parameter group per tower (the paired tower at
  ``lr * lr_factor``), linear warm-up then cosine decay per step, gradient
  clipping, bf16 autocast on CUDA.
* Selection: early stopping and the kept weights use the validation split's
  loss; the test split is touched once, at the end, with the selected weights.
* Reproducibility: fixed seeds; the shuffling of each epoch comes from a
  generator seeded by (seed, epoch), and checkpoints carry every RNG state, so a
  run resumed after SIGKILL ends with the same metrics as an uninterrupted run.
* Scale: under ``torchrun`` the model is wrapped in DDP, data are sharded with a
  DistributedSampler and the contrastive losses gather embeddings across ranks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from brainalign import __version__
from brainalign.errors import ConfigError, DataError
from brainalign.generation.multitask import masked_multitask_loss
from brainalign.models.aligned import AlignedModel, build_model, model_spec
from brainalign.models.contract import InputContract
from brainalign.models.fusion import MODES as FUSION_MODES
from brainalign.objectives.loss import (
    OBJECTIVES,
    WeightedSum,
    create_objective,
    objective_inputs,
)
from brainalign.training import distributed as dist_mod
from brainalign.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from brainalign.training.data import PairedData, batch_loader, build_paired_data, describe
from brainalign.training.recipe import CONSISTENCY, Recipe, recorded_recipe, shared_modalities
from brainalign.training.runlog import RunLogger
from brainalign.training.schedule import warmup_cosine
from brainalign.utils.fastconv import use_fast_kernels
from brainalign.utils.io import atomic_path, atomic_write_text


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class TrainModule(nn.Module):
    """The model plus its objectives, so DDP wraps one forward that returns the loss."""

    def __init__(self, model: AlignedModel, objectives: list[dict[str, Any]], gather: bool):
        super().__init__()
        self.model = model
        self.kinds: dict[str, str] = {}
        #: a shared multi-task encoder: each term's (objective, modality); consistency: ("consistency", "")
        self.terms: dict[str, tuple[str, str]] = {}
        if model.modalities:
            self._init_shared(objectives, gather)
            return
        losses, weights = {}, {}
        for obj in objectives:
            name = obj["name"]
            if name not in OBJECTIVES:
                raise ConfigError(f"objectives: unknown objective {name!r}; choose from {OBJECTIVES.names()}")
            kind = objective_inputs(name)
            kwargs = dict(obj.get("kwargs", {}))
            if kind == "pairs":
                if model.pair_head is None:
                    raise ConfigError(f"objective {name!r} needs a paired tower (model.pair.name)")
                kwargs.setdefault("gather", gather)
            if kind == "logits" and model.classifier is None:
                raise ConfigError(f"objective {name!r} needs class labels")
            if kind == "modalities":
                raise ConfigError(f"objective {name!r} ties a shared encoder's modalities (data.pairs)")
            if kind == "masked" and not hasattr(model.eeg_encoder, "forward_mae"):
                raise ConfigError(f"objective {name!r} needs a masked-autoencoder encoder (e.g. model.eeg.name: mae)")
            losses[name] = create_objective(name, **kwargs)
            self.kinds[name] = kind
            weights[name] = float(obj.get("weight", 1.0))
        if not losses:
            raise ConfigError("objectives: at least one objective is required")
        self.objective = WeightedSum(losses, weights)

    def _init_shared(self, objectives: list[dict[str, Any]], gather: bool) -> None:
        """The terms of a shared multi-task encoder: one CLIP loss per modality (named
        ``clip_<modality>``) and the optional ``consistency`` term, with the recipe's weights."""
        losses, weights = {}, {}
        for obj in objectives:
            if obj["name"] == CONSISTENCY:
                key = CONSISTENCY
                losses[key] = create_objective(CONSISTENCY, **dict(obj.get("kwargs", {})))
            else:
                key = f"{obj['name']}_{obj['modality']}"
                losses[key] = create_objective(obj["name"], **{"gather": gather, **dict(obj.get("kwargs", {}))})
            self.terms[key] = (obj["name"], obj.get("modality", ""))
            weights[key] = float(obj.get("weight", 1.0))
        if not any(name != CONSISTENCY for name, _ in self.terms.values()):
            raise ConfigError("objectives: a shared encoder needs at least one per-modality clip term")
        self.objective = WeightedSum(losses, weights)

    @property
    def losses(self) -> nn.ModuleDict:
        return self.objective.losses

    def shared_losses(
        self, x: torch.Tensor, pair_index: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """A shared multi-task encoder's loss on one batch: ``pair_index`` is ``(batch,
        modalities)``, -1 where a window lacks a modality. Each modality's CLIP term runs on
        the windows that have it (in-batch negatives among them only), per sample, and
        :func:`~brainalign.generation.multitask.masked_multitask_loss` averages it over
        those windows and weights it; a modality with fewer than two windows in the batch
        contributes nothing. ``consistency``: 1 - cosine of the EEG's embeddings in the
        first two modalities' spaces, over the windows that have both."""
        model = self.model
        if pair_index.ndim != 2 or pair_index.shape[1] != len(model.modalities):
            raise DataError(
                None,
                f"a shared encoder's batches carry (batch, {len(model.modalities)}) pair indices, "
                f"got {tuple(pair_index.shape)}",
            )
        h = model.eeg_encoder(x)
        z = {m: model.eeg_head_for(m)(h) for m in model.modalities}
        has = {m: pair_index[:, i] >= 0 for i, m in enumerate(model.modalities)}
        losses: dict[str, torch.Tensor] = {}
        masks: dict[str, torch.Tensor] = {}
        for key, (name, m) in self.terms.items():
            if name == CONSISTENCY:
                a, b = model.modalities[:2]
                masks[key] = has[a] & has[b]
                losses[key] = self.losses[key](z[a], z[b], valid=masks[key], reduction="none")
                continue
            idx = pair_index[:, model.modalities.index(m)]
            mask = has[m] if int(has[m].sum()) >= 2 else torch.zeros_like(has[m])
            pairs = model.encode_pairs(idx.clamp_min(0), modality=m)
            losses[key] = self.losses[key](x=z[m], y=pairs, valid=mask, pair_ids=idx, reduction="none")
            masks[key] = mask
        total, parts = masked_multitask_loss(losses, masks, self.objective.weights)
        if not parts:  # nothing to learn from in this batch: a zero that reaches every input
            total = total + sum(t.sum() * 0.0 for t in losses.values())
        return total, parts, z[model.primary]

    def forward(
        self, x: torch.Tensor, pair_index: torch.Tensor, labels: torch.Tensor, extra: bool = False
    ) -> tuple[torch.Tensor, dict[str, Any], torch.Tensor]:
        if self.terms:
            return self.shared_losses(x, pair_index)
        if extra:  # a batch of an unlabelled corpus (data.extra), of any montage: masked objective only
            view = self.model.eeg_encoder.with_channels(x.shape[1])
            total, parts = self.objective({name: tuple(view.forward_mae(x)) for name in self.kinds})
            return total, parts, x.new_zeros((len(x), 0))
        z = self.model.encode_eeg(x)
        inputs: dict[str, Any] = {}
        labelled = labels >= 0
        for name, kind in self.kinds.items():
            if kind == "pairs":
                p = self.model.encode_pairs(pair_index.clamp_min(0))
                inputs[name] = {"x": z, "y": p, "valid": pair_index >= 0, "pair_ids": pair_index}
            elif kind == "labels":
                inputs[name] = (z[labelled], labels[labelled])
            elif kind == "masked":
                inputs[name] = tuple(self.model.eeg_encoder.forward_mae(x))
            else:
                inputs[name] = (self.model.classify(x, z, pair_index)[labelled], labels[labelled])
        total, parts = self.objective(inputs)
        return total, parts, z

    @contextlib.contextmanager
    def local_losses(self) -> Iterator[None]:
        """Losses on this process's batch only. Every rank evaluates the whole
        validation / test part; gathering across ranks there would repeat each
        sample once per rank and bias the contrastive losses."""
        saved = {name: loss.gather for name, loss in self.losses.items() if hasattr(loss, "gather")}
        for name in saved:
            self.losses[name].gather = False
        try:
            yield
        finally:
            for name, gather in saved.items():
                self.losses[name].gather = gather


# ---------------------------------------------------------------------------- helpers
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _loader(
    data: PairedData,
    part: str,
    batch_size: int,
    shuffle: bool,
    seed: int,
    epoch: int,
    info: dist_mod.DistInfo,
    num_workers: int = 0,
) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Batches of one part. Each batch is one gather from the window array
    (:class:`~brainalign.training.data.BatchLoader`), in ``num_workers`` worker
    processes if asked; order and random draws are those of a per-item
    ``DataLoader(ds, batch_size, shuffle, generator)``."""
    ds = data.dataset(part)
    if info.enabled:
        sampler = DistributedSampler(
            ds, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=shuffle
        )
        sampler.set_epoch(epoch)
        return batch_loader(ds, sampler, batch_size, drop_last=shuffle, num_workers=num_workers)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    # drop a last batch of one: contrastive and triplet losses need two samples
    drop_last = shuffle and len(ds) % batch_size == 1
    sampler = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
    return batch_loader(ds, sampler, batch_size, drop_last=drop_last, generator=gen, num_workers=num_workers)


@torch.no_grad()
def embed_part(
    model: AlignedModel, data: PairedData, part: str, batch_size: int, device: torch.device, modality: str | None = None
) -> np.ndarray:
    """Shared-space EEG embeddings of one split part, in split order (in ``modality``'s
    space, for a shared multi-task encoder; default: its primary modality)."""
    model.eval()
    out = []
    for x, _, _, _ in _loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
        out.append(model.encode_eeg(x.to(device), modality).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.eeg_head.net[-1].out_features), np.float32)


@torch.no_grad()
def predict_proba(
    model: AlignedModel, data: PairedData, part: str, batch_size: int, device: torch.device
) -> np.ndarray:
    """Class probabilities ``(windows, classes)`` of one split part, in split order."""
    model.eval()
    out = []
    for x, pidx, _, _ in _loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
        x = x.to(device)
        logits = model.classify(x, model.encode_eeg(x), pidx.to(device))
        out.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(out).numpy()


def write_predictions(
    path: Path, model: AlignedModel, data: PairedData, part: str, batch_size: int, device: torch.device
) -> None:
    """``path`` (CSV, written atomically): one row per window of ``part`` with its keys
    (recording, subject, start, label, where the window table has them) and ``p_<class>``."""

    proba = predict_proba(model, data, part, batch_size, device)
    table = data.windows.table.iloc[data.part(part)]
    keys = [c for c in ("recording", "subject", "start", "label") if c in table.columns]
    out = table[keys].reset_index(drop=True).copy()
    for k, name in enumerate(data.classes):
        out[f"p_{name}"] = proba[:, k]
    atomic_write_text(path, out.to_csv(index=False))


def _extra_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled, sorted index batches of ``range(n)``; a last batch of one window is dropped."""
    order = rng.permutation(n)
    return [np.sort(b) for b in np.array_split(order, max(1, int(np.ceil(n / batch_size)))) if len(b) > 1]


def _epoch_batches(
    data: PairedData, batch_size: int, seed: int, epoch: int, info: dist_mod.DistInfo, num_workers: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]]:
    """One epoch's training batches ``(x, pair index, labels, extra)``: the training part's,
    and with ``data.extra`` each corpus's batches (one corpus per batch), interleaved at
    random by a generator seeded with (seed, epoch)."""
    main = _loader(data, "train", batch_size, True, seed, epoch, info, num_workers)
    if not data.extra:
        for x, pidx, lab, _ in main:
            yield x, pidx, lab, False
        return
    rng = np.random.default_rng([seed, epoch, 7])
    main_batches = [(x, pidx, lab) for x, pidx, lab, _ in main]
    plan: list[tuple[str, Any]] = [("", b) for b in main_batches]
    for name, corpus in data.extra.items():
        rows = _extra_batches(len(corpus), batch_size, rng)
        if info.enabled:  # each rank takes an equal share of the corpus's batches (same step count)
            rows = rows[: len(rows) - len(rows) % info.world_size][info.rank :: info.world_size]
        plan += [(name, r) for r in rows]
    for i in rng.permutation(len(plan)):
        name, item = plan[i]
        if not name:
            yield (*item, False)
        else:
            x = torch.from_numpy(np.ascontiguousarray(data.extra[name][item]))
            none = torch.full((len(x),), -1, dtype=torch.long)
            yield x, none, none, True


def _n_extra_batches(data: PairedData, batch_size: int, info: dist_mod.DistInfo) -> int:
    counts = [len(_extra_batches(len(c), batch_size, np.random.default_rng(0))) for c in data.extra.values()]
    return sum(n // info.world_size for n in counts) if info.enabled else sum(counts)


def _check_extra(data: PairedData, objectives: list[dict[str, Any]], model: AlignedModel) -> None:
    if not data.extra:
        return
    other = [o["name"] for o in objectives if objective_inputs(o["name"]) != "masked"]
    if other:
        raise ConfigError(f"data.extra: unlabelled corpora train the masked objective only, not {other}")
    leads = {int(c.shape[1]) for c in data.extra.values()}
    if leads != {data.windows.n_channels} and not hasattr(model.eeg_encoder, "with_channels"):
        raise ConfigError(
            f"data.extra: corpora of {sorted(leads)} leads need an encoder that takes any montage "
            f"(e.g. cbramod_mae), not {type(model.eeg_encoder).__name__}"
        )


@torch.no_grad()
def evaluate_part(
    tm: TrainModule, data: PairedData, part: str, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Loss and a quick score of one part: for aligned models, top-1 of EEG -> pair
    among the part's distinct pairs; for label methods, 5-NN balanced accuracy
    against the training embeddings. Chance is reported beside each score."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.neighbors import KNeighborsClassifier

    tm.eval()
    idx = data.part(part)
    losses, embs, logits = [], [], []
    with tm.local_losses():
        for x, pidx, lab, _ in _loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
            x, pidx = x.to(device), pidx.to(device)
            total, _, z = tm(x, pidx, lab.to(device))
            losses.append((float(total), len(x)))
            embs.append(z.float().cpu())
            if tm.model.classifier is not None:  # from the same pass's embeddings, not a second pass
                logits.append(tm.model.classify(x, z, pidx).float().cpu())
    z = torch.cat(embs)
    out = {f"{part}_loss": sum(v * n for v, n in losses) / max(1, sum(n for _, n in losses))}
    if tm.model.classifier is not None:  # supervised / fusion: the classifier's own predictions
        pred = torch.cat(logits).argmax(dim=1).numpy()
        y = data.labels[idx]
        known = y >= 0
        out[f"{part}_bacc"] = float(balanced_accuracy_score(y[known], pred[known]))
        out[f"{part}_bacc_chance"] = 1.0 / max(1, len(np.unique(y[known])))
    elif data.pair_kind == "none":
        pass  # self-supervised: the validation loss is the score
    elif tm.model.pair_head is not None and tm.model.modalities:  # shared encoder: top-1 per modality
        for i, m in enumerate(tm.model.modalities):
            zm = (
                z
                if m == tm.model.primary
                else torch.from_numpy(embed_part(tm.model, data, part, batch_size, device, m))
            )
            pidx = torch.as_tensor(data.pair_indices[idx, i])  # type: ignore[index]
            have = pidx >= 0
            if not bool(have.any()):
                continue
            cand = torch.unique(pidx[have])
            p = tm.model.encode_pairs(cand.to(device), modality=m).float().cpu()
            pred = cand[(zm[have] @ p.T).argmax(dim=1)]
            name = f"{part}_top1" if m == tm.model.primary else f"{part}_top1_{m}"
            out[name] = float((pred == pidx[have]).float().mean())
            out[f"{name}_chance"] = 1.0 / max(1, len(cand))
    elif tm.model.pair_head is not None:
        pidx = torch.as_tensor(data.pair_index[idx])
        cand = torch.unique(pidx[pidx >= 0])
        p = tm.model.encode_pairs(cand.to(device)).float().cpu()
        pred = cand[(z @ p.T).argmax(dim=1)]
        out[f"{part}_top1"] = float((pred == pidx).float().mean())
        out[f"{part}_top1_chance"] = 1.0 / max(1, len(cand))
    else:
        ztr = embed_part(tm.model, data, "train", batch_size, device)
        ytr, yte = data.labels[data.part("train")], data.labels[idx]
        knn = KNeighborsClassifier(n_neighbors=min(5, len(ztr))).fit(ztr, ytr)
        out[f"{part}_knn_bacc"] = float(balanced_accuracy_score(yte, knn.predict(z.numpy())))
        out[f"{part}_knn_bacc_chance"] = 1.0 / max(1, len(np.unique(yte)))
    return out


def _spec_for(recipe: Recipe, data: PairedData) -> dict[str, Any]:
    from brainalign.models.registry import create_encoder

    w = data.windows
    enc = recipe.model.eeg
    encoder = create_encoder(
        enc.name,
        n_chans=w.n_channels,
        n_times=w.n_times,
        sfreq=w.sfreq,
        emb_dim=enc.emb_dim,
        ch_names=list(w.ch_names),
        **enc.kwargs,
    )
    tower = None
    shared: dict[str, Any] | None = None
    if recipe.data.pairs:  # a shared multi-task encoder: the primary tower, and one per further modality
        modalities = shared_modalities(recipe.data)
        towers = {
            m: {"name": t.name, "trainable": t.trainable, "lr_factor": t.lr_factor, "kwargs": dict(t.kwargs)}
            for m, t in recipe.model.pairs.items()
        }
        primary = recipe.data.pair
        tower = towers[primary]
        shared = {
            "primary": primary,
            "order": modalities,
            "towers": {m: towers[m] for m in modalities if m != primary},
        }
    elif recipe.data.pair not in ("label", "none"):
        t = recipe.model.pair
        if not t.name:
            raise ConfigError(f"model.pair.name is required when data.pair is {recipe.data.pair}")
        if recipe.data.pair == "ecg":  # the paired signal gets an encoder of its own from the registry
            pw = data.pair_windows
            ecg = create_encoder(
                t.name,
                n_chans=pw.n_channels,
                n_times=pw.n_times,
                sfreq=pw.sfreq,
                ch_names=list(pw.ch_names),
                **t.kwargs,
            )
            tower = {
                "name": "signal",
                "encoder": ecg.encoder_config(),
                "trainable": t.trainable,
                "lr_factor": t.lr_factor,
            }
        else:
            tower = {"name": t.name, "trainable": t.trainable, "lr_factor": t.lr_factor, "kwargs": dict(t.kwargs)}
    uses_ce = any(o.name == "ce" for o in recipe.objectives)
    head = dataclasses.asdict(recipe.model.head)
    spec = model_spec(encoder.encoder_config(), head, tower, len(data.classes) if uses_ce else None)
    spec["objectives"] = [dataclasses.asdict(o) for o in recipe.objectives]
    fusion = recipe.model.fusion
    if fusion not in FUSION_MODES:
        raise ConfigError(f"model.fusion: {fusion!r} is not one of {', '.join(FUSION_MODES)}")
    if fusion != "eeg" and tower is None:
        raise ConfigError(f"model.fusion: {fusion} needs a paired signal (data.pair: ecg)")
    if recipe.model.classifier not in ("linear", "mlp"):
        raise ConfigError(f"model.classifier: {recipe.model.classifier!r} is not one of linear, mlp")
    if (
        (recipe.model.classifier == "mlp" or fusion == "cross_attention")
        and fusion != "eeg"
        and recipe.data.pair != "ecg"
    ):
        raise ConfigError(f"model.fusion: {fusion} with an mlp classifier needs a paired signal (data.pair: ecg)")
    spec["fusion"] = fusion
    spec["classifier"] = recipe.model.classifier
    if shared is not None:
        if uses_ce:
            raise ConfigError("objectives: a shared multi-task encoder has no classifier (ce)")
        spec["modalities"] = shared
    return spec


def _check_same_recipe(out: Path, recipe: dict[str, Any]) -> None:
    """--resume continues a run only with the recipe it was started with."""
    try:
        before = recorded_recipe(json.loads((out / "config.json").read_text())["recipe"])
    except (OSError, ValueError, KeyError):
        raise DataError(out / "config.json", "cannot read the recipe this run was started with") from None
    now = json.loads(json.dumps(recipe, default=str))

    def diff(a: Any, b: Any, prefix: str = "") -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in sorted(set(a) | set(b)) for d in diff(a.get(k), b.get(k), f"{prefix}{k}.")]
        return [] if a == b else [prefix.rstrip(".")]

    changed = diff(before, now)
    if changed:
        raise DataError(
            out, f"--resume with a different recipe than the run was started with (changed: {', '.join(changed[:5])})"
        )


def _initialise(model: AlignedModel, recipe: Recipe) -> None:
    """Start encoders from pretrained run folders where the recipe says so."""
    from brainalign.models.fusion import load_pretrained_encoder

    if recipe.model.eeg.init_from:
        load_pretrained_encoder(Path(recipe.model.eeg.init_from), model.eeg_encoder)
    if recipe.model.pair.init_from:
        if recipe.data.pair != "ecg":
            raise ConfigError("model.pair.init_from needs a signal tower (data.pair: ecg)")
        load_pretrained_encoder(Path(recipe.model.pair.init_from), model.pair_tower)


def _param_groups(tm: TrainModule, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """One group for the EEG side (encoder, heads, loss temperatures), one per trainable
    paired tower at ``lr * lr_factor`` (``pair_tower``; ``pair_tower_<modality>`` for a
    shared encoder's further modalities)."""
    towers: list[tuple[str, Any]] = []
    if tm.model.pair_tower is not None:
        towers.append(("pair_tower", tm.model.pair_tower))
    if tm.model.branches is not None:
        towers += [(f"pair_tower_{m}", b.tower) for m, b in tm.model.branches.items()]
    tower_params = {id(p) for _, t in towers for p in t.parameters()}
    main = [p for p in tm.parameters() if p.requires_grad and id(p) not in tower_params]
    groups = [{"params": main, "lr": lr, "weight_decay": weight_decay, "name": "eeg"}]
    for name, tower in towers:
        trainable = [p for p in tower.parameters() if p.requires_grad]
        if trainable:
            groups.append({"params": trainable, "lr": lr * tower.lr_factor, "weight_decay": weight_decay, "name": name})
    return groups


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(array), allow_pickle=False)


#: run-folder files that make evaluation on new data independent of the training data
TRAIN_EMBEDDINGS = "train_embeddings.npy"
TRAIN_WINDOWS = "train_windows.json"
PAIR_EMBEDDINGS = "pair_embeddings.npy"


def save_eval_reference(
    out: Path, model: AlignedModel, data: PairedData, batch_size: int, device: torch.device
) -> None:
    """What ``brainalign evaluate RUN --dataset NEW`` takes from the training part,
    so that it needs only the run folder and the new data: the training windows'
    embeddings (``train_embeddings.npy``, split order), their table
    (``train_windows.json``: labels, subject, recording, start, text, image... as
    plain JSON columns) and, for text / image pairs, the shared-space embedding of
    every training pair value (``pair_embeddings.npy``, rows = ``pair_values``), so
    that image prototypes do not need the training images. Each file is written
    atomically."""
    _save_array(out / TRAIN_EMBEDDINGS, embed_part(model, data, "train", batch_size, device))
    table = data.windows.table.iloc[data.part("train")].reset_index(drop=True)
    atomic_write_text(out / TRAIN_WINDOWS, json.dumps(table_to_json(table)))
    if data.pair_kind in ("text", "image") and model.pair_head is not None and data.pair_values:
        model.eval()
        with torch.no_grad():
            chunks = [
                model.encode_pairs(torch.arange(i, min(i + 1024, len(data.pair_values)), device=device))
                for i in range(0, len(data.pair_values), 1024)
            ]
        _save_array(out / PAIR_EMBEDDINGS, torch.cat(chunks).float().cpu().numpy())
    for m in model.modalities:  # a shared encoder's further modalities: pair_embeddings_<m>.npy
        if m == model.primary or not data.modality_values.get(m):
            continue
        model.eval()
        with torch.no_grad():
            emb = model.encode_pairs(torch.arange(len(data.modality_values[m]), device=device), modality=m)
        _save_array(out / pair_embeddings_file(m), emb.float().cpu().numpy())


def pair_embeddings_file(modality: str) -> str:
    """The run-folder file of a shared encoder's further modality's pair embeddings."""
    return f"pair_embeddings_{modality}.npy"


def table_to_json(table: Any) -> dict[str, Any]:
    """A window table as ``{"n_rows", "columns": {name: [values]}, "dtypes": {name:
    numpy dtype or "str"}}``: numbers stay numbers, text stays text, missing values
    are null (no pickle, no parquet); :func:`table_from_json` reads it back."""
    import pandas as pd

    columns: dict[str, list[Any]] = {}
    dtypes: dict[str, str] = {}
    for col in table.columns:
        values, name = table[col], str(col)
        kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "O"
        if kind in "biuf":
            dtypes[name] = str(values.dtype)
            columns[name] = [None if kind == "f" and np.isnan(v) else v.item() for v in values.to_numpy()]
        else:
            dtypes[name] = "str"
            columns[name] = [
                None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values
            ]
    return {"n_rows": int(len(table)), "columns": columns, "dtypes": dtypes}


def table_from_json(tree: dict[str, Any], path: str | os.PathLike) -> Any:
    """The window table written by :func:`table_to_json`; DataError naming ``path``
    when the JSON does not hold one."""
    import pandas as pd

    from brainalign.preprocessing.pipeline import normalise_table

    try:
        n, columns, dtypes = int(tree["n_rows"]), dict(tree["columns"]), dict(tree["dtypes"])
        if set(dtypes) != set(columns) or any(not isinstance(v, list) or len(v) != n for v in columns.values()):
            raise ValueError("columns and dtypes do not match")
        data = {}
        for col, values in columns.items():
            if dtypes[col] == "str":
                data[col] = pd.Series(values, dtype=object)
                continue
            dtype = np.dtype(dtypes[col])
            if dtype.kind not in "biuf":
                raise ValueError(f"column {col!r}: dtype {dtype} is not a number")
            data[col] = pd.Series(np.array([np.nan if v is None else v for v in values], dtype=dtype))
        table = pd.DataFrame(data, index=range(n))
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(path, f"not a window table ({type(err).__name__}: {err})") from None
    return normalise_table(table)


# ---------------------------------------------------------------------------- train
def train(
    recipe: Recipe,
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``recipe`` into the run folder ``out``; returns the final metrics."""
    out = Path(out)
    cfg = recipe.train
    device = _device(cfg.device)
    info = dist_mod.init_distributed(device)
    last = out / "checkpoints" / "last"
    checkpoint = latest_checkpoint(last)
    if info.is_main:
        if (out / "metrics.json").exists() and not resume:
            raise DataError(out, "run folder already holds a finished run; choose another --out")
        if checkpoint is not None and not resume:
            raise DataError(out, "run folder holds a checkpoint; pass --resume to continue it, or choose another --out")
        out.mkdir(parents=True, exist_ok=True)
    seed_everything(recipe.seed)
    data = build_paired_data(recipe.data, data_dir, progress=progress and info.is_main, seed=recipe.seed)
    if len(data.part("val")) == 0:
        raise ConfigError("data.split.val must give a non-empty validation part (model selection uses it)")
    spec = _spec_for(recipe, data)
    seed_everything(recipe.seed)
    model = build_model(spec).to(device)
    if device.type == "cpu":  # same functions and weights, faster CPU kernels (see utils/fastconv)
        use_fast_kernels(model)
    if model.pair_head is not None:
        if data.pair_windows is not None:
            model.set_pair_signals(np.asarray(data.pair_windows.data))
        else:
            model.set_pair_values(data.pair_values)
    for m in model.modalities:
        if m != model.primary:
            model.set_pair_values(data.modality_values[m], modality=m)
    _initialise(model, recipe)
    tm = TrainModule(model, spec["objectives"], gather=info.enabled).to(device)
    _check_extra(data, spec["objectives"], model)
    runner: nn.Module = tm
    if info.enabled:
        runner = nn.parallel.DistributedDataParallel(tm, find_unused_parameters=True)
    optimizer = torch.optim.AdamW(_param_groups(tm, cfg.lr, cfg.weight_decay))
    steps_per_epoch = max(
        1,
        len(_loader(data, "train", cfg.batch_size, True, recipe.seed, 0, info))
        + _n_extra_batches(data, cfg.batch_size, info),
    )
    scheduler = warmup_cosine(optimizer, int(cfg.warmup_epochs * steps_per_epoch), cfg.epochs * steps_per_epoch)
    contract = InputContract(
        ch_names=tuple(data.windows.ch_names),
        sfreq=data.windows.sfreq,
        n_times=data.windows.n_times,
        units=data.windows.unit,
        preprocessing=data.windows.pipeline or {},
        normalization=data.normalization,
    )
    config = {
        "brainalign_version": __version__,
        "recipe": recipe.to_dict(),
        "spec": spec,
        "contract": contract.to_dict(),
        "pair_kind": data.pair_kind,
        "pair_values": data.pair_values,
        # a shared multi-task encoder: the distinct values of every modality (recipe order)
        **({"modalities": {m: data.modality_values[m] for m in data.modalities}} if data.modalities else {}),
        "pair_contract": None
        if data.pair_windows is None
        else InputContract(
            ch_names=tuple(data.pair_windows.ch_names),
            sfreq=data.pair_windows.sfreq,
            n_times=data.pair_windows.n_times,
            units=data.pair_windows.unit,
            preprocessing=data.pair_windows.pipeline or {},
            modality=data.pair_kind,
        ).to_dict(),
        "classes": data.classes,
        "split": data.split.to_dict(),
        "data": describe(data),
        # what cuts new data into this model's windows (evaluate --dataset needs nothing else):
        # the reader (named or detected) with its parameters, and the resolved pipelines
        "reader": {"name": data.reader, "params": recipe.data.reader_params},
        "pipeline": data.windows.pipeline,
        "pair_pipeline": None if data.pair_windows is None else data.pair_windows.pipeline,
    }
    logger = RunLogger(out, enabled=info.is_main)
    state: dict[str, Any] = {"epoch": -1, "best": float("inf"), "best_epoch": -1, "bad_epochs": 0, "history": []}
    if resume and checkpoint is not None:
        _check_same_recipe(out, config["recipe"])
        state = load_checkpoint(checkpoint, tm, optimizer, scheduler)
        logger.restore(state["history"])
    if info.is_main:
        atomic_write_text(out / "config.json", json.dumps(config, indent=2, default=str))

    amp = cfg.amp and device.type == "cuda"
    bar = tqdm(
        range(state["epoch"] + 1, cfg.epochs),
        desc=f"train {recipe.name}",
        disable=not (progress and info.is_main),
        initial=state["epoch"] + 1,
        total=cfg.epochs,
    )
    for epoch in bar:
        if state["bad_epochs"] > cfg.patience:
            break
        t0 = time.perf_counter()
        tm.train()
        seen, loss_sum = 0, 0.0
        for x, pidx, lab, extra in _epoch_batches(data, cfg.batch_size, recipe.seed, epoch, info, cfg.num_workers):
            x, pidx, lab = x.to(device), pidx.to(device), lab.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                total, _, _ = runner(x, pidx, lab, extra)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(tm.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            seen += len(x)
            loss_sum += float(total.detach()) * len(x)
        row = {"epoch": epoch, "train_loss": dist_mod.all_reduce_mean(loss_sum / max(1, seen), info)}
        row.update(evaluate_part(tm, data, "val", cfg.batch_size, device))
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - t0, 2)
        improved = row["val_loss"] < state["best"] - 1e-6
        if improved:
            state.update(best=row["val_loss"], best_epoch=epoch, bad_epochs=0)
            if info.is_main:
                save_weights(tm, out / "checkpoints" / "best.safetensors")
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        logger.log(row)
        state["history"] = logger.rows
        if info.is_main:
            save_checkpoint(last, tm, optimizer, scheduler, state)
        dist_mod.barrier(info)
        bar.set_postfix(train=f"{row['train_loss']:.3f}", val=f"{row['val_loss']:.3f}")

    # ---- the selected weights, evaluated once on the test part
    dist_mod.barrier(info)
    load_weights(tm, out / "checkpoints" / "best.safetensors")
    metrics: dict[str, Any] = {
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"] + 1,
        "best_val_loss": state["best"],
    }
    metrics.update(evaluate_part(tm, data, "test", cfg.batch_size, device))
    if info.is_main:
        save_weights(model, out / "model.safetensors", metadata={"format": "brainalign", "version": __version__})
        _save_array(out / "test_embeddings.npy", embed_part(model, data, "test", cfg.batch_size, device))
        save_eval_reference(out, model, data, cfg.batch_size, device)
        if model.classifier is not None:
            write_predictions(out / "test_predictions.csv", model, data, "test", cfg.batch_size, device)
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    logger.close()
    dist_mod.cleanup(info)
    return metrics
