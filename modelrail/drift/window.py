"""A live window's per-feature summary on the reference's grid: one pass over the column
(a sort, then two binary searches per reference edge), and :func:`merge` adds two
summaries of the same feature so a large window splits into parts and combines exactly:
counts, minimum and maximum bit for bit; the float sums to rounding (D48).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from modelrail.drift.reference import Frozen, NumericReference
from modelrail.drift_options import LOW_CARDINALITY_MAX
from modelrail.drift_summary import gap_summary, split_finite

# Windows of numeric features whose reference has at most LOW_CARDINALITY_MAX distinct
# values also keep their off-grid values (the smallest EXTRA_VALUES, with counts): enough
# to apply Evidently's "at most 5 unique values" rule, which counts reference and current
# together (and DriftOptions.low_cardinality up to this), and to count them exactly.
EXTRA_VALUES = LOW_CARDINALITY_MAX + 1


class NumericWindow(Frozen):
    rows: int = Field(ge=0)
    nulls: int = Field(ge=0)
    non_finite: int = Field(ge=0)
    n: int = Field(ge=0, description="finite values")
    edge_counts: list[int] = Field(description="values equal to reference edge i")
    gap_counts: list[int] = Field(
        description="0: below the first edge, i: between edges i-1 and i, K: above"
    )
    gap_offsets: list[float] = Field(
        description="per gap, sum of distances to its edge (gap 0: to the first)"
    )
    extra_values: list[float] | None = None
    extra_counts: list[int] | None = None
    total: float = 0.0
    total_squares: float = 0.0
    minimum: float | None = None
    maximum: float | None = None


class CategoricalWindow(Frozen):
    rows: int = Field(ge=0)
    nulls: int = Field(ge=0)
    n: int = Field(ge=0)
    categories: dict[str, int]


def numeric_window(reference: NumericReference, values: Any, name: str = "value") -> NumericWindow:
    """Summarise one numeric column of a window against its reference's edges: sort it
    once, then two binary searches per edge give every count (sorting 1M floats is
    faster than searching each of them among the edges)."""
    finite, nulls, inf = split_finite(values, name)
    ordered = np.sort(finite)
    edges = np.asarray(reference.edges)
    edge_counts, gap_counts, gap_offsets = gap_summary(ordered, edges)
    extra_values, extra_counts = None, None
    if reference.exact and edges.size <= LOW_CARDINALITY_MAX:
        off_grid = ordered[~np.isin(ordered, edges)]
        extra_values, extra_counts = _smallest(np.unique(off_grid, return_counts=True))
    empty = ordered.size == 0
    return NumericWindow(
        rows=ordered.size + nulls + inf,
        nulls=nulls,
        non_finite=inf,
        n=ordered.size,
        edge_counts=edge_counts.tolist(),
        gap_counts=gap_counts.tolist(),
        gap_offsets=gap_offsets.tolist(),
        extra_values=extra_values,
        extra_counts=extra_counts,
        total=float(ordered.sum()),
        total_squares=float(np.dot(ordered, ordered)),
        minimum=None if empty else float(ordered[0]),
        maximum=None if empty else float(ordered[-1]),
    )


def _smallest(pair: tuple[npt.NDArray[Any], npt.NDArray[Any]]) -> tuple[list[float], list[int]]:
    values, counts = pair
    return values[:EXTRA_VALUES].tolist(), counts[:EXTRA_VALUES].tolist()


def categorical_window(
    values: Any, *, boolean: bool = False, name: str = "value"
) -> CategoricalWindow:
    """Summarise one categorical column (values of any type; canonical strings as the
    profile keys them; ``boolean`` parses true/false spellings as the profile does)."""
    from modelrail.categories import category_counts  # pandas: imported when counting

    counts, nulls = category_counts(values, boolean=boolean, name=name)
    return categorical_window_from_counts(counts, nulls)


def categorical_window_from_counts(counts: dict[str, int], nulls: int) -> CategoricalWindow:
    n = sum(counts.values())
    return CategoricalWindow(
        rows=n + nulls, nulls=nulls, n=n, categories={k: v for k, v in counts.items() if v}
    )


def merge(
    a: NumericWindow | CategoricalWindow, b: NumericWindow | CategoricalWindow
) -> NumericWindow | CategoricalWindow:
    """The summary of the two windows' rows together (both of the same feature)."""
    if isinstance(a, CategoricalWindow) and isinstance(b, CategoricalWindow):
        keys = sorted(set(a.categories) | set(b.categories))
        joined = {key: a.categories.get(key, 0) + b.categories.get(key, 0) for key in keys}
        return CategoricalWindow(
            rows=a.rows + b.rows, nulls=a.nulls + b.nulls, n=a.n + b.n, categories=joined
        )
    if isinstance(a, NumericWindow) and isinstance(b, NumericWindow):
        return _merge_numeric(a, b)
    raise TypeError("cannot merge a numeric window with a categorical one")


def _add(x: list[Any], y: list[Any]) -> list[Any]:
    if len(x) != len(y):
        raise ValueError("windows summarised against different references")
    summed: list[Any] = (np.asarray(x) + np.asarray(y)).tolist()
    return summed


def _merge_numeric(a: NumericWindow, b: NumericWindow) -> NumericWindow:
    extra_values, extra_counts = None, None
    if a.extra_values is not None and b.extra_values is not None:
        pooled: dict[float, int] = {}
        for v, c in [
            *zip(a.extra_values, a.extra_counts or [], strict=False),
            *zip(b.extra_values, b.extra_counts or [], strict=False),
        ]:
            pooled[v] = pooled.get(v, 0) + c
        ordered = sorted(pooled)[:EXTRA_VALUES]
        extra_values, extra_counts = ordered, [pooled[v] for v in ordered]
    lows = [v for v in (a.minimum, b.minimum) if v is not None]
    highs = [v for v in (a.maximum, b.maximum) if v is not None]
    return NumericWindow(
        rows=a.rows + b.rows,
        nulls=a.nulls + b.nulls,
        non_finite=a.non_finite + b.non_finite,
        n=a.n + b.n,
        edge_counts=_add(a.edge_counts, b.edge_counts),
        gap_counts=_add(a.gap_counts, b.gap_counts),
        gap_offsets=_add(a.gap_offsets, b.gap_offsets),
        extra_values=extra_values,
        extra_counts=extra_counts,
        total=a.total + b.total,
        total_squares=a.total_squares + b.total_squares,
        minimum=min(lows) if lows else None,
        maximum=max(highs) if highs else None,
    )
