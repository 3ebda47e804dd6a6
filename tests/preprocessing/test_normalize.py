"""Subject normalisation: sources of the statistics, serialisation, Euclidean alignment, label-level guard."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainalign.errors import ConfigError, DataError
from brainalign.preprocessing.normalize import (
    EuclideanAlignment,
    Standardizer,
    SubjectLevelLabelError,
    calibration_mask,
    check_disjoint,
    label_level,
    make_normalizer,
    normalizer_from_dict,
)


def _subjects(n_per=40, n_subjects=4, d=3, seed=0):
    """Features whose mean and scale differ per subject."""
    rng = np.random.default_rng(seed)
    x, g = [], []
    for s in range(n_subjects):
        x.append(rng.standard_normal((n_per, d)) * (s + 1) + 10 * s)
        g += [f"s{s}"] * n_per
    return np.concatenate(x), np.array(g)


def test_training_statistics_only_is_global_and_round_trips():
    x, g = _subjects()
    train = np.isin(g, ["s0", "s1"])
    norm = Standardizer("train").fit(x[train])
    out = norm.transform(x[~train])
    np.testing.assert_allclose(out, (x[~train] - x[train].mean(0)) / x[train].std(0))
    assert norm.record() == {
        "method": "standardize",
        "source": "train",
        "by": "subject",
        "eps": 1e-6,
        "scale": True,
        "transductive": False,
        "per_group": False,
    }
    again = normalizer_from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_allclose(again.transform(x[~train]), out)
    with pytest.raises(DataError, match="not fitted"):
        Standardizer("train").transform(x)


def test_own_statistics_are_transductive_and_per_subject():
    x, g = _subjects()
    norm = make_normalizer("own")
    out = norm.fit(x[:80], g[:80]).transform(x, g)
    assert norm.transductive and norm.record()["transductive"] is True
    for s in np.unique(g):
        np.testing.assert_allclose(out[g == s].mean(0), 0, atol=1e-9)
        np.testing.assert_allclose(out[g == s].std(0), 1, atol=1e-9)
    with pytest.raises(DataError, match="group"):
        norm.transform(x)


def test_calibration_block_statistics_reapply_to_a_new_subject():
    x, g = _subjects()
    calib = np.zeros(len(g), bool)
    for s in np.unique(g):
        calib[np.flatnonzero(g == s)[:10]] = True  # the first 10 rows of each subject
    evaluated = ~calib
    check_disjoint(calib, evaluated)
    norm = make_normalizer("calibration")
    assert not norm.transductive and norm.per_group
    out = norm.fit(x[evaluated], g[evaluated]).transform(x[evaluated], g[evaluated], calibration=(x[calib], g[calib]))
    for s in np.unique(g):
        ref = x[calib & (g == s)]
        np.testing.assert_allclose(out[g[evaluated] == s], (x[evaluated & (g == s)] - ref.mean(0)) / ref.std(0))
    # stored as a spec, re-applied to a subject never seen, from its calibration data alone
    spec = json.loads(json.dumps(norm.to_dict()))
    new = normalizer_from_dict(spec)
    x_new = np.random.default_rng(5).standard_normal((30, 3)) * 4 + 7
    z = new.transform(x_new[10:], ["new"] * 20, calibration=(x_new[:10], ["new"] * 10))
    np.testing.assert_allclose(z, (x_new[10:] - x_new[:10].mean(0)) / x_new[:10].std(0))
    with pytest.raises(DataError, match="no calibration data"):
        make_normalizer("calibration").transform(x_new, ["other"] * 30)
    with pytest.raises(DataError, match="calibration row"):
        check_disjoint(calib, np.ones(len(g), bool))


def test_euclidean_alignment_whitens_each_subjects_mean_covariance():
    rng = np.random.default_rng(0)
    x, g = [], []
    for s in range(3):
        mix = rng.standard_normal((4, 4)) + 2 * np.eye(4)
        x.append(np.einsum("cd,ndt->nct", mix, rng.standard_normal((20, 4, 200))))
        g += [s] * 20
    x, g = np.concatenate(x), np.array(g)
    ea = EuclideanAlignment("own", shrinkage=0.0)
    out = ea.transform(x, g)
    for s in range(3):
        z = out[g == s] - out[g == s].mean(-1, keepdims=True)
        np.testing.assert_allclose(np.einsum("nct,ndt->cd", z, z) / z.shape[0] / z.shape[-1], np.eye(4), atol=1e-8)
    assert ea.record()["transductive"] is True
    cal = EuclideanAlignment("calibration", shrinkage=0.0)
    rows = g == 1
    out_cal = cal.transform(x[rows][10:], g[rows][10:], calibration=(x[rows][:10], g[rows][:10]))
    assert out_cal.shape == (10, 4, 200) and cal.record()["transductive"] is False
    glob = normalizer_from_dict(EuclideanAlignment("train").fit(x).to_dict())
    assert glob.transform(x).shape == x.shape
    with pytest.raises(DataError, match="signals"):
        EuclideanAlignment("own").transform(np.ones((4, 3)), [0, 0, 1, 1])


def test_subject_level_label_is_refused_for_per_subject_normalisation():
    x, g = _subjects()
    group_label = np.where(np.isin(g, ["s0", "s2"]), "alcoholic", "control")  # one value per subject
    state = np.tile(["rest", "task"], len(g) // 2)  # varies within each subject
    assert label_level(group_label, g) == "subject" and label_level(state, g) == "within"
    for name in ("own", "calibration", "euclidean"):
        with pytest.raises(SubjectLevelLabelError, match="subject-level"):
            make_normalizer(name).fit(x, g, group_label)
    make_normalizer("own").fit(x, g, state)  # a within-subject label is fine
    make_normalizer("train").fit(x, g, group_label)  # global statistics keep the label
    make_normalizer("own").fit(x, g, group_label, allow_subject_level=True)  # explicit override
    # what the guard prevents: after per-subject z-scoring every subject's mean is 0, so a
    # per-subject decision (mean over its trials) cannot tell the groups apart
    z = make_normalizer("own").transform(x, g)
    means = pd.DataFrame(z).groupby(g).mean().to_numpy()
    np.testing.assert_allclose(means, 0, atol=1e-9)


def test_calibration_mask_takes_the_first_seconds_of_rest():
    table = pd.DataFrame(
        {
            "subject": ["a"] * 6 + ["b"] * 6,
            "recording": ["a_rest"] * 4 + ["a_task"] * 2 + ["b_rest"] * 4 + ["b_task"] * 2,
            "label": (["rest"] * 4 + ["task"] * 2) * 2,
            "start": [0, 30, 60, 90, 0, 30] * 2,
        }
    )
    mask = calibration_mask(table, where={"label": "rest"}, first_s=60)
    assert mask.tolist() == [True, True, False, False, False, False] * 2
    assert calibration_mask(table, first_n=1).sum() == 2
    with pytest.raises(ConfigError, match="exactly one"):
        calibration_mask(table)
    with pytest.raises(ConfigError, match="unknown normaliser"):
        make_normalizer("zscore")
