"""The live metric's cost (D57): ``modelrail.monitoring.live.live_metric`` on a window's
labelled rows, for a classifier (churn, roc_auc, answers with probabilities) and a
regression (demand, rmse), from 10k to 1M rows; and ``modelrail.metrics.value`` beside
scikit-learn's metric on the same rows.

Wall time and CPU time (user + sys of this process) of the call, the median of 3, and
the peak of what the call allocates (tracemalloc; the inputs are built before). The
machine is shared: the load average is printed with the table.

``python -m benchmarks.live_metric`` replaces its section of benchmarks/results.md.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sklearn import metrics as skm

from benchmarks.sections import replace_section
from modelrail import metrics
from modelrail.contract import load_contract
from modelrail.monitoring.live import RowOutput, answer_rows, live_metric

SIZES = (10_000, 100_000, 1_000_000)
REPEAT = 3
END = datetime(2026, 12, 1, tzinfo=UTC)


def _churn(rows: int) -> tuple[list[str], list[RowOutput], Callable[[], float]]:
    rng = np.random.default_rng(rows)
    truth = rng.random(rows) < 0.3
    p = np.clip(rng.normal(0.3 + 0.3 * truth, 0.2), 0, 1).round(3)
    body = {
        "predictions": (p > 0.5).tolist(),
        "probabilities": np.column_stack([1 - p, p]).tolist(),
        "classes": [False, True],
    }
    labels = np.where(truth, "yes", "no").tolist()
    return labels, answer_rows(body), lambda: float(skm.roc_auc_score(truth, p))


def _demand(rows: int) -> tuple[list[str], list[RowOutput], Callable[[], float]]:
    rng = np.random.default_rng(rows)
    truth = np.round(rng.gamma(4.0, 12.0, rows))
    predicted = truth + rng.normal(0, 9, rows)
    labels = [str(int(v)) for v in truth]
    outputs = answer_rows({"predictions": predicted.tolist()})
    return labels, outputs, lambda: math.sqrt(skm.mean_squared_error(truth, predicted))


def _measure(fn: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """Median wall and CPU seconds of ``fn`` over REPEAT runs, its peak MB, its result."""
    walls, cpus = [], []
    result = None
    for _ in range(REPEAT):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return statistics.median(walls), statistics.median(cpus), peak, result


def rows() -> list[tuple[str, str, str]]:
    out = []
    for model, make in (("churn", _churn), ("demand", _demand)):
        contract = load_contract(model)
        name = contract.primary_metric.name
        for size in SIZES:
            labels, outputs, sklearn = make(size)
            wall, cpu, peak, result = _measure(
                lambda contract=contract, labels=labels, outputs=outputs: live_metric(
                    contract, labels, outputs, window_end=END
                )
            )
            if not math.isclose(result.value, sklearn(), rel_tol=1e-9):
                raise AssertionError(f"{model}: {result} differs from scikit-learn's {sklearn()}")
            out.append(
                (
                    f"live_metric, {model} ({name}), {size:,} labelled rows",
                    f"{wall:.3f} s wall, {cpu:.3f} s CPU, peak {peak:.0f} MB",
                    f"median of {REPEAT}; equal to scikit-learn's {name}",
                )
            )
    out += _against_sklearn()
    return out


def _against_sklearn(size: int = 1_000_000) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(0)
    truth = rng.random(size) < 0.3
    score = np.clip(rng.normal(0.3 + 0.3 * truth, 0.2), 0, 1).round(3)
    proba = np.column_stack([1 - score, score])
    y = rng.gamma(4.0, 12.0, size)
    cases = {
        "roc_auc": (
            lambda: metrics.value("roc_auc", truth, truth, proba, [False, True]),
            lambda: skm.roc_auc_score(truth, score),
        ),
        "rmse": (
            lambda: metrics.value("rmse", y, y + 1.0),
            lambda: math.sqrt(skm.mean_squared_error(y, y + 1.0)),
        ),
    }
    out = []
    for name, (ours, theirs) in cases.items():
        ours_wall, ours_cpu, _, _ = _measure(ours)
        sk_wall, sk_cpu, _, _ = _measure(theirs)
        out.append(
            (
                f"modelrail.metrics {name} / scikit-learn, {size:,} rows",
                f"{ours_wall:.3f} s / {sk_wall:.3f} s wall ({ours_cpu:.3f} s / {sk_cpu:.3f} s CPU)",
                f"median of {REPEAT}",
            )
        )
    return out


def main() -> None:
    found = rows()
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in found)
    body = (
        f"## Live metric (benchmarks/live_metric.py, {date.today().isoformat()})\n\n"
        f"Python {platform.python_version()}, 2 shared cores, load average {load} "
        "(1/5/15 min) after the run. CPU is user + sys of the process.\n\n"
        "| measure | result | runs |\n|---|---|---|\n" + table + "\n"
    )
    replace_section("Live metric", body)
    print(body)


if __name__ == "__main__":
    main()
