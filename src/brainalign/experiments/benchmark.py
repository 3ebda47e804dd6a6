"""``brainalign benchmark real``: train and evaluate on the shared recordings, in one run.

Every task is trained with its recipe, scored with the protocols of
:mod:`brainalign.evaluation.protocols`, and shown beside baselines measured in the
same run on the same splits (chance, classical pipelines, the same kind of
encoder trained supervised with braindecode's EEGClassifier) and controls
(shuffled pairing, block design). Cross-validated tasks pool out-of-fold
predictions, so every subject (or trial) is tested exactly once.

Tasks (the issue's numbering):

1. ``eegmat_text`` / ``eegmat_text_spectral``: EEG-text on eegmat with Deep4 and
   with the spectral encoder, subject-disjoint folds; rest vs arithmetic (both), sex
   and counting quality (Deep4) from text prompts; few-shot curve.
2. ``n170_image_loso`` / ``n170_image_within``: EEG-image on the N170 set,
   faces vs houses from image prototypes, retrieval of the stimulus class;
   subjects left out, and within subject (session-disjoint where sessions exist).
3. ``n170_triplet`` / ``eegmmidb_triplet``: semi-hard triplet embeddings; k-means,
   SVM, kNN; EEGMMIDB left vs right fist, run-disjoint both ways (executed ->
   imagined and back, 30 test trials pooled); shuffled-label controls.
4. ``n400_text``: EEG-text with the word pairs; related vs unrelated, trial-disjoint
   folds; the text tower's own cue-association similarity as a (non-EEG) reference.
5. ``eegmat_fusion``: masked pretraining and EEG+ECG fusion (issue 5).
6. ``fusion_fair``: EEG+ECG fusion on eegmat under the fair protocol of issue 10 (band power,
   HR/HRV, both; calibration-block normalisation as the headline, training statistics and
   the transductive variant beside it).
7. ``multidataset_text``: one text-aligned encoder across eegmat, EEGMMIDB, SMNI and P300
   against per-dataset encoders; ``muse_pretrain``: masked pre-training on unlabelled
   Muse recordings, fine-tuned on P300 and N170, against scratch (issue 10).
8. ``generation`` (``n170_generation``, ``eegmat_text_generation``): images and
   sentences generated from held-out EEG, with shuffled-EEG, noise and true-class
   controls (issue 11).
9. ``eegmat_fair`` / ``p300_fair`` / ``smni_fair``: issue 10's fair protocol (compact
   aligned heads on fixed front ends, :mod:`brainalign.experiments.fair`): aligned zero-shot
   beside the best classical pipeline and the same network trained on labels, on the same
   folds and normalisation; shuffled-text controls; paired subject-bootstrap differences.
   Non-transductive normalisation in the headline, transductive variants beside, labelled.
   ``smni_fair`` also reports the SMNI stimulus condition (``smni_condition``: S1 vs S2 and
   the three conditions from text, the ``erp`` encoder beside ERP + LR).
10. ``shared_encoder`` (``shared_encoder_within`` / ``shared_encoder_loso``): one NICE
    encoder with image and text CLIP heads against the image-only and text-only encoders
    and the same encoder trained on labels, N170 faces vs houses, within subject and
    subject-disjoint, beside ERP + LR and xDAWN + LR (pooled and per subject); paired
    differences (issue 11, :mod:`brainalign.experiments.shared_encoder`).

``benchmark real`` runs :data:`DEFAULT_TASKS`: every task but ``eegmat_text`` and ``fusion``
(:data:`EXTENDED_TASKS`), which take as long as all the others together; ``--tasks all`` adds them.

Results: ``results.json`` (``{"meta", "tasks": {task: {"metrics": {metric:
{value, ci_low, ci_high, p_value, chance}}, "baselines", "controls", "figures",
"notes", optionally "references"}}}``) and ``report.html``. Baselines are measured
once per data set-up and split (recipes that differ only in the model share them).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from brainalign import __version__
from brainalign.config import data_dir as resolve_data_dir
from brainalign.errors import DataError
from brainalign.experiments.budgets import FULL, QUICK, Budget
from brainalign.experiments.common import Bench
from brainalign.experiments.tasks.eegmat_fair import task_eegmat_fair
from brainalign.experiments.tasks.eegmat_text import task_eegmat_text
from brainalign.experiments.tasks.fusion import task_fusion
from brainalign.experiments.tasks.fusion_fair import task_fusion_fair
from brainalign.experiments.tasks.generation import task_generation
from brainalign.experiments.tasks.multidata import task_multidataset_text, task_muse_pretrain
from brainalign.experiments.tasks.n170_image import task_n170_image
from brainalign.experiments.tasks.n400_text import task_n400_text
from brainalign.experiments.tasks.p300_fair import task_p300_fair
from brainalign.experiments.tasks.shared_encoder import task_shared_encoder
from brainalign.experiments.tasks.smni_fair import task_smni_fair
from brainalign.experiments.tasks.triplet import task_triplet
from brainalign.results import BenchmarkResult, TaskResult
from brainalign.utils.io import atomic_write_text

__all__ = [
    "DEFAULT_TASKS",
    "EXTENDED_TASKS",
    "TASKS",
    "TASK_SECONDS",
    "format_headline",
    "headline_rows",
    "run_real_benchmark",
    "submission_order",
]

#: the benchmark's task table: name -> the function that runs it
TASKS: dict[str, Callable[[Bench], dict[str, TaskResult]]] = {
    "eegmat_text": task_eegmat_text,
    "n170_image": task_n170_image,
    "triplet": task_triplet,
    "n400_text": task_n400_text,
    "fusion": task_fusion,
    "fusion_fair": task_fusion_fair,
    "multidataset_text": task_multidataset_text,
    "muse_pretrain": task_muse_pretrain,
    "generation": task_generation,
    "eegmat_fair": task_eegmat_fair,
    "p300_fair": task_p300_fair,
    "smni_fair": task_smni_fair,
    "shared_encoder": task_shared_encoder,
}


#: Tasks that ``benchmark real`` leaves out unless asked for (``--tasks all`` or by name):
#: the two slowest studies, each superseded for its headline by a fair-protocol task.
#: ``eegmat_text`` (Deep4 on raw 2 s windows, 16 trainings and a 4-fold Deep4 EEGClassifier
#: baseline; 3287 s in the --jobs 2 run) is eegmat_fair's raw-waveform counterpart, and
#: ``fusion`` (issue 5's masked pre-training, 4 folds x 7 trainings; 2211 s) gives
#: fusion_fair's question a pre-training answer. Together they would double the run.
EXTENDED_TASKS: tuple[str, ...] = ("eegmat_text", "fusion")
#: What ``benchmark real`` runs by default: every task but :data:`EXTENDED_TASKS`.
DEFAULT_TASKS: tuple[str, ...] = tuple(n for n in TASKS if n not in EXTENDED_TASKS)

#: Wall seconds of each task at the FULL budget in one ``--jobs 2`` run on the 2-core machine
#: (README, "Evaluation"). Only the order matters: ``--jobs`` starts the longest tasks first,
#: so that no long task starts last while the other workers idle. Unlisted tasks start last.
TASK_SECONDS: dict[str, float] = {
    "eegmat_text": 3287,
    "fusion": 2211,
    "n170_image": 480,
    "fusion_fair": 466,
    "triplet": 430,
    "shared_encoder": 416,
    "p300_fair": 397,
    "smni_fair": 287,
    "multidataset_text": 211,
    "eegmat_fair": 203,
    "muse_pretrain": 141,
    "generation": 140,
    "n400_text": 38,
}


def submission_order(names: list[str]) -> list[str]:
    """``names`` longest first by :data:`TASK_SECONDS` (ties keep their order)."""
    return sorted(names, key=lambda n: -TASK_SECONDS.get(n, 0.0))


def _run_task(
    name: str, out: Path, data_dir: str | os.PathLike | None, budget: Budget, seed: int, threads: int
) -> tuple[dict[str, TaskResult], float]:
    """One task in a worker process (``--jobs``): its own Bench, ``threads`` torch threads;
    its results and wall seconds."""
    import mne
    import torch
    from threadpoolctl import threadpool_limits

    mne.set_log_level("ERROR")
    torch.set_num_threads(threads)
    t = time.perf_counter()
    print(f"- {name} ... (worker {os.getpid()})", flush=True)
    # numpy's BLAS and OpenMP pools too, not only torch's: the workers share the cores
    with threadpool_limits(limits=threads):
        results = TASKS[name](Bench(out, data_dir, budget, seed, print))
    seconds = time.perf_counter() - t
    print(f"  {name} done in {seconds:.0f} s", flush=True)
    return results, seconds


def run_real_benchmark(
    out: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    quick: bool = False,
    seed: int = 0,
    tasks: list[str] | None = None,
    log: Callable[[str], None] = print,
    jobs: int = 1,
    budget: Budget | None = None,
) -> BenchmarkResult:
    """Run the benchmark; writes ``results.json`` (after every task) and ``report.html`` in ``out``.

    ``tasks``: names of :data:`TASKS`, ``["all"]`` for every one, or None for
    :data:`DEFAULT_TASKS` (all but the slow :data:`EXTENDED_TASKS`).

    ``jobs`` > 1 runs that many tasks at once, each in its own process with
    ``cpu_count // jobs`` torch threads (tasks are independent; every task's numbers are
    the same as in a serial run, its wall time is not), starting the longest first
    (:func:`submission_order`); ``results.json`` keeps the task order asked for, and its
    ``meta.task_seconds`` each task's wall time. ``budget`` replaces the one ``quick``
    chooses (the demo's)."""
    import mne
    import torch

    from brainalign.report.html import write_report

    mne.set_log_level("ERROR")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resolve_data_dir(data_dir)
    names = list(TASKS) if tasks is not None and list(tasks) == ["all"] else list(tasks or DEFAULT_TASKS)
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise DataError(None, f"unknown benchmark task {unknown[0]!r}; choose from {sorted(TASKS)}")
    if jobs < 1:
        raise DataError(None, f"jobs must be at least 1, got {jobs}")
    budget = budget or (QUICK if quick else FULL)
    bench = Bench(out, data_dir, budget, seed, log)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    t0 = time.perf_counter()
    results = BenchmarkResult(
        meta={
            "brainalign_version": __version__,
            "seed": seed,
            "quick": quick,
            "data_dir": str(resolve_data_dir(data_dir)),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    results.meta["jobs"] = jobs
    task_seconds: dict[str, float] = {}

    def save() -> None:
        results.meta["task_seconds"] = {n: round(task_seconds[n], 1) for n in names if n in task_seconds}
        results.meta["seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_text(out / "results.json", json.dumps(results.to_dict(), indent=2, default=_json_default))

    if jobs == 1:
        for name in names:
            t = time.perf_counter()
            log(f"- {name} ...")
            results.tasks.update(TASKS[name](bench))
            task_seconds[name] = time.perf_counter() - t
            log(f"  {name} done in {task_seconds[name]:.0f} s")
            save()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        threads = max(1, (os.cpu_count() or 1) // jobs)
        done: dict[str, dict[str, TaskResult]] = {}
        # spawn, not fork: the parent's torch/OpenMP thread pools must not be copied into workers
        from brainalign.utils.console import install_warning_format

        # the initializer runs before a worker imports the tasks (and braindecode with them)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=spawn, initializer=install_warning_format) as pool:
            futures = {
                pool.submit(_run_task, n, out, data_dir, budget, seed, threads): n for n in submission_order(names)
            }
            for fut in as_completed(futures):
                done[futures[fut]], task_seconds[futures[fut]] = fut.result()
                results.tasks = {k: v for n in names if n in done for k, v in done[n].items()}
                save()
    write_report(results, out, base_dir=out)
    return results


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def headline_rows(results: BenchmarkResult | dict[str, Any]) -> list[list[str]]:
    """One row per task: primary metric, value [CI], p, chance, best baseline."""
    if not isinstance(results, BenchmarkResult):
        results = BenchmarkResult.from_dict(results)
    rows = []
    for task, r in results.tasks.items():
        m = r.primary_metric or next(iter(r.metrics))
        s = r.metrics.get(m)
        if s is None:
            continue
        bm = r.baseline_metric if r.primary_metric else m
        best = max(
            ((n, v.get(bm)) for n, v in r.baselines.items() if v.get(bm) is not None and n != "chance"),
            key=lambda t: t[1],
            default=("-", None),
        )
        rows.append(
            [
                task,
                m,
                f"{s.value:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]",
                f"{s.p_value:.3g}",
                f"{s.chance:.3f}",
                f"{best[0]} {best[1]:.3f}" if best[1] is not None else "-",
            ]
        )
    return rows


HEADLINE_COLUMNS = ["task", "metric", "model [95% CI]", "p", "chance", "best baseline"]


def format_headline(results: BenchmarkResult | dict[str, Any]) -> str:
    """The headline table as aligned text (what ``benchmark`` and ``demo`` print)."""
    rows = headline_rows(results)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(HEADLINE_COLUMNS)] if rows else []
    lines = ["  ".join(c.ljust(w) for c, w in zip(HEADLINE_COLUMNS, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines) if rows else "no task result"
