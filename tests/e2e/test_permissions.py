"""The permission set of each role, as the demo's loop uses it (docs/security.md).

The local cloud enforces IAM, so the loop passing means every permission it used was
granted; this test records which ones, and keeps docs/security.md equal to what a run
of the demo shows: used versus granted-but-unused, per role."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from modelrail.demo import run_demo
from modelrail.local.iam.enforce import forget_used, used_in_process
from modelrail.local.iam.report import permission_report, permissions
from tests.conftest import ROOT, load_template

pytestmark = pytest.mark.e2e
DOC = ROOT / "docs" / "security.md"
ENVIRONMENTS = ("dev", "prod")  # the environments the demo deploys


def test_docs_security_lists_what_the_demo_uses_and_every_use_is_granted(
    assembly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELRAIL_ASSEMBLY", str(assembly))
    forget_used()  # what other tests of this session used is not the demo's
    assert run_demo(tmp_path / "demo") == 0
    roles = permissions([load_template(assembly, env) for env in ENVIRONMENTS], used_in_process())
    assert {r.role: r.ungranted for r in roles if r.ungranted} == {}
    used = {r.role for r in roles if r.used}
    assert {"TrainingValidateDataFnRole", "TrainingStateMachineRole", "DeployHostingRole"} <= used
    expected = permission_report(roles, environments=ENVIRONMENTS)
    if os.environ.get("MODELRAIL_UPDATE_DOCS") == "1":
        DOC.write_text(expected)
    actual = DOC.read_text() if DOC.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            actual.splitlines(True), expected.splitlines(True), "docs/security.md", "run"
        )
    )
    assert not diff, f"docs/security.md is stale; regenerate with MODELRAIL_UPDATE_DOCS=1:\n{diff}"
