"""A large upload through the whole loop on the local cloud (issue 12's acceptance).

A generated demand CSV of each size (benchmarks/large_data.py `write_csv`, reused from
--work when already there) is uploaded into a fresh LocalCloud, as `modelrail local run`
does, and followed to its end: the pipeline run, the version registered (or why not) and
its deployment. The phases come from the execution history (each state's real seconds);
the training job's own phases (read, features, fit, ...) from the `modelrail-phase` lines
of its log (training/train.py `Phases`). Memory: the peak RSS of this process (the local
cloud: moto's S3 holds the objects), and of the job subprocesses, sampled from /proc every
0.2 s (the training script resets its own peak per phase, so a sample of the current RSS
is the portable measure).

    python -m benchmarks.whole_loop --sizes 100MB,1GB [--work /tmp/mr_large] [--write]

Not part of `make test`, and `make bench` does not run it (a 1 GB loop takes many
minutes and gigabytes of memory) but keeps its section of benchmarks/results.md, which
`--write` replaces.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.large_data import parse_size, peak_rss, write_csv
from benchmarks.sections import replace_section

MODEL = "demand"
SAMPLE_SECONDS = 0.2
PHASE = re.compile(r"modelrail-phase (\S+) seconds=(\S+) peak_rss_mb=(\S+)")
# The pipeline's states, grouped as the table reports them (infra/constructs/pipeline.py;
# a state not named here is counted under "other").
GROUPS = {
    "validate": ("ValidateData", "ProcessDataset", "DatasetAccepted"),
    "prepare": ("PrepareData",),
    "train": ("TrainRequest", "Train", "Tune", "DescribeBestTrial"),
    "gates": ("QualityGate", "RequestApproval", "CloseApproval"),
    "register": ("Register", "NotifyRegistered", "StartDeployment"),
}


class ChildMemory:
    """The largest RSS seen per kind of descendant process, sampled from /proc."""

    KINDS = (("train.py", "training"), ("processing", "processing"))

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ChildMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            for kind, rss in _children_rss():
                self.peaks[kind] = max(self.peaks.get(kind, 0), rss)

    @classmethod
    def kind_of(cls, command: str) -> str:
        for marker, kind in cls.KINDS:
            if marker in command:
                return kind
        return "other"


def _children_rss() -> list[tuple[str, int]]:
    """(kind, current RSS in bytes) of every process whose parent chain reaches us."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0"))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    me = os.getpid()
    out = []
    for pid in rss:
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, me):
            ancestor = parents.get(ancestor, 0)
        if ancestor == me and pid != me:
            out.append((ChildMemory.kind_of(commands.get(pid, "")), rss[pid]))
    return out


@dataclass
class LoopResult:
    label: str
    size: int
    rows: int
    upload_s: float
    run_s: float
    status: str
    steps: dict[str, float] = field(default_factory=dict)
    train_phases: list[tuple[str, float, float]] = field(default_factory=list)
    validation_path: str = "lambda"
    outcome: str = ""
    deployment: str = ""
    parent_peak: int = 0
    child_peaks: dict[str, int] = field(default_factory=dict)


def group_steps(steps: list[Any]) -> dict[str, float]:
    """Real seconds per reported phase, summed over the states in it."""
    out: dict[str, float] = {}
    for step in steps:
        if step.seconds is None:
            continue
        group = next((g for g, names in GROUPS.items() if step.state in names), "other")
        out[group] = out.get(group, 0.0) + step.seconds
    return out


def train_phases(logs: str) -> list[tuple[str, float, float]]:
    """(phase, seconds, peak MB) from the training job's `modelrail-phase` lines."""
    return [(m[1], float(m[2]), float(m[3])) for m in PHASE.finditer(logs)]


def outcome_of(run: Any, row: dict[str, Any] | None) -> str:
    if row is None:
        return f"not registered: {run.status} at {run.failed_state}: {run.error}"
    verdict = row["status"]
    reasons = "; ".join(row.get("gateReasons") or [])
    return f"v{row['version']} {verdict}" + (f" ({reasons})" if reasons else "")


def run_loop(label: str, path: Path, timeout: float, deployment_wait: float) -> LoopResult:
    from modelrail.local.cloud import LocalCloud
    from modelrail.local.runner import registry_snapshot

    reset_peak_rss()  # this loop's own peak, not an earlier size's
    with ChildMemory() as children, LocalCloud() as cloud:
        started = time.perf_counter()
        key, version_id = cloud.upload(MODEL, path)
        upload_s = time.perf_counter() - started
        run = cloud.wait(cloud.execution_arn_for(key, version_id), timeout=timeout)
        deployment = cloud.deployment_of(run, timeout=deployment_wait)
        rows = registry_snapshot(cloud, [MODEL])
        row = next((r for r in rows if r.get("execution") == run.execution_arn), None)
        logs = cloud.training.runs[-1].stdout_tail if cloud.training.runs else ""
        processed = bool(cloud.processing.runs)
    result = LoopResult(
        label=label,
        size=path.stat().st_size,
        rows=int((row or {}).get("data", {}).get("rows") or 0),
        upload_s=upload_s,
        run_s=run.seconds,
        status=run.status,
        steps=group_steps(run.steps),
        train_phases=train_phases(logs),
        validation_path="processing job" if processed else "lambda",
        outcome=outcome_of(run, row),
        deployment="none" if deployment is None else f"{deployment.outcome}",
        parent_peak=peak_rss(),
        child_peaks=dict(children.peaks),
    )
    return result


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _mb(n: float) -> str:
    return f"{n / 1024**2:,.0f} MB"


def table(results: list[LoopResult]) -> list[str]:
    head = "| measure | " + " | ".join(f"{r.label} ({_mb(r.size)})" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]

    def line(name: str, cells: list[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    line("rows", [f"{r.rows:,}" for r in results])
    line("upload", [f"{r.upload_s:.1f} s" for r in results])
    for group in (*GROUPS, "other"):
        line(group, [f"{r.steps.get(group, 0.0):.1f} s" for r in results])
    line("validation path", [r.validation_path for r in results])
    line("pipeline run (upload to end)", [f"{r.run_s:.1f} s" for r in results])
    phases = list(dict.fromkeys(p for r in results for p, _, _ in r.train_phases))
    for phase in phases:
        cells = []
        for r in results:
            found = [(s, m) for p, s, m in r.train_phases if p == phase]
            cells.append(f"{found[0][0]:.1f} s, {found[0][1]:,.0f} MB" if found else "-")
        line(f"training: {phase} (time, peak RSS)", cells)
    for kind in ("training", "processing", "other"):
        line(f"peak RSS: {kind} subprocesses", [_mb(r.child_peaks.get(kind, 0)) for r in results])
    line("peak RSS: the local cloud (this process)", [_mb(r.parent_peak) for r in results])
    line("run status", [r.status for r in results])
    line("end state", [r.outcome for r in results])
    line("deployment", [r.deployment for r in results])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GB", help="comma separated, e.g. 100MB,1GB")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mr_large"))
    parser.add_argument("--timeout", type=float, default=3600.0, help="real seconds a run")
    parser.add_argument("--deployment-wait", type=float, default=600.0)
    parser.add_argument("--write", action="store_true", help="into benchmarks/results.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for label in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        path = write_csv(args.work / f"demand_{label}.csv", parse_size(label))
        # One loop per process would be cleaner for the parent's peak; sizes in
        # increasing order keep each figure that size's own.
        results.append(run_loop(label, path, args.timeout, args.deployment_wait))
        print("\n".join(table(results)), flush=True)
    if args.write:
        replace_section(
            "Whole loop",
            f"## Whole loop (benchmarks/whole_loop.py, {time.strftime('%Y-%m-%d')})\n\n"
            "One upload of a generated demand CSV into a fresh local cloud, followed to the "
            "version's end state and its deployment. Phases are the pipeline states' real "
            "seconds (execution history); the training rows are the job's own phases "
            "(`modelrail-phase` log lines: time and that phase's peak RSS); subprocess "
            "peaks are sampled every 0.2 s.\n\n" + "\n".join(table(results)),
        )


if __name__ == "__main__":
    main()
