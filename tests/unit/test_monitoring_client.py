"""modelrail.monitoring.client: labels uploads refuse what cannot be labels, keep every
upload, and the history lists a model's monitoring events newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from modelrail.monitoring.client import LabelFileError, history, upload_labels
from modelrail.registry import InMemoryRegistry
from tests.conftest_registry import gates, lineage


class FakeS3:
    def __init__(self) -> None:
        self.put: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self.put[f"{Bucket}/{Key}"] = Body
        return {}


def test_labels_go_under_the_models_ground_truth_prefix_each_with_its_own_key(
    tmp_path: Path,
) -> None:
    s3 = FakeS3()
    path = tmp_path / "labels.csv"
    path.write_text("inference_id,label\nabc,3\n")
    first = upload_labels("demand", path, bucket="data", s3=s3)
    second = upload_labels("demand", path, bucket="data", s3=s3)
    assert first != second  # an upload never overwrites an earlier one
    assert all(
        k.startswith("ground-truth/demand/") and k.endswith("-labels.csv") for k in (first, second)
    )
    assert s3.put[f"data/{first}"] == path.read_bytes()


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("labels.txt", "a,b\n", "labels are CSV"),
        ("empty.csv", "  \n", "is empty"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_what_cannot_be_labels_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, body: str | None, message: str
) -> None:
    path = tmp_path / name
    if body is not None:
        path.write_text(body)
    s3 = FakeS3()
    with pytest.raises(LabelFileError, match=message):
        upload_labels("demand", path, bucket="data", s3=s3)
    assert not s3.put


def test_history_is_the_monitoring_events_newest_first() -> None:
    ticks = iter(datetime(2026, 12, 1, 12, 0, s, tzinfo=UTC) for s in range(60))
    registry = InMemoryRegistry(clock=lambda: next(ticks))
    registry.register_version(
        "demand", metrics={"rmse": 1.0}, lineage=lineage("job-1"), gates=gates(True),
        created_by="pipeline",
    )  # fmt: skip
    registry.record("demand", 1, "monitoring.checked", {"status": "ok"})
    registry.record("demand", 1, "retraining.suppressed", {"guard": "cooldown"})
    entries = history(registry, "demand")
    assert [e.type for e in entries] == ["retraining.suppressed", "monitoring.checked"]
    assert entries[0].version == 1 and entries[0].detail == {"guard": "cooldown"}
