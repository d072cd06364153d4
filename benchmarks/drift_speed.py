"""Quick timing of the drift engine's window + compare path (D48): N rows x F numeric
features against references built from as many rows, in one process.

    python -m benchmarks.drift_speed --rows 1000000 --features 20 [--workers 2]
        [--evidently-python PATH]

Prints the time to summarise the window (one pass per column), to compare, and the
peak RSS; with ``--evidently-python`` (an environment with evidently, as
``make drift-parity`` builds) also Evidently's DataDriftPreset on the same frames, timed
afterwards in that interpreter (benchmarks/evidently_runner.py speed), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import time
from pathlib import Path

import numpy as np

from modelrail.drift import compare
from modelrail.drift.build import build_baseline, build_window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--reference-rows", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1, help="threads summarising columns")
    parser.add_argument("--evidently-python", help="also time Evidently with this Python")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n_ref = args.reference_rows or args.rows
    names = [f"f{i}" for i in range(args.features)]
    ref = {n: rng.normal(size=n_ref) for n in names}
    cur = {n: rng.normal(0.05 * (i % 3), size=args.rows) for i, n in enumerate(names)}
    t0 = time.perf_counter()
    baseline = build_baseline({n: ("numeric", v) for n, v in ref.items()})
    t1 = time.perf_counter()
    window = build_window(baseline, cur, workers=args.workers)
    t2 = time.perf_counter()
    report = compare(baseline, window)
    t3 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.rows} rows x {args.features} features, {args.workers} worker(s): reference {t1 - t0:.2f} s, window {t2 - t1:.2f} s, "
        f"compare {t3 - t2:.3f} s, window+compare {t3 - t1:.2f} s; "
        f"{report.dataset.n_drifted} drifted; peak RSS {peak:.0f} MiB (data included)"
    )
    if args.evidently_python and args.reference_rows is None:
        runner = Path(__file__).with_name("evidently_runner.py")
        command = [args.evidently_python, str(runner), "speed", str(args.rows), str(args.features)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"evidently DataDriftPreset: {theirs['seconds']:.1f} s, peak RSS {theirs['peak_mib']:.0f} MiB; "
            f"{theirs['seconds'] / (t3 - t1):.0f}x the window+compare time"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
