"""cfn-lint over the templates and cdk-nag as a synth-time gate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Findings CDK itself produces and we cannot change, each with its reason.
ACCEPTED_LINT = {
    "W3005": "CDK adds an explicit DependsOn from a function to its role's default policy",
    "I1022": "CDK renders ARNs and URLs with Fn::Join",
}


def _lint(template: Path, *extra: str) -> list[str]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run(
        [str(cfn_lint), "--format", "parseable", *extra, "--", str(template)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in proc.stdout.splitlines() if line.strip()]


def _rule(line: str) -> str:
    match = re.search(r":([EWI]\d{4}):", line)
    assert match, line
    return match.group(1)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_cfn_lint_reports_nothing_but_accepted_cdk_findings(
    assembly: Path, environment: str
) -> None:
    findings = _lint(assembly / f"modelrail-{environment}.template.json", "--include-checks", "I")
    unexpected = [f for f in findings if _rule(f) not in ACCEPTED_LINT]
    assert unexpected == []


def test_cdk_nag_passed_and_every_suppression_has_a_reason(assembly: Path) -> None:
    report = json.loads((assembly / "validation-report.json").read_text())
    (nag,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    suppressed = nag["suppressedViolations"]
    assert suppressed, "expected the acknowledged findings to be listed"
    for violation in suppressed:
        assert len(violation["reason"]) >= 20, violation["ruleName"]
        # Acknowledged on the construct that raised it, never wholesale on a stack.
        assert violation["acknowledgedAt"].count("/") >= 2, violation["acknowledgedAt"]
        for construct in violation["violatingConstructs"]:
            assert construct["constructPath"].startswith(violation["acknowledgedAt"] + "/")


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    """The gate can fail: a bucket without TLS enforcement or logs must stop synth."""
    script = """
import os, sys
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
app = cdk.App(outdir=sys.argv[1])
stack = cdk.Stack(app, "Bad")
s3.Bucket(stack, "Open")
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert "AwsSolutions-S10" in proc.stdout + proc.stderr


def _report(assembly: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    report = json.loads((assembly / "validation-report.json").read_text())
    return {p["pluginName"]: p for p in report["pluginReports"]}


def test_serverless_checks_run_beside_aws_solutions_and_pass(assembly: Path) -> None:
    plugins = _report(assembly)
    assert set(plugins) == {"AwsSolutions", "Serverless"}
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], name
        for violation in plugin["suppressedViolations"]:
            assert len(violation["reason"]) >= 40, violation["ruleName"]


def test_every_acknowledgment_is_used_by_a_finding(assembly: Path) -> None:
    """An acknowledgment that no finding uses hides nothing today but would silently hide a
    future finding: each one made (infra/nag.py) must match a suppressed finding."""
    from infra.app import build_app
    from infra.stack import ModelrailStack

    app = build_app(None, ["dev", "prod"])
    made = {
        ack
        for stack in app.node.children
        if isinstance(stack, ModelrailStack)
        for ack in stack.acknowledgments
    }
    used = {
        (v["acknowledgedAt"], v["acknowledgedId"])
        for plugin in _report(assembly).values()
        for v in plugin["suppressedViolations"]
    }
    assert made, "no acknowledgment recorded"
    assert sorted(made - used) == []
