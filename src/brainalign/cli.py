"""The ``brainalign`` command line: a thin layer over the library.

Every sub-command accepts ``--data-dir`` (overrides ``$BRAINALIGN_DATA``). Errors
about the user's input (:class:`brainalign.errors.BrainalignError`) and paths that
cannot be read or written (:class:`OSError`) end in one line on stderr and exit
code 2, never in a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from brainalign.errors import BrainalignError, ConfigError
from brainalign.utils.console import install_warning_format

EXIT_USER_ERROR = 2


def _show_progress() -> bool:
    """Progress bars only on an interactive terminal: when stderr is piped or
    logged it must hold nothing but warning and error lines (a bar that an error
    interrupts would otherwise be left, half-drawn, before the error line)."""
    return sys.stderr.isatty()


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $BRAINALIGN_DATA, else ~/brainalign_data)",
    )


# --------------------------------------------------------------------------- datasets
def cmd_datasets(args: argparse.Namespace) -> int:
    """List every dataset that can be read, without the recordings that cannot;
    name each skipped dataset or file, and why, one line each on stderr. The exit
    code is 2 when anything was skipped; with ``--strict`` a skip is an error and
    nothing is listed."""
    from brainalign.data.catalog import scan_data_dir, skipped_files

    entries = scan_data_dir(args.data_dir, progress=not args.json and _show_progress())
    problems = skipped_files(entries)
    good = [e for e in entries if "error" not in e and (e.get("recordings") or not e.get("skipped"))]
    for line in problems:
        print(f"brainalign datasets: error: {line}", file=sys.stderr)
    if args.strict and problems:
        return EXIT_USER_ERROR
    if args.json and good:
        print(json.dumps(good, indent=2))
    elif not entries:
        print("no dataset found")
    elif good:
        cols = ["name", "reader", "subjects", "recordings", "trials", "images", "modalities"]
        _print_table(cols, [[_fmt(e.get(c, "")) for c in cols] for e in good])
    return EXIT_USER_ERROR if problems else 0


def _fmt(v: object) -> str:
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def _print_table(cols: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


# --------------------------------------------------------------------------- inspect
def cmd_inspect(args: argparse.Namespace) -> int:
    from brainalign.data.catalog import inspect_path

    rec = inspect_path(args.path)
    info = rec.summary()
    info["channels"] = [f"{n} ({t})" for n, t in zip(rec.ch_names, rec.ch_types)]
    info["metadata"] = {k: v for k, v in rec.metadata.items() if v is not None}
    if rec.text:
        info["text"] = rec.text
    if rec.trials is not None and len(rec.trials):
        info["events"] = rec.trials["label"].astype(str).value_counts().to_dict() if "label" in rec.trials else {}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(repr(rec))
        for k in ("sfreq", "n_channels", "duration_s", "n_trials", "modalities"):
            print(f"  {k:<11} {info[k]}")
        print(f"  channels    {', '.join(info['channels'])}")
        for k, v in info["metadata"].items():
            print(f"  {k:<11} {v}")
        if rec.text:
            print(f"  text        {rec.text}")
        if info.get("events"):
            print(f"  events      {info['events']}")
    if args.plot:
        from brainalign.report.figures import plot_recording

        out = plot_recording(rec, args.plot)
        print(f"plot written to {out}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- preprocess
def cmd_preprocess(args: argparse.Namespace) -> int:
    from brainalign.preprocessing.presets import run_preset

    windows, location = run_preset(args.preset, data_dir=args.data_dir, dataset=args.dataset, progress=_show_progress())
    print(
        f"{args.preset}: {windows.data.shape[0]} windows x {windows.data.shape[1]} channels x "
        f"{windows.data.shape[2]} samples at {windows.sfreq:g} Hz ({windows.unit}); cache {location}"
    )
    return 0


# --------------------------------------------------------------------------- fetch
def cmd_fetch(args: argparse.Namespace) -> int:
    from brainalign.data import fetch as fetch_mod

    if args.list or not args.name:
        for name, spec in fetch_mod.list_datasets().items():
            print(f"{name:<10} {getattr(spec, 'description', '')}")
        return 0
    path = fetch_mod.fetch(args.name, data_dir=args.data_dir, base_url=args.base_url, force=args.force)
    print(path)
    return 0


# --------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from brainalign.recipes import resolve_recipe
    from brainalign.training.recipe import load_recipe
    from brainalign.training.trainer import train

    recipe = load_recipe(resolve_recipe(args.recipe), args.set or ())
    t0 = time.perf_counter()
    metrics = train(recipe, args.out, data_dir=args.data_dir, resume=args.resume)
    scores = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))
    print(f"{recipe.name}: {scores} ({time.perf_counter() - t0:.0f} s) -> {args.out}")
    return 0


# --------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from brainalign.experiments.evaluate import evaluate_run

    results = evaluate_run(
        args.run_dir,
        data_dir=args.data_dir,
        dataset=args.dataset,
        n_boot=args.n_boot,
        n_perm=args.n_perm,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for task, metrics in results.items():
        print(task)
        for name, s in metrics.items():
            print(
                f"  {name:<26} {s['value']:.3f}  95% CI [{s['ci_low']:.3f}, {s['ci_high']:.3f}]  "
                f"p={s['p_value']:.3g}  chance={s['chance']:.3f}"
            )
    return 0


# --------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from brainalign.experiments.generate import fit_generation_heads, generate_from_run

    if args.fit_heads:
        heads = fit_generation_heads(
            args.run_dir,
            resolution=args.resolution,
            gan_steps=args.gan_steps,
            grow_steps=args.grow_steps,
            gan_time_limit_s=args.time_limit,
            text_epochs=args.text_epochs,
            text_time_limit_s=args.time_limit,
            seed=args.seed,
            log=lambda msg: print(f"brainalign generate: {msg}", file=sys.stderr),
        )
        print(f"generation heads written to {heads}", file=sys.stderr)
    summary = generate_from_run(
        args.run_dir, args.data, args.out, data_dir=args.data_dir, seed=args.seed, max_grid_trials=args.grid_trials
    )
    print(f"{summary['n_trials']} trials of {summary['data']}: {', '.join(summary['files'])} -> {args.out}")
    return 0


# --------------------------------------------------------------------------- benchmark
def cmd_benchmark(args: argparse.Namespace) -> int:
    from brainalign.experiments.benchmark import format_headline, run_real_benchmark

    t0 = time.perf_counter()
    results = run_real_benchmark(
        Path(args.out), data_dir=args.data_dir, quick=args.quick, seed=args.seed, tasks=args.tasks, jobs=args.jobs
    )
    print(format_headline(results))
    print(f"benchmark {args.suite}: {time.perf_counter() - t0:.0f} s; results.json and report.html in {args.out}")
    return 0


# --------------------------------------------------------------------------- bench
def cmd_bench(args: argparse.Namespace) -> int:
    from brainalign.experiments.bench import BENCHMARKS, format_table, run_benchmarks

    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        raise ConfigError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    rows = run_benchmarks(args.names or None, quick=args.quick)
    print(format_table(rows))
    return 0


# --------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from brainalign.experiments.demo import run_demo

    return run_demo(
        out=Path(args.out), data_dir=args.data_dir, benchmark=not args.no_benchmark, progress=_show_progress()
    )


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from brainalign import __version__

    parser = argparse.ArgumentParser(
        prog="brainalign", description="EEG representations aligned with text, images and ECG."
    )
    parser.add_argument("--version", action="version", version=f"brainalign {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list the datasets the data directory holds")
    _add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument(
        "--strict", action="store_true", help="any unreadable dataset or recording is an error: list nothing, exit 2"
    )
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("inspect", help="header, channels, rate, duration, events of a file")
    p.add_argument("path")
    p.add_argument("--plot", metavar="PNG", help="also save a plot of the signals")
    p.add_argument("--json", action="store_true")
    _add_data_dir(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("preprocess", help="run a named preprocessing preset (cached)")
    p.add_argument("preset")
    p.add_argument("--dataset", help="dataset folder name or path (default: the preset's)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser("fetch", help="download a public dataset into the data directory")
    p.add_argument("name", nargs="?")
    p.add_argument("--list", action="store_true", help="list the datasets that can be fetched")
    p.add_argument(
        "--base-url",
        default=None,
        help="mirror to download this dataset from (default: $BRAINALIGN_FETCH_BASE_URL/NAME/ when set, else upstream)",
    )
    p.add_argument("--force", action="store_true", help="download again even if present")
    _add_data_dir(p)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("train", help="train a recipe (a YAML file, or a shipped recipe's name) into a run folder")
    p.add_argument("recipe")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _add_data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="every evaluation protocol on a run folder, with CIs and p-values")
    p.add_argument("run_dir")
    p.add_argument("--dataset", help="score every window of another folder in the training data's layout")
    p.add_argument(
        "--json", action="store_true", help="print {task: {metric: {value, ci_low, ci_high, p_value, chance}}}"
    )
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--n-perm", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    _add_data_dir(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("generate", help="images and sentences generated from a trained run's EEG embeddings")
    p.add_argument("run_dir", help="a run folder of `brainalign train` paired with images or text")
    p.add_argument(
        "--data", default="test", help="the run's split to encode (test, val, train) or a folder in its data's layout"
    )
    p.add_argument("--out", required=True, help="folder to write (must not exist or be empty)")
    p.add_argument(
        "--fit-heads",
        action="store_true",
        help="first train the generation heads (GAN / text decoder) into RUN/generation",
    )
    p.add_argument("--resolution", type=int, default=32, help="generator resolution in pixels (with --fit-heads)")
    p.add_argument("--gan-steps", type=int, default=2000, help="GAN training steps (with --fit-heads)")
    p.add_argument(
        "--grow-steps",
        type=int,
        default=0,
        help="first train this many GAN steps at half the resolution, then grow (with --fit-heads; e.g. 64 px)",
    )
    p.add_argument("--text-epochs", type=int, default=12, help="text decoder epochs (with --fit-heads)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds at most for each head (with --fit-heads)")
    p.add_argument("--grid-trials", type=int, default=64, help="trials drawn in the image grids")
    p.add_argument("--seed", type=int, default=0)
    _add_data_dir(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("benchmark", help="train and evaluate every task on the real data, with baselines and controls")
    p.add_argument("suite", choices=["real"])
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true", help="small budget (fewer folds and epochs), for demos")
    p.add_argument(
        "--tasks",
        nargs="+",
        default=None,
        help="run only these tasks; 'all' adds the slow eegmat_text and fusion studies to the default set",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="tasks run at once, each in its own process (default 1)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("bench", help="performance benchmarks, each with its comparator measured in the same run")
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", help="the main job: summarise every dataset, then a quick benchmark")
    p.add_argument("--out", default="demo_out")
    p.add_argument("--no-benchmark", action="store_true", help="only summarise the datasets")
    _add_data_dir(p)
    p.set_defaults(func=cmd_demo)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    install_warning_format()
    import mne

    mne.set_log_level("WARNING")
    t0 = time.perf_counter()
    try:
        return int(args.func(args) or 0)
    except BrainalignError as err:
        print(f"brainalign {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as err:  # an output path the user gave cannot be written: a file in the way, no space...
        where = f"{err.filename}: {err.strerror}" if err.filename is not None else str(err)
        print(f"brainalign {args.command}: error: {where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"brainalign {args.command}: interrupted after {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
