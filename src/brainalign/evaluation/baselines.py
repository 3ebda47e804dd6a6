"""Classical and supervised baselines, measured in the same run as every benchmark score.

A learned representation's score means something only beside what the field's standard
pipelines reach on the very same windows and split. :func:`run_baseline` fits one
baseline on ``split.train`` and scores it on ``split.test`` of a
:class:`~brainalign.preprocessing.pipeline.Windows`:

* ``"chance"``: scikit-learn's ``DummyClassifier`` (class prior), the floor;
* ``"xdawn_ts_lr"``: pyriemann ``XdawnCovariances`` (``estimator="oas"``) + ``TangentSpace``
  + logistic regression, for event-related potentials (N170, N400);
* ``"csp_lda"``: MNE's ``CSP`` (Ledoit-Wolf regularised, log power) + LDA, for band-limited
  motor imagery (EEGMMIDB);
* ``"bandpower_lr"``: log band power per channel (delta..gamma up to 40 Hz, Welch)
  + ``StandardScaler`` + logistic regression (eegmat);
* ``"ecg_hrv_lr"``: heart rate and heart-rate variability from R peaks of the ECG
  + ``StandardScaler`` + logistic regression (eegmat rest vs arithmetic);
* ``"erp_lr"``: the epoch flattened, optionally resampled first (``target_sfreq``)
  + ``StandardScaler`` + logistic regression (N400's "LR on the epoch at 25 Hz");
* ``"eegclassifier"``: braindecode's ``EEGClassifier`` around ShallowFBCSPNet (or Deep4Net,
  EEGNet) trained supervised, early-stopped on ``split.val``: the same kind of EEG encoder
  with labels instead of alignment.

Class balance: every logistic regression is fitted with ``class_weight="balanced"`` and LDA
with equal priors (option ``class_weight=None`` restores the unweighted fit), so a 3:1 or 5:1
class ratio cannot pass for chance.

Which rows train what: the test part is never given to a baseline's fit. Baselines without
model selection (all but ``eegclassifier``) train on ``split.train`` plus ``split.val``;
``eegclassifier`` trains on ``split.train`` and uses ``split.val`` as its validation set
(early stopping on the validation loss, best epoch restored). Labels are encoded as the
positions of the sorted training classes, so for two classes the AUC is that of the larger
label, as :func:`brainalign.evaluation.metrics.auc` defines it.

Everything is deterministic for a given ``seed``; the network's training draws from a
forked torch random state, so the caller's global torch seed is left untouched.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.signal import butter, find_peaks, resample_poly, sosfiltfilt, welch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from brainalign.data.splits import Split
from brainalign.errors import DataError
from brainalign.evaluation.metrics import auc, balanced_accuracy
from brainalign.preprocessing.pipeline import Windows

__all__ = [
    "BASELINES",
    "BANDS",
    "Baseline",
    "band_log_power",
    "detect_r_peaks",
    "erp_features",
    "hrv_features",
    "run_baseline",
    "run_baselines",
]

#: Frequency bands of ``bandpower_lr``, half-open ``[low, high)`` in Hz, capped at 40 Hz
#: (eegmat's files differ in their low-pass above ~40 Hz, which would give the condition away).
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 40.0),
}

#: braindecode model class behind each accepted ``model`` name of ``eegclassifier``
EEG_MODELS: dict[str, str] = {
    "shallow": "ShallowFBCSPNet",
    "shallowfbcspnet": "ShallowFBCSPNet",
    "deep4": "Deep4Net",
    "deep4net": "Deep4Net",
    "eegnet": "EEGNet",
    "eegnetv4": "EEGNet",
}


@dataclass(frozen=True)
class Baseline:
    """One registered baseline.

    ``fit(x, y, *, sfreq, seed, **options)`` returns a fitted classifier with ``predict``
    and ``predict_proba`` on ``x`` of shape ``(n, channels, times)`` and integer labels
    ``y``; when ``uses_val`` it also receives ``val=(x_val, y_val)`` for model selection,
    otherwise the validation rows are added to its training rows. ``modality`` is the
    signal it reads (``"ecg"``: one ECG channel, see :func:`run_baseline`).
    ``details(model)`` adds baseline-specific entries (e.g. the validation-loss history)
    to the result.
    """

    description: str
    fit: Callable[..., Any]
    uses_val: bool = False
    modality: Literal["eeg", "ecg"] = "eeg"
    details: Callable[[Any], dict[str, Any]] | None = None


# -- features ---------------------------------------------------------------------------


def band_log_power(
    data: np.ndarray, sfreq: float, bands: Mapping[str, tuple[float, float]] = BANDS, nperseg: int | None = None
) -> np.ndarray:
    """``log10`` of the power in each band of each channel: ``(n, channels * bands)``,
    channel-major (all bands of channel 0 first).

    The power spectral density is Welch's (``nperseg`` samples per segment, by default one
    second or the whole window if shorter), integrated over the bins in ``[low, high)``.
    A band reaching above Nyquist or holding no frequency bin (narrower than the
    resolution) raises :class:`DataError`.
    """
    x = np.asarray(data, dtype=np.float64)
    seg = min(x.shape[-1], int(round(sfreq))) if nperseg is None else min(int(nperseg), x.shape[-1])
    freqs, psd = welch(x, fs=sfreq, nperseg=seg, axis=-1)
    step = freqs[1] - freqs[0]
    powers = []
    for name, (low, high) in bands.items():
        mask = (freqs >= low) & (freqs < high)
        if high > sfreq / 2 or not mask.any():
            raise DataError(
                None,
                f"band {name} ({low:g}-{high:g} Hz) is not covered at {sfreq:g} Hz with {seg}-sample Welch segments",
            )
        powers.append(psd[..., mask].sum(axis=-1) * step)
    power = np.stack(powers, axis=-1)
    return np.log10(power + np.finfo(np.float64).tiny).reshape(len(x), -1)


def erp_features(data: np.ndarray, sfreq: float, target_sfreq: float | None = None) -> np.ndarray:
    """The epochs flattened to ``(n, channels * times)``, first resampled to
    ``target_sfreq`` (polyphase filter, :func:`scipy.signal.resample_poly`) when given."""
    x = np.asarray(data, dtype=np.float64)
    if target_sfreq is not None and not np.isclose(target_sfreq, sfreq):
        ratio = Fraction(float(target_sfreq) / float(sfreq)).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)
    return x.reshape(len(x), -1)


def detect_r_peaks(
    ecg: np.ndarray,
    sfreq: float,
    band: tuple[float, float] = (5.0, 20.0),
    min_rr_s: float = 0.3,
    rel_height: float = 0.4,
) -> np.ndarray:
    """Sample indices of the R peaks of one ECG trace.

    The trace is band-passed around the QRS complex (``band``, 3rd-order Butterworth run
    forwards and backwards, the upper edge capped below Nyquist) and rectified, so either
    polarity of the lead works; peaks are the maxima above ``rel_height`` times its 99th
    percentile, at least ``min_rr_s`` apart (at most 200 beats per minute by default).
    """
    x = np.asarray(ecg, dtype=np.float64)
    low, high = band[0], min(band[1], 0.45 * sfreq)
    if low >= high:
        raise DataError(None, f"ECG sampled at {sfreq:g} Hz is too slow for R-peak detection ({low:g}-{band[1]:g} Hz)")
    sos = butter(3, [low, high], btype="bandpass", fs=sfreq, output="sos")
    try:
        envelope = np.abs(sosfiltfilt(sos, x))
    except ValueError as err:  # shorter than the filter's padding
        raise DataError(None, f"ECG window of {len(x)} samples is too short for R-peak detection: {err}") from None
    floor = rel_height * np.percentile(envelope, 99)
    peaks, _ = find_peaks(envelope, height=floor, distance=max(1, int(round(min_rr_s * sfreq))))
    return peaks


def hrv_features(ecg: np.ndarray, sfreq: float, **peak_options: Any) -> np.ndarray:
    """Heart-rate features of each ECG window ``(n, times)``: ``(n, 4)`` columns

    * beats per minute from the number of R peaks in the window (defined even with 0-1 peak);
    * mean heart rate, ``60 / mean(RR)`` (the count-based rate when there is no RR interval);
    * SDNN, standard deviation of the RR intervals in ms (0 with fewer than 2 intervals);
    * RMSSD, root mean square of successive RR differences in ms (0 with fewer than 2).

    ``peak_options`` go to :func:`detect_r_peaks`.
    """
    x = np.asarray(ecg, dtype=np.float64)
    duration = x.shape[-1] / sfreq
    rows = []
    for trace in x:
        peaks = detect_r_peaks(trace, sfreq, **peak_options)
        rr = np.diff(peaks) / sfreq
        rate = 60.0 * len(peaks) / duration
        mean_hr = 60.0 / rr.mean() if len(rr) else rate
        sdnn = 1000.0 * rr.std() if len(rr) >= 2 else 0.0
        rmssd = 1000.0 * np.sqrt(np.mean(np.diff(rr) ** 2)) if len(rr) >= 2 else 0.0
        rows.append((rate, mean_hr, sdnn, rmssd))
    return np.asarray(rows, dtype=np.float64)


# -- the classical baselines ------------------------------------------------------------


def _logreg(C: float, seed: int, class_weight: str | None = "balanced") -> LogisticRegression:
    """The logistic regression that ends every ``*_lr`` baseline; class-balanced by default
    (eegmat's rest:task is 3:1 by time, P300 targets are 1 in 6: an unweighted fit predicts
    the majority and looks like chance)."""
    return LogisticRegression(C=C, max_iter=2000, random_state=seed, class_weight=class_weight)


def _features_lr(
    features: Callable[..., np.ndarray], C: float, seed: int, class_weight: str | None = "balanced", **kw_args: Any
) -> Pipeline:
    """``features`` (a function of the epochs) + StandardScaler + logistic regression."""
    return make_pipeline(
        FunctionTransformer(features, kw_args=kw_args), StandardScaler(), _logreg(C, seed, class_weight)
    )


def _fit_chance(x: np.ndarray, y: np.ndarray, *, sfreq: float, seed: int, strategy: str = "prior") -> Any:
    """DummyClassifier; ``"prior"`` always predicts the majority class (balanced accuracy
    ``1 / n_classes``, AUC 0.5), ``"stratified"`` draws labels at the training rates."""
    return DummyClassifier(strategy=strategy, random_state=seed).fit(x.reshape(len(x), -1), y)


def _fit_xdawn_ts_lr(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sfreq: float,
    seed: int,
    nfilter: int = 4,
    estimator: str = "oas",
    C: float = 1.0,
    class_weight: str | None = "balanced",
) -> Any:
    """xDAWN-filtered covariances (``nfilter`` per class, at most the channel count) mapped
    to the Riemannian tangent space, then logistic regression."""
    from pyriemann.estimation import XdawnCovariances
    from pyriemann.tangentspace import TangentSpace

    covariances = XdawnCovariances(nfilter=min(nfilter, x.shape[1]), estimator=estimator)
    return make_pipeline(covariances, TangentSpace(metric="riemann"), _logreg(C, seed, class_weight)).fit(x, y)


def _fit_csp_lda(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sfreq: float,
    seed: int,
    n_components: int = 4,
    reg: str | float | None = "ledoit_wolf",
    class_weight: str | None = "balanced",
) -> Any:
    """Common spatial patterns (log average power of ``n_components`` filters; 4, the
    default of MNE's motor-imagery CSP example, fixed before looking at any test score;
    Ledoit-Wolf shrunk covariances) + LDA (equal class priors when ``class_weight`` is
    ``"balanced"``, the LDA form of a class-balanced fit)."""
    import mne
    from mne.decoding import CSP

    csp = CSP(n_components=n_components, reg=reg, log=True, norm_trace=False)
    with mne.utils.use_log_level("warning"):
        n_classes = len(np.unique(y))
        priors = np.full(n_classes, 1.0 / n_classes) if class_weight == "balanced" else None
        return make_pipeline(csp, LinearDiscriminantAnalysis(priors=priors)).fit(x, y)


def _fit_bandpower_lr(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sfreq: float,
    seed: int,
    bands: Mapping[str, tuple[float, float]] = BANDS,
    nperseg: int | None = None,
    C: float = 1.0,
    class_weight: str | None = "balanced",
) -> Any:
    """:func:`band_log_power` + StandardScaler + logistic regression."""
    return _features_lr(band_log_power, C, seed, class_weight, sfreq=sfreq, bands=dict(bands), nperseg=nperseg).fit(
        x, y
    )


def _fit_erp_lr(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sfreq: float,
    seed: int,
    target_sfreq: float | None = None,
    C: float = 1.0,
    class_weight: str | None = "balanced",
) -> Any:
    """:func:`erp_features` + StandardScaler + logistic regression."""
    return _features_lr(erp_features, C, seed, class_weight, sfreq=sfreq, target_sfreq=target_sfreq).fit(x, y)


def _ecg_trace(x: np.ndarray, sfreq: float, **peak_options: Any) -> np.ndarray:
    """:func:`hrv_features` of the single ECG channel of ``(n, 1, times)`` windows."""
    return hrv_features(x[:, 0, :], sfreq, **peak_options)


def _fit_ecg_hrv_lr(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sfreq: float,
    seed: int,
    C: float = 1.0,
    band: tuple[float, float] = (5.0, 20.0),
    min_rr_s: float = 0.3,
    rel_height: float = 0.4,
    class_weight: str | None = "balanced",
) -> Any:
    """:func:`hrv_features` + StandardScaler + logistic regression; ``band``, ``min_rr_s``
    and ``rel_height`` go to :func:`detect_r_peaks`."""
    return _features_lr(
        _ecg_trace, C, seed, class_weight, sfreq=sfreq, band=tuple(band), min_rr_s=min_rr_s, rel_height=rel_height
    ).fit(x, y)


# -- the supervised network -------------------------------------------------------------


def _fit_eegclassifier(
    x: np.ndarray,
    y: np.ndarray,
    *,
    val: tuple[np.ndarray, np.ndarray],
    sfreq: float,
    seed: int,
    model: str = "shallow",
    model_kwargs: Mapping[str, Any] | None = None,
    epochs: int = 20,
    patience: int = 5,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
) -> Any:
    """braindecode ``EEGClassifier`` around ``model`` (``EEG_MODELS``; ``model_kwargs`` go to
    its constructor), AdamW, at most ``epochs`` epochs on the CPU, validated on ``val``
    (skorch ``predefined_split``), stopped after ``patience`` epochs without a lower
    validation loss and restored to its best epoch."""
    import braindecode.models
    import torch
    from braindecode import EEGClassifier
    from skorch.callbacks import EarlyStopping
    from skorch.dataset import Dataset
    from skorch.helper import predefined_split

    if model.lower() not in EEG_MODELS:
        raise DataError(None, f"unknown eegclassifier model {model!r}; known: {', '.join(sorted(EEG_MODELS))}")
    module_class = getattr(braindecode.models, EEG_MODELS[model.lower()])
    n_classes = int(y.max()) + 1
    x_val, y_val = val
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = module_class(
            n_chans=x.shape[1], n_outputs=n_classes, n_times=x.shape[2], sfreq=sfreq, **dict(model_kwargs or {})
        )
        classifier = EEGClassifier(
            module,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            optimizer__lr=lr,
            optimizer__weight_decay=weight_decay,
            batch_size=min(batch_size, len(x)),
            max_epochs=epochs,
            train_split=predefined_split(Dataset(x_val.astype(np.float32), y_val.astype(np.int64))),
            callbacks=[("early_stopping", EarlyStopping(monitor="valid_loss", patience=patience, load_best=True))],
            classes=list(range(n_classes)),
            device="cpu",
            verbose=0,
        )
        classifier.fit(x.astype(np.float32), y.astype(np.int64))
    return classifier


def _eegclassifier_details(classifier: Any) -> dict[str, Any]:
    """Validation loss per epoch, the epoch kept (1-based) and how many ran."""
    losses = [float(v) for v in classifier.history[:, "valid_loss"]]
    return {"val_loss": losses, "best_epoch": int(np.argmin(losses)) + 1, "epochs_run": len(losses)}


#: name -> :class:`Baseline`
BASELINES: dict[str, Baseline] = {
    "chance": Baseline("majority-class dummy (scikit-learn DummyClassifier)", _fit_chance),
    "xdawn_ts_lr": Baseline("xDAWN covariances + tangent space + logistic regression (ERP)", _fit_xdawn_ts_lr),
    "csp_lda": Baseline("CSP log power + LDA (motor imagery)", _fit_csp_lda),
    "bandpower_lr": Baseline("log band power per channel (1-40 Hz) + logistic regression", _fit_bandpower_lr),
    "ecg_hrv_lr": Baseline(
        "ECG heart rate and HRV (SDNN, RMSSD) + logistic regression", _fit_ecg_hrv_lr, modality="ecg"
    ),
    "erp_lr": Baseline("flattened epoch (optionally resampled) + logistic regression", _fit_erp_lr),
    "eegclassifier": Baseline(
        "braindecode EEGClassifier (ShallowFBCSPNet by default), early-stopped on val",
        _fit_eegclassifier,
        uses_val=True,
        details=_eegclassifier_details,
    ),
}


# -- running ----------------------------------------------------------------------------


def _ecg_input(windows: Windows, ecg_windows: Windows | None, label_col: str, ecg_channel: str | None) -> Windows:
    """The one-channel ECG windows a ``modality="ecg"`` baseline reads.

    ``ecg_windows`` (default: ``windows`` themselves) must have one row per row of
    ``windows``: row ``i`` is the ECG of the time span of EEG window ``i`` (or a longer
    segment around it), e.g. the same recordings run through a pipeline with
    ``modality="ecg"`` and the same windowing. Where both tables carry a ``recording`` or
    the label column, they must agree row for row. ``ecg_channel`` names the channel;
    by default the only channel, or the only one whose name contains "ECG".
    """
    ecg = windows if ecg_windows is None else ecg_windows
    if ecg_windows is not None:
        if len(ecg_windows) != len(windows):
            raise DataError(
                None,
                f"ecg_windows has {len(ecg_windows)} rows but the windows have {len(windows)}; "
                "they must be aligned row for row",
            )
        for col in ("recording", label_col):
            if col in ecg.table.columns and col in windows.table.columns:
                a, b = ecg.table[col], windows.table[col]
                both = a.notna().to_numpy() & b.notna().to_numpy()
                differ = np.flatnonzero(both & (a.astype(str).to_numpy() != b.astype(str).to_numpy()))
                if len(differ):
                    raise DataError(
                        None,
                        f"ecg_windows are not aligned with the windows: column {col!r} differs "
                        f"in {len(differ)} row(s), first at row {differ[0]}",
                    )
    if ecg_channel is not None:
        if ecg_channel not in ecg.ch_names:
            raise DataError(None, f"no ECG channel {ecg_channel!r} (channels: {ecg.ch_names})")
        index = ecg.ch_names.index(ecg_channel)
    elif ecg.n_channels == 1:
        index = 0
    else:
        named = [i for i, ch in enumerate(ecg.ch_names) if "ecg" in ch.lower()]
        if len(named) != 1:
            raise DataError(
                None,
                f"cannot tell which of {ecg.n_channels} channels is the ECG "
                f"({ecg.ch_names[:8]}...); pass ecg_windows or ecg_channel",
            )
        index = named[0]
    return Windows(ecg.data[:, index : index + 1], [ecg.ch_names[index]], ecg.sfreq, ecg.table, ecg.unit, ecg.pipeline)


def _labels(windows: Windows, label_col: str) -> np.ndarray:
    """The label column as an object array; DataError when absent."""
    if label_col not in windows.table.columns:
        raise DataError(None, f"windows have no label column {label_col!r} (columns: {list(windows.table.columns)})")
    return windows.table[label_col].to_numpy(dtype=object)


def _rows(split: Split, n: int, uses_val: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit, val, test) positions: train+val merged unless the baseline selects on val."""
    for part in ("train", "val", "test"):
        rows = split.part(part)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise DataError(None, f"split part {part!r} has positions outside {n} windows")
    if split.train.size == 0 or split.test.size == 0:
        raise DataError(None, "the split needs non-empty train and test parts")
    if uses_val:
        if split.val.size == 0:
            raise DataError(None, "this baseline selects its model on the validation part, and the split has none")
        return split.train, split.val, split.test
    return np.concatenate([split.train, split.val]), split.val[:0], split.test


def _labelled(labels: np.ndarray, rows: np.ndarray, part: str) -> np.ndarray:
    """``labels[rows]``; DataError when a window has no label."""
    values = labels[rows]
    missing = pd.isna(values)
    if missing.any():
        raise DataError(None, f"{int(missing.sum())} {part} window(s) have no label")
    return values


def _classes(labels: np.ndarray, rows: np.ndarray, label_col: str) -> np.ndarray:
    """The sorted training classes; DataError unless there are at least two."""
    try:
        classes = np.unique(_labelled(labels, rows, "train"))
    except TypeError:
        raise DataError(None, f"labels in {label_col!r} mix types that cannot be ordered") from None
    if len(classes) < 2:
        raise DataError(None, f"the training windows hold a single class ({classes.tolist()})")
    return classes


def _encode(labels: np.ndarray, rows: np.ndarray, classes: np.ndarray, part: str) -> np.ndarray:
    """Positions of ``labels[rows]`` among the training ``classes``; DataError on missing or unseen."""
    values = _labelled(labels, rows, part)
    unseen = ~np.isin(values, classes)
    if unseen.any():
        raise DataError(None, f"{part} labels absent from training: {sorted(set(values[unseen].tolist()))[:5]}")
    return np.searchsorted(classes, values).astype(np.int64)


def _signal(windows: Windows, rows: np.ndarray, part: str) -> np.ndarray:
    """The windows at ``rows`` as float64; DataError naming the recordings of non-finite ones."""
    x = np.asarray(windows.data[rows], dtype=np.float64)
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        where = windows.table["recording"].iloc[rows[bad]].unique().tolist() if "recording" in windows.table else []
        raise DataError(None, f"{int(bad.sum())} {part} window(s) contain NaN or Inf (recordings {where[:5]})")
    return x


def run_baseline(
    name: str,
    windows: Windows,
    split: Split,
    label_col: str = "label",
    seed: int = 0,
    *,
    return_predictions: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    """Fit baseline ``name`` (a key of :data:`BASELINES`) and score it on ``split.test``.

    ``kw`` are the baseline's options (``C``, ``n_components``, ``nfilter``, ``bands``,
    ``target_sfreq``, ``epochs``, ``model``, ``model_kwargs``...). ECG baselines also take
    ``ecg_windows`` (row ``i`` holds the ECG of EEG window ``i``; default: ``windows``
    hold the ECG) and ``ecg_channel``. Returns ``balanced_accuracy``, ``auc`` (two classes
    in training and both present in test), ``n_train`` (windows fitted on, validation
    included when merged), ``n_val`` (validation windows used for model selection),
    ``n_test`` and ``seconds`` (fit and prediction), plus the baseline's details;
    ``return_predictions``: also ``predictions``, the predicted class of every test window
    in ``split.test`` order (for paired statistics against another model on the same windows).
    """
    if name not in BASELINES:
        raise DataError(None, f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    spec = BASELINES[name]
    source = windows
    if spec.modality == "ecg":
        source = _ecg_input(windows, kw.pop("ecg_windows", None), label_col, kw.pop("ecg_channel", None))
    labels = _labels(windows, label_col)
    fit_rows, val_rows, test_rows = _rows(split, len(windows), spec.uses_val)
    classes = _classes(labels, fit_rows, label_col)
    y_fit = _encode(labels, fit_rows, classes, "train")
    y_test = _encode(labels, test_rows, classes, "test")
    x_fit = _signal(source, fit_rows, "train")
    x_test = _signal(source, test_rows, "test")
    if spec.uses_val:
        kw["val"] = (_signal(source, val_rows, "val"), _encode(labels, val_rows, classes, "val"))
    try:
        inspect.signature(spec.fit).bind(x_fit, y_fit, sfreq=float(source.sfreq), seed=seed, **kw)
    except TypeError as err:
        raise DataError(None, f"baseline {name!r}: {err}") from None

    start = time.perf_counter()
    model = spec.fit(x_fit, y_fit, sfreq=float(source.sfreq), seed=seed, **kw)
    predicted = np.asarray(model.predict(x_test))
    probabilities = np.asarray(model.predict_proba(x_test)) if len(classes) == 2 else None
    seconds = time.perf_counter() - start

    result: dict[str, Any] = {"balanced_accuracy": balanced_accuracy(y_test, predicted)}
    if probabilities is not None and len(np.unique(y_test)) == 2:
        result["auc"] = auc(y_test, probabilities[:, 1])
    result.update(n_train=len(fit_rows), n_val=len(val_rows), n_test=len(test_rows), seconds=seconds)
    if spec.details is not None:
        result.update(spec.details(model))
    if return_predictions:
        result["predictions"] = classes[predicted]
    return result


def run_baselines(
    names: Iterable[str],
    windows: Windows,
    split: Split,
    label_col: str = "label",
    seed: int = 0,
    *,
    ecg_windows: Windows | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`run_baseline` for each of ``names`` on the same windows and split.

    ``options[name]`` are that baseline's keyword options; ``ecg_windows`` goes to the
    ECG baselines only.
    """
    names = list(names)
    options = dict(options or {})
    stray = sorted(set(options) - set(names))
    if stray:
        raise DataError(None, f"options given for baseline(s) not run: {', '.join(stray)}")
    results = {}
    for name in names:
        kw = dict(options.get(name, {}))
        if name in BASELINES and BASELINES[name].modality == "ecg" and ecg_windows is not None:
            kw["ecg_windows"] = ecg_windows
        results[name] = run_baseline(name, windows, split, label_col=label_col, seed=seed, **kw)
    return results
