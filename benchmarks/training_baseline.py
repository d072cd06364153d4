"""The training job's drift baseline on a large holdout (D55): ``train.drift_baseline``
over N generated demand rows held as the job holds its holdout (categories as pandas
categories, the feature frame beside the raw rows), timed with its traced peak memory.

    python -m benchmarks.training_baseline [--rows 4680000]

4.68M rows is the holdout of the 1 GB benchmark file (23.4M rows, 20 %).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

from modelrail.contract import ColumnType, load_contract
from modelrail.sample import generate

TRAINING = Path(__file__).resolve().parents[1] / "training"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_680_000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TRAINING))
    import train

    import modelrail_features as mf  # the training modules, as the container imports them

    contract = load_contract("demand")
    runtime = contract.to_runtime_json()
    raw = generate(contract, rows=args.rows, seed=5)
    for column in contract.columns:
        if column.type is ColumnType.CATEGORICAL:
            raw[column.name] = raw[column.name].astype("category")
    features = mf.build_features(raw, runtime)
    scored = mf.Scored(raw[contract.target].to_numpy(dtype=float))
    names = mf.feature_names(runtime)
    evaluation = {"feature_importance": {"importances": {n: {"mean": 1.0} for n in names}}}
    tracemalloc.start()
    cpu, wall = time.process_time(), time.perf_counter()
    body = train.drift_baseline(raw, features, scored, runtime, evaluation)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.rows} holdout rows: drift_baseline {wall:.2f} s (CPU {cpu:.2f} s), traced peak "
        f"{peak:.0f} MiB, {len(body) / 1e3:.0f} kB of JSON; load average {load}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
