"""The drift engine's rules beyond the verdict: test choice, guards, null rates, unseen
categories, multiple testing, weighted share, persistence, Model Monitor shapes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from modelrail.drift import DriftBaseline, DriftOptions, compare, persistent
from modelrail.drift.build import build_baseline, build_window
from modelrail.drift.engine import select_test
from modelrail.drift.monitor import constraint_violations_json, statistics_json

RNG = np.random.default_rng(11)


def _pair(n_ref: int, n_cur: int, shift: float = 0.0) -> tuple[DriftBaseline, object]:
    baseline = build_baseline(
        {
            "x": ("numeric", RNG.normal(size=n_ref)),
            "c": ("categorical", RNG.choice(["a", "b", "c"], n_ref)),
            "f": ("boolean", RNG.choice(["yes", "no"], n_ref)),
        },
        importances={"x": 0.7, "c": 0.2, "f": 0.1},
    )
    cats = np.array(["a", "b", "c", "zz"])
    window = build_window(
        baseline,
        {
            "x": RNG.normal(shift, size=n_cur),
            "c": RNG.choice(
                cats, n_cur, p=[0.3, 0.3, 0.3, 0.1] if shift else [1 / 3, 1 / 3, 1 / 3, 0]
            ),
            "f": RNG.choice(["true", "false"], n_cur),
        },
    )
    return baseline, window


@pytest.mark.parametrize(
    ("kind", "rows", "unique", "test"),
    [
        ("numeric", 1000, None, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("categorical", 1000, 3, "chisquare"),
        ("categorical", 1000, 2, "z"),
        ("numeric", 1001, None, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
    ],
)
def test_evidently_default_test_choice(kind: str, rows: int, unique: int | None, test: str) -> None:
    assert (
        select_test(kind=kind, reference_rows=rows, unique_together=unique, opts=DriftOptions())
        == test
    )


def test_report_flags_unseen_categories_weighted_share_and_violations() -> None:
    baseline, window = _pair(5000, 4000, shift=0.8)
    report = compare(baseline, window)  # type: ignore[arg-type]
    by = {f.name: f for f in report.features}
    assert (
        by["x"].drifted
        and by["c"].unseen == {"zz": by["c"].unseen["zz"]}
        and by["c"].unseen_share > 0.05
    )
    assert by["f"].kind == "binary" and not by["f"].drifted  # yes/no parsed as booleans
    drifted = sum(w for n, w in {"x": 0.7, "c": 0.2, "f": 0.1}.items() if by[n].drifted)
    assert report.dataset.weighted_drift_share == pytest.approx(drifted)
    checks = {
        (v["feature_name"], v["constraint_check_type"])
        for v in constraint_violations_json(report)["violations"]
    }
    assert ("x", "baseline_drift_check") in checks and ("c", "categorical_values_check") in checks
    stats = statistics_json(baseline, window)  # type: ignore[arg-type]
    x = stats["features"][0]["numerical_statistics"]
    assert sum(b["count"] for b in x["distribution"]["kll"]["buckets"]) == 4000
    assert json.loads(report.to_json())["dataset"]["n_current"] == 4000


def test_small_windows_are_insufficient_not_drifted() -> None:
    baseline, window = _pair(500, 12, shift=3.0)
    report = compare(baseline, window, options=DriftOptions(min_current=30))  # type: ignore[arg-type]
    assert {f.status for f in report.features} == {"insufficient_data"}
    assert not any(f.drifted for f in report.features) and not report.dataset.drifted
    assert report.dataset.n_insufficient == 3


def test_null_rate_change_is_reported() -> None:
    values = RNG.normal(size=2000)
    baseline = build_baseline({"x": ("numeric", values)})
    holes = values.copy()
    holes[:400] = np.nan
    f = compare(baseline, build_window(baseline, {"x": holes})).features[0]
    assert (
        f.null_rate_changed
        and f.null_share_current == pytest.approx(0.2)
        and f.null_share_reference == 0
    )


def test_benjamini_hochberg_can_decide() -> None:
    baseline = build_baseline({f"x{i}": ("numeric", RNG.normal(size=400)) for i in range(20)})
    window = build_window(
        baseline, {f"x{i}": RNG.normal(0.12 if i < 3 else 0, size=400) for i in range(20)}
    )
    raw = compare(baseline, window)
    bh = compare(baseline, window, options=DriftOptions(correction="bh"))
    assert all(
        f.p_value_adjusted is not None and f.p_value_adjusted >= (f.p_value or 0)
        for f in raw.features
    )
    assert bh.dataset.n_drifted <= raw.dataset.n_drifted
    assert [f.drifted for f in bh.features] == [
        (f.p_value_adjusted or 1) <= 0.05 for f in raw.features
    ]


def test_missing_feature_is_an_error_and_baseline_round_trips() -> None:
    baseline, _window = _pair(300, 300)
    assert DriftBaseline.from_json(baseline.to_json()) == baseline
    with pytest.raises(ValueError, match="no column 'x'"):
        build_window(baseline, {"c": ["a"], "f": ["yes"]})


@pytest.mark.parametrize(
    ("history", "m", "n", "expected"),
    [
        ([True, True, False], 2, 3, True),
        ([True, False, False], 2, 3, False),
        ([True, True], 2, 3, False),
        ([True, True, False, False, True], 2, 3, False),
        ([False, True, True, True], 3, 3, True),
    ],
)
def test_persistence_m_of_last_n(history: list[bool], m: int, n: int, expected: bool) -> None:
    assert persistent(history, m, n) is expected


def test_persistence_rejects_bad_m_n() -> None:
    with pytest.raises(ValueError, match="1 <= m <= n"):
        persistent([True], 4, 3)


def test_engine_import_pulls_neither_pandas_nor_scipy() -> None:
    code = "import sys, modelrail.drift, modelrail.drift.engine, modelrail.drift.monitor; print(sorted(m for m in ('pandas','scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_prediction_drift_is_judged_apart_from_the_features() -> None:
    holdout = RNG.normal(size=2000)
    baseline = build_baseline({"x": ("numeric", holdout)}, prediction=("numeric", holdout * 2))
    window = build_window(baseline, {"x": RNG.normal(size=2000)}, prediction=holdout * 2 + 1.0)
    report = compare(baseline, window)
    assert report.prediction is not None and report.prediction.name == "prediction"
    assert report.prediction.drifted and report.prediction.test == "wasserstein"
    assert report.dataset.n_features == 1 and not report.dataset.drifted
    checks = constraint_violations_json(report)["violations"]
    assert [v["feature_name"] for v in checks] == ["prediction"]


def test_threads_summarise_the_same_window() -> None:
    baseline = build_baseline({f"x{i}": ("numeric", RNG.normal(size=3000)) for i in range(4)})
    columns = {f"x{i}": RNG.normal(size=5000) for i in range(4)}
    assert build_window(baseline, columns, workers=3) == build_window(baseline, columns)


def test_low_cardinality_limit_can_be_raised_to_twenty() -> None:
    baseline = build_baseline({"k": ("numeric", RNG.integers(0, 8, 500).astype(float))})
    window = build_window(baseline, {"k": RNG.integers(0, 9, 500).astype(float)})  # 8 is new
    assert compare(baseline, window).features[0].test == "ks"
    raised = compare(baseline, window, options=DriftOptions(low_cardinality=10)).features[0]
    assert raised.test == "chisquare" and raised.statistic == float("inf") and raised.drifted
