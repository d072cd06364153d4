"""training/modelrail_evaluation.py: the paired bootstrap of the champion-challenger
difference (docs/decisions.md D39), on known cases."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest

from tests.unit.test_training import TRAINING_DIR, TRAINING_MODULES


@pytest.fixture
def me(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(TRAINING_DIR))
    for name in TRAINING_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield importlib.import_module("modelrail_evaluation")
    for name in TRAINING_MODULES:
        sys.modules.pop(name, None)


def _regression(me: ModuleType, noise: float, seed: int = 0) -> tuple[np.ndarray, object]:
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 20, 400)
    return y, me.mf.Scored(y + rng.normal(0, noise, len(y)))


def _binary(me: ModuleType, signal: float, seed: int = 0) -> tuple[np.ndarray, object]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    logit = signal * (2 * y - 1) + rng.normal(0, 1, len(y))
    p = 1 / (1 + np.exp(-logit))
    probabilities = np.column_stack([1 - p, p])
    return y, me.mf.Scored((p > 0.5).astype(int), probabilities, [0, 1])


METRIC_CASES = [
    ("rmse", "regression"),
    ("mae", "regression"),
    ("mape", "regression"),
    ("r2", "regression"),
    ("accuracy", "binary"),
    ("f1", "binary"),
    ("roc_auc", "binary"),
    ("log_loss", "binary"),
]


@pytest.mark.parametrize(("name", "kind"), METRIC_CASES)
def test_weighted_metrics_match_the_reported_metrics_on_the_holdout(
    me: ModuleType, name: str, kind: str
) -> None:
    y, scored = _regression(me, 10.0) if kind == "regression" else _binary(me, 1.0)
    expected = me.mf.compute_metric(
        name, y, scored.predictions, scored.probabilities, scored.classes
    )
    got = me.weighted_metric(name, y, scored)(np.ones((1, len(y))))[0]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_weighted_metrics_match_on_a_resample_drawn_as_rows(me: ModuleType) -> None:
    y, scored = _binary(me, 1.0)
    weights = me.resample_weights(np.random.default_rng(3), len(y), 1)
    rows = np.repeat(np.arange(len(y)), weights[0].astype(int))
    for name in ("roc_auc", "f1", "log_loss", "accuracy"):
        expected = me.mf.compute_metric(
            name, y[rows], scored.predictions[rows], scored.probabilities[rows], [0, 1]
        )
        assert me.weighted_metric(name, y, scored)(weights)[0] == pytest.approx(expected)


def test_multiclass_macro_f1_matches(me: ModuleType) -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 300)
    pred = np.where(rng.random(300) < 0.7, y, rng.choice(["a", "b", "c"], 300))
    scored = me.mf.Scored(pred, None, ["a", "b", "c"])
    expected = me.mf.compute_metric("f1", y, pred, None, ["a", "b", "c"])
    assert me.weighted_metric("f1", y, scored)(np.ones((1, 300)))[0] == pytest.approx(expected)


def test_identical_predictions_give_a_zero_interval(me: ModuleType) -> None:
    y, scored = _regression(me, 10.0)
    block = me.paired_bootstrap("rmse", y, scored, scored, seed=42)
    assert (block["point"], block["lower"], block["upper"]) == (0.0, 0.0, 0.0)
    assert block["rows"] == 400
    assert block["valid_resamples"] == me.BOOTSTRAP_RESAMPLES


def test_a_clearly_better_model_has_a_positive_interval(me: ModuleType) -> None:
    y, good = _binary(me, 2.0, seed=5)
    rng = np.random.default_rng(9)
    noisy = good.probabilities[:, 1] * 0.3 + rng.random(len(y)) * 0.7
    bad = me.mf.Scored((noisy > 0.5).astype(int), np.column_stack([1 - noisy, noisy]), [0, 1])
    block = me.paired_bootstrap("roc_auc", y, good, bad, seed=7)
    assert 0 < block["lower"] <= block["point"] <= block["upper"]


@pytest.mark.parametrize("name", ["rmse", "mae", "mape"])
def test_lower_is_better_metrics_are_oriented_so_positive_is_better(
    me: ModuleType, name: str
) -> None:
    y, better = _regression(me, 5.0, seed=2)
    _, worse = _regression(me, 15.0, seed=3)
    block = me.paired_bootstrap(name, y, better, worse, seed=1)
    assert block["point"] > 0 and block["lower"] > 0
    reverse = me.paired_bootstrap(name, y, worse, better, seed=1)
    assert reverse["upper"] < 0
    assert reverse["point"] == pytest.approx(-block["point"])


def test_log_loss_is_oriented_so_positive_is_better(me: ModuleType) -> None:
    y, sharp = _binary(me, 2.0, seed=4)
    blurred = me.mf.Scored(sharp.predictions, 0.5 + 0.2 * (sharp.probabilities - 0.5), [0, 1])
    block = me.paired_bootstrap("log_loss", y, sharp, blurred, seed=1)
    assert block["lower"] > 0


def test_the_interval_is_deterministic_under_the_seed(me: ModuleType) -> None:
    y, a = _regression(me, 10.0, seed=1)
    _, b = _regression(me, 10.0, seed=2)
    first = me.paired_bootstrap("rmse", y, a, b, seed=11)
    assert me.paired_bootstrap("rmse", y, a, b, seed=11) == first
    assert me.paired_bootstrap("rmse", y, a, b, seed=12) != first
    assert first["lower"] < first["point"] < first["upper"]


def test_a_higher_confidence_gives_a_wider_interval(me: ModuleType) -> None:
    y, a = _regression(me, 10.0, seed=1)
    _, b = _regression(me, 10.0, seed=2)
    narrow = me.paired_bootstrap("rmse", y, a, b, seed=3, confidence=0.8)
    wide = me.paired_bootstrap("rmse", y, a, b, seed=3, confidence=0.99)
    assert wide["lower"] < narrow["lower"] < narrow["upper"] < wide["upper"]


def test_chunking_does_not_change_the_interval(
    me: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    y, a = _binary(me, 1.0, seed=1)
    _, b = _binary(me, 1.0, seed=2)
    whole = me.paired_bootstrap("roc_auc", y, a, b, seed=3)
    monkeypatch.setattr(me, "BOOTSTRAP_CHUNK_CELLS", 7 * len(y))
    assert me.paired_bootstrap("roc_auc", y, a, b, seed=3) == whole


def test_a_slice_without_both_classes_has_no_interval(me: ModuleType) -> None:
    y, a = _binary(me, 1.0)
    only = y == 1
    block = me.paired_bootstrap("roc_auc", y[only], a.subset(only), a.subset(only), seed=1)
    assert block == {
        "rows": int(only.sum()),
        "point": None,
        "lower": None,
        "upper": None,
        "valid_resamples": 0,
    }
