"""The S3 layout is defined once (modelrail.layout): keys, grants and nothing elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelrail import layout
from modelrail.steps.start import NotAPipelineObject, plan_start

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("modelrail", "infra", "functions", "processing", "training")


def test_keys() -> None:
    assert layout.upload_key("demand", "2026-11.csv") == "incoming/demand/2026-11.csv"
    assert layout.quarantine_folder("demand", "v1") == "quarantine/demand/v1/"
    assert layout.quarantine_folder("demand", None) == "quarantine/demand/null/"
    assert layout.dataset_folder("demand", "abc") == "datasets/demand/abc/"
    assert layout.run_channel("demand", "exec-r2", "champion") == "runs/demand/exec-r2/champion/"
    assert layout.approval_key("demand", 3) == "approvals/demand/v3.json"
    assert layout.INCOMING.objects == "incoming/*" and layout.INCOMING.owns("incoming/x/y")
    assert not layout.INCOMING.owns("incomingx/y")


def test_areas_are_distinct_and_none_is_a_prefix_of_another_in_its_bucket() -> None:
    names = [(a.bucket, a.name) for a in layout.AREAS]
    assert len(set(names)) == len(names)
    for a in layout.AREAS:
        for b in layout.AREAS:
            if a is not b and a.bucket == b.bucket:
                assert not b.prefix.startswith(a.prefix), (a, b)
        assert "/" not in a.name and a.name


def test_the_starter_reads_the_same_prefix() -> None:
    plan = plan_start("data", layout.upload_key("demand", "a.csv"), "v1")
    assert plan.input.model == "demand"
    with pytest.raises(NotAPipelineObject, match="incoming/<model>/<file>"):
        plan_start("data", layout.INCOMING.of("a.csv"), "v1")


def _literals() -> list[str]:
    """Quoted strings in the shipped code that start with an area's prefix."""
    areas = "|".join(re.escape(a.name) for a in layout.AREAS)
    pattern = re.compile(rf"""(?<![\w.-])[fr]?["'](?:{areas})/""")
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "modelrail" / "layout.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_prefix_literal_outside_the_layout() -> None:
    assert _literals() == []
