"""Large datasets: streamed validation + profile, and the local multipart upload (D43).

For generated demand CSVs of each size (modelrail.sample, written in chunks so the
generator's own memory stays small): validate_stream + build_profile_streamed in a fresh
subprocess, timed, with that subprocess's peak RSS (VmHWM in /proc/self/status: unlike
getrusage's ru_maxrss it starts afresh at exec, so the parent's size does not leak in);
then the local cloud's upload of the same file (modelrail.local.cloud.LocalCloud.upload,
a managed multipart transfer) against `cp` of it on the same disk.

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
    """Run in the subprocess: validate then profile ``path``, streamed."""
    from modelrail.columns import CsvColumns
    from modelrail.profile import build_profile_streamed
    from modelrail.validation import validate_stream

    contract = load_contract(model)
    contract = contract.model_copy(update={"max_bytes": 10**12})
    size = os.path.getsize(path)
    start = time.perf_counter()
    with open(path, "rb") as stream:
        report = validate_stream(stream, filename=Path(path).name, size=size, contract=contract)
    validated = time.perf_counter()
    after_validation = peak_rss()
    source = CsvColumns(lambda: open(path, "rb"))  # noqa: SIM115 - the reader closes it
    profile = build_profile_streamed(source, contract, rows=report.rows)
    done = time.perf_counter()
    return {
        "bytes": size,
        "rows": report.rows,
        "ok": report.ok,
        "validate_s": validated - start,
        "profile_s": done - validated,
        "peak_validate": after_validation,
        "peak": peak_rss(),
        "fingerprint": profile.fingerprint[:12],
    }


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
    """Seconds to upload ``path`` to the local cloud's data bucket, and to `cp` it."""
    from modelrail.local.cloud import LocalCloud

    target = path.with_suffix(".copy")
    start = time.perf_counter()
    subprocess.run(["cp", str(path), str(target)], check=True)
    os.sync()
    cp_seconds = time.perf_counter() - start
    target.unlink()
    with LocalCloud() as cloud:  # a key outside incoming/ starts no pipeline
        start = time.perf_counter()
        cloud.upload("demand", path, key=f"bench/{path.name}")
        upload_seconds = time.perf_counter() - start
    return upload_seconds, cp_seconds


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
    uploads = {s.strip() for s in args.upload.split(",") if s.strip()}
    lines = [
        "| file | rows | validate | profile | validate+profile | peak RSS: validate / all "
        "| upload to the local cloud | cp |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    labels = [s.strip() for s in args.sizes.split(",") if s.strip()]
    paths = {
        label: write_csv(args.work / f"demand_{label}.csv", parse_size(label)) for label in labels
    }
    measured = {label: measure(paths[label]) for label in labels}  # before any upload
    for label in labels:
        r = measured[label]
        total = float(str(r["validate_s"])) + float(str(r["profile_s"]))
        throughput = int(str(r["bytes"])) / total / 1e6
        up = cp = "-"
        if label in uploads:
            upload_s, cp_s = upload_vs_cp(paths[label])
            up, cp = f"{upload_s:.1f} s", f"{cp_s:.1f} s"
        lines.append(
            f"| {label} ({_mb(r['bytes'])}) | {int(str(r['rows'])):,} | "
            f"{float(str(r['validate_s'])):.1f} s | {float(str(r['profile_s'])):.1f} s | "
            f"{throughput:.0f} MB/s | {_mb(r['peak_validate'])} / {_mb(r['peak'])} | {up} | {cp} |"
        )
        print(lines[-1], flush=True)
    if args.write:
        write_section(lines)


def write_section(table: list[str]) -> None:
    replace_section(
        "Large datasets",
        f"## Large datasets (benchmarks/large_data.py, {time.strftime('%Y-%m-%d')})\n\n"
        "Generated demand CSVs; validate_stream then build_profile_streamed in a fresh "
        "process (peak RSS of that process); the upload is LocalCloud.upload (multipart "
        "from 64 MiB) into the in-process local cloud, against `cp` of the same file.\n\n"
        + "\n".join(table),
    )


if __name__ == "__main__":
    main()
