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
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from brainalign import __version__
from brainalign.errors import ConfigError, DataError
from brainalign.models.contract import InputContract
from brainalign.objectives.loss import (
    ClipLoss,
    CrossEntropy,
    MaskedReconstructionLoss,
    SemiHardTripletLoss,
    SigLipLoss,
)
from brainalign.training import distributed as dist_mod
from brainalign.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from brainalign.training.data import BatchLoader, PairedData, batch_loader, build_paired_data, describe
from brainalign.training.model import AlignedModel, build_model, model_spec
from brainalign.training.recipe import Recipe
from brainalign.training.runlog import RunLogger
from brainalign.training.schedule import warmup_cosine
from brainalign.utils.fastconv import use_fast_kernels
from brainalign.utils.io import atomic_path, atomic_write_text

#: objective name -> (loss class, what it compares)
OBJECTIVES: dict[str, tuple[type[nn.Module], str]] = {
    "clip": (ClipLoss, "pairs"),
    "siglip": (SigLipLoss, "pairs"),
    "triplet": (SemiHardTripletLoss, "labels"),
    "ce": (CrossEntropy, "logits"),
    "masked": (MaskedReconstructionLoss, "masked"),
}


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
        self.weights: dict[str, float] = {}
        losses = {}
        for obj in objectives:
            name = obj["name"]
            if name not in OBJECTIVES:
                raise ConfigError(f"objectives: unknown objective {name!r}; choose from {sorted(OBJECTIVES)}")
            cls, kind = OBJECTIVES[name]
            kwargs = dict(obj.get("kwargs", {}))
            if kind == "pairs":
                if model.pair_head is None:
                    raise ConfigError(f"objective {name!r} needs a paired tower (model.pair.name)")
                kwargs.setdefault("gather", gather)
            if kind == "logits" and model.classifier is None:
                raise ConfigError(f"objective {name!r} needs class labels")
            if kind == "masked" and not hasattr(model.eeg_encoder, "forward_mae"):
                raise ConfigError(f"objective {name!r} needs a masked-autoencoder encoder (e.g. model.eeg.name: mae)")
            losses[name] = cls(**kwargs)
            self.kinds[name] = kind
            self.weights[name] = float(obj.get("weight", 1.0))
        if not losses:
            raise ConfigError("objectives: at least one objective is required")
        self.losses = nn.ModuleDict(losses)

    def forward(
        self, x: torch.Tensor, pair_index: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        z = self.model.encode_eeg(x)
        parts: dict[str, torch.Tensor] = {}
        labelled = labels >= 0
        for name, loss in self.losses.items():
            kind = self.kinds[name]
            if kind == "pairs":
                valid = pair_index >= 0
                p = self.model.encode_pairs(pair_index.clamp_min(0))
                parts[name] = loss(z, p, valid=valid, pair_ids=pair_index)
            elif kind == "labels":
                parts[name] = loss(z[labelled], labels[labelled])
            elif kind == "masked":
                parts[name] = loss(*self.model.eeg_encoder.forward_mae(x))
            else:
                feats = self.model.classifier_input(z, pair_index)
                parts[name] = loss(self.model.classifier(feats[labelled]), labels[labelled])
        total = sum(self.weights[n] * v for n, v in parts.items())
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


def _loader(data: PairedData, part: str, batch_size: int, shuffle: bool, seed: int, epoch: int,
            info: dist_mod.DistInfo) -> BatchLoader:
    """Batches of one part. Each batch is one gather from the window array
    (:class:`~brainalign.training.data.BatchLoader`); order and random draws are
    those of a per-item ``DataLoader(ds, batch_size, shuffle, generator)``."""
    ds = data.dataset(part)
    if info.enabled:
        sampler = DistributedSampler(ds, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle,
                                     seed=seed, drop_last=shuffle)
        sampler.set_epoch(epoch)
        return batch_loader(ds, sampler, batch_size, drop_last=shuffle)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    # drop a last batch of one: contrastive and triplet losses need two samples
    drop_last = shuffle and len(ds) % batch_size == 1
    sampler = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
    return batch_loader(ds, sampler, batch_size, drop_last=drop_last, generator=gen)


@torch.no_grad()
def embed_part(model: AlignedModel, data: PairedData, part: str, batch_size: int, device: torch.device) -> np.ndarray:
    """Shared-space EEG embeddings of one split part, in split order."""
    model.eval()
    out = []
    for x, _, _, _ in _loader(data, part, batch_size, False, 0, 0, dist_mod.DistInfo()):
        out.append(model.encode_eeg(x.to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.eeg_head.net[-1].out_features), np.float32)


@torch.no_grad()
def evaluate_part(tm: TrainModule, data: PairedData, part: str, batch_size: int, device: torch.device) -> dict[str, float]:
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
            pidx = pidx.to(device)
            total, _, z = tm(x.to(device), pidx, lab.to(device))
            losses.append((float(total), len(x)))
            embs.append(z.float().cpu())
            if tm.model.classifier is not None:  # from the same pass's embeddings, not a second pass
                logits.append(tm.model.classifier(tm.model.classifier_input(z, pidx)).float().cpu())
    z = torch.cat(embs)
    out = {f"{part}_loss": sum(v * n for v, n in losses) / max(1, sum(n for _, n in losses))}
    if tm.model.classifier is not None:  # supervised / fusion: the classifier's own predictions
        y = data.labels[idx]
        pred = torch.cat(logits).argmax(dim=1).numpy()
        known = y >= 0
        out[f"{part}_bacc"] = float(balanced_accuracy_score(y[known], pred[known]))
        out[f"{part}_bacc_chance"] = 1.0 / max(1, len(np.unique(y[known])))
    elif data.pair_kind == "none":
        pass  # self-supervised: the validation loss is the score
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
    encoder = create_encoder(enc.name, n_chans=w.n_channels, n_times=w.n_times, sfreq=w.sfreq,
                             emb_dim=enc.emb_dim, ch_names=list(w.ch_names), **enc.kwargs)
    tower = None
    if recipe.data.pair not in ("label", "none"):
        t = recipe.model.pair
        if not t.name:
            raise ConfigError(f"model.pair.name is required when data.pair is {recipe.data.pair}")
        if recipe.data.pair == "ecg":  # the paired signal gets an encoder of its own from the registry
            pw = data.pair_windows
            ecg = create_encoder(t.name, n_chans=pw.n_channels, n_times=pw.n_times, sfreq=pw.sfreq,
                                 ch_names=list(pw.ch_names), **t.kwargs)
            tower = {"name": "signal", "encoder": ecg.encoder_config(), "trainable": t.trainable,
                     "lr_factor": t.lr_factor}
        else:
            tower = {"name": t.name, "trainable": t.trainable, "lr_factor": t.lr_factor, "kwargs": dict(t.kwargs)}
    uses_ce = any(o.name == "ce" for o in recipe.objectives)
    head = dataclasses.asdict(recipe.model.head)
    spec = model_spec(encoder.encoder_config(), head, tower, len(data.classes) if uses_ce else None)
    spec["objectives"] = [dataclasses.asdict(o) for o in recipe.objectives]
    fusion = recipe.model.fusion
    if fusion not in ("eeg", "pair", "concat"):
        raise ConfigError(f"model.fusion: {fusion!r} is not one of eeg, pair, concat")
    if fusion != "eeg" and tower is None:
        raise ConfigError(f"model.fusion: {fusion} needs a paired signal (data.pair: ecg)")
    spec["fusion"] = fusion
    return spec


def _check_same_recipe(out: Path, recipe: dict[str, Any]) -> None:
    """--resume continues a run only with the recipe it was started with."""
    try:
        before = json.loads((out / "config.json").read_text())["recipe"]
    except (OSError, ValueError, KeyError):
        raise DataError(out / "config.json", "cannot read the recipe this run was started with") from None
    now = json.loads(json.dumps(recipe, default=str))

    def diff(a: Any, b: Any, prefix: str = "") -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in sorted(set(a) | set(b)) for d in diff(a.get(k), b.get(k), f"{prefix}{k}.")]
        return [] if a == b else [prefix.rstrip(".")]

    changed = diff(before, now)
    if changed:
        raise DataError(out, f"--resume with a different recipe than the run was started with "
                             f"(changed: {', '.join(changed[:5])})")


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
    tower = tm.model.pair_tower
    tower_params = {id(p) for p in tower.parameters()} if tower is not None else set()
    main = [p for p in tm.parameters() if p.requires_grad and id(p) not in tower_params]
    groups = [{"params": main, "lr": lr, "weight_decay": weight_decay, "name": "eeg"}]
    trainable_tower = [p for p in (tower.parameters() if tower is not None else []) if p.requires_grad]
    if trainable_tower:
        groups.append({"params": trainable_tower, "lr": lr * tower.lr_factor, "weight_decay": weight_decay,
                       "name": "pair_tower"})
    return groups


# ---------------------------------------------------------------------------- train
def train(recipe: Recipe, out: str | os.PathLike, data_dir: str | os.PathLike | None = None,
          resume: bool = False, progress: bool = True) -> dict[str, Any]:
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
    _initialise(model, recipe)
    tm = TrainModule(model, spec["objectives"], gather=info.enabled).to(device)
    runner: nn.Module = tm
    if info.enabled:
        runner = nn.parallel.DistributedDataParallel(tm, find_unused_parameters=True)
    optimizer = torch.optim.AdamW(_param_groups(tm, cfg.lr, cfg.weight_decay))
    steps_per_epoch = max(1, len(_loader(data, "train", cfg.batch_size, True, recipe.seed, 0, info)))
    scheduler = warmup_cosine(optimizer, int(cfg.warmup_epochs * steps_per_epoch), cfg.epochs * steps_per_epoch)
    contract = InputContract(ch_names=tuple(data.windows.ch_names), sfreq=data.windows.sfreq,
                             n_times=data.windows.n_times, units=data.windows.unit,
                             preprocessing=data.windows.pipeline or {})
    config = {
        "brainalign_version": __version__,
        "recipe": recipe.to_dict(),
        "spec": spec,
        "contract": contract.to_dict(),
        "pair_kind": data.pair_kind,
        "pair_values": data.pair_values,
        "pair_contract": None if data.pair_windows is None else InputContract(
            ch_names=tuple(data.pair_windows.ch_names), sfreq=data.pair_windows.sfreq,
            n_times=data.pair_windows.n_times, units=data.pair_windows.unit,
            preprocessing=data.pair_windows.pipeline or {}, modality=data.pair_kind).to_dict(),
        "classes": data.classes,
        "split": data.split.to_dict(),
        "data": describe(data),
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
    bar = tqdm(range(state["epoch"] + 1, cfg.epochs), desc=f"train {recipe.name}", disable=not (progress and info.is_main),
               initial=state["epoch"] + 1, total=cfg.epochs)
    for epoch in bar:
        if state["bad_epochs"] > cfg.patience:
            break
        t0 = time.perf_counter()
        tm.train()
        seen, loss_sum = 0, 0.0
        for x, pidx, lab, _ in _loader(data, "train", cfg.batch_size, True, recipe.seed, epoch, info):
            x, pidx, lab = x.to(device), pidx.to(device), lab.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                total, _, _ = runner(x, pidx, lab)
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
    metrics: dict[str, Any] = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"] + 1,
                               "best_val_loss": state["best"]}
    metrics.update(evaluate_part(tm, data, "test", cfg.batch_size, device))
    if info.is_main:
        save_weights(model, out / "model.safetensors", metadata={"format": "brainalign", "version": __version__})
        with atomic_path(out / "test_embeddings.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, embed_part(model, data, "test", cfg.batch_size, device))
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    logger.close()
    dist_mod.cleanup(info)
    return metrics
