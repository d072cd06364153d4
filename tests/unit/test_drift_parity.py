"""The engine's verdicts against Evidently 0.7's recorded on the same seeded cases
(benchmarks/drift_parity.py; regenerate the record with ``make drift-parity``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.drift_parity import KINDS, RECORD, cases
from modelrail.drift import compare
from modelrail.drift.build import build_baseline, build_window

METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}
P_TOLERANCE = 1e-9  # p-values and JS: same counts, same formulas, so only rounding
RECORDED: dict[str, Any] = json.loads(RECORD.read_text(encoding="utf-8"))


def _report(ref: Any, cur: Any) -> Any:
    baseline = build_baseline({c: (k, ref[c].to_numpy()) for c, k in KINDS.items()})  # type: ignore[misc]
    window = build_window(baseline, {c: cur[c].to_numpy() for c in KINDS})
    return compare(baseline, window)


@pytest.mark.parametrize(
    ("case", "ref", "cur"), list(cases()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_verdicts_match_evidently(case: str, ref: Any, cur: Any) -> None:
    expected = RECORDED["cases"][case]
    report = _report(ref, cur)
    got = {f.name: f for f in report.features}
    assert set(got) == set(expected["columns"])
    for name, theirs in expected["columns"].items():
        ours = got[name]
        assert ours.test == METHODS[theirs["method"]], name
        assert ours.drifted == theirs["drifted"], (name, ours.score, theirs["score"])
        assert ours.score is not None
        if ours.test == "wasserstein":
            # exact against the data up to the stated bound (a grid reference, D48)
            assert ours.wasserstein_error is not None
            assert abs(ours.score - theirs["score"]) <= ours.wasserstein_error + P_TOLERANCE, name
            assert ours.wasserstein_error < 0.02  # 1.1e-2 the largest in the record
        else:
            assert ours.score == pytest.approx(theirs["score"], abs=P_TOLERANCE, rel=1e-9), name
    assert report.dataset.drift_share == pytest.approx(expected["drift_share"])
    assert report.dataset.drifted == expected["dataset_drift"]


def test_record_covers_both_sides_of_the_switch_and_both_verdicts() -> None:
    methods = {c["method"] for case in RECORDED["cases"].values() for c in case["columns"].values()}
    verdicts = {
        c["drifted"] for case in RECORDED["cases"].values() for c in case["columns"].values()
    }
    assert methods == set(METHODS) and verdicts == {True, False}
    assert RECORDED["evidently"].startswith("0.7.")
