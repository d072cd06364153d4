"""modelrail.local.runner: `modelrail local run` waits for a run as long as it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelrail.local import runner
from modelrail.local.cloud import PipelineRun


class FakeCloud:
    def __init__(self) -> None:
        self.waits: list[Any] = []

    def __enter__(self) -> FakeCloud:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def upload_and_wait(self, model: str, path: Path, **kwargs: Any) -> PipelineRun:
        self.waits.append(kwargs.get("timeout", "default"))
        return PipelineRun(model, f"incoming/{model}/{path.name}", "v", "arn", "SUCCEEDED")

    def deployment_of(self, run: PipelineRun, *, timeout: float = 0.0) -> None:
        return None


def test_a_run_is_followed_to_its_end_without_a_wait_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 GB upload runs far past the 600 s a test waits (D46): the execution's own
    TimeoutSeconds, on the local clock, bounds it instead."""
    data = tmp_path / "big.csv"
    data.write_text("x\n")
    cloud = FakeCloud()
    monkeypatch.setattr(runner, "registry_snapshot", lambda *_: [])
    report = runner.run_uploads("demand", [data], cloud_factory=lambda: cloud)  # type: ignore[arg-type, return-value]
    assert cloud.waits == [None]
    assert [r.status for r in report.runs] == ["SUCCEEDED"]
