"""The benchmark report: one self-contained HTML page built from ``results.json``.

:func:`write_report` turns the benchmark's results (a dict, or the path of the
``results.json`` the benchmark writes) into ``out_dir/report.html``:

* a headline table with, per task, its primary metric (``primary_metric`` when the
  task names one, else its first metric) with 95 % interval, p-value and chance, the
  best baseline on that metric, whether the model beats it, and whether the task's
  controls passed;
* one section per task: description, evaluation protocol, every metric, the
  baselines, the controls (the shuffled-pairing and noise-input controls must sit at
  chance, the block-design control must not be confounded; a failure is flagged in
  red), notes and figures;
* for a task with generation outputs (``generation`` in its results): each trial's
  generated image beside real stimuli of its class (the task's image grids), the
  generated sentences beside their references, and the quality measures
  (``fd_effnet`` beside its real-vs-real floor, diversity, BLEU...).

Figures are embedded as base64 data URIs so the page can be mailed on its own; a
figure whose file is missing or is not an image is reported in the page instead.
All text from the results is HTML-escaped. The page is written atomically.

Every metric is taken to be higher-is-better (as everywhere in
:mod:`brainalign.evaluation`). A score is marked green when it is above chance at
p < 0.05, grey otherwise.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from brainalign import __version__
from brainalign.errors import DataError
from brainalign.results import BenchmarkResult
from brainalign.utils.io import atomic_write_text

__all__ = ["write_report", "REPORT_NAME"]

REPORT_NAME = "report.html"
SIGNIFICANCE = 0.05
_MAX_RESULTS_BYTES = 64 << 20

# Known figures, in the order a reader wants them, with what they show.
_FIGURE_CAPTIONS = {
    "scores": "Scores with 95 % intervals, baselines as markers, chance as dashed lines.",
    "umap": "Map of the test-set EEG embeddings, coloured by class.",
    "confusion": "Confusion matrix: colour is the fraction of each true class, numbers are trial counts.",
    "retrieval": "Top retrieved stimuli per EEG query: green frame = correct class, red = wrong class.",
    "few_shot": "Label efficiency: score against the fraction of training labels used.",
    "training": "Training curves: losses and validation metrics per epoch.",
    "topomap": "Scalp map of one value per channel.",
    "by_group": "Score per group (time window, channel group or frequency band).",
}

_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.3rem;margin-bottom:.3rem}
h3{font-size:1.05rem;margin:1.2rem 0 .3rem}h4{font-size:.95rem;margin:.8rem 0 .2rem}
.meta,.legend{color:#57606a;font-size:.88rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{padding:.3rem .65rem;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
tbody tr:nth-child(even){background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
#headline{font-size:.85em}
td.best{font-weight:700}
.dot{display:inline-block;width:.65em;height:.65em;border-radius:50%;margin-right:.4em}
.dot.sig{background:#2da44e}.dot.ns{background:#afb8c1}
.ok{color:#1a7f37}.warn{color:#cf222e;font-weight:600}
.missing{border:1px dashed #cf222e;background:#fff5f5;color:#a40e26;padding:.4rem .6rem;margin:.5rem 0;font-size:.9rem}
section.task{border-top:2px solid #d8dee4;margin-top:2.2rem;padding-top:.4rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure{margin:0;flex:1 1 480px;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.83rem;color:#57606a}
code{font-size:.85em;background:#f6f8fa;padding:0 .2em}
""".strip()


class _Reader:
    """Checked access to the results, so that a malformed entry raises DataError
    naming the results file (when known) and the entry, instead of a KeyError."""

    def __init__(self, source: Path | None):
        self.source = source

    def fail(self, where: str, problem: str) -> DataError:
        return DataError(self.source, f"{where}: {problem}")

    def mapping(self, obj: Any, where: str) -> Mapping[str, Any]:
        """``obj`` as a mapping; ``None`` (an absent optional part) is an empty one."""
        if obj is None:
            return {}
        if not isinstance(obj, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(obj).__name__}")
        return obj

    def number(self, obj: Any, where: str) -> float | None:
        """A float, or ``None`` when absent; NaN stays NaN (shown as a dash)."""
        if obj is None:
            return None
        if isinstance(obj, bool) or not isinstance(obj, (int, float)):
            raise self.fail(where, f"expected a number, got {obj!r}")
        return float(obj)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _known(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _fmt(x: float | None) -> str:
    """Three decimals; a dash when unknown."""
    return f"{x:.3f}" if _known(x) else "—"


def _fmt_p(p: float | None) -> str:
    if not _known(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _fmt_ci(low: float | None, high: float | None) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]" if _known(low) or _known(high) else "—"


def _significant(value: float | None, p: float | None, chance: float | None) -> bool:
    """Above chance at p < 0.05; unknown parts mean not shown to be significant."""
    return _known(value) and _known(p) and _known(chance) and p < SIGNIFICANCE and value > chance


def _dot(significant: bool) -> str:
    if significant:
        return '<span class="dot sig" title="above chance, p &lt; 0.05"></span>'
    return '<span class="dot ns" title="not above chance at p &lt; 0.05"></span>'


def _td(text: Any, *, num: bool = False, raw: str = "", cls: str = "") -> str:
    """A table cell: escaped ``text`` (after optional trusted ``raw`` markup)."""
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{raw}{_esc(text)}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int], *, id_: str = "") -> str:
    """A table of pre-rendered rows; the headers of the ``numeric`` columns are right-aligned
    like their cells."""
    head = "".join(
        f'<th class="num">{_esc(h)}</th>' if i in numeric else f"<th>{_esc(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    attr = f' id="{_esc(id_)}"' if id_ else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Score:
    """One metric entry of the results: value, interval, p-value, chance."""

    def __init__(self, reader: _Reader, obj: Any, where: str):
        entry = reader.mapping(obj, where)
        self.value = reader.number(entry.get("value"), f"{where}.value")
        self.ci_low = reader.number(entry.get("ci_low"), f"{where}.ci_low")
        self.ci_high = reader.number(entry.get("ci_high"), f"{where}.ci_high")
        self.p_value = reader.number(entry.get("p_value"), f"{where}.p_value")
        self.chance = reader.number(entry.get("chance"), f"{where}.chance")

    @property
    def significant(self) -> bool:
        return _significant(self.value, self.p_value, self.chance)

    def cells(self, marker: bool = True) -> list[str]:
        """Value (with its significance marker unless ``marker`` is false), interval,
        p-value and chance cells."""
        return [
            _td(_fmt(self.value), num=True, raw=_dot(self.significant) if marker else ""),
            _td(_fmt_ci(self.ci_low, self.ci_high), num=True),
            _td(_fmt_p(self.p_value), num=True),
            _td(_fmt(self.chance), num=True),
        ]


def _best_baseline(reader: _Reader, baselines: Mapping[str, Any], metric: str, where: str) -> tuple[str, float] | None:
    """Name and value of the highest-scoring baseline on ``metric``, if any reports it."""
    best: tuple[str, float] | None = None
    for name, scores in baselines.items():
        if name == "chance":  # shown in its own column
            continue
        value = reader.number(reader.mapping(scores, f"{where}.{name}").get(metric), f"{where}.{name}.{metric}")
        if _known(value) and (best is None or value > best[1]):
            best = (str(name), value)
    return best


def _beats(score: _Score, best: tuple[str, float] | None) -> str:
    if best is None or not _known(score.value):
        return "—"
    if score.value <= best[1]:
        return "no"
    return "yes, CI above" if _known(score.ci_low) and score.ci_low > best[1] else "yes"


def _control_problems(reader: _Reader, controls: Mapping[str, Any], where: str) -> list[str]:
    """The failed controls of a task: shuffled-pairing scores above chance, a confounded block design."""
    problems = []
    shuffled = reader.mapping(controls.get("shuffled_pairing"), f"{where}.shuffled_pairing")
    leaks = [
        str(m) for m, entry in shuffled.items() if _Score(reader, entry, f"{where}.shuffled_pairing.{m}").significant
    ]
    if leaks:
        problems.append(f"shuffled pairing above chance ({', '.join(leaks)})")
    noise = reader.mapping(controls.get("noise_input"), f"{where}.noise_input")
    noisy = [str(m) for m, entry in noise.items() if _Score(reader, entry, f"{where}.noise_input.{m}").significant]
    if noisy:
        problems.append(f"noise input above chance ({', '.join(noisy)})")
    if reader.mapping(controls.get("block_design"), f"{where}.block_design").get("confounded"):
        problems.append("block design confounded")
    return problems


def _controls_cell(reader: _Reader, controls: Mapping[str, Any], where: str) -> str:
    if not controls:
        return _td("none run")
    problems = _control_problems(reader, controls, where)
    return f'<td class="warn">{_esc("; ".join(problems))}</td>' if problems else '<td class="ok">passed</td>'


def _primary_metric(reader: _Reader, task: Mapping[str, Any], metrics: Mapping[str, Any], where: str) -> str | None:
    name = task.get("primary_metric")
    if name is None:
        return next(iter(metrics), None)
    if name not in metrics:
        raise reader.fail(where, f"primary_metric {name!r} is not among its metrics {sorted(metrics)}")
    return str(name)


def _headline(reader: _Reader, tasks: Mapping[str, Any]) -> str:
    rows = []
    for i, (name, task) in enumerate(tasks.items()):
        where = f"tasks.{name}"
        task = reader.mapping(task, where)
        metrics = reader.mapping(task.get("metrics"), f"{where}.metrics")
        link = f'<a href="#task-{i}">{_esc(name)}</a>'
        controls_where = f"{where}.controls"
        controls = _controls_cell(reader, reader.mapping(task.get("controls"), controls_where), controls_where)
        metric = _primary_metric(reader, task, metrics, where)
        if metric is None:
            rows.append([f"<td>{link}</td>", _td("no metrics")] + [_td("—")] * 6 + [controls])
            continue
        score = _Score(reader, metrics[metric], f"{where}.metrics.{metric}")
        # baselines may report the primary metric under another name (``baseline_metric``,
        # e.g. a probe's "svm_bacc" against the baselines' "balanced_accuracy")
        best = _best_baseline(
            reader,
            reader.mapping(task.get("baselines"), f"{where}.baselines"),
            str(task.get("baseline_metric", metric)),
            f"{where}.baselines",
        )
        model = f"{_fmt(score.value)} {_fmt_ci(score.ci_low, score.ci_high)}"
        rows.append(
            [
                f"<td>{link}</td>",
                _td(metric),
                _td(model, num=True, raw=_dot(score.significant)),
                _td(_fmt_p(score.p_value), num=True),
                _td(_fmt(score.chance), num=True),
                _td(best[0] if best else "—"),
                _td(_fmt(best[1]) if best else "—", num=True),
                _td(_beats(score, best)),
                controls,
            ]
        )
    headers = [
        "Task",
        "Metric",
        "Model [95% CI]",
        "p",
        "Chance",
        "Best baseline",
        "Baseline value",
        "Model beats it",
        "Controls",
    ]
    return _table(headers, rows, numeric=(2, 3, 4, 6, 7), id_="headline")


def _metrics_table(reader: _Reader, metrics: Mapping[str, Any], where: str, verdict: bool = False) -> str:
    """Metric | value | CI | p | chance, with (for controls) a column saying whether the
    score sits at chance as it must. Control rows carry no green marker: there, being
    above chance is the failure."""
    rows = []
    for metric, entry in metrics.items():
        score = _Score(reader, entry, f"{where}.{metric}")
        row = [_td(metric)] + score.cells(marker=not verdict)
        if verdict:
            row.append(
                '<td class="warn">above chance: check for leakage</td>'
                if score.significant
                else '<td class="ok">at chance, as it must be</td>'
            )
        rows.append(row)
    headers = ["Metric", "Value", "95% CI", "p", "Chance"] + (["Verdict"] if verdict else [])
    return _table(headers, rows, numeric=(1, 2, 3, 4))


def _baselines_table(
    reader: _Reader,
    metrics: Mapping[str, Any],
    baselines: Mapping[str, Any],
    where: str,
    model_metric: str | None = None,
    baseline_metric: str | None = None,
) -> str:
    """Model and every baseline on every metric; the best of each column in bold.
    With ``baseline_metric``, the model's ``model_metric`` is shown in that column
    (e.g. a probe's balanced accuracy beside the baselines'), so the table lists
    only the baselines' own metrics instead of one mostly empty column per model metric."""
    if baseline_metric and model_metric in metrics:
        names = sorted(
            {m for b in baselines.values() for m in reader.mapping(b, where)}, key=lambda m: (m != baseline_metric, m)
        )
        value = _Score(reader, metrics[model_metric], f"{where}.metrics.{model_metric}").value
        table: dict[str, list[float | None]] = {
            f"model ({model_metric})": [value if m == baseline_metric else None for m in names]
        }
    else:
        names = list(metrics) + sorted({m for b in baselines.values() for m in reader.mapping(b, where)} - set(metrics))
        table = {
            "model": [_Score(reader, metrics[m], f"{where}.metrics.{m}").value if m in metrics else None for m in names]
        }
    for bname, scores in baselines.items():
        scores = reader.mapping(scores, f"{where}.baselines.{bname}")
        table[str(bname)] = [reader.number(scores.get(m), f"{where}.baselines.{bname}.{m}") for m in names]
    best = [max((v[j] for v in table.values() if _known(v[j])), default=None) for j in range(len(names))]
    rows = [
        [_td(label)]
        + [_td(_fmt(v), num=True, cls="best" if _known(v) and v == best[j] else "") for j, v in enumerate(values)]
        for label, values in table.items()
    ]
    return _table(["", *names], rows, numeric=range(1, len(names) + 1))


def _controls(reader: _Reader, controls: Mapping[str, Any], where: str) -> str:
    parts = []
    for name, control in controls.items():
        cwhere = f"{where}.{name}"
        control = reader.mapping(control, cwhere)
        if name == "shuffled_pairing":
            parts.append(
                "<h4>Shuffled pairing</h4><p>The same evaluation with EEG and stimuli paired at random: "
                "every score must sit at chance, otherwise information leaks into the evaluation.</p>"
            )
            parts.append(_metrics_table(reader, control, cwhere, verdict=True))
        elif name == "noise_input":
            parts.append(
                "<h4>Noise input</h4><p>The same model given noise in place of the EEG: "
                "every score must sit at chance, otherwise the output does not come from the EEG.</p>"
            )
            parts.append(_metrics_table(reader, control, cwhere, verdict=True))
        elif name == "block_design":
            acc = reader.number(control.get("accuracy"), f"{cwhere}.accuracy")
            chance = reader.number(control.get("chance"), f"{cwhere}.chance")
            p = reader.number(control.get("p_value"), f"{cwhere}.p_value")
            confounded = bool(control.get("confounded"))
            verdict = (
                '<td class="warn">confounded: the class can be told from when the trial was recorded, '
                "so the task score may reflect slow drift rather than the stimulus</td>"
                if confounded
                else '<td class="ok">not confounded</td>'
            )
            parts.append("<h4>Block design</h4><p>Can the class be decoded from the recording block/time alone?</p>")
            parts.append(
                _table(
                    ["Accuracy", "Chance", "p", "Verdict"],
                    [[_td(_fmt(acc), num=True), _td(_fmt(chance), num=True), _td(_fmt_p(p), num=True), verdict]],
                    numeric=(0, 1, 2),
                )
            )
        else:  # any other control: its scores, without a verdict
            parts.append(f"<h4>{_esc(name)}</h4>")
            parts.append(_metrics_table(reader, control, cwhere))
    return "".join(parts)


def _image_src(path: Path) -> str:
    """The figure as a data URI, or DataError saying why it cannot be shown."""
    if not path.is_file():
        raise DataError(path, "file not found")
    data = path.read_bytes()
    mime = next((m for magic, m in _IMAGE_TYPES if data.startswith(magic)), None)
    if mime is None and b"<svg" in data[:4096]:
        mime = "image/svg+xml"
    if mime is None:
        raise DataError(path, "not a PNG, JPEG, GIF or SVG image")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _figures(reader: _Reader, figures: Mapping[str, Any], base_dir: Path, task_name: str) -> str:
    """Known figures first (in :data:`_FIGURE_CAPTIONS` order), then the others."""
    order = [k for k in _FIGURE_CAPTIONS if k in figures] + [k for k in figures if k not in _FIGURE_CAPTIONS]
    parts = []
    for key in order:
        rel = figures[key]
        if rel is None:
            parts.append(f'<div class="missing">Figure <b>{_esc(key)}</b> was not produced.</div>')
            continue
        if not isinstance(rel, (str, os.PathLike)):
            raise reader.fail(f"tasks.{task_name}.figures.{key}", f"expected a file path, got {rel!r}")
        path = Path(rel) if Path(rel).is_absolute() else base_dir / rel
        try:
            src = _image_src(path)
        except (DataError, OSError) as err:
            parts.append(f'<div class="missing">Figure <b>{_esc(key)}</b> could not be shown: {_esc(err)}</div>')
            continue
        caption = _FIGURE_CAPTIONS.get(key, "")
        parts.append(
            f'<figure><img src="{src}" alt="{_esc(key)} figure for {_esc(task_name)}">'
            f"<figcaption><b>{_esc(key)}</b>. {_esc(caption)}</figcaption></figure>"
        )
    return f'<div class="figs">{"".join(parts)}</div>' if parts else "<p>No figures.</p>"


def _generation(reader: _Reader, gen: Mapping[str, Any], base_dir: Path, task_name: str) -> str:
    """Generated images beside real stimuli, generated sentences beside references, measures."""
    where = f"tasks.{task_name}.generation"
    parts = []
    grids = reader.mapping(gen.get("image_grids"), f"{where}.image_grids")
    for caption, rel in grids.items():
        if not isinstance(rel, (str, os.PathLike)):
            raise reader.fail(f"{where}.image_grids.{caption}", f"expected a file path, got {rel!r}")
        path = Path(rel) if Path(rel).is_absolute() else base_dir / rel
        try:
            src = _image_src(path)
        except (DataError, OSError) as err:
            parts.append(
                f'<div class="missing">Image grid <b>{_esc(caption)}</b> could not be shown: {_esc(err)}</div>'
            )
            continue
        parts.append(
            f'<figure><img src="{src}" alt="generated images for {_esc(task_name)}">'
            f"<figcaption><b>{_esc(caption)}</b>. Each row: a held-out trial's generated image (left) beside "
            "real stimuli of the trial's class.</figcaption></figure>"
        )
    if grids:
        parts = ["<h4>Generated images</h4>", f'<div class="figs">{"".join(parts)}</div>']
    sentences = gen.get("sentences") or []
    if not isinstance(sentences, Sequence) or isinstance(sentences, str):
        raise reader.fail(f"{where}.sentences", "expected a list of rows")
    if sentences:
        columns = ["label", "generated", "reference"]
        extra = sorted({k for r in sentences for k in reader.mapping(r, f"{where}.sentences")} - {*columns, "trial"})
        rows = [
            [_td(i)] + [_td(reader.mapping(r, f"{where}.sentences").get(c, "")) for c in (*columns, *extra)]
            for i, r in enumerate(sentences)
        ]
        parts.append("<h4>Generated sentences beside their references</h4>")
        parts.append(_table(["#", *columns, *extra], rows, numeric=(0,)))
    measures = reader.mapping(gen.get("measures"), f"{where}.measures")
    if measures:
        rows = [[_td(k), _td(_fmt(reader.number(v, f"{where}.measures.{k}")), num=True)] for k, v in measures.items()]
        parts.append("<h4>Generation measures</h4>")
        parts.append(_table(["Measure", "Value"], rows, numeric=(1,)))
    return "".join(parts)


def _task_section(reader: _Reader, index: int, name: str, task: Mapping[str, Any], base_dir: Path) -> str:
    where = f"tasks.{name}"
    metrics = reader.mapping(task.get("metrics"), f"{where}.metrics")
    baselines = reader.mapping(task.get("baselines"), f"{where}.baselines")
    controls = reader.mapping(task.get("controls"), f"{where}.controls")
    notes = task.get("notes") or []
    if isinstance(notes, str) or not isinstance(notes, Sequence):
        raise reader.fail(f"{where}.notes", "expected a list of strings")
    parts = [f'<section class="task" id="task-{index}"><h2>{_esc(name)}</h2>']
    if task.get("description"):
        parts.append(f"<p>{_esc(task['description'])}</p>")
    parts.append(f"<p><b>Protocol:</b> {_esc(task.get('protocol') or 'not stated')}</p>")
    parts.append("<h3>Scores</h3>")
    parts.append(_metrics_table(reader, metrics, f"{where}.metrics") if metrics else "<p>No metrics.</p>")
    parts.append("<h3>Baselines</h3>")
    primary = task.get("primary_metric")
    parts.append(
        _baselines_table(reader, metrics, baselines, where, primary, task.get("baseline_metric"))
        if baselines
        else "<p>No baselines.</p>"
    )
    references = reader.mapping(task.get("references") or {}, f"{where}.references")
    if references:
        parts.append("<h3>References (not EEG methods)</h3>")
        names = sorted({m for r in references.values() for m in reader.mapping(r, f"{where}.references")})
        parts.append(
            _table(
                ["", *names],
                [
                    [_td(str(rname))]
                    + [
                        _td(
                            _fmt(reader.number(reader.mapping(r, where).get(m), f"{where}.references.{rname}")),
                            num=True,
                        )
                        for m in names
                    ]
                    for rname, r in references.items()
                ],
                numeric=range(1, len(names) + 1),
            )
        )
    parts.append("<h3>Controls</h3>")
    parts.append(_controls(reader, controls, f"{where}.controls") if controls else "<p>No controls.</p>")
    if notes:
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    generation = reader.mapping(task.get("generation"), f"{where}.generation")
    if generation:
        parts.append("<h3>Generation</h3>")
        parts.append(_generation(reader, generation, base_dir, str(name)))
    parts.append("<h3>Figures</h3>")
    parts.append(_figures(reader, reader.mapping(task.get("figures"), f"{where}.figures"), base_dir, str(name)))
    parts.append("</section>")
    return "".join(parts)


def _meta(meta: Mapping[str, Any]) -> str:
    items = []
    if meta.get("started") is not None:
        items.append(f"started {_esc(meta['started'])}")
    seconds = meta.get("seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        items.append(f"took {seconds / 60:.1f} min" if seconds >= 60 else f"took {seconds:.1f} s")
    for key, label in (("data_dir", "data"), ("brainalign_version", "brainalign"), ("seed", "seed")):
        if meta.get(key) is not None:
            items.append(f"{label} <code>{_esc(meta[key])}</code>")
    return f'<p class="meta">{" · ".join(items)}</p>' if items else ""


def _load_results(path: Path) -> dict[str, Any]:
    """Parse ``results.json`` (plain JSON only), or DataError naming the file."""
    if not path.is_file():
        raise DataError(path, "results file not found")
    if path.stat().st_size > _MAX_RESULTS_BYTES:
        raise DataError(path, f"results file larger than {_MAX_RESULTS_BYTES >> 20} MiB")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(path, f"not valid JSON ({err})") from err


def write_report(
    results: BenchmarkResult | Mapping[str, Any] | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    base_dir: str | os.PathLike | None = None,
    title: str = "brainalign benchmark report",
) -> Path:
    """Write ``out_dir/report.html`` from the benchmark results and return its path.

    ``results`` is a :class:`~brainalign.results.BenchmarkResult`, its dict form or the
    path of ``results.json`` (checked field by field). Relative figure
    paths are resolved against ``base_dir``, which defaults to the folder of
    ``results.json`` (or ``out_dir`` when a dict is given). Malformed results raise
    :class:`DataError`; a missing or unreadable figure is reported in the page.
    """
    out_dir = Path(out_dir)
    source: Path | None = None
    if isinstance(results, BenchmarkResult):
        results = json.loads(json.dumps(results.to_dict(), default=str))
    if isinstance(results, (str, os.PathLike)):
        source = Path(results)
        results = _load_results(source)
    reader = _Reader(source)
    root = reader.mapping(results, "results")
    tasks = reader.mapping(root.get("tasks"), "tasks")
    meta = reader.mapping(root.get("meta"), "meta")
    base = Path(base_dir) if base_dir is not None else (source.parent if source is not None else out_dir)

    body = [f"<h1>{_esc(title)}</h1>", _meta(meta)]
    if tasks:
        toc = " · ".join(f'<a href="#task-{i}">{_esc(name)}</a>' for i, name in enumerate(tasks))
        body += [
            "<h2>Headline</h2>",
            '<p class="legend"><span class="dot sig"></span>above chance at p &lt; 0.05 '
            '<span class="dot ns"></span>not. "CI above": the whole 95 % interval lies above the '
            "best baseline.</p>",
            _headline(reader, tasks),
            f'<p class="meta">Tasks: {toc}</p>',
        ]
        body += [
            _task_section(reader, i, str(name), reader.mapping(task, f"tasks.{name}"), base)
            for i, (name, task) in enumerate(tasks.items())
        ]
    else:
        body.append("<p>The results hold no tasks.</p>")
    body.append(f'<p class="meta">Generated by brainalign {_esc(__version__)}.</p>')
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    return atomic_write_text(out_dir / REPORT_NAME, page)
