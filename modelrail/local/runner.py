"""`modelrail local run`: deploy the local cloud, upload files in order, report each run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from modelrail.local.cloud import LocalCloud, PipelineRun, StepTiming


@dataclass(frozen=True)
class RunReport:
    runs: list[PipelineRun]
    registry: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs], "registry": self.registry}


def registry_snapshot(cloud: LocalCloud, models: list[str]) -> list[dict[str, Any]]:
    from modelrail.registry import DynamoDBRegistry

    registry = DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))
    rows = []
    for model in sorted(set(models)):
        for version in registry.list_versions(model, newest_first=False):
            rows.append(
                {
                    "model": version.model,
                    "version": version.version,
                    "status": version.status.value,
                    "metrics": version.metrics,
                    "data": {
                        "key": version.lineage.data.key,
                        "versionId": version.lineage.data.version_id,
                        "sha256": version.lineage.data.sha256,
                        "rows": version.lineage.data.rows,
                    },
                    "trainingJob": version.lineage.training_job_name,
                    "codeVersion": version.lineage.code_version,
                    "createdAt": version.created_at,
                }
            )
    return rows


def run_uploads(
    model: str,
    files: list[Path],
    *,
    cloud_factory: Callable[[], LocalCloud] = LocalCloud,
    on_step: Callable[[PipelineRun | None, StepTiming], None] | None = None,
) -> RunReport:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"no such data file(s): {', '.join(missing)}")
    runs = []
    with cloud_factory() as cloud:
        for path in files:
            step_cb = (lambda step: on_step(None, step)) if on_step else None
            runs.append(cloud.upload_and_wait(model, path, on_step=step_cb))
        registry = registry_snapshot(cloud, [model])
    return RunReport(runs, registry)


def print_report(report: RunReport, out: TextIO) -> None:
    for run in report.runs:
        verdict = "accepted" if run.status == "SUCCEEDED" else "rejected"
        print(
            f"{run.key} (version {run.version_id}): {run.status} — {verdict} in {run.seconds:.1f}s",
            file=out,
        )
        if run.status != "SUCCEEDED":
            print(f"  failed at {run.failed_state}: {run.error}", file=out)
            if run.message:
                print(f"  {run.message}", file=out)
        elif run.registered_version is not None:
            print(f"  registered {run.model} v{run.registered_version}", file=out)
    print("registry:", file=out)
    if not report.registry:
        print("  (empty)", file=out)
    for row in report.registry:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(row["metrics"].items()))
        print(
            f"  {row['model']} v{row['version']} {row['status']}  {metrics}  data={row['data']['sha256'][:12]}",
            file=out,
        )


def dump_json(report: RunReport, out: TextIO) -> None:
    json.dump(report.to_json(), out, indent=2)
    out.write("\n")
