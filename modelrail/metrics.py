"""The contract's metrics in numpy alone: one definition for training and monitoring.

The training job reports its holdout metrics, its slices and the paired bootstrap of
champion against challenger (docs/decisions.md D39) with these functions, and the
monitoring checks compute the live metric from late labels with the same ones
(:mod:`modelrail.monitoring.live`, D57). Unit tests pin them to scikit-learn's.

Every metric is first a function of row weights (:func:`weighted`): row ``i`` of a
``(resamples, rows)`` weight matrix says how often each row counts in resample ``i``, so
a bootstrap scores a thousand resamples in a few matrix products; weights of all ones
give the metric of the rows (:func:`value`). A resample the metric is undefined on (one
class for roc_auc) gives NaN.

The training archive ships this file beside its own code (``infra/assets.py``), so it
keeps to the SageMaker container's Python (3.10), the standard library and numpy; a
Lambda imports it with the numpy of its layer (no layer ships scipy or scikit-learn).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# metric name -> greater is better (modelrail.contract.METRICS, held equal by a test)
GREATER_IS_BETTER = {
    "rmse": False,
    "mae": False,
    "mape": False,
    "r2": True,
    "accuracy": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
}
REGRESSION_METRICS = ("rmse", "mae", "mape", "r2")
PROBABILITY_METRICS = ("roc_auc", "log_loss")

# A metric as a function of row weights (resamples x rows) -> one value per resample.
WeightedMetric = Callable[[np.ndarray], np.ndarray]

NO_ROWS = "no_rows"
SINGLE_CLASS = "single_class"


class MetricUndefined(ValueError):
    """The metric has no value on these rows; ``reason`` is :data:`NO_ROWS` or
    :data:`SINGLE_CLASS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def value(
    name: str,
    y_true: Any,
    predictions: Any,
    probabilities: Any = None,
    classes: Sequence[Any] | None = None,
) -> float:
    """The metric ``name`` of the rows: :func:`weighted` on weights of all ones.

    Raises :class:`MetricUndefined` for no rows and for roc_auc on one class (as
    scikit-learn raises); r2 of a single row is NaN (as scikit-learn returns)."""
    truth = np.asarray(y_true)
    if len(truth) == 0:
        raise MetricUndefined(NO_ROWS, f"metric {name!r} needs at least one row")
    metric = weighted(name, truth, predictions, probabilities, classes)
    result = float(metric(np.ones((1, len(truth))))[0])
    if name == "roc_auc" and np.isnan(result):  # one class among the rows
        raise MetricUndefined(SINGLE_CLASS, "metric 'roc_auc' needs both classes in the rows")
    return result


def weighted(
    name: str,
    y_true: Any,
    predictions: Any,
    probabilities: Any = None,
    classes: Sequence[Any] | None = None,
) -> WeightedMetric:
    """The metric ``name`` as a function of row weights.

    Classifiers' ``classes`` are the probability columns' labels (scikit-learn's
    ``classes_``): f1 of a two-class model is the positive class's (the second), else
    the macro average over the labels present; roc_auc and log_loss need
    ``probabilities``."""
    if name in REGRESSION_METRICS:
        truth = np.asarray(y_true, dtype="float64")
        return _regression(name, truth, truth - np.asarray(predictions, dtype="float64"))
    truth_o = np.asarray(y_true, dtype=object)
    if name == "accuracy":
        correct = (np.asarray(predictions, dtype=object) == truth_o).astype("float64")
        return lambda weights: ratio(weights @ correct, weights.sum(axis=1))
    if name == "f1":
        return _f1_metric(truth_o, np.asarray(predictions, dtype=object), classes)
    if name in PROBABILITY_METRICS:
        if probabilities is None or classes is None:
            raise ValueError(f"metric {name!r} needs class probabilities")
        return _probability_metric(name, truth_o, np.asarray(probabilities, "float64"), classes)
    raise ValueError(f"unknown metric {name!r}; known: {sorted(GREATER_IS_BETTER)}")


def _regression(name: str, truth: np.ndarray, error: np.ndarray) -> WeightedMetric:
    if name == "r2":
        centred = truth - truth.mean()

        def r2(weights: np.ndarray) -> np.ndarray:
            n = weights.sum(axis=1)
            residual = weights @ (error**2)
            total = weights @ (centred**2) - (weights @ centred) ** 2 / n
            # As scikit-learn does for a constant target: 1 if perfect, else 0.
            flat = np.where(residual == 0, 1.0, 0.0)
            return np.where(n < 2, np.nan, np.where(total > 0, 1.0 - ratio(residual, total), flat))

        return r2
    if name == "mape":
        terms = np.abs(error) / np.maximum(np.abs(truth), np.finfo("float64").eps)
    else:
        terms = error**2 if name == "rmse" else np.abs(error)

    def mean(weights: np.ndarray) -> np.ndarray:
        result = ratio(weights @ terms, weights.sum(axis=1))
        return np.sqrt(result) if name == "rmse" else result

    return mean


def _counts(truth: np.ndarray, said: np.ndarray, label: Any) -> tuple[np.ndarray, ...]:
    """Per row, 1.0 where it is a true positive, a false positive, a false negative."""
    hit, told = truth == label, said == label
    return tuple(a.astype("float64") for a in (hit & told, ~hit & told, hit & ~told))


def _f1(
    weights: np.ndarray, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """F1 per resample and whether the label occurs at all (in truth or prediction)."""
    t, f_p, f_n = weights @ tp, weights @ fp, weights @ fn
    denominator = 2 * t + f_p + f_n
    present = denominator > 0
    return np.where(present, ratio(2 * t, denominator), 0.0), present


def _f1_metric(
    truth: np.ndarray, said: np.ndarray, classes: Sequence[Any] | None
) -> WeightedMetric:
    if classes is not None and len(classes) == 2:
        tp, fp, fn = _counts(truth, said, classes[1])
        return lambda weights: _f1(weights, tp, fp, fn)[0]
    labels = sorted(set(truth.tolist()) | set(said.tolist()), key=str)
    parts = [_counts(truth, said, label) for label in labels]

    def macro(weights: np.ndarray) -> np.ndarray:
        total = np.zeros(len(weights))
        count = np.zeros(len(weights))
        for tp, fp, fn in parts:
            f1, present = _f1(weights, tp, fp, fn)
            total += np.where(present, f1, 0.0)
            count += present
        return ratio(total, count)

    return macro


def _probability_metric(
    name: str, truth: np.ndarray, probabilities: np.ndarray, classes: Sequence[Any]
) -> WeightedMetric:
    classes = list(classes)
    if probabilities.shape != (len(truth), len(classes)):
        raise ValueError(
            f"metric {name!r}: probabilities of shape {probabilities.shape} for "
            f"{len(truth)} rows and {len(classes)} classes"
        )
    if name == "roc_auc":
        if len(classes) != 2:
            raise ValueError("metric 'roc_auc' is defined here for binary problems only")
        return _weighted_roc_auc(probabilities[:, 1], truth == classes[1])
    column = {label: i for i, label in enumerate(classes)}
    unknown = sorted({str(v) for v in truth.tolist() if v not in column})
    if unknown:
        raise ValueError(f"metric 'log_loss': labels {unknown[:5]} are not among the classes")
    index = np.asarray([column[label] for label in truth.tolist()], dtype=np.int64)
    eps = np.finfo(probabilities.dtype).eps
    clipped = np.clip(probabilities, eps, 1 - eps)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    loss = -np.log(clipped[np.arange(len(index)), index])
    return lambda weights: ratio(weights @ loss, weights.sum(axis=1))


def _weighted_roc_auc(score: np.ndarray, positive: np.ndarray) -> WeightedMetric:
    """The Mann-Whitney form of ROC AUC with ties counted half, on weighted rows."""
    order = np.argsort(score, kind="stable")
    ranked = score[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    pos = positive[order].astype("float64")
    neg = 1.0 - pos

    def metric(weights: np.ndarray) -> np.ndarray:
        w = weights[:, order]
        pos_w = np.add.reduceat(w * pos, starts, axis=1)  # per tie group of scores
        neg_w = np.add.reduceat(w * neg, starts, axis=1)
        below = np.cumsum(neg_w, axis=1) - neg_w
        wins = (pos_w * (below + 0.5 * neg_w)).sum(axis=1)
        return ratio(wins, pos_w.sum(axis=1) * neg_w.sum(axis=1))

    return metric
