"""Property tests of RELIABILITY.md item 37 for the drift engine: metrics >= 0, ~0 for
identical samples, invariant to row order and to splitting-and-merging a window, finite
with empty bins, monotone in the decision; NaN/inf and empty inputs get explicit errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from modelrail.drift import DriftOptions, compare, merge
from modelrail.drift.build import build_baseline, build_window
from modelrail.drift.engine import DriftWindow, compare_feature
from modelrail.drift.reference import numeric_reference
from modelrail.drift.window import (
    CategoricalWindow,
    NumericWindow,
    categorical_window,
    numeric_window,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(1, 300), elements=finite)
mixed = arrays(
    np.float64,
    st.integers(0, 300),
    elements=finite | st.just(math.nan) | st.just(math.inf) | st.just(-math.inf),
)
labels = st.lists(st.sampled_from(["a", "b", "c", "d", "e", None]), min_size=1, max_size=200)
OPTS = DriftOptions(min_current=1)


def _drift(ref: np.ndarray, cur: np.ndarray) -> object:
    reference = numeric_reference(ref)
    return compare_feature("x", reference, numeric_window(reference, cur), OPTS)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_metrics_are_non_negative_and_finite(ref: np.ndarray, cur: np.ndarray) -> None:
    f = _drift(ref, cur)
    for value in (f.ks, f.wasserstein_norm, f.psi, f.ks_error, f.wasserstein_error):  # type: ignore[attr-defined]
        assert value is not None and math.isfinite(value) and value >= 0
    assert f.score is not None and f.score >= 0  # type: ignore[attr-defined]
    # an exact reference: KS is the raw rows' KS, Wasserstein within its stated bound
    assert f.ks == pytest.approx(_ks(ref, cur), abs=1e-12)  # type: ignore[attr-defined]
    truth = _w1(ref, cur) / max(float(np.std(ref)), 0.001)
    assert abs(f.wasserstein_norm - truth) <= f.wasserstein_error + 1e-9 * max(1.0, truth)  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(samples)
def test_identical_samples_score_zero(values: np.ndarray) -> None:
    f = _drift(values, values)
    assert f.ks == 0.0 and f.psi == pytest.approx(0.0, abs=1e-12)  # type: ignore[attr-defined]
    assert f.wasserstein_norm == pytest.approx(0.0, abs=1e-9)  # type: ignore[attr-defined]
    assert not f.drifted  # type: ignore[attr-defined]


def test_identical_large_samples_score_zero_on_a_grid_reference() -> None:
    values = np.random.default_rng(5).lognormal(size=50_000)
    f = _drift(values, values)
    assert not numeric_reference(values).exact
    assert f.ks == 0.0 and f.wasserstein_norm == pytest.approx(0.0, abs=1e-12)  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(samples, mixed, st.randoms(use_true_random=False))
def test_window_invariant_to_row_order(ref: np.ndarray, cur: np.ndarray, rnd: object) -> None:
    reference = numeric_reference(ref)
    shuffled = cur.copy()
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = numeric_window(reference, cur), numeric_window(reference, shuffled)
    _same_numeric(a, b)


@settings(max_examples=80, deadline=None)
@given(samples, mixed, st.integers(0, 300))
def test_split_and_merge_equals_whole(ref: np.ndarray, cur: np.ndarray, cut: int) -> None:
    reference = numeric_reference(ref)
    cut = min(cut, cur.size)
    whole = numeric_window(reference, cur)
    merged = merge(numeric_window(reference, cur[:cut]), numeric_window(reference, cur[cut:]))
    assert isinstance(merged, NumericWindow)
    _same_numeric(whole, merged)
    if whole.n:
        one, two = (
            compare_feature("x", reference, whole, OPTS),
            compare_feature("x", reference, merged, OPTS),
        )
        assert (one.test, one.drifted, one.ks) == (two.test, two.drifted, two.ks)
        assert one.score == pytest.approx(two.score, rel=1e-9, abs=1e-12)


def _same_numeric(a: NumericWindow, b: NumericWindow) -> None:
    """Counts, extremes and tracked values bit for bit; float sums to rounding."""
    exact = (
        "rows",
        "nulls",
        "non_finite",
        "n",
        "edge_counts",
        "gap_counts",
        "extra_values",
        "extra_counts",
    )
    for field in (*exact, "minimum", "maximum"):
        assert getattr(a, field) == getattr(b, field), field
    assert np.allclose(a.gap_offsets, b.gap_offsets, rtol=1e-12, atol=1e-6)
    assert a.total == pytest.approx(b.total, rel=1e-12, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(labels, labels, st.integers(0, 200))
def test_categorical_merge_and_empty_bins(
    ref: list[str | None], cur: list[str | None], cut: int
) -> None:
    baseline = build_baseline({"c": ("categorical", ref)}) if any(ref) else None
    if baseline is None:
        with pytest.raises(ValueError, match="no non-null values"):
            build_baseline({"c": ("categorical", ref)})
        return
    whole = categorical_window(cur)
    merged = merge(categorical_window(cur[:cut]), categorical_window(cur[cut:]))
    assert isinstance(merged, CategoricalWindow) and merged == whole
    f = compare(baseline, DriftWindow(features={"c": whole}), options=OPTS).features[0]
    if f.n_current:
        assert (
            f.score is not None and math.isfinite(f.score) and f.score >= 0
        )  # categories absent on one side
        assert f.psi is not None and math.isfinite(f.psi) and f.psi >= 0


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.integers(50, 300), elements=st.floats(-100, 100)), st.floats(0.01, 50))
def test_monotone_in_shift_and_in_threshold(ref: np.ndarray, step: float) -> None:
    reference = numeric_reference(ref)
    scores = [
        compare_feature(
            "x", reference, numeric_window(reference, ref + k * step), OPTS
        ).wasserstein_norm
        for k in range(4)
    ]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(scores))  # type: ignore[operator]
    # W1 of a shifted copy is the shift itself (normed by the reference std)
    norm = max(float(np.std(ref)), 0.001)
    assert scores[2] == pytest.approx(2 * step / norm, rel=1e-9)
    verdicts = [
        compare_feature(
            "x",
            reference,
            numeric_window(reference, ref + step),
            DriftOptions(min_current=1, distance=t),
        ).drifted
        for t in (0.01, 0.1, 1.0, 10.0)
    ]
    assert verdicts == sorted(verdicts, reverse=True)  # a stricter threshold never adds drift


@pytest.mark.parametrize("values", [[], [math.nan, math.nan], [math.inf, -math.inf, math.nan]])
def test_references_without_finite_values_are_explicit_errors(values: list[float]) -> None:
    with pytest.raises(ValueError, match="no finite values to build a drift reference"):
        numeric_reference(np.array(values))


def test_a_window_without_finite_values_says_so_instead_of_alarming() -> None:
    baseline = build_baseline({"x": ("numeric", np.arange(100.0))})
    window = build_window(baseline, {"x": np.array([math.nan, math.inf, -math.inf])})
    f = compare(baseline, window).features[0]
    assert (f.status, f.drifted, f.score, f.non_finite_current) == (
        "insufficient_data",
        False,
        None,
        2,
    )
    assert f.null_rate_changed is False or f.null_share_current == 1.0


GRID = numeric_reference(np.random.default_rng(8).lognormal(size=20_000))
grid_windows = arrays(np.float64, st.integers(1, 400), elements=st.floats(-1, 80))


@settings(max_examples=60, deadline=None)
@given(grid_windows, st.integers(0, 400))
def test_grid_reference_split_merge_and_bounds(cur: np.ndarray, cut: int) -> None:
    """Against a grid reference: merge is exact, metrics are >= 0 and finite, and the
    stated bounds contain the truth computed from the raw rows."""
    assert not GRID.exact
    whole = numeric_window(GRID, cur)
    merged = merge(numeric_window(GRID, cur[:cut]), numeric_window(GRID, cur[cut:]))
    assert isinstance(merged, NumericWindow)
    _same_numeric(whole, merged)
    f = compare_feature("x", GRID, whole, OPTS)
    assert f.ks is not None and f.ks_error is not None and f.wasserstein_norm is not None
    assert f.wasserstein_error is not None and f.psi is not None and f.psi >= 0
    raw = np.random.default_rng(8).lognormal(size=20_000)
    truth_w = _w1(raw, cur) / max(float(np.std(raw)), 0.001)
    assert abs(f.wasserstein_norm - truth_w) <= f.wasserstein_error + 1e-9
    truth_ks = _ks(raw, cur)
    assert f.ks - 1e-12 <= truth_ks <= f.ks + f.ks_error + 1e-12


def _w1(a: np.ndarray, b: np.ndarray) -> float:
    xs = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), xs[:-1], side="right") / a.size
    fb = np.searchsorted(np.sort(b), xs[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * np.diff(xs)))


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    xs = np.concatenate([a, b])
    fa = np.searchsorted(np.sort(a), xs, side="right") / a.size
    fb = np.searchsorted(np.sort(b), xs, side="right") / b.size
    return float(np.abs(fa - fb).max())


def test_nullable_pandas_columns_and_text_in_numbers() -> None:
    import pandas as pd

    column = pd.Series([1, None, 3, 4], dtype="Int64")
    reference = numeric_reference(column)
    assert (reference.n, reference.nulls) == (3, 1)
    with pytest.raises(ValueError, match="holds values that are not numbers"):
        numeric_reference(np.array(["1", "x"], dtype=object))
