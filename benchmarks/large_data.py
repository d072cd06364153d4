"""Large datasets: validation + profile in one read, and the local multipart upload (D43, D44).

For generated demand CSVs of each size (modelrail.sample, written in chunks so the
generator's own memory stays small): the Processing job's validate_and_profile in a fresh
subprocess, timed, with that subprocess's peak RSS (VmHWM in /proc/self/status: unlike
getrusage's ru_maxrss it starts afresh at exec, so the parent's size does not leak in),
then PrepareData's profile alone (build_profile_streamed) in the same process; then the
local cloud's upload of the same file (modelrail.local.cloud.LocalCloud.upload,
a managed multipart transfer) against `cp` of it on the same disk, measured alike by
benchmarks/local_upload.py (medians of 3, alternated, warm page cache, neither synced).

    python -m benchmarks.large_data --sizes 10MB,100MB,1GB,2GB [--work /tmp/mr_large]

Not part of `make test`; `make bench` does not run it either (minutes and gigabytes of
disk) but keeps its section of benchmarks/results.md, which `--write` replaces.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.sections import replace_section
from modelrail.contract import load_contract
from modelrail.sample import generate

CHUNK_ROWS = 200_000
UNITS = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}


def parse_size(text: str) -> int:
    for unit, factor in UNITS.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def write_csv(path: Path, size: int, model: str = "demand") -> Path:
    """At least ``size`` bytes of valid sample rows, one generator chunk at a time."""
    if path.exists() and path.stat().st_size >= size:
        return path
    contract = load_contract(model)
    written, seed = 0, 0
    with path.open("wb") as out:
        while written < size:
            frame = generate(contract, rows=CHUNK_ROWS, seed=seed)
            data = frame.to_csv(index=False, header=seed == 0, lineterminator="\n").encode()
            out.write(data)
            written += len(data)
            seed += 1
    return path


def measure_child(path: str, model: str) -> dict[str, object]:
    """Run in the subprocess: what the Processing job runs (validate_and_profile: one read
    of the file serves validation and the profile, D44), then, for comparison, the Lambda
    path's profile alone (PrepareData's build_profile_streamed, another read)."""
    from modelrail.columns import CsvColumns
    from modelrail.dataset_job import validate_and_profile
    from modelrail.profile import build_profile_streamed

    contract = load_contract(model)
    contract = contract.model_copy(update={"max_bytes": 10**12})
    size = os.path.getsize(path)
    start, cpu = time.perf_counter(), cpu_seconds()
    checked = validate_and_profile(Path(path), filename=Path(path).name, contract=contract)
    done, cpu = time.perf_counter(), cpu_seconds() - cpu
    peak = peak_rss()
    report, profile = checked.report, checked.profile
    assert profile is not None, report.summary()
    source = CsvColumns(lambda: open(path, "rb"))  # noqa: SIM115 - the reader closes it
    alone = build_profile_streamed(source, contract, rows=report.rows)
    assert alone.fingerprint == profile.fingerprint
    return {
        "bytes": size,
        "rows": report.rows,
        "ok": report.ok,
        "both_s": done - start,
        "both_cpu_s": cpu,
        "profile_s": time.perf_counter() - done,
        "peak": peak,
        "peak_all": peak_rss(),
        "fingerprint": profile.fingerprint[:12],
    }


def cpu_seconds() -> float:
    """This process's CPU time so far, user + system, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss() -> int:
    """This process's peak resident set since it was exec'd, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux


def measure(path: Path, model: str = "demand") -> dict[str, object]:
    code = (
        "import json, sys; from benchmarks.large_data import measure_child; "
        "print(json.dumps(measure_child(sys.argv[1], sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), model], check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def upload_vs_cp(path: Path) -> tuple[float, float]:
    """Seconds to upload ``path`` to the local cloud's data bucket, and to `cp` it (medians
    of 3, alternated, warm page cache, no sync: benchmarks/local_upload.py)."""
    from benchmarks import local_upload

    measured = local_upload.measure(path, runs=3)
    return measured["upload_s"], measured["cp_s"]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _mb(n: object) -> str:
    return f"{int(str(n)) / 1024**2:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10MB,100MB,1GB,2GB")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mr_large"))
    parser.add_argument("--upload", default="1GB", help="sizes to upload, comma separated")
    parser.add_argument("--write", action="store_true", help="into benchmarks/results.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    start_load = _load()
    uploads = {s.strip() for s in args.upload.split(",") if s.strip()}
    lines = [
        "| file | rows | validate + profile, one read | CPU (user + sys) | throughput | peak RSS "
        "| profile alone (PrepareData) | peak RSS with it "
        "| upload to the local cloud | cp |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    paths = {
        label: write_csv(args.work / f"demand_{label}.csv", parse_size(label)) for label in labels
    }
    measured = {label: measure(paths[label]) for label in labels}  # before any upload
    for label in labels:
        r = measured[label]
        total = float(str(r["both_s"]))
        throughput = int(str(r["bytes"])) / total / 1e6
        up = cp = "-"
        if label in uploads:
            upload_s, cp_s = upload_vs_cp(paths[label])
            up, cp = f"{upload_s:.1f} s", f"{cp_s:.1f} s"
        lines.append(
            f"| {label} ({_mb(r['bytes'])}) | {int(str(r['rows'])):,} | {total:.1f} s | "
            f"{float(str(r['both_cpu_s'])):.1f} s | {throughput:.0f} MB/s | {_mb(r['peak'])} | {float(str(r['profile_s'])):.1f} s | "
            f"{_mb(r['peak_all'])} | {up} | {cp} |"
        )
        print(lines[-1], flush=True)
    if args.write:
        write_section(lines, start_load)


def write_section(table: list[str], start_load: str) -> None:
    load = _load()
    replace_section(
        "Large datasets",
        f"## Large datasets (benchmarks/large_data.py, {time.strftime('%Y-%m-%d')})\n\n"
        "Generated demand CSVs, in a fresh process each: validate_and_profile, what the "
        "Processing job runs (one read serves validation and the profile; peak RSS of "
        "that process), then the profile alone as PrepareData builds it "
        "(build_profile_streamed over CsvColumns, the same fingerprint); the upload is "
        "LocalCloud.upload (multipart from 64 MiB, 16 MiB parts) into the in-process local "
        "cloud, against "
        "`cp` of the same file (both from a warm page cache, neither synced, median of 3 "
        "alternated runs). CPU is the validate + profile process's user + system seconds, "
        "all threads: the 2 cores are shared with other sessions, so wall times are upper "
        f"bounds. Load average at the start: {start_load}; at the end: {load}.\n\n"
        + "\n".join(table),
    )


if __name__ == "__main__":
    main()
