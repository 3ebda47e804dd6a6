"""The HTML benchmark report and its figures: built from real figures made by
:mod:`brainalign.report.plots` on tiny data, then parsed back with html.parser."""

from __future__ import annotations

import base64
import json
import sys
import types
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainalign.errors import DataError
from brainalign.report import plots
from brainalign.report.html import write_report

CLASSES = ["face", "car", "house"]
EVIL = "N170 <script>alert('x')</script> & co"


class _Page(HTMLParser):
    """Collects tables (rows of cell texts, by id), images, headings, missing-figure notes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str]] = []
        self.h2: list[str] = []
        self.missing: list[str] = []
        self.tags: Counter[str] = Counter()
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._h2: list[str] | None = None
        self._missing: list[str] | None = None
        self._in_thead = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags[tag] += 1
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or f"table{len(self.tables)}", [])
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tr" and self._table is not None and not self._in_thead:
            self._table.append([])
        elif tag == "td" and self._table is not None:
            self._cell = []
        elif tag == "span" and self._cell is not None and "dot" in a.get("class", ""):
            self._cell.append("[sig]" if "sig" in a["class"].split() else "[ns]")
        elif tag == "img":
            self.images.append(a)
        elif tag == "h2":
            self._h2 = []
        elif tag == "div" and "missing" in a.get("class", ""):
            self._missing = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_thead = False
        elif tag == "td" and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "h2" and self._h2 is not None:
            self.h2.append("".join(self._h2))
            self._h2 = None
        elif tag == "div" and self._missing is not None:
            self.missing.append("".join(self._missing))
            self._missing = None

    def handle_data(self, data: str) -> None:
        for buf in (self._cell, self._h2, self._missing):
            if buf is not None:
                buf.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _score(value, low, high, p, chance):
    return {"value": value, "ci_low": low, "ci_high": high, "p_value": p, "chance": chance}


@pytest.fixture(scope="module")
def figures(tmp_path_factory) -> dict[str, Path]:
    """One real PNG from each plot function, on tiny data."""
    out = tmp_path_factory.mktemp("figs")
    rng = np.random.default_rng(0)
    y = np.repeat(CLASSES, 8)
    emb = rng.normal(size=(24, 6)) + np.repeat(np.eye(3, 6) * 4, 8, axis=0)
    gallery = []
    for k, cls in enumerate(CLASSES):
        p = out / f"{cls}.png"
        Image.fromarray(np.full((16, 16, 3), 80 * k, np.uint8)).save(p)
        gallery.append(str(p))
    task = {"metrics": {"balanced_accuracy": _score(0.5, 0.4, 0.6, 0.01, 1 / 3)}, "baselines": {}}
    return {
        "umap": plots.plot_embedding_map(emb, y, out / "map.png", "embeddings", method="pca"),
        "confusion": plots.plot_confusion(y, np.roll(y, 3), CLASSES, out / "confusion.png", "3-way"),
        "retrieval": plots.plot_retrieval_grid(
            ["face", "car"],
            [gallery, gallery[::-1]],
            dict(zip(gallery, CLASSES)),
            out / "retrieval.png",
            n_queries=2,
            k=3,
        ),
        "few_shot": plots.plot_few_shot(
            {
                "fractions": [0.1, 0.5, 1.0],
                "n_train": [3, 12, 24],
                "probe": {"mean": [0.4, 0.5, 0.6], "std": [0.05, 0.02, 0.0]},
            },
            out / "few_shot.png",
            full_score=0.65,
            chance=1 / 3,
        ),
        "topomap": plots.plot_topomap(
            np.arange(6.0), ["Fz", "Cz", "Pz", "C3", "C4", "Oz"], out / "topo.png", "weights"
        ),
        "scores": plots.plot_scores_with_ci(task, out / "scores.png", title="task"),
        "by_group": plots.plot_score_by_group(
            {"0-100 ms": _score(0.3, 0.25, 0.35, 0.5, 1 / 3), "100-200 ms": _score(0.5, 0.45, 0.55, 0.001, 1 / 3)},
            out / "by_group.png",
            "by window",
            "time window",
        ),
    }


@pytest.fixture
def results(figures, tmp_path) -> dict:
    return {
        "meta": {
            "started": "2025-01-01T00:00:00",
            "seconds": 125.0,
            "data_dir": "/data",
            "brainalign_version": "0.1.0",
            "seed": 0,
        },
        "tasks": {
            EVIL: {
                "description": "image category <b>from</b> EEG",
                "protocol": "subject-disjoint, 3 test subjects",
                "metrics": {
                    "balanced_accuracy": _score(0.412345, 0.35, 0.47, 0.0004, 1 / 3),
                    "top5": _score(0.2, 0.1, 0.3, 0.25, 0.2),
                },
                "baselines": {
                    "riemann": {"balanced_accuracy": 0.38},
                    "eegnet": {"balanced_accuracy": 0.44, "top5": 0.1},
                },
                "controls": {
                    "shuffled_pairing": {"balanced_accuracy": _score(0.34, 0.3, 0.38, 0.6, 1 / 3)},
                    "block_design": {"accuracy": 0.52, "chance": 0.5, "p_value": 0.4, "confounded": False},
                },
                "figures": {key: str(path) for key, path in figures.items()},
                "notes": ["3 subjects < 5: intervals are wide"],
            },
            "eegmat-text": {
                "description": "EEG to text retrieval",
                "protocol": "subject-disjoint",
                "primary_metric": "mrr",
                "metrics": {"top1": _score(0.1, 0.05, 0.15, 0.3, 0.05), "mrr": _score(0.6, 0.55, 0.65, 0.02, 0.3)},
                "baselines": {"random": {"mrr": 0.3}, "bow": {"mrr": 0.5}},
                "controls": {"shuffled_pairing": {"mrr": _score(0.45, 0.42, 0.48, 0.001, 0.3)}},
                "figures": {"umap": str(tmp_path / "never_written.png"), "training": None},
                "notes": [],
            },
        },
    }


def test_headline_table_rows(results, tmp_path):
    out = write_report(results, tmp_path / "report")
    assert out == tmp_path / "report" / "report.html"
    rows = _parse(out).tables["headline"]
    assert rows == [
        [EVIL, "balanced_accuracy", "[sig]0.412 [0.350, 0.470]", "< 0.001", "0.333", "eegnet", "0.440", "no", "passed"],
        [
            "eegmat-text",
            "mrr",
            "[sig]0.600 [0.550, 0.650]",
            "0.020",
            "0.300",
            "bow",
            "0.500",
            "yes, CI above",
            "shuffled pairing above chance (mrr)",
        ],
    ]


def test_every_figure_is_embedded_byte_for_byte(results, figures, tmp_path):
    page = _parse(write_report(results, tmp_path))
    embedded = [
        base64.b64decode(img["src"].split(",", 1)[1])
        for img in page.images
        if img["src"].startswith("data:image/png;base64,")
    ]
    assert len(page.images) == len(figures) == len(embedded)
    assert sorted(embedded) == sorted(p.read_bytes() for p in figures.values())


def test_text_is_escaped(results, tmp_path):
    out = write_report(results, tmp_path)
    text = out.read_text(encoding="utf-8")
    page = _parse(out)
    assert "<script>" not in text and "<b>from</b>" not in text
    assert page.tags["script"] == 0
    assert EVIL in page.h2  # shown as text, intact


def test_missing_figures_are_reported_not_fatal(results, tmp_path):
    page = _parse(write_report(results, tmp_path))
    assert any("umap" in m and "never_written.png" in m and "file not found" in m for m in page.missing)
    assert any("training" in m and "not produced" in m for m in page.missing)


def test_task_sections_controls_and_baselines(results, tmp_path):
    out = write_report(results, tmp_path)
    page = _parse(out)
    text = out.read_text(encoding="utf-8")
    tables = list(page.tables.values())
    # first task: metric table, baselines (model first, best in each column bold), shuffled control at chance
    assert ["top5", "[ns]0.200", "[0.100, 0.300]", "0.250", "0.200"] in tables[1]
    assert tables[2] == [["model", "0.412", "0.200"], ["riemann", "0.380", "—"], ["eegnet", "0.440", "0.100"]]
    assert ["balanced_accuracy", "0.340", "[0.300, 0.380]", "0.600", "0.333", "at chance, as it must be"] in tables[3]
    assert ["0.520", "0.500", "0.400", "not confounded"] in tables[4]
    # second task: its shuffled-pairing control is above chance, which must be flagged
    assert ["mrr", "0.450", "[0.420, 0.480]", "0.001", "0.300", "above chance: check for leakage"] in tables[-1]
    assert "subject-disjoint, 3 test subjects" in text and "3 subjects &lt; 5: intervals are wide" in text
    assert "took 2.1 min" in text


def test_results_json_path_and_bad_results(results, tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert _parse(write_report(path, tmp_path / "a")).tables["headline"][0][0] == EVIL

    path.write_text('{"tasks": {')
    with pytest.raises(DataError, match="results.json: not valid JSON"):
        write_report(path, tmp_path / "b")
    results["tasks"]["eegmat-text"]["metrics"]["mrr"]["value"] = "high"
    with pytest.raises(DataError, match="tasks.eegmat-text.metrics.mrr.value: expected a number"):
        write_report(results, tmp_path / "c")
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())  # nothing half-written


@pytest.fixture
def captured(monkeypatch):
    """The matplotlib figures the plot functions hand to save_figure, for inspection."""
    figs = []
    real = plots.save_figure

    def keep(fig, path):
        figs.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figs


def _texts(fig) -> list[str]:
    """Every text drawn on the figure: in-axes texts, then figure texts and the suptitle."""
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    return texts + ([fig.get_suptitle()] if fig.get_suptitle() else [])


def test_confusion_annotates_counts(captured, tmp_path):
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "b", "a", "b", "b", "a"]
    plots.plot_confusion(y_true, y_pred, ["a", "b", "c"], tmp_path / "c.png", "t")
    counts = Counter(zip(y_true, y_pred))
    expected = [str(counts[(t, p)]) for t in "abc" for p in "abc"]
    assert _texts(captured[0])[:9] == expected
    with pytest.raises(DataError, match="labels not among the classes"):
        plots.plot_confusion(y_true, ["z"] * 6, ["a", "b", "c"], tmp_path / "d.png", "t")


def test_retrieval_grid_frames_and_missing_image(captured, tmp_path):
    imgs = []
    for name in ("x", "y"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"{name}.png")
        imgs.append(str(tmp_path / f"{name}.png"))
    plots.plot_retrieval_grid(["x"], [imgs], [["x", "y"]], tmp_path / "g.png", k=2)
    fig = captured[0]
    colors = [ax.spines["left"].get_edgecolor()[:3] for ax in fig.axes[1:]]
    assert colors == [pytest.approx((0.173, 0.627, 0.173), abs=0.01), pytest.approx((0.839, 0.153, 0.157), abs=0.01)]
    assert "(1/2 correct)" in fig.get_suptitle()
    with pytest.raises(DataError, match="gone.png: missing image"):
        plots.plot_retrieval_grid(["x"], [[str(tmp_path / "gone.png")]], [["x"]], tmp_path / "h.png", k=1)
    assert not (tmp_path / "h.png").exists()


def test_topomap_skips_unplaced_channels(captured, tmp_path):
    plots.plot_topomap([1.0, 2.0, 3.0, 4.0, 5.0], ["FZ", "cz", "Pz", "Oz", "EXG1"], tmp_path / "t.png", "t")
    assert any("EXG1" in t and "no position" in t for t in _texts(captured[0]))
    with pytest.raises(DataError, match="at least 4 channels"):
        plots.plot_topomap([1.0, 2.0, 3.0, 4.0], ["Fz", "Cz", "A", "B"], tmp_path / "u.png", "t")
    with pytest.raises(DataError, match="NaN"):
        plots.plot_topomap([1.0, np.nan, 3.0, 4.0], ["Fz", "Cz", "Pz", "Oz"], tmp_path / "v.png", "t")


def test_embedding_map_umap_seeded_and_pca_fallback(monkeypatch, captured, tmp_path):
    seen = {}

    class FakeUMAP:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def fit_transform(self, x):
            return x[:, :2]

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    emb = np.random.default_rng(1).normal(size=(10, 4))
    plots.plot_embedding_map(emb, ["a", "b"] * 5, tmp_path / "u.png", "t")
    assert seen["random_state"] == 0 and seen["n_neighbors"] == 9
    assert captured[0].axes[0].get_xlabel() == "UMAP 1"

    class BrokenUMAP(FakeUMAP):
        def fit_transform(self, x):
            raise ValueError("numba exploded")

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=BrokenUMAP))
    with pytest.warns(UserWarning, match="numba exploded"):
        plots.plot_embedding_map(emb, ["a", "b"] * 5, tmp_path / "p.png", "t")
    assert captured[1].axes[0].get_xlabel() == "PCA (UMAP failed) 1"
    with pytest.raises(DataError, match="NaN"):
        plots.plot_embedding_map(np.full((4, 2), np.nan), ["a"] * 4, tmp_path / "n.png", "t")
