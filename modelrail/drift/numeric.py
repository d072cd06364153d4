"""KS, Wasserstein-1, PSI and value counts of a numeric feature from its reference and
window summaries (no raw rows). Both empirical CDFs are known exactly at every reference
edge and just before it; between edges only a grid reference's own CDF is unknown, so
KS and Wasserstein are exact against an exact reference and bounded against a grid one
(the bound is returned, D48).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from modelrail.drift.reference import NumericReference
from modelrail.drift.window import NumericWindow

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cdfs:
    """Both ECDFs at each edge (``at``: F(e_i)) and just before it (``before``: F(e_i-)),
    plus the per-gap counts and offset sums (gap 0 below the first edge, gap K above the
    last; each sum of distances to the gap's lower edge, or to the first edge for gap 0)."""

    edges: FloatArray
    ref_at: FloatArray
    ref_before: FloatArray
    cur_at: FloatArray
    cur_before: FloatArray
    ref_gap_counts: FloatArray
    ref_gap_sums: FloatArray
    cur_gap_counts: FloatArray
    cur_gap_sums: FloatArray


def cdfs(ref: NumericReference, win: NumericWindow) -> Cdfs:
    if win.n == 0:
        raise ValueError("the window has no finite values to compare")
    pad = np.zeros(1)
    ref_gaps = np.concatenate([pad, np.asarray(ref.cell_counts, dtype=np.float64), pad])
    ref_sums = np.concatenate([pad, np.asarray(ref.cell_offsets, dtype=np.float64), pad])
    cur_gaps = np.asarray(win.gap_counts, dtype=np.float64)
    ref_at, ref_before = _cumulative(ref_gaps, np.asarray(ref.edge_counts, dtype=np.float64), ref.n)
    cur_at, cur_before = _cumulative(cur_gaps, np.asarray(win.edge_counts, dtype=np.float64), win.n)
    return Cdfs(
        edges=np.asarray(ref.edges, dtype=np.float64),
        ref_at=ref_at,
        ref_before=ref_before,
        cur_at=cur_at,
        cur_before=cur_before,
        ref_gap_counts=ref_gaps,
        ref_gap_sums=ref_sums,
        cur_gap_counts=cur_gaps,
        cur_gap_sums=np.asarray(win.gap_offsets, dtype=np.float64),
    )


def _cumulative(gaps: FloatArray, at_edges: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    k = at_edges.size
    steps = np.empty(2 * k)
    steps[0::2] = gaps[:k]
    steps[1::2] = at_edges
    running = np.cumsum(steps) / n
    return running[1::2], running[0::2]


def ks_statistic(c: Cdfs) -> tuple[float, float]:
    """The two-sample KS statistic and how far above it the true value can be (0 against
    an exact reference). Every candidate point of the supremum is an edge, a left limit
    at an edge, or, against a grid reference, somewhere inside a cell."""
    d = float(max(np.abs(c.ref_at - c.cur_at).max(), np.abs(c.ref_before - c.cur_before).max()))
    if not c.ref_gap_counts.any():
        return d, 0.0
    # inside cell i (edges i-1, i): F_ref in [ref_at[i-1], ref_before[i]], F_cur likewise
    upper = max(
        d,
        float(np.abs(c.ref_before[1:] - c.cur_at[:-1]).max(initial=0.0)),
        float(np.abs(c.cur_before[1:] - c.ref_at[:-1]).max(initial=0.0)),
    )
    return d, upper - d


def wasserstein(c: Cdfs, ref_n: int, cur_n: int) -> tuple[float, float]:
    """W1 = integral of |F_ref - F_cur| and its error bound. Exact in every gap where one
    CDF stays on one side of the other (always below the first edge and above the last);
    in a cell where they may cross, a linear-interpolation estimate within proven bounds."""
    e = c.edges
    below = c.cur_gap_sums[0] / cur_n
    above = c.cur_gap_sums[-1] / cur_n
    if e.size == 1:
        return float(below + above), 0.0
    width = np.diff(e)
    # over a cell, F(x) dx = width * F(lo) + sum(hi - v) / n, and hi - v = width - (v - lo)
    ref_int = (
        width * c.ref_at[:-1] + (c.ref_gap_counts[1:-1] * width - c.ref_gap_sums[1:-1]) / ref_n
    )
    cur_int = (
        width * c.cur_at[:-1] + (c.cur_gap_counts[1:-1] * width - c.cur_gap_sums[1:-1]) / cur_n
    )
    net = np.abs(ref_int - cur_int)  # exact when no crossing
    a_lo, a_hi, b_lo, b_hi = c.ref_at[:-1], c.ref_before[1:], c.cur_at[:-1], c.cur_before[1:]
    crossing = (a_lo < b_hi) & (b_lo < a_hi)  # else one CDF stays on one side
    high = width * np.maximum(a_hi - b_lo, b_hi - a_lo)
    d0, d1 = a_lo - b_lo, a_hi - b_hi
    with np.errstate(divide="ignore", invalid="ignore"):
        opposite = width * (d0**2 + d1**2) / (2 * (np.abs(d0) + np.abs(d1)))
    linear = np.where(d0 * d1 < 0, opposite, width * np.abs(d0 + d1) / 2)
    estimate = np.clip(np.nan_to_num(linear), net, np.maximum(high, net))
    cells = np.where(crossing, estimate, net)
    error = np.where(crossing, np.maximum(estimate - net, np.maximum(high, net) - estimate), 0.0)
    return float(below + above + cells.sum()), float(error.sum())


def decile_shares(ref: NumericReference, c: Cdfs) -> tuple[FloatArray, FloatArray]:
    """Reference and current shares of the reference's decile bins ([lo, hi) as the
    profile's bins)."""
    idx = np.asarray(ref.deciles, dtype=np.int64)
    ref_cum = np.concatenate([[0.0], c.ref_before[idx], [1.0]])
    cur_cum = np.concatenate([[0.0], c.cur_before[idx], [1.0]])
    return np.diff(ref_cum), np.diff(cur_cum)


def value_counts(
    ref: NumericReference, win: NumericWindow
) -> tuple[list[float], list[float], list[float]] | None:
    """Distinct values of reference and window together with the counts of each, when the
    reference is exact and the window's off-grid values are all known; else None."""
    if not ref.exact or win.extra_values is None:
        return None
    off_grid = sum(win.gap_counts)
    if off_grid != sum(win.extra_counts or []):
        return None  # more distinct values than the window tracked
    keys = [*ref.edges, *win.extra_values]
    ref_counts = [*map(float, ref.edge_counts), *([0.0] * len(win.extra_values))]
    cur_counts = [*map(float, win.edge_counts), *map(float, win.extra_counts or [])]
    order = np.argsort(keys, kind="stable")
    return (
        [keys[i] for i in order],
        [ref_counts[i] for i in order],
        [cur_counts[i] for i in order],
    )
