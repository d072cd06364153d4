"""`modelrail local run`'s report: each upload's story, in words (modelrail.local.runner)."""

from __future__ import annotations

import io

from modelrail.deploy.client import DeploymentRun
from modelrail.local.cloud import PipelineRun
from modelrail.local.runner import RunReport, print_report

ARN = "arn:aws:states:us-east-1:123456789012:execution:modelrail-dev-training:demand-1"


def _row(**fields: object) -> dict[str, object]:
    return {
        "model": "demand", "version": 2, "status": "registered", "metrics": {"rmse": 9.5},
        "data": {"sha256": "a" * 64}, "execution": ARN, "warnings": ["price: 3 nulls (0.1%)"],
        "gateReasons": [], "statusReason": "registered",
        "comparedWith": {"version": 1, "role": "pending_champion", "champion": None,
                         "reason": "v1 is deploying, on its way to become the first champion"},
        "comparison": {"metric": "rmse", "point": 1.25, "lower": 0.5, "upper": 2.0,
                       "confidence": 0.95, "resamples": 1000, "rows": 800, "margin": 0.1,
                       "significant": True},
        **fields,
    }  # fmt: skip


def test_the_report_tells_warnings_reference_interval_rounds_and_deployment() -> None:
    run = PipelineRun(
        model="demand", key="incoming/demand/b.csv", version_id="v9", execution_arn=ARN,
        status="SUCCEEDED", output={"round": 2, "registered": {"version": 2}}, seconds=12.0,
    )  # fmt: skip
    deployment = DeploymentRun(
        "arn:deploy", "SUCCEEDED", {"outcome": "PRODUCTION", "message": "v2 serves"}, None, None
    )
    out = io.StringIO()
    print_report(RunReport([run], [_row()], [deployment]), out)
    text = out.getvalue()
    assert "data warning: price: 3 nulls (0.1%)" in text
    assert "judged against v1 (v1 is deploying, on its way to become the first champion)" in text
    assert "rmse: +1.25 vs the reference (95% interval +0.5 to +2, required margin 0.1, " in text
    assert "800 holdout rows): significant" in text
    assert "judged 2 times: the reference moved while it trained" in text
    assert "registered demand v2, now registered" in text
    assert "deployment: PRODUCTION — v2 serves" in text


def test_a_deployment_still_running_says_so_and_a_rejected_run_says_why() -> None:
    run = PipelineRun(
        model="demand", key="incoming/demand/c.csv", version_id="v3", execution_arn=ARN,
        status="FAILED", error="QualityGateRejected",
        cause='{"errorMessage": "no significant improvement: rmse"}', failed_state="QualityGate",
    )  # fmt: skip
    row = _row(status="rejected", comparison=None, warnings=[])
    out = io.StringIO()
    print_report(RunReport([run], [row], [None]), out)
    text = out.getvalue()
    assert "failed at QualityGate: QualityGateRejected" in text
    assert "no significant improvement: rmse" in text
    assert "registered demand v2, now rejected" in text
    assert "deployment:" not in text
    running = DeploymentRun("arn:deploy", "RUNNING", None, None, None)
    assert (running.outcome, running.message) == ("RUNNING", "still running")


def test_a_superseded_deployment_reads_as_superseded_with_its_reason() -> None:
    import json

    from modelrail.deploy.client import wait_for

    cause = json.dumps(
        {"errorType": "DeploymentSuperseded", "errorMessage": "demand v2 superseded by v3"}
    )

    class Sfn:
        def describe_execution(self, executionArn: str) -> dict[str, object]:
            output = {"error": {"Error": "DeploymentSuperseded", "Cause": cause}}
            return {"status": "SUCCEEDED", "output": json.dumps(output)}

    run = wait_for("arn:deploy", sfn=Sfn())
    assert (run.outcome, run.message) == ("SUPERSEDED", "demand v2 superseded by v3")
