"""Run by the evidently environment's Python (not the project's): reads a case spec on
stdin, runs DataDriftPreset (and the legacy DataDriftTable, for Evidently's own
per-column drift flags) on each case's CSV pair, prints the results as JSON.

``evidently_runner.py speed ROWS FEATURES`` instead times DataDriftPreset on the frames
benchmarks/drift_speed.py makes (same seed and shape) and prints seconds and peak RSS."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import evidently
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.metric_preset import DataDriftPreset as LegacyPreset
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report as LegacyReport
from evidently.presets import DataDriftPreset


def run_case(ref: pd.DataFrame, cur: pd.DataFrame, kinds: dict[str, str]) -> dict:
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    categorical = [c for c, k in kinds.items() if k == "categorical"]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snap = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    columns: dict[str, dict] = {}
    share = None
    for metric in snap.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = {"method": config["method"], "score": metric["value"]}
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    legacy = LegacyReport(metrics=[LegacyPreset()])
    legacy.run(
        reference_data=ref,
        current_data=cur,
        column_mapping=ColumnMapping(numerical_features=numeric, categorical_features=categorical),
    )
    table = next(
        m["result"] for m in legacy.as_dict()["metrics"] if m["metric"] == "DataDriftTable"
    )
    for name, drift in table["drift_by_columns"].items():
        columns[name].update(
            drifted=bool(drift["drift_detected"]), legacy_score=drift["drift_score"]
        )
    return {"columns": columns, "drift_share": share, "dataset_drift": bool(table["dataset_drift"])}


def speed(rows: int, features: int) -> None:
    import resource
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(features)]
    ref = pd.DataFrame({n: rng.normal(size=rows) for n in names})
    cur = pd.DataFrame({n: rng.normal(0.05 * (i % 3), size=rows) for i, n in enumerate(names)})
    definition = DataDefinition(numerical_columns=names)
    start = time.perf_counter()
    Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_mib": peak}))


def main() -> None:
    warnings.simplefilter("ignore")
    if sys.argv[1:2] == ["speed"]:
        speed(int(sys.argv[2]), int(sys.argv[3]))
        return
    spec = json.load(sys.stdin)
    folder = Path(spec["directory"])
    out = {}
    for case in spec["cases"]:
        ref = pd.read_csv(folder / f"{case}.reference.csv")
        cur = pd.read_csv(folder / f"{case}.current.csv")
        out[case] = run_case(ref, cur, spec["kinds"])
    json.dump({"version": evidently.__version__, "cases": out}, sys.stdout)


if __name__ == "__main__":
    main()
