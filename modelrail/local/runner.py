"""`modelrail local run`: deploy the local cloud, upload files in order, report each run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from modelrail.deploy.client import DeploymentRun
from modelrail.local.cloud import LocalCloud, PipelineRun, StepTiming

#: How long (real seconds) `local run` waits for the deployments its uploads started.
DEPLOYMENT_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class RunReport:
    runs: list[PipelineRun]
    registry: list[dict[str, Any]]
    deployments: list[DeploymentRun | None] = field(default_factory=list)
    """One per run, None where the run started no deployment."""

    def to_json(self) -> dict[str, Any]:
        runs = []
        for i, run in enumerate(self.runs):
            row = run.to_json()
            deployment = self.deployments[i] if i < len(self.deployments) else None
            row["deployment"] = None if deployment is None else deployment.to_json()
            runs.append(row)
        return {"runs": runs, "registry": self.registry}

    def version_of(self, run: PipelineRun) -> dict[str, Any] | None:
        """The registry row the run made (a rejected model is registered too)."""
        for row in self.registry:
            if row.get("execution") == run.execution_arn:
                return row
        return None


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
                    "execution": version.lineage.pipeline_execution_arn,
                    "comparedWith": _dumped(version.lineage.compared_with),
                    **_gate_story(version),
                    "statusReason": version.status_history[-1].reason,
                }
            )
    return rows


def _dumped(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value.model_dump(mode="json"))


def _gate_story(version: Any) -> dict[str, Any]:
    gates = {g.name: g for g in version.gates}
    quality, data = gates.get("quality"), gates.get("data_validation")
    return {
        "warnings": [] if data is None else list(data.reasons),
        "gateReasons": [] if quality is None else list(quality.reasons),
        "comparison": None if quality is None else _dumped(quality.comparison),
    }


def run_uploads(
    model: str,
    files: list[Path],
    *,
    cloud_factory: Callable[[], LocalCloud] = LocalCloud,
    on_step: Callable[[PipelineRun | None, StepTiming], None] | None = None,
    deployment_wait: float = DEPLOYMENT_WAIT_SECONDS,
) -> RunReport:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"no such data file(s): {', '.join(missing)}")
    runs = []
    with cloud_factory() as cloud:
        for path in files:
            step_cb = (lambda step: on_step(None, step)) if on_step else None
            # No wait of our own: a large dataset's run takes longer than any fixed bound
            # (a 1 GB one about half an hour here, D46); its TimeoutSeconds ends it.
            runs.append(cloud.upload_and_wait(model, path, on_step=step_cb, timeout=None))
        # Each upload waited for its training run only: later uploads are judged while
        # earlier versions deploy. Now the deployments, each bounded.
        deadline = time.monotonic() + deployment_wait
        deployments = [
            cloud.deployment_of(run, timeout=max(0.0, deadline - time.monotonic())) for run in runs
        ]
        registry = registry_snapshot(cloud, [model])
    return RunReport(runs, registry, deployments)


def print_report(report: RunReport, out: TextIO) -> None:
    for i, run in enumerate(report.runs):
        verdict = "accepted" if run.status == "SUCCEEDED" else "rejected"
        print(
            f"{run.key} (version {run.version_id}): {run.status} — {verdict} in {run.seconds:.1f}s",
            file=out,
        )
        row = report.version_of(run)
        for line in run_story(run, row):
            print(f"  {line}", file=out)
        deployment = report.deployments[i] if i < len(report.deployments) else None
        if deployment is not None:
            print(f"  deployment: {deployment.outcome} — {deployment.message}", file=out)
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


def run_story(run: PipelineRun, row: dict[str, Any] | None) -> list[str]:
    """What happened to one upload, in the order it happened: the data gate's warnings,
    what the model was judged against and by how much, and what became of it."""
    lines = [f"data warning: {w}" for w in (row or {}).get("warnings", [])]
    lines += judgement(run, row)
    if run.status != "SUCCEEDED":
        lines.append(f"failed at {run.failed_state}: {run.error}")
        if run.message:
            lines.append(run.message)
    if row is not None:
        lines.append(f"registered {row['model']} v{row['version']}, now {row['status']}")
    return lines


def judgement(run: PipelineRun, row: dict[str, Any] | None) -> list[str]:
    """What the model was judged against, why that one, and the evidence."""
    lines = []
    compared = (row or {}).get("comparedWith")
    if compared is not None:
        against = "nothing" if compared["version"] is None else f"v{compared['version']}"
        lines.append(f"judged against {against} ({compared['reason']})")
    comparison = (row or {}).get("comparison")
    if comparison is not None:
        lines.append(_interval(comparison))
    rounds = (run.output or {}).get("round")
    if isinstance(rounds, int) and rounds > 1:
        lines.append(f"judged {rounds} times: the reference moved while it trained")
    return lines


def _interval(c: dict[str, Any]) -> str:
    verdict = "significant" if c["significant"] else "not significant"
    return (
        f"{c['metric']}: {c['point']:+.4g} vs the reference "
        f"({c['confidence']:.0%} interval {c['lower']:+.4g} to {c['upper']:+.4g}, "
        f"required margin {c['margin']:.4g}, {c['rows']} holdout rows): {verdict}"
    )
