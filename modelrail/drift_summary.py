"""The drift baseline's arithmetic, as plain data: numpy and pandas, no pydantic (D55).

The training job writes a model's drift baseline (:data:`BASELINE_FILE`) with
:func:`baseline`, in the SageMaker container, which has no pydantic; the drift engine's
models (:mod:`modelrail.drift.reference`) validate the same dictionaries when they are
built here or read back. So there is one reference algorithm (D48):

* **numeric**, few distinct values (at most :data:`EXACT_MAX_POINTS`): the distinct
  values and their counts, i.e. the sorted sample in run-length form;
* **numeric**, more distinct values: a grid of order statistics (:data:`GRID_POINTS`
  quantiles plus the profile's decile values), the count at each grid value and, per cell
  between neighbours, the count and the sum of distances to its lower edge;
* **categorical / binary**: the count per canonical category (:mod:`modelrail.categories`).

Plus nulls, +-inf, population mean and std, minimum and maximum. :func:`gap_summary` also
counts a live window on a reference's edges (:mod:`modelrail.drift.window`).

The training job ships this file beside its own code (infra/assets.py): the container's
Python (3.10), numpy, pandas and the shipped modelrail modules only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BASELINE_FILE = "drift_baseline.json"
"""The baseline's name in the model directory and in the job's output.tar.gz."""
BASELINE_VERSION = 1
EXACT_MAX_POINTS = 2048
"""A numeric reference with at most this many distinct values is kept exactly."""
GRID_POINTS = 2048
"""Quantile cells of a grid reference: each holds about 1/2048 of the reference."""
DECILES = 10

COLUMN_KINDS = {
    "numeric": "numeric",
    "integer": "numeric",
    "categorical": "categorical",
    "boolean": "boolean",
}
"""A contract column type -> its drift kind; datetime columns have none (left out)."""

Summary = dict[str, Any]


def split_finite(values: Any, name: str) -> tuple[FloatArray, int, int]:
    """The finite values as float64, and the counts of nulls (NaN) and of +-inf."""
    if hasattr(values, "to_numpy"):  # a pandas column, nullable dtypes included
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        array = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"column {name!r} is numeric but holds values that are not numbers"
        ) from exc
    keep = np.isfinite(array)
    finite = array[keep]
    if finite.size == array.size:
        return finite, 0, 0
    inf = int(np.isinf(array).sum())
    return finite, array.size - finite.size - inf, inf


def numeric_reference(values: Any, name: str = "value") -> Summary:
    """The reference of one numeric column (a float array; NaN for nulls), as the fields
    of ``NumericReference``."""
    finite, nulls, inf = split_finite(values, name)
    if finite.size == 0:
        raise ValueError(
            f"column {name!r}: no finite values to build a drift reference from "
            f"({nulls} nulls, {inf} infinite)"
        )
    ordered = np.sort(finite)
    distinct, counts = _runs(ordered)
    n = int(ordered.size)
    exact = distinct.size <= EXACT_MAX_POINTS
    edges = distinct if exact else _grid_edges(ordered)
    if exact:
        edge_counts = counts
        cells: IntArray = np.zeros(edges.size - 1, dtype=np.int64)
        sums: FloatArray = np.zeros(edges.size - 1)
    else:
        edge_counts, gaps, offsets = gap_summary(ordered, edges)
        cells, sums = gaps[1:-1], offsets[1:-1]
    mean = float(ordered.mean())
    return {
        "kind": "numeric",
        "rows": n + nulls + inf,
        "nulls": nulls,
        "non_finite": inf,
        "n": n,
        "exact": exact,
        "edges": edges.tolist(),
        "edge_counts": edge_counts.tolist(),
        "cell_counts": cells.tolist(),
        "cell_offsets": sums.tolist(),
        "deciles": [int(i) for i in np.searchsorted(edges, decile_values(ordered))],
        "mean": mean,
        "std": float(np.sqrt(np.mean((ordered - mean) ** 2))),
        "minimum": float(ordered[0]),
        "maximum": float(ordered[-1]),
    }


def _runs(ordered: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct values of a sorted array and their counts (np.unique would sort again)."""
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, ordered.size)).astype(np.int64)
    distinct: FloatArray = ordered[starts]
    return distinct, counts


def decile_values(ordered: FloatArray) -> FloatArray:
    """The PSI bin edges, by the profile's rule: values at ranks n*k//10, k = 1..9, with
    repeats and any equal to the minimum left out (bins are [lo, hi))."""
    n = ordered.size
    picks = np.unique(ordered[[n * k // DECILES for k in range(1, DECILES)]])
    kept: FloatArray = picks[picks > ordered[0]]
    return kept


def _grid_edges(ordered: FloatArray) -> FloatArray:
    n = ordered.size
    ranks = np.round(np.linspace(0, n - 1, GRID_POINTS + 1)).astype(np.int64)
    return np.union1d(ordered[ranks], decile_values(ordered))


def gap_summary(ordered: FloatArray, edges: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Of sorted values against sorted edges (K of them): the count equal to each edge,
    and per gap (0: below the first edge, i: between edges i-1 and i, K: above the last)
    the count and the sum of distances to the gap's edge (the one below it; the first
    edge for gap 0). Distances, not values, so the sums keep their precision far from 0."""
    left = np.searchsorted(ordered, edges, side="left")
    right = np.searchsorted(ordered, edges, side="right")
    starts = np.concatenate([[0], right])
    ends = np.concatenate([left, [ordered.size]])
    counts = ends - starts
    # runs of the sorted values: gap 0, edge 0, gap 1, edge 1, ..., gap K; each value's
    # base is its gap's edge (an edge's own values are at distance 0 from it)
    runs = np.empty(2 * edges.size + 1, dtype=np.int64)
    runs[0::2] = counts
    runs[1::2] = right - left
    bases = np.concatenate([[edges[0]], np.repeat(edges, 2)])
    prefix = np.empty(ordered.size + 1)
    prefix[0] = 0.0
    dist = prefix[1:]  # computed in place: one temporary a column, not three
    np.subtract(ordered, np.repeat(bases, runs), out=dist)
    np.abs(dist, out=dist)
    np.cumsum(dist, out=dist)
    offsets = prefix[ends] - prefix[starts]
    return (right - left).astype(np.int64), counts.astype(np.int64), offsets


def categorical_reference(
    counts: Mapping[str, int], nulls: int, *, boolean: bool = False, name: str = "value"
) -> Summary:
    """The reference of one categorical column from its canonical category counts, as
    the fields of ``CategoricalReference``; a boolean column or one with two categories
    is "binary" (the test choice counts the categories of reference and window together,
    as Evidently does)."""
    n = sum(counts.values())
    if n == 0:
        raise ValueError(
            f"column {name!r}: no non-null values to build a drift reference from ({nulls} nulls)"
        )
    seen = {k: int(v) for k, v in counts.items() if v}
    kind = "binary" if boolean or len(seen) == 2 else "categorical"
    return {
        "kind": kind,
        "rows": n + nulls,
        "nulls": nulls,
        "n": n,
        "categories": seen,
        "boolean": boolean,
    }


def reference_of(values: Any, kind: str, name: str) -> Summary:
    """One column's reference by its drift kind (numeric, categorical or boolean)."""
    if kind == "numeric":
        return numeric_reference(values, name)
    if kind not in ("categorical", "boolean"):
        raise ValueError(f"column {name!r}: unknown drift kind {kind!r}")
    from modelrail.categories import category_counts

    counts, nulls = category_counts(values, boolean=kind == "boolean", name=name)
    return categorical_reference(counts, nulls, boolean=kind == "boolean", name=name)


def baseline(
    columns: Mapping[str, tuple[str, Any]],
    *,
    prediction: tuple[str, Any] | None = None,
    importances: Mapping[str, float] | None = None,
) -> Summary:
    """A baseline from ``name -> (kind, values)``, as the fields of ``DriftBaseline``;
    ``prediction`` from the model's output on the holdout."""
    features = {name: reference_of(values, kind, name) for name, (kind, values) in columns.items()}
    pred = reference_of(prediction[1], prediction[0], "prediction") if prediction else None
    weights = None
    if importances:
        weights = {k: float(v) for k, v in importances.items() if math.isfinite(float(v))}
    return {
        "version": BASELINE_VERSION,
        "features": features,
        "prediction": pred,
        "importances": weights or None,
    }
