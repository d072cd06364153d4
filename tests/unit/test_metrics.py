"""modelrail.metrics against scikit-learn: every metric the contract allows, on random
data with ties, as a value and on bootstrap weights (scikit-learn in the tests only:
the module itself imports numpy alone)."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from modelrail import metrics
from modelrail.contract import METRICS, ProblemType


def _sklearn(name: str, y: Any, pred: Any, proba: Any, classes: list[Any] | None) -> float:
    if name == "rmse":
        return math.sqrt(skm.mean_squared_error(y, pred))
    if name == "mae":
        return float(skm.mean_absolute_error(y, pred))
    if name == "mape":
        return float(skm.mean_absolute_percentage_error(y, pred))
    if name == "r2":
        return float(skm.r2_score(y, pred))
    if name == "accuracy":
        return float(skm.accuracy_score(y, pred))
    if name == "f1":
        if classes is not None and len(classes) == 2:
            return float(skm.f1_score(y, pred, average="binary", pos_label=classes[1]))
        return float(skm.f1_score(y, pred, average="macro"))
    if name == "log_loss":
        return float(skm.log_loss(y, proba, labels=classes))
    assert name == "roc_auc" and classes is not None
    return float(skm.roc_auc_score(np.asarray(y) == classes[1], np.asarray(proba)[:, 1]))


def _regression(rng: np.random.Generator, rows: int) -> tuple[Any, ...]:
    y = np.round(rng.normal(20, 8, rows))  # rounded: repeated values, and some zeros
    y[: rows // 20] = 0.0
    return y, np.round(y + rng.normal(0, 5, rows)), None, None


def _classes(rng: np.random.Generator, rows: int, classes: list[Any]) -> tuple[Any, ...]:
    k = len(classes)
    index = rng.integers(0, k, rows)
    raw = rng.random((rows, k)) + 1.5 * np.eye(k)[index]
    proba = np.round(raw / raw.sum(axis=1, keepdims=True), 1)  # one decimal: ties
    proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)  # rows still sum to one
    proba = np.clip(proba, 0.0, 1.0)
    label = np.asarray(classes)  # typed (int, bool, str), as scikit-learn wants labels
    pred = label[np.where(rng.random(rows) < 0.7, index, rng.integers(0, k, rows))]
    return label[index], pred, proba, classes


CASES: dict[ProblemType, list[list[Any] | None]] = {
    ProblemType.REGRESSION: [None],
    ProblemType.BINARY: [[0, 1], [False, True], ["no", "yes"]],
    ProblemType.MULTICLASS: [["a", "b", "c"], [1, 2, 3, 5]],
}
ALLOWED = [
    (name, kind, classes)
    for name, (kinds, _) in sorted(METRICS.items())
    for kind in sorted(kinds)
    for classes in CASES[kind]
]


def _data(kind: ProblemType, classes: list[Any] | None, seed: int, rows: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    if kind is ProblemType.REGRESSION:
        return _regression(rng, rows)
    assert classes is not None
    return _classes(rng, rows, classes)


def test_every_contract_metric_is_covered() -> None:
    assert {name for name, _, _ in ALLOWED} == set(METRICS)
    assert {name: greater for name, (_, greater) in METRICS.items()} == metrics.GREATER_IS_BETTER


@pytest.mark.parametrize(("name", "kind", "classes"), ALLOWED, ids=str)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_match_scikit_learn(
    name: str, kind: ProblemType, classes: list[Any] | None, seed: int
) -> None:
    y, pred, proba, cls = _data(kind, classes, seed, rows=301)
    expected = _sklearn(name, y, pred, proba, cls)
    assert metrics.value(name, y, pred, proba, cls) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("name", "kind", "classes"), ALLOWED, ids=str)
def test_weights_count_rows_as_drawn(
    name: str, kind: ProblemType, classes: list[Any] | None
) -> None:
    y, pred, proba, cls = _data(kind, classes, 7, rows=120)
    rng = np.random.default_rng(3)
    weights = np.stack([np.bincount(rng.integers(0, 120, 120), minlength=120) for _ in range(4)])
    got = metrics.weighted(name, y, pred, proba, cls)(weights.astype("float64"))
    for i, row in enumerate(weights):
        drawn = np.repeat(np.arange(120), row)
        sub = None if proba is None else proba[drawn]
        expected = _sklearn(name, y[drawn], pred[drawn], sub, cls)
        assert got[i] == pytest.approx(expected, rel=1e-10)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 4)),  # few distinct scores: many ties
        min_size=2,
        max_size=60,
    ).filter(lambda rows: len({t for t, _ in rows}) == 2)
)
def test_roc_auc_counts_ties_as_scikit_learn(rows: list[tuple[bool, int]]) -> None:
    truth = np.asarray([t for t, _ in rows])
    score = np.asarray([s / 4 for _, s in rows])
    proba = np.column_stack([1 - score, score])
    got = metrics.value("roc_auc", truth, truth, proba, [False, True])
    assert got == pytest.approx(skm.roc_auc_score(truth, score), rel=1e-12)


def test_no_rows_and_one_class_are_undefined() -> None:
    with pytest.raises(metrics.MetricUndefined, match="needs at least one row") as empty:
        metrics.value("rmse", [], [])
    assert empty.value.reason == metrics.NO_ROWS
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(metrics.MetricUndefined, match="needs both classes") as single:
        metrics.value("roc_auc", [1, 1], [1, 0], proba, [0, 1])
    assert single.value.reason == metrics.SINGLE_CLASS
    # scikit-learn's answers where a metric degenerates
    assert math.isnan(metrics.value("r2", [3.0], [2.0]))
    assert metrics.value("r2", [3.0, 3.0], [3.0, 3.0]) == 1.0
    assert metrics.value("r2", [3.0, 3.0], [3.0, 2.0]) == 0.0
    assert metrics.value("f1", [0, 0], [0, 0], None, [0, 1]) == 0.0


def test_bad_inputs_get_specific_errors() -> None:
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(ValueError, match=r"labels \['c'\] are not among the classes"):
        metrics.value("log_loss", ["a", "c"], ["a", "b"], proba, ["a", "b"])
    with pytest.raises(ValueError, match=r"probabilities of shape \(2, 2\) for 2 rows and 3"):
        metrics.value("log_loss", ["a", "b"], ["a", "b"], proba, ["a", "b", "c"])
    with pytest.raises(ValueError, match="'roc_auc' needs class probabilities"):
        metrics.value("roc_auc", [0, 1], [0, 1])
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        metrics.value("auc", [0, 1], [0, 1])


def test_the_module_imports_numpy_alone() -> None:
    code = (
        "import sys, modelrail.metrics; "
        "print(sorted(m for m in ('pandas', 'scipy', 'sklearn', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
