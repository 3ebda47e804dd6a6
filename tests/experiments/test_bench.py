"""The benchmark helpers compute what they claim: numpy brute-force top-k equals an
exact FAISS index (recall 1.0), recall@k counts overlaps, the table prints."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.experiments.bench import _row, brute_topk, format_table, interleaved, recall_at_k


def test_flat_faiss_top_k_equals_brute_force():
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((50, 32)).astype(np.float32)
    index = faiss.IndexFlatIP(32)
    index.add(gallery)
    scores, found = index.search(queries, 10)
    truth = brute_topk(queries, gallery, 10, chunk=7)
    assert recall_at_k(found, truth) == 1.0
    np.testing.assert_array_equal(found, truth)  # continuous random scores: no ties, same order
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ gallery.T, truth, axis=1), rtol=1e-5)


def test_recall_counts_the_overlap():
    assert recall_at_k(np.array([[1, 2], [3, 4]]), np.array([[2, 1], [3, 5]])) == 0.75


def test_interleaved_keeps_the_best_time_and_table_prints():
    calls = []
    best = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2)
    assert calls == ["a", "b", "a", "b"] and set(best) == {"a", "b"}
    text = format_table([_row("5", "x", 1.5, "s", compared_with="y", other=3.0, ratio=2.0, goal=">= 1.5x", met=True)])
    assert "| 5 | x | 1.5 s | y | 3 | 2.00x | >= 1.5x | yes |" in text
