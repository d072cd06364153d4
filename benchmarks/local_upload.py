"""The local cloud's S3 with large files: upload against `cp`, and memory (D45).

For each generated demand CSV (benchmarks/large_data.py writes and caches them), in a
fresh process with a deployed local cloud: ``LocalCloud.upload`` of the file (a managed
multipart upload, every request authorized) against `cp` of it on the same disk, both
from a warm page cache and neither followed by a sync, alternated and the median of
``--runs`` each taken (the machine is shared); the CPU seconds of the upload; the
process's peak RSS above its size before the upload (VmHWM, reset through
/proc/self/clear_refs); and the same for reading the object back with a streamed
``GetObject`` (8 MiB at a time, as ValidateData does).

    python -m benchmarks.local_upload --sizes 1GB,2GB [--work /tmp/mr_large] [--runs 3]

Not part of `make test` or `make bench` (minutes and gigabytes of disk).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.large_data import parse_size, write_csv

CHUNK = 8 * 1024 * 1024


def rss(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def reset_peak() -> int:
    """Start VmHWM afresh (Linux: 5 to clear_refs); the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss("VmRSS")


def warm(path: Path) -> None:
    with path.open("rb") as source:
        while source.read(CHUNK):
            pass


def time_cp(path: Path) -> float:
    target = path.with_suffix(".copy")
    start = time.perf_counter()
    subprocess.run(["cp", str(path), str(target)], check=True)
    seconds = time.perf_counter() - start
    target.unlink()
    return seconds


def time_upload(cloud: Any, path: Path, key: str) -> tuple[float, float, str | None]:
    """Wall and CPU seconds of ``cloud.upload``; the version id."""
    cpu, start = os.times(), time.perf_counter()
    _, version = cloud.upload("demand", path, key=key)
    wall, done = time.perf_counter() - start, os.times()
    return wall, (done.user - cpu.user) + (done.system - cpu.system), version


def upload_vs_cp(path: Path, runs: int = 3) -> dict[str, float]:
    """Median upload and `cp` seconds of ``path``, alternated; upload CPU and memory."""
    from modelrail.local.cloud import LocalCloud

    warm(path)
    cp, up, cpu, peaks = [], [], [], []
    before = 0
    with LocalCloud() as cloud:  # a key outside incoming/ starts no pipeline
        s3 = cloud.client("s3")
        for run in range(runs):
            cp.append(time_cp(path))
            key = f"bench/{run}/{path.name}"
            before = reset_peak()
            wall, seconds, version = time_upload(cloud, path, key)
            peaks.append(rss("VmHWM") - before)
            up.append(wall)
            cpu.append(seconds)
            if run < runs - 1:  # the last one is read back below
                s3.delete_object(Bucket=cloud.data_bucket, Key=key, VersionId=version)
        read = read_back(s3, cloud.data_bucket, key)
    return {
        "upload_s": statistics.median(up),
        "cp_s": statistics.median(cp),
        "upload_cpu_s": statistics.median(cpu),
        "upload_peak_above": max(peaks),
        "rss_before": before,
        **read,
    }


def read_back(s3: Any, bucket: str, key: str) -> dict[str, float]:
    """Seconds and peak RSS above the start of a streamed GetObject of ``key``."""
    before = reset_peak()
    start = time.perf_counter()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    size = sum(len(chunk) for chunk in body.iter_chunks(CHUNK))
    return {
        "get_s": time.perf_counter() - start,
        "get_peak_above": rss("VmHWM") - before,
        "bytes": size,
    }


def measure(path: Path, runs: int) -> dict[str, float]:
    """upload_vs_cp in a fresh process (its memory is the local cloud's and the upload's)."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from benchmarks.local_upload import upload_vs_cp; "
        "print(json.dumps(upload_vs_cp(Path(sys.argv[1]), int(sys.argv[2]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GB,2GB")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mr_large"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        "| file | upload | cp | upload / cp | upload CPU | upload peak RSS (cloud before) | "
        "GetObject streamed | its peak RSS |\n|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for label in (s.strip() for s in args.sizes.split(",") if s.strip()):
        path = write_csv(args.work / f"demand_{label}.csv", parse_size(label))
        r = measure(path, args.runs)
        print(
            f"| {label} ({r['bytes'] / 1024**2:,.0f} MB) | {r['upload_s']:.1f} s | "
            f"{r['cp_s']:.1f} s | {r['upload_s'] / r['cp_s']:.1f}x | {r['upload_cpu_s']:.1f} s | "
            f"+{r['upload_peak_above'] / 1024**2:,.0f} MB ({r['rss_before'] / 1024**2:,.0f} MB) | "
            f"{r['get_s']:.1f} s | "
            f"+{r['get_peak_above'] / 1024**2:,.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
