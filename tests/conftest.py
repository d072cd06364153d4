"""Shared fixtures.

Test taxonomy (docs/testing.md): unit/ is pure and runs with the network off;
integration/ uses moto; infra/ reads the synthesized templates; e2e/ runs the whole
loop on the local cloud. The CDK app is synthesized once per session (about 20 s)
and every infra and e2e test reads that one cloud assembly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelrail.local.cloud import synthesize

    preset = os.environ.get("MODELRAIL_TEST_ASSEMBLY")
    if preset:  # reuse an assembly from `make synth` while iterating locally
        return Path(preset)
    return synthesize(tmp_path_factory.mktemp("cdk.out"), environments=("dev", "staging", "prod"))


def load_template(assembly: Path, environment: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (assembly / f"modelrail-{environment}.template.json").read_text()
    )
    return data


@pytest.fixture(scope="session")
def dev_template(assembly: Path) -> dict[str, Any]:
    return load_template(assembly, "dev")


@pytest.fixture(scope="session")
def prod_template(assembly: Path) -> dict[str, Any]:
    return load_template(assembly, "prod")


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data
