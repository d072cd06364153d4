"""Captured traffic to a drift window (D55): N SageMaker capture records (JSON Lines, one
CSV row a request, a JSON response), generated from the demand contract (9 features),
from their bytes to the :class:`~modelrail.monitoring.window.CapturedWindow`.

    python -m benchmarks.capture_read [--records 1000000] [--files 10] [--repeat 3]

Prints the read of the files into records (:func:`read_records`), the records to the
window (requests parsed, responses read, every feature summarised), and the two
together: wall seconds (median of the runs), CPU seconds (user+sys) and the load average,
since the machine's two cores are shared. ``make bench`` puts the rows in its table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

from modelrail.contract import load_contract
from modelrail.drift.build import build_baseline
from modelrail.drift_summary import COLUMN_KINDS
from modelrail.monitoring.capture import read_records
from modelrail.monitoring.window import captured_window
from modelrail.sample import generate

MODEL = "demand"


def capture_files(records: int, files: int, seed: int = 3) -> list[tuple[str, bytes]]:
    """``records`` capture records of CSV requests with JSON responses, in ``files``."""
    contract = load_contract(MODEL)
    features = [c.name for c in contract.features]
    frame = generate(contract, rows=records, seed=seed)
    lines = frame[features].to_csv(header=False, index=False, lineterminator="\n").splitlines()
    predictions = frame[contract.target].to_numpy(dtype=float)
    out: list[tuple[str, bytes]] = []
    per_file = -(-records // files)
    for f in range(files):
        chunk = []
        for i in range(f * per_file, min(records, (f + 1) * per_file)):
            capture = {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": lines[i] + "\n",
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": json.dumps({"predictions": [predictions[i]]}),
                    "encoding": "JSON",
                },
            }
            meta = {
                "eventId": f"ev-{i:08d}",
                "inferenceId": f"req-{i:08d}",
                "inferenceTime": "2026-12-02T01:00:00Z",
            }
            chunk.append(json.dumps({"captureData": capture, "eventMetadata": meta}))
        out.append(
            (f"ep/AllTraffic/2026/12/02/01/part-{f}.jsonl", ("\n".join(chunk) + "\n").encode())
        )
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(records: int, files: int, repeat: int) -> dict[str, float]:
    contract = load_contract(MODEL)
    reference = generate(contract, rows=100_000, seed=1)
    columns = {
        c.name: (COLUMN_KINDS[c.type], reference[c.name])
        for c in contract.features
        if c.type in COLUMN_KINDS
    }
    prediction = ("numeric", reference[contract.target].to_numpy(dtype=float))
    baseline = build_baseline(columns, prediction=prediction)  # type: ignore[arg-type]
    data = capture_files(records, files)
    walls: dict[str, list[float]] = {"read": [], "window": [], "total": []}
    cpus: dict[str, list[float]] = {"read": [], "window": [], "total": []}
    for _ in range(repeat):
        c0, t0 = _cpu(), time.perf_counter()
        got = read_records(data)
        c1, t1 = _cpu(), time.perf_counter()
        window = captured_window(got, baseline, contract)
        c2, t2 = _cpu(), time.perf_counter()
        assert window.rows == records and not window.corrupt, window.corrupt[:3]
        assert int(window.outputs.present.sum()) == records
        for key, (a, b, x, y) in {
            "read": (t0, t1, c0, c1),
            "window": (t1, t2, c1, c2),
            "total": (t0, t2, c0, c2),
        }.items():
            walls[key].append(b - a)
            cpus[key].append(y - x)
    result = {f"{k}_s": statistics.median(v) for k, v in walls.items()}
    result |= {f"{k}_cpu_s": statistics.median(v) for k, v in cpus.items()}
    result["mb"] = sum(len(b) for _, b in data) / 1e6
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def rows(repeat: int = 3, records: int = 1_000_000) -> list[tuple[str, str, str]]:
    """The ``make bench`` table rows."""
    r = measure(records, 10, repeat)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    runs = f"median of {repeat}; load average {load}"
    label = f"captured traffic, {records:,} CSV records ({r['mb']:.0f} MB JSON Lines, 9 features)"
    return [
        (
            f"{label}: bytes to CapturedWindow",
            f"{r['total_s']:.2f} s (CPU {r['total_cpu_s']:.2f} s)",
            runs,
        ),
        (
            "  of which read_records / captured_window",
            f"{r['read_s']:.2f} s / {r['window_s']:.2f} s",
            runs,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    r = measure(args.records, args.files, args.repeat)
    print(
        f"{args.records} records ({r['mb']:.0f} MB) in {args.files} files, median of "
        f"{args.repeat}: read_records {r['read_s']:.2f} s (CPU {r['read_cpu_s']:.2f} s), "
        f"captured_window {r['window_s']:.2f} s (CPU {r['window_cpu_s']:.2f} s), "
        f"total {r['total_s']:.2f} s (CPU {r['total_cpu_s']:.2f} s); peak RSS "
        f"{r['peak_mib']:.0f} MiB; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
