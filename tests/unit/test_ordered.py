"""Bounded-memory order statistics (modelrail.ordered) against numpy's in-memory answers."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.contract import Column, ColumnType
from modelrail.ordered import SortedStats, ascending, partition_bits, sort_keys, top_histogram
from modelrail.profile import numeric_profile

# ties (a few repeated values), both signs, tiny and huge magnitudes, a value alone
_values = st.lists(
    st.one_of(
        st.sampled_from([0.0, 1.0, -1.0, 2.5, 1e-300, -1e300, 7.0]),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
    ),
    min_size=1,
    max_size=300,
)


def _chunks(values: np.ndarray, cuts: list[int]):  # type: ignore[no-untyped-def]
    pieces = np.split(values, sorted({min(c, len(values)) for c in cuts}))
    return lambda: iter(pieces)


@settings(max_examples=200, deadline=None)
@given(_values, st.integers(min_value=1, max_value=40), st.lists(st.integers(0, 300)))
def test_ascending_runs_are_the_sorted_column(
    values: list[float], limit: int, cuts: list[int]
) -> None:
    column = np.array(values, dtype=np.float64) + 0.0
    histogram = top_histogram(column)
    runs = list(ascending(_chunks(column, cuts), histogram, limit))
    for run in runs:  # bounded, unless it is one repeated value
        assert len(run) <= limit or (run == run[0]).all()
    joined = np.concatenate(runs)
    assert joined.tobytes() == np.sort(column).tobytes()


def test_a_crowded_bucket_is_refined_down_to_single_values() -> None:
    # 10,000 values within one top-16-bit bucket, and one value 5,000 times
    rng = np.random.default_rng(4)
    column = np.concatenate([1.0 + rng.random(10_000) * 1e-6, np.full(5_000, 3.0)])
    rng.shuffle(column)
    runs = list(ascending(lambda: iter(np.array_split(column, 7)), top_histogram(column), 100))
    assert np.concatenate(runs).tobytes() == np.sort(column).tobytes()
    assert max(len(r) for r in runs if r[0] != 3.0) <= 100


def test_sort_keys_preserve_the_order_of_floats() -> None:
    values = np.array([-np.inf, -1e300, -1.0, -5e-324, 0.0, 5e-324, 1.0, 1e300, np.inf])
    assert (np.diff(sort_keys(values).astype(object)) > 0).all()


def _profile(values: np.ndarray, pieces: int, limit: int):  # type: ignore[no-untyped-def]
    present = values[~np.isnan(values)] + 0.0
    column = Column(name="x", type=ColumnType.NUMERIC)
    chunks = lambda: iter(np.array_split(present, pieces))  # noqa: E731
    runs = ascending(chunks, top_histogram(present), limit) if len(present) else iter(())
    magnitude = float(np.abs(present).max()) if len(present) else 0.0
    nulls = len(values) - len(present)
    return numeric_profile(column, 10, len(values), nulls, runs, magnitude)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from([np.nan, 0.0, 3.0, -2.0]), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=200,
    ),
    st.integers(1, 9),
    st.integers(1, 50),
)
def test_the_streamed_numeric_profile_is_numpys_answer(
    values: list[float], pieces: int, limit: int
) -> None:
    column = np.array(values, dtype=np.float64)
    present = np.sort(column[~np.isnan(column)] + 0.0)
    p = _profile(column, pieces, limit)
    assert p.nulls == int(np.isnan(column).sum())
    whole = _profile(column, 1, 10**9)  # one run: what build_profile computes
    assert p == whole
    if not len(present):
        assert p.min is None and p.bin_counts == (0,)
        return
    assert (p.min, p.max) == (present[0], present[-1])
    assert p.unique == len(np.unique(present))
    assert p.quantiles is not None
    for key, q in {"p01": 0.01, "p25": 0.25, "p50": 0.5, "p99": 0.99}.items():
        assert p.quantiles[key] == pytest.approx(np.quantile(present, q), rel=1e-12, abs=1e-300)
    assert p.mean == pytest.approx(np.mean(present), rel=1e-12, abs=1e-9)
    assert p.std == pytest.approx(np.std(present), rel=1e-9, abs=1e-9)
    assert p.bin_edges is not None and p.bin_counts is not None
    edges = np.array(p.bin_edges)
    counts = np.bincount(
        np.searchsorted(edges, present, side="right") - 1, minlength=len(edges) - 1
    )
    assert tuple(counts) == p.bin_counts
    digest = hashlib.sha256(b"numeric\0")
    digest.update(p.nulls.to_bytes(8, "little"))
    digest.update(present.astype("<f8").tobytes())
    assert p.content_sha256 == digest.hexdigest()


def test_moments_do_not_depend_on_how_the_sorted_values_are_cut() -> None:
    values = np.sort(np.random.default_rng(9).normal(5.0, 3.0, 200_001))

    def stats(pieces: list[np.ndarray]) -> SortedStats:
        s = SortedStats(len(values), [17, 100_000], float(np.abs(values).max()), hashlib.sha256())
        for piece in pieces:
            s.feed(piece)
        return s

    one = stats([values])
    cut = stats(np.split(values, [3, 65_540, 65_541, 150_000]))
    assert one.mean_std() == cut.mean_std()
    assert (one.distinct, one.at(17), one.first_rank(100_000)) == (
        cut.distinct,
        cut.at(17),
        cut.first_rank(100_000),
    )
    assert one.mean_std()[0] == pytest.approx(np.mean(values), rel=1e-14)
    assert one.mean_std()[1] == pytest.approx(np.std(values), rel=1e-12)


def test_a_single_value() -> None:
    p = _profile(np.array([4.5]), 1, 1)
    assert (p.min, p.max, p.mean, p.std, p.unique) == (4.5, 4.5, 4.5, 0.0, 1)
    assert p.quantiles == dict.fromkeys(p.quantiles or {}, 4.5)


def test_partitions_grow_with_the_data_from_16_to_256() -> None:
    mib = 1024 * 1024
    assert [partition_bits(t, 64 * mib) for t in (0, 1024 * mib, 1025 * mib, 10**13)] == [
        4,
        4,
        5,
        8,
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=50),
    st.integers(0, 49),
    st.integers(-2, 2),
    st.integers(0, 2**64 - 1),
    st.booleans(),
)
def test_a_key_bound_picks_what_the_keys_pick(
    values: list[float], at: int, step: int, anywhere: int, near: bool
) -> None:
    """The gather compares values with the float at a bucket's key (D53): the values at or
    above it are those whose keys are, for any key (beyond ±inf's: all or none)."""
    from modelrail.ordered import _key_value

    column = np.array(values, dtype=np.float64) + 0.0
    keys = sort_keys(column)
    key = int(keys[at % len(keys)]) + step if near else anywhere
    key = min(max(key, 0), 2**64 - 1)
    bound = _key_value(key)
    above = keys >= np.uint64(key)
    if bound is None:
        assert above.all() or not above.any()
    else:
        assert ((column >= bound) == above).all()
        assert ((column < bound) == ~above).all()
