"""`make bench`: measure the figures the issues promise, write benchmarks/results.md.

Figures (wall clock on this machine; each the median of --repeat runs where cheap):
  synth               `python -m infra.app` for the dev stack, cold
  deploy              local cloud: bootstrap, publish assets, create stack, reconcile
  pipeline (good)     upload -> SUCCEEDED for 2000 demand rows, and its Train step
  pipeline (bad)      upload -> FAILED at ValidateData
  deployments         the first (CreateEndpoint), a healthy canary, a faulty canary rolled
                      back by its alarm (under steady traffic), each to its verdict
  invoke              InvokeEndpoint round trip on the local endpoint, 3 rows, p50 and p99
  validate N rows     modelrail.validation.validate_dataset on a demand CSV
  layer environment   the managed layers rebuilt locally: size, and build time when built
  cold import         each handler imported in the layer environment by a fresh Python
                      (-B: no bytecode read or written, as on the managed layers)
  IAM enforcement     the cost of fidelity: a good upload and its first deployment with
                      enforcement on and off, the time spent per authorized call, and the
                      demo's wall time on and off
  false promotions    how often the gate promotes a truly equal challenger, point rule
                      against the 95% interval rule, and a better one (D39;
                      benchmarks/false_promotions.py)
  captured traffic    1M capture records (CSV requests) from their bytes to the drift
                      window, CPU seconds and load average beside the wall time (D55;
                      benchmarks/capture_read.py)
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from benchmarks import capture_read, false_promotions
from infra.assets import lambda_function_names, stage_lambda
from modelrail.contract import load_contract
from modelrail.deploy.client import wait_for
from modelrail.local import layers
from modelrail.local.cloud import LocalCloud, PipelineRun, cached_assembly, synthesize
from modelrail.local.traffic import Traffic
from modelrail.sample import generate, sample_command
from modelrail.validation import validate_dataset

RESULTS = Path(__file__).resolve().parent / "results.md"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


FAULT = "modelrail-fault-error-rate"


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s"


def _deployment(cloud: LocalCloud, run: PipelineRun, outcome: str) -> float:
    """Seconds from the training run's end to the deployment's verdict."""
    assert run.status == "SUCCEEDED", run.message
    start = time.perf_counter()
    deployed = wait_for(
        cloud.deployment_arn_for(run.execution_arn), sfn=cloud.client("stepfunctions")
    )
    assert deployed.outcome == outcome, deployed.to_json()
    return time.perf_counter() - start


def _cold_imports(work: Path, repeat: int) -> list[tuple[str, str, str]]:
    """The layer environment's size and each handler's cold import, median of ``repeat``."""
    env = layers.ensure_environment(layers.configured_layer_sets()[0])
    info = env.build_info()
    rows = [
        (
            f"layer environment (Python {info['python']}, 2 layers + runtime SDK)",
            f"{info['megabytes']} MB, built in {info['seconds']} s",
            "once, pip cache as found",
        )
    ]
    environ = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    for name in lambda_function_names():
        asset = stage_lambda(name, build_dir=work / "imports")
        times = [layers.probe_import(asset, env, environ=environ).seconds for _ in range(repeat)]
        rows.append((f"cold import, {name} handler (no .pyc)", _s(times), f"median of {repeat}"))
    return rows


def _pipeline_and_deploy(assembly: Path, good: Path, *, enforce: bool) -> tuple[float, int, float]:
    """Seconds from upload to the first deployment's verdict; authorized calls and the
    seconds spent authorizing them."""
    with LocalCloud(assembly=assembly, enforce_iam=enforce) as cloud:
        start = time.perf_counter()
        run = cloud.upload_and_wait("demand", good)
        _deployment(cloud, run, "PRODUCTION")
        return time.perf_counter() - start, cloud.iam.authorized, cloud.iam.seconds


def _enforcement(assembly: Path, good: Path, repeat: int) -> list[tuple[str, str, str]]:
    on: list[float] = []
    off: list[float] = []
    calls, spent = 0, 0.0
    for _ in range(repeat):  # alternated, so load drifts hit both alike
        seconds, count, authorizing = _pipeline_and_deploy(assembly, good, enforce=True)
        on.append(seconds)
        calls, spent = calls + count, spent + authorizing
        off.append(_pipeline_and_deploy(assembly, good, enforce=False)[0])
    demo: dict[str, float] = {}
    cached_assembly()  # the demo's assembly (every environment), so neither run synthesizes
    for mode in ("on", "off"):
        environ = {**os.environ, "MODELRAIL_LOCAL_IAM": mode}
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "modelrail.cli", "demo", "--workdir", out],
                env=environ, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            demo[mode] = time.perf_counter() - started
    n = f"median of {repeat}"
    return [
        ("good upload + first deployment, IAM enforced", _s(on), n),
        ("good upload + first deployment, IAM not enforced", _s(off), n),
        (
            "authorizing one call (policies evaluated)",
            f"{spent / max(calls, 1) * 1000:.2f} ms",
            f"{calls} calls",
        ),
        (
            "make demo's loop, IAM enforced / not enforced",
            f"{demo['on']:.1f} s / {demo['off']:.1f} s",
            "once each",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    rows: list[tuple[str, str, str]] = []
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-"))

    assembly = work / "cdk.out"
    rows.append(("synth (dev stack, cold)", f"{_time(lambda: synthesize(assembly)):.1f} s", "once"))

    good = sample_command("demand", 2000, 7, work / "good.csv")
    better = sample_command("demand", 4000, 11, work / "better.csv")
    # Significantly better than `better`, so the faulty version reaches its canary (D39).
    faulty_data = sample_command("demand", 12000, 13, work / "faulty.csv")
    bad = work / "bad.csv"
    pd.read_csv(good).drop(columns=["units_sold"]).to_csv(bad, index=False)
    deploys, goods, trains, bads = [], [], [], []
    first: list[float] = []
    canaries: list[float] = []
    rollbacks: list[float] = []
    latencies: list[float] = []
    for _ in range(args.repeat):
        cloud = LocalCloud(assembly=assembly)
        start = time.perf_counter()
        with cloud:
            deploys.append(time.perf_counter() - start)
            run = cloud.upload_and_wait("demand", good)
            assert run.status == "SUCCEEDED", run.message
            goods.append(run.seconds)
            trains.append(next(s.seconds or 0.0 for s in run.steps if s.state == "Train"))
            failed = cloud.upload_and_wait("demand", bad)
            assert failed.status == "FAILED"
            bads.append(failed.seconds)
            first.append(_deployment(cloud, run, "PRODUCTION"))
            with Traffic.from_sample(cloud, "demand", good, rows=3) as traffic:
                again = cloud.upload_and_wait("demand", better)
                canaries.append(_deployment(cloud, again, "PRODUCTION"))
                faulty = cloud.upload_and_wait("demand", faulty_data, metadata={FAULT: "1"})
                rollbacks.append(_deployment(cloud, faulty, "ROLLED_BACK"))
            latencies.extend(traffic.latencies)
    n = f"median of {args.repeat}"
    rows.append(("local cloud deploy", f"{statistics.median(deploys):.2f} s", n))
    rows.append(
        ("pipeline, good upload (2000 rows) to SUCCEEDED", f"{statistics.median(goods):.2f} s", n)
    )
    rows.append(("  of which Train", f"{statistics.median(trains):.2f} s", n))
    rows.append(
        ("pipeline, bad upload to FAILED at ValidateData", f"{statistics.median(bads):.2f} s", n)
    )

    rows.append(("deployment: first, CreateEndpoint to PRODUCTION", _s(first), n))
    rows.append(("deployment: healthy canary (300 s bake at 60x) to PRODUCTION", _s(canaries), n))
    rows.append(("deployment: faulty canary to ROLLED_BACK by its alarm", _s(rollbacks), n))
    ordered = sorted(latencies)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    rows.append(
        (
            "InvokeEndpoint round trip, 3 rows (local endpoint)",
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
            f"{len(ordered)} requests",
        )
    )

    contract = load_contract("demand")
    for size in (100_000, 1_000_000):
        data = generate(contract, rows=size, seed=1).to_csv(index=False).encode()
        times = [
            _time(partial(validate_dataset, data, filename="x.csv", contract=contract))
            for _ in range(args.repeat)
        ]
        mb = len(data) / 1e6
        med = statistics.median(times)
        rows.append(
            (
                f"validate_dataset, {size:,} rows ({mb:.0f} MB)",
                f"{med:.2f} s ({mb / med:.0f} MB/s)",
                n,
            )
        )

    rows.extend(_cold_imports(work, args.repeat))
    rows.extend(_enforcement(assembly, good, args.repeat))
    rows.extend(false_promotions.rows())
    rows.extend(capture_read.rows(args.repeat))

    table = ["| measure | result | runs |", "|---|---|---|"] + [
        f"| {a} | {b} | {c} |" for a, b, c in rows
    ]
    header = (
        "# Benchmarks\n\n"
        f"`make bench` on {platform.machine()}, {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. Wall clock; the machine has 2 cores.\n\n"
    )
    kept = _kept_sections(RESULTS.read_text() if RESULTS.exists() else "")
    RESULTS.write_text(header + "\n".join(table) + "\n" + kept)
    print("\n".join(table))
    print(f"\nwritten to {RESULTS}")


def _kept_sections(text: str) -> str:
    """Sections other benchmarks own (``## ...``, e.g. large_data.py's), kept as found."""
    at = text.find("\n## ")
    return text[at:] if at >= 0 else ""


if __name__ == "__main__":
    main()
