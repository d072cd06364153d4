"""Reading a local cloud's registry from e2e tests, and waiting for a version's status."""

from __future__ import annotations

import time

from modelrail.local.cloud import LocalCloud
from modelrail.registry import DynamoDBRegistry, VersionStatus


def registry_of(cloud: LocalCloud) -> DynamoDBRegistry:
    return DynamoDBRegistry(cloud.output("RegistryTableName"), client=cloud.client("dynamodb"))


def wait_for_status(
    cloud: LocalCloud, model: str, version: int, status: VersionStatus, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if registry_of(cloud).get_version(model, version).status is status:
                return
        except Exception:  # not registered yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"{cloud.environment}: {model} v{version} never reached {status}")
