"""A window and a drift report in SageMaker Model Monitor's shapes: ``statistics.json``
(as :func:`modelrail.profile.to_statistics_json` writes the baseline's) and
``constraint_violations.json``, so tools that read Model Monitor output read ours."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from modelrail.drift.engine import DriftReport, DriftWindow
from modelrail.drift.reference import DriftBaseline, NumericReference
from modelrail.drift.window import CategoricalWindow, NumericWindow


def statistics_json(baseline: DriftBaseline, window: DriftWindow) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    for name, ref in baseline.features.items():
        win = window.features[name]
        missing = win.nulls + (win.non_finite if isinstance(win, NumericWindow) else 0)
        common = {"num_present": win.n, "num_missing": missing}
        if isinstance(win, NumericWindow) and isinstance(ref, NumericReference):
            features.append(
                {
                    "name": name,
                    "inferred_type": "Fractional",
                    "numerical_statistics": _numeric(ref, win, common),
                }
            )
        elif isinstance(win, CategoricalWindow):
            stats = {
                "common": common,
                "distinct_count": float(len(win.categories)),
                "distribution": {
                    "categorical": {
                        "buckets": [
                            {"value": k, "count": v} for k, v in sorted(win.categories.items())
                        ]
                    }
                },
            }
            features.append({"name": name, "inferred_type": "String", "string_statistics": stats})
    rows = max((w.rows for w in window.features.values()), default=0)
    return {"version": 0.0, "dataset": {"item_count": rows}, "features": features}


def _numeric(ref: NumericReference, win: NumericWindow, common: dict[str, int]) -> dict[str, Any]:
    stats: dict[str, Any] = {"common": common}
    if not win.n:
        return stats
    mean = win.total / win.n
    std = float(np.sqrt(max(win.total_squares / win.n - mean * mean, 0.0)))
    stats.update(mean=mean, sum=win.total, std_dev=std, min=win.minimum, max=win.maximum)
    # the reference's decile bins, the outer ones closed at the window's own extremes
    edges = [ref.edges[i] for i in ref.deciles]
    lows = [min(ref.minimum, win.minimum or ref.minimum), *edges]
    bounds = [*lows, max(ref.maximum, win.maximum or ref.maximum)]
    before = _before(win, ref.deciles)
    counts = np.diff([0, *before, win.n])
    stats["distribution"] = {
        "kll": {
            "buckets": [
                {"lower_bound": lo, "upper_bound": hi, "count": float(c)}
                for (lo, hi), c in zip(pairwise(bounds), counts, strict=True)
            ]
        }
    }
    return stats


def _before(win: NumericWindow, indices: list[int]) -> list[int]:
    """Window values strictly below edge i, for each i."""
    gaps = np.asarray(win.gap_counts)
    at = np.asarray(win.edge_counts)
    below = np.cumsum(gaps[:-1]) + np.concatenate([[0], np.cumsum(at)[:-1]])
    return [int(below[i]) for i in indices]


def constraint_violations_json(report: DriftReport) -> dict[str, Any]:
    """Model Monitor's violations: drift as ``baseline_drift_check``, a changed null rate
    as ``completeness_check``, unseen categories as ``categorical_values_check``."""
    violations: list[dict[str, str]] = []
    judged = [*report.features, *([report.prediction] if report.prediction else [])]
    for f in judged:
        if f.drifted:
            violations.append(
                {
                    "feature_name": f.name,
                    "constraint_check_type": "baseline_drift_check",
                    "description": f"{f.test} score {f.score:.4g} crosses the threshold {f.threshold:g}",
                }
            )
        if f.null_rate_changed:
            violations.append(
                {
                    "feature_name": f.name,
                    "constraint_check_type": "completeness_check",
                    "description": (
                        f"null share {f.null_share_current:.4g} against {f.null_share_reference:.4g} in the baseline"
                    ),
                }
            )
        if f.unseen:
            names = ", ".join(sorted(f.unseen)[:5])
            violations.append(
                {
                    "feature_name": f.name,
                    "constraint_check_type": "categorical_values_check",
                    "description": f"{len(f.unseen)} categories the baseline lacks, e.g. {names}",
                }
            )
    return {"violations": violations}
