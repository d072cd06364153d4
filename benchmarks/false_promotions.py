"""How often the quality gate promotes a challenger that is truly no better (D39).

Each pair is two models of exactly the same quality (the same signal, independent noise
of the same size) scored on a fresh holdout drawn for that pair. The training job's
paired bootstrap (training/modelrail_evaluation.py) gives the interval; the gate
(modelrail.gates.evaluate_gate) decides with the rule before D39 (the point estimate
reaching the margin) and with the interval rule. A second set of pairs, where the
challenger's noise is smaller, gives the power: how often a real improvement of that
size is still promoted.

``python -m benchmarks.false_promotions`` updates these rows of benchmarks/results.md;
``make bench`` writes them with the rest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from modelrail.contract import ModelContract, QualityPolicy, load_contract
from modelrail.gates import GatePolicy, evaluate_gate

RESULTS = Path(__file__).resolve().parent / "results.md"
TRAINING = Path(__file__).resolve().parents[1] / "training"
PAIRS = 200
HOLDOUT_ROWS = 400
PREFIX = "promotions of"
TIMING = "paired bootstrap interval"


def _evaluation_module() -> ModuleType:
    if str(TRAINING) not in sys.path:
        sys.path.insert(0, str(TRAINING))
    import modelrail_evaluation  # the training container's module, as it runs there

    return modelrail_evaluation


def _regression(
    me: ModuleType, rng: np.random.Generator, noise: tuple[float, float], rows: int = HOLDOUT_ROWS
) -> Any:
    y = rng.normal(100.0, 20.0, rows)
    return y, [me.mf.Scored(y + rng.normal(0.0, sd, len(y))) for sd in noise]


def _binary(
    me: ModuleType, rng: np.random.Generator, noise: tuple[float, float], rows: int = HOLDOUT_ROWS
) -> Any:
    y = rng.random(rows) < 0.3
    models = []
    for sd in noise:
        p = 1.0 / (1.0 + np.exp(-(2.0 * y - 1.0) * 1.5 - rng.normal(0.0, sd, len(y))))
        models.append(me.mf.Scored((p > 0.5).astype(int), np.column_stack([1 - p, p]), [0, 1]))
    return y.astype(int), models


def _evaluation(me: ModuleType, contract: ModelContract, y: Any, models: Any) -> dict[str, Any]:
    challenger, champion = models
    name = contract.primary_metric.name
    values = [float(me.weighted_metric(name, y, m)(np.ones((1, len(y))))[0]) for m in models]
    comparison = me.paired_bootstrap(
        name,
        y,
        challenger,
        champion,
        seed=contract.seed,
        confidence=contract.quality.improvement_confidence,
    )
    comparison |= {
        "metric": name,
        "confidence": contract.quality.improvement_confidence,
        "resamples": me.BOOTSTRAP_RESAMPLES,
    }
    return {
        "model": contract.name,
        "primary_metric": {"name": name, "value": values[0]},
        "metrics": {m: 0.5 for m in contract.secondary_metrics} | {name: values[0]},
        "champion": {"metrics": {name: values[1]}, "comparison": comparison},
    }


def rows(pairs: int = PAIRS) -> list[tuple[str, str, str]]:
    me = _evaluation_module()
    old = GatePolicy(improvement_confidence=None)
    out: list[tuple[str, str, str]] = []
    cases = (("demand", _regression, (15.0, 15.0), (13.5, 15.0)),
             ("churn", _binary, (1.0, 1.0), (0.6, 1.0)))  # fmt: skip
    for model, make, equal, better in cases:
        # The gate's champion rule alone: no slices or budgets, margin 0 as in contracts/.
        contract = load_contract(model).model_copy(
            update={"slices": (), "quality": QualityPolicy()}
        )
        counts = {"old": 0, "new": 0, "power_old": 0, "power_new": 0}
        started = time.perf_counter()
        for i in range(pairs):
            for noise, key in ((equal, ""), (better, "power_")):
                rng = np.random.default_rng([i, len(key)])
                evaluation = _evaluation(me, contract, *make(me, rng, noise))
                counts[key + "old"] += evaluate_gate(contract, evaluation, policy=old).passed
                counts[key + "new"] += evaluate_gate(contract, evaluation).passed
        per_pair = (time.perf_counter() - started) / (2 * pairs)
        metric = contract.primary_metric.name
        runs = f"{pairs} pairs, {HOLDOUT_ROWS}-row holdouts, 1000 resamples"
        out.append(
            (
                f"{PREFIX} a truly equal challenger ({model}, {metric}), point rule / 95% interval",
                f"{counts['old'] / pairs:.1%} / {counts['new'] / pairs:.1%}",
                runs,
            )
        )
        out.append(
            (
                f"{PREFIX} a better challenger ({model}, {metric}; noise sd {better[0]:g} "
                f"against {better[1]:g}), point rule / 95% interval",
                f"{counts['power_old'] / pairs:.1%} / {counts['power_new'] / pairs:.1%}",
                f"{runs}; {per_pair * 1000:.0f} ms per comparison",
            )
        )
    out.append(_bootstrap_time(me))
    return out


def _bootstrap_time(me: ModuleType, rows: int = 20_000) -> tuple[str, str, str]:
    """The training job's cost of the interval on a large holdout (median of 3)."""
    rng = np.random.default_rng(0)
    times: dict[str, float] = {}
    for name, make in (("rmse", _regression), ("roc_auc", _binary)):
        y, (a, b) = make(me, rng, (1.0, 1.0), rows)
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            me.paired_bootstrap(name, y, a, b, seed=1)
            runs.append(time.perf_counter() - started)
        times[name] = sorted(runs)[1]
    return (
        f"{TIMING}, {rows:,} holdout rows, 1000 resamples",
        f"rmse {times['rmse']:.2f} s, roc_auc {times['roc_auc']:.2f} s",
        "median of 3",
    )


def update_results(new: list[tuple[str, str, str]]) -> None:
    """Replace (or append) this benchmark's rows in results.md, keeping the others."""
    lines = RESULTS.read_text().splitlines()
    ours = (f"| {PREFIX} ", f"| {TIMING}, ")
    kept = [line for line in lines if not line.startswith(ours)]
    RESULTS.write_text("\n".join(kept + [f"| {a} | {b} | {c} |" for a, b, c in new]) + "\n")


def main() -> None:
    found = rows()
    update_results(found)
    for row in found:
        print(" | ".join(row))


if __name__ == "__main__":
    main()
