"""The local cloud's S3 with large files: upload against `cp`, and memory (D45, D54).

For each generated demand CSV (benchmarks/large_data.py writes and caches them), in a
fresh process with a deployed local cloud for each run: `cp` of the file on the same
disk, then ``LocalCloud.upload`` of it (a managed multipart upload, every request
authorized), both from a warm page cache and neither followed by a sync, the median of
``--runs`` runs taken (the machine is shared); the CPU seconds of the upload; the
process's peak RSS above its size before the upload (VmHWM, reset through
/proc/self/clear_refs); and the same for reading the object back with a streamed
``GetObject`` (8 MiB at a time, as ValidateData does).

    python -m benchmarks.local_upload --sizes 1GB,2GB [--work /tmp/mr_large] [--runs 3] [--write]
    python -m benchmarks.local_upload --profile 2GB

``--write`` replaces its section of benchmarks/results.md. ``--profile`` uploads once with
every thread that the upload starts (and the caller's) under cProfile counting each
thread's CPU time, and prints where the upload's CPU seconds go, by component; the
rest of the process's CPU in that time is the local cloud's other threads.
Not part of `make test` or `make bench` (minutes and gigabytes of disk).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.large_data import parse_size, write_csv
from benchmarks.sections import replace_section

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


def time_cp(path: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of `cp` of ``path``."""
    target = path.with_suffix(".copy")
    cpu, start = os.times(), time.perf_counter()
    subprocess.run(["cp", str(path), str(target)], check=True)
    seconds, done = time.perf_counter() - start, os.times()
    target.unlink()
    used = (done.children_user - cpu.children_user) + (done.children_system - cpu.children_system)
    return seconds, used


def time_upload(cloud: Any, path: Path, key: str) -> tuple[float, float, float, str | None]:
    """Wall, user CPU and system CPU seconds of ``cloud.upload``; the version id."""
    cpu, start = os.times(), time.perf_counter()
    _, version = cloud.upload("demand", path, key=key)
    wall, done = time.perf_counter() - start, os.times()
    return wall, done.user - cpu.user, done.system - cpu.system, version


def upload_vs_cp(path: Path, runs: int = 3) -> dict[str, float]:
    """Median upload and `cp` seconds of ``path``, alternated; upload CPU and memory."""
    from modelrail.local.cloud import LocalCloud

    warm(path)
    cp, cp_cpu, up, user, system, peaks = [], [], [], [], [], []
    before = 0
    with LocalCloud() as cloud:  # a key outside incoming/ starts no pipeline
        s3 = cloud.client("s3")
        for run in range(runs):
            cp_s, cp_used = time_cp(path)
            cp.append(cp_s)
            cp_cpu.append(cp_used)
            key = f"bench/{run}/{path.name}"
            before = reset_peak()
            wall, user_s, system_s, version = time_upload(cloud, path, key)
            peaks.append(rss("VmHWM") - before)
            up.append(wall)
            user.append(user_s)
            system.append(system_s)
            if run < runs - 1:  # the last one is read back below
                s3.delete_object(Bucket=cloud.data_bucket, Key=key, VersionId=version)
        read = read_back(s3, cloud.data_bucket, key)
    return {
        "upload_s": statistics.median(up),
        "cp_s": statistics.median(cp),
        "cp_cpu_s": statistics.median(cp_cpu),
        "upload_cpu_s": statistics.median(u + k for u, k in zip(user, system, strict=True)),
        "upload_user_s": statistics.median(user),
        "upload_sys_s": statistics.median(system),
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
    """upload_vs_cp ``runs`` times, each in a fresh process with its own local cloud (its
    memory is the cloud's and the upload's): moto keeps every object it made, deleted or
    not, until the cloud stops, and in one process the later uploads, and a `cp` beside
    them, cost more (D54). The median of each figure; the largest peak."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from benchmarks.local_upload import upload_vs_cp; "
        "print(json.dumps(upload_vs_cp(Path(sys.argv[1]), 1)))"
    )
    results: list[dict[str, float]] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    merged = {key: statistics.median(r[key] for r in results) for key in results[0]}
    merged["upload_peak_above"] = max(r["upload_peak_above"] for r in results)
    return merged


# ---- where the CPU goes ----------------------------------------------------------------
#: (component, test on a profiled function's (file, line, name)), first match wins
COMPONENTS: list[tuple[str, Callable[[tuple[str, int, str]], bool]]] = [
    ("MD5 of each part (its ETag)", lambda f: "_hashlib" in f[2] or "md5" in f[2]),
    ("CRC-32 of each part (the full-object checksum)", lambda f: "zlib.crc32" in f[2]),
    ("the file read by the client", lambda f: "'read' of '_io.BufferedReader'" in f[2]),
    (
        "parts written to disk",
        lambda f: "'write' of '_io.BufferedRandom'" in f[2] or "posix.pwrite" in f[2],
    ),
    ("parts joined into one file (copy_file_range)", lambda f: "copy_file_range" in f[2]),
    ("files opened and closed", lambda f: "posix.close" in f[2] or "posix.open" in f[2]),
    ("Python: botocore, s3transfer (client)", lambda f: "botocore" in f[0] or "s3transfer" in f[0]),
    ("Python: the local IAM layer", lambda f: "modelrail/local/iam" in f[0]),
    ("Python: moto, werkzeug (server)", lambda f: "/moto/" in f[0] or "werkzeug" in f[0]),
]


@contextmanager
def thread_profiles() -> Iterator[list[cProfile.Profile]]:
    """Every thread started inside (and the caller) under cProfile, timed by its own CPU."""
    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.runcall(original, self)

    caller = cProfile.Profile(time.thread_time)
    profiles.append(caller)
    threading.Thread.run = run  # type: ignore[method-assign]
    caller.enable()
    try:
        yield profiles
    finally:
        caller.disable()
        threading.Thread.run = original  # type: ignore[method-assign]


def profile_upload(path: Path) -> dict[str, float]:
    """CPU seconds of one upload of ``path`` by component (see COMPONENTS), in this process."""
    from modelrail.local.cloud import LocalCloud

    warm(path)
    with LocalCloud() as cloud:
        cpu = os.times()
        with thread_profiles() as profiles:
            cloud.upload("demand", path, key=f"bench/profile/{path.name}")
        done = os.times()
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    seconds: dict[str, float] = defaultdict(float)
    for function, (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        name = next((name for name, test in COMPONENTS if test(function)), "Python: other")
        seconds[name] += own
    total = (done.user - cpu.user) + (done.system - cpu.system)
    seconds["the local cloud's other threads"] = total - sum(seconds.values())
    seconds["total (user + sys)"] = total
    return dict(seconds)


def measure_profile(path: Path) -> dict[str, float]:
    code = (
        "import json, sys; from pathlib import Path; "
        "from benchmarks.local_upload import profile_upload; "
        "print(json.dumps(profile_upload(Path(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---- the floor: what any upload with S3's ETags must do to the bytes ---------------------
PIECE = 16 * 1024 * 1024  # the uploader's part size


def _pieces(path: Path) -> Iterator[memoryview]:
    """The file in PIECE-sized reads into one reused buffer."""
    buffer = bytearray(PIECE)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as source:
        while count := source.readinto(buffer):
            yield view[:count]


def _read(path: Path) -> None:
    for _ in _pieces(path):
        pass


def _md5(path: Path) -> None:
    import hashlib

    for piece in _pieces(path):
        hashlib.md5(piece, usedforsecurity=False)


def _crc32(path: Path) -> None:
    import zlib

    for piece in _pieces(path):
        zlib.crc32(piece)


def _write(path: Path) -> None:
    import tempfile

    piece = os.urandom(PIECE)
    with tempfile.TemporaryFile(dir=path.parent) as target:
        for _ in range(path.stat().st_size // PIECE):
            target.write(piece)


def _all_in_one_pass(path: Path) -> None:
    """What the local cloud does with each part's bytes, without a request around it."""
    import hashlib
    import tempfile
    import zlib

    from modelrail.local.s3_parts import _HASH_CHUNK

    with tempfile.TemporaryFile(dir=path.parent) as target:
        for piece in _pieces(path):
            md5, crc = hashlib.md5(usedforsecurity=False), 0
            for start in range(0, len(piece), _HASH_CHUNK):
                chunk = piece[start : start + _HASH_CHUNK]
                md5.update(chunk)
                crc = zlib.crc32(chunk, crc)
                target.write(chunk)


def floor(path: Path) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each step alone, on one thread: the file read into memory
    (page cache to the process), its MD5, its CRC-32 (each pass includes the read:
    subtract it), as many bytes written to a new file, all four in one pass as the local
    cloud does them, and `cp` of it."""
    warm(path)
    steps: dict[str, Callable[[Path], object]] = {
        "read into memory": _read,
        "read + MD5": _md5,
        "read + CRC-32": _crc32,
        "written to a new file": _write,
        "all four in one pass": _all_in_one_pass,
        "cp": time_cp,
    }
    timed: dict[str, tuple[float, float]] = {}
    for name, step in steps.items():
        cpu, start = os.times(), time.perf_counter()
        step(path)
        wall, done = time.perf_counter() - start, os.times()
        used = sum(done[:4]) - sum(cpu[:4])  # user, system, children's user and system
        timed[name] = (wall, used)
    return timed


def row(label: str, r: dict[str, float]) -> str:
    return (
        f"| {label} ({r['bytes'] / 1024**2:,.0f} MB) | {r['upload_s']:.1f} s | "
        f"{r['cp_s']:.1f} s | {r['upload_s'] / r['cp_s']:.1f}x | "
        f"{r['upload_cpu_s']:.1f} s ({r['upload_user_s']:.1f} + {r['upload_sys_s']:.1f}) | "
        f"{r['cp_cpu_s']:.1f} s | "
        f"+{r['upload_peak_above'] / 1024**2:,.0f} MB ({r['rss_before'] / 1024**2:,.0f} MB) | "
        f"{r['get_s']:.1f} s | +{r['get_peak_above'] / 1024**2:,.0f} MB |"
    )


HEADER = [
    "| file | upload | cp | upload / cp | upload CPU (user + sys) | cp CPU "
    "| upload peak RSS (cloud before) | GetObject streamed | its peak RSS |",
    "|---|---|---|---|---|---|---|---|---|",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GB,2GB")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mr_large"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", metavar="SIZE", help="where one upload's CPU goes")
    parser.add_argument("--floor", metavar="SIZE", help="each unavoidable step alone")
    parser.add_argument("--write", action="store_true", help="into benchmarks/results.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.floor:
        path = write_csv(args.work / f"demand_{args.floor}.csv", parse_size(args.floor))
        print("| step (one thread) | wall | CPU |\n|---|---|---|")
        for name, (wall, used) in floor(path).items():
            print(f"| {name} | {wall:.2f} s | {used:.2f} s |")
        return
    if args.profile:
        path = write_csv(args.work / f"demand_{args.profile}.csv", parse_size(args.profile))
        print("| component | CPU seconds |\n|---|---|")
        for name, seconds in measure_profile(path).items():
            print(f"| {name} | {seconds:.2f} |")
        return
    lines = list(HEADER)
    print("\n".join(lines), flush=True)
    for label in (s.strip() for s in args.sizes.split(",") if s.strip()):
        path = write_csv(args.work / f"demand_{label}.csv", parse_size(label))
        lines.append(row(label, measure(path, args.runs)))
        print(lines[-1], flush=True)
    if args.write:
        write_section(lines, args.runs)


def write_section(table: list[str], runs: int) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    replace_section(
        "Local upload",
        f"## Local upload (benchmarks/local_upload.py, {time.strftime('%Y-%m-%d')})\n\n"
        "LocalCloud.upload of a generated demand CSV into a fresh in-process local cloud "
        "(a managed multipart upload, 16 MiB parts, 4 at a time; every request authorized) "
        "against `cp` of the same file on the same disk just before, in the same process: "
        "both from a warm page cache, neither synced; the median of "
        f"{runs} runs, each in a fresh process (D54). CPU is the process's "
        "user + system seconds during the upload (every thread: client and server); peak "
        "RSS is above the process's size before the upload. The machine's 2 cores are "
        f"shared with other work: load average at the end {load}, so wall times are upper "
        "bounds; CPU seconds vary less.\n\n" + "\n".join(table),
    )


if __name__ == "__main__":
    main()
