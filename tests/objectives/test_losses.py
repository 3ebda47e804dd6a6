"""Each loss against arithmetic written out by hand on a batch of 2-4 samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from brainalign.errors import ContractError
from brainalign.objectives import (
    ClipLoss,
    CrossEntropy,
    MaskedReconstructionLoss,
    SemiHardTripletLoss,
    SigLipLoss,
    WeightedSum,
)

# Three unit vectors and their partners; cosine similarities S[i, j] = X[i] . Y[j].
X = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
Y = np.array([[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def _clip_by_hand(x: np.ndarray, y: np.ndarray, scale: float, ids: list[int] | None = None) -> float:
    """Mean of the two cross-entropies, each -log(exp(s*S_ii) / sum_j exp(s*S_ij)),
    the sums skipping the other samples that share sample i's partner id."""
    n = len(x)
    ids = ids if ids is not None else list(range(n))
    s = [[scale * float(np.dot(x[i], y[j])) for j in range(n)] for i in range(n)]
    kept = [[j for j in range(n) if j == i or ids[j] != ids[i]] for i in range(n)]
    ce_xy = sum(-s[i][i] + math.log(sum(math.exp(s[i][j]) for j in kept[i])) for i in range(n)) / n
    ce_yx = sum(-s[j][j] + math.log(sum(math.exp(s[i][j]) for i in kept[j])) for j in range(n)) / n
    return (ce_xy + ce_yx) / 2


def test_clip_loss_matches_hand_computation():
    loss = ClipLoss().double()
    assert loss.scale.item() == pytest.approx(1 / 0.07)
    got = loss(_t(X), _t(Y)).item()
    # The parameter is float32: use its exact value in the hand computation.
    assert got == pytest.approx(_clip_by_hand(X, Y, loss.scale.item()), rel=1e-10)
    # Rows are L2-normalised first: scaling a row changes nothing.
    assert loss(_t(X * [[3.0], [1.0], [0.5]]), _t(Y)).item() == pytest.approx(got, rel=1e-10)


def test_clip_loss_two_samples_closed_form():
    # n = 2, orthogonal partners swapped: S = [[0, 1], [1, 0]] so each CE is log(1 + e^s).
    x, y = np.eye(2), np.eye(2)[::-1].copy()
    loss = ClipLoss(temperature=0.5, learn_scale=False).double()
    assert loss(_t(x), _t(y)).item() == pytest.approx(math.log(1 + math.exp(2.0)), rel=1e-6)
    assert not list(loss.parameters())


def test_clip_scale_is_capped_at_100():
    loss = ClipLoss(temperature=0.001).double()
    assert loss.scale.item() == pytest.approx(100.0)
    assert loss(_t(X), _t(Y)).item() == pytest.approx(_clip_by_hand(X, Y, 100.0), rel=1e-10)


def test_siglip_matches_hand_computation():
    loss = SigLipLoss().double()
    scale = loss.logit_scale.exp().item()
    assert scale == pytest.approx(10.0)
    assert loss.logit_bias.item() == -10.0
    n, total = len(X), 0.0
    for i in range(n):
        for j in range(n):
            logit = scale * float(np.dot(X[i], Y[j])) - 10.0
            z = 1.0 if i == j else -1.0
            total += math.log(1.0 + math.exp(-z * logit))  # -log sigmoid(z * logit)
    assert loss(_t(X), _t(Y)).item() == pytest.approx(total / n, rel=1e-10)


def test_shared_partners_are_not_negatives():
    # Samples 0 and 2 saw the same stimulus: same partner embedding, same id.
    y = Y.copy()
    y[2] = y[0]
    ids = [5, 7, 5]
    clip = ClipLoss().double()
    got = clip(_t(X), _t(y), pair_ids=torch.tensor(ids)).item()
    assert got == pytest.approx(_clip_by_hand(X, y, clip.scale.item(), ids), rel=1e-10)
    # Without ids the duplicate counts as a negative, which costs more.
    assert clip(_t(X), _t(y)).item() > got + 0.1

    siglip = SigLipLoss().double()
    scale, total = siglip.logit_scale.exp().item(), 0.0
    for i in range(3):
        for j in range(3):
            logit = scale * float(np.dot(X[i], y[j])) - 10.0
            z = 1.0 if ids[i] == ids[j] else -1.0  # (0, 2) and (2, 0) are matches too
            total += math.log(1.0 + math.exp(-z * logit))
    got = siglip(_t(X), _t(y), pair_ids=torch.tensor(ids)).item()
    assert got == pytest.approx(total / 3, rel=1e-10)


@pytest.mark.parametrize("make", [ClipLoss, SigLipLoss])
def test_missing_pairs_are_left_out(make):
    loss = make().double()
    full = loss(_t(X[[0, 2]]), _t(Y[[0, 2]])).item()
    # Row 1 is missing in two ways: NaN in y, or flagged invalid.
    y_nan = Y.copy()
    y_nan[1] = np.nan
    x = _t(X, grad=True)
    value = loss(x, _t(y_nan))
    assert value.item() == pytest.approx(full, rel=1e-10)
    value.backward()
    assert torch.isfinite(x.grad).all()
    assert torch.all(x.grad[1] == 0) and torch.any(x.grad[0] != 0)
    valid = torch.tensor([True, False, True])
    assert loss(_t(X), _t(Y), valid=valid).item() == pytest.approx(full, rel=1e-10)


@pytest.mark.parametrize("make", [ClipLoss, SigLipLoss])
def test_no_pair_gives_zero_and_backward_works(make):
    loss = make().double()
    x = _t(X, grad=True)
    y = _t(np.full_like(Y, np.nan), grad=True)
    value = loss(x, y)
    assert value.item() == 0.0
    value.backward()
    assert torch.all(x.grad == 0) and torch.all(y.grad == 0)
    assert all(p.grad is not None and p.grad.item() == 0.0 for p in loss.parameters())


@pytest.mark.parametrize("make", [ClipLoss, SigLipLoss])
def test_gradients_finite_and_temperature_learns(make):
    loss = make().double()
    x, y = _t(X, grad=True), _t(Y, grad=True)
    loss(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert loss.logit_scale.grad is not None and torch.isfinite(loss.logit_scale.grad)
    # Numerical check of d loss / d logit_scale.
    eps = 1e-6
    with torch.no_grad():
        base = loss.logit_scale.item()
        loss.logit_scale.fill_(base + eps)
        up = loss(_t(X), _t(Y)).item()
        loss.logit_scale.fill_(base - eps)
        down = loss(_t(X), _t(Y)).item()
    assert loss.logit_scale.grad.item() == pytest.approx((up - down) / (2 * eps), rel=1e-5)


def test_paired_losses_reject_mismatched_shapes():
    with pytest.raises(ContractError):
        ClipLoss()(torch.zeros(3, 2), torch.zeros(2, 2))
    with pytest.raises(ContractError):
        ClipLoss()(torch.zeros(3, 2), torch.zeros(3, 2), valid=torch.ones(2, dtype=torch.bool))
    with pytest.raises(ContractError):
        SigLipLoss()(torch.zeros(3, 2), torch.zeros(3, 2), pair_ids=torch.zeros(3, 1))


def test_semi_hard_triplet_on_four_points():
    # 1-D points, squared distances, margin 1. Labels: {0: 0.0, 1.0}, {1: 1.2, 3.0}.
    #   anchor 0 (0.0), positive 1: d_ap = 1.  negatives 1.2 -> 1.44, 3.0 -> 9.
    #       semi-hard = closest negative beyond 1 -> 1.44;   1 - 1.44 + 1 = 0.56
    #   anchor 1 (1.0), positive 0: d_ap = 1.  negatives 1.2 -> 0.04, 3.0 -> 4.
    #       only 3.0 is beyond 1 -> 4 (the hardest, 0.04, is skipped); 1 - 4 + 1 < 0 -> 0
    #   anchor 2 (1.2), positive 3: d_ap = 3.24. negatives 0.0 -> 1.44, 1.0 -> 0.04.
    #       none beyond 3.24 -> fall back to the farthest, 1.44;  3.24 - 1.44 + 1 = 2.8
    #   anchor 3 (3.0), positive 2: d_ap = 3.24. negatives 0.0 -> 9, 1.0 -> 4.
    #       closest beyond 3.24 -> 4;  3.24 - 4 + 1 = 0.24
    expected = (0.56 + 0.0 + 2.8 + 0.24) / 4
    emb = _t(np.array([[0.0], [1.0], [1.2], [3.0]]), grad=True)
    value = SemiHardTripletLoss(margin=1.0)(emb, torch.tensor([0, 0, 1, 1]))
    assert value.item() == pytest.approx(expected, rel=1e-10)
    value.backward()
    # d/d e for the active triplets (a, p, n): (0,1,2), (2,3,0), (3,2,1); each term
    # (e_a - e_p)^2 - (e_a - e_n)^2, averaged over 4 pairs.
    e = [0.0, 1.0, 1.2, 3.0]
    grad = np.zeros(4)
    for a, p, n in [(0, 1, 2), (2, 3, 0), (3, 2, 1)]:
        grad[a] += 2 * (e[a] - e[p]) - 2 * (e[a] - e[n])
        grad[p] += -2 * (e[a] - e[p])
        grad[n] += 2 * (e[a] - e[n])
    np.testing.assert_allclose(emb.grad.numpy()[:, 0], grad / 4, rtol=1e-10)


def _triplet_reference(emb: np.ndarray, labels: np.ndarray, margin: float) -> float:
    """Loop-by-loop semi-hard mining with squared distances."""
    d = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    losses = []
    for a in range(len(emb)):
        negs = [n for n in range(len(emb)) if labels[n] != labels[a]]
        for p in range(len(emb)):
            if p == a or labels[p] != labels[a] or not negs:
                continue
            beyond = [d[a, n] for n in negs if d[a, n] > d[a, p]]
            d_an = min(beyond) if beyond else max(d[a, n] for n in negs)
            losses.append(max(d[a, p] - d_an + margin, 0.0))
    return float(np.mean(losses))


def test_semi_hard_triplet_matches_loop_reference_2d():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(9, 2))
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    got = SemiHardTripletLoss(margin=0.5)(_t(emb), torch.tensor(labels)).item()
    assert got == pytest.approx(_triplet_reference(emb, labels, 0.5), rel=1e-10)


def test_semi_hard_triplet_euclidean_and_no_triplet():
    emb = _t(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]), grad=True)
    # anchor 0 / positive 1: d_ap = 5, negative 2 at 1 -> fallback 1: 5 - 1 + 1 = 5
    # anchor 1 / positive 0: d_ap = 5, negative 2 at sqrt(18) -> fallback: 5 - sqrt(18) + 1
    value = SemiHardTripletLoss(margin=1.0, squared=False)(emb, torch.tensor([7, 7, 3]))
    assert value.item() == pytest.approx((5.0 + 6.0 - math.sqrt(18.0)) / 2, rel=1e-10)
    value.backward()
    assert torch.isfinite(emb.grad).all()
    single_class = SemiHardTripletLoss()(emb, torch.tensor([1, 1, 1]))
    assert single_class.item() == 0.0


def test_cross_entropy_by_hand_and_all_ignored():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    targets = [0, 2]
    expected = np.mean([-row[t] + math.log(sum(math.exp(v) for v in row)) for row, t in zip(logits, targets)])
    lg = _t(logits, grad=True)
    value = CrossEntropy()(lg, torch.tensor(targets))
    assert value.item() == pytest.approx(expected, rel=1e-12)
    value.backward()
    assert torch.isfinite(lg.grad).all()
    # An unlabelled trial is skipped; none labelled gives 0, not NaN.
    assert CrossEntropy()(lg, torch.tensor([0, -100])).item() == pytest.approx(
        -2.0 + math.log(math.exp(2) + 1 + math.exp(-1)), rel=1e-12
    )
    assert CrossEntropy()(lg, torch.tensor([-100, -100])).item() == 0.0


def test_masked_reconstruction_by_hand():
    pred = np.array([[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]])  # (1 batch, 3 patches, 2)
    target = np.array([[[0.0, 0.0], [1.0, 1.0], [np.nan, np.nan]]])
    mask = torch.tensor([[True, True, False]])
    # masked elements: (1-0)^2 + (2-0)^2 + (3-1)^2 + (4-1)^2 = 1 + 4 + 4 + 9 = 18 over 4
    p = _t(pred, grad=True)
    value = MaskedReconstructionLoss()(p, _t(target), mask)
    assert value.item() == pytest.approx(18 / 4)
    value.backward()
    np.testing.assert_allclose(
        p.grad.numpy(),
        [[[0.5, 1.0], [1.0, 1.5], [0.0, 0.0]]],  # 2 * (p - t) / 4
    )
    # Elementwise mask of the full shape.
    full = torch.zeros(1, 3, 2, dtype=torch.bool)
    full[0, 1, 1] = True
    assert MaskedReconstructionLoss()(_t(pred), _t(target), full).item() == pytest.approx(9.0)
    assert MaskedReconstructionLoss()(_t(pred), _t(target), torch.zeros(1, 3, dtype=torch.bool)).item() == 0.0
    with pytest.raises(ContractError):
        MaskedReconstructionLoss()(_t(pred), _t(target), torch.zeros(3, dtype=torch.bool))


def test_weighted_sum_total_and_parts():
    clip = ClipLoss().double()
    total_fn = WeightedSum({"clip": clip, "ce": CrossEntropy()}, weights={"ce": 0.25})
    assert len(list(total_fn.parameters())) == 1  # the CLIP temperature
    logits = _t(np.array([[2.0, 0.0], [0.0, 1.0]]))
    clip_part = _clip_by_hand(X, Y, clip.scale.item())
    ce_part = np.mean([-2.0 + math.log(math.exp(2) + 1), -1.0 + math.log(1 + math.exp(1))])
    total, parts = total_fn({"clip": (_t(X), _t(Y)), "ce": {"logits": logits, "targets": torch.tensor([0, 1])}})
    assert parts["clip"].item() == pytest.approx(clip_part, rel=1e-10)
    assert parts["ce"].item() == pytest.approx(ce_part, rel=1e-10)
    assert total.item() == pytest.approx(clip_part + 0.25 * ce_part, rel=1e-10)
    assert total.requires_grad and not parts["clip"].requires_grad
    # A task without data in this batch is skipped.
    total, parts = total_fn({"clip": (_t(X), _t(Y)), "ce": None})
    assert set(parts) == {"clip"} and total.item() == pytest.approx(clip_part, rel=1e-10)
    with pytest.raises(ContractError):
        total_fn({"mse": (logits, logits)})
    with pytest.raises(ContractError):
        WeightedSum({"clip": ClipLoss()}, weights={"clp": 1.0})
