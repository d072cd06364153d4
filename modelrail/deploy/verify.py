"""The verdict on a deployment from what DescribeEndpoint reports.

SageMaker's blue/green rollback is silent: after an alarm fires during the canary, the
endpoint goes back to ``InService`` on the *old* config with an empty ``FailureReason``.
So "InService" alone never means success; only InService on the requested config does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"


FAILED_STATUSES = frozenset({"UpdateRollbackFailed", "Failed", "OutOfService", "Deleting"})
SETTLING_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    explanation: str
    live_config: str | None
    """The config the endpoint reports, if any."""


def verify(endpoint: Mapping[str, Any], requested_config: str) -> Verification:
    """Judge one DescribeEndpoint result against the config the deployment asked for."""
    name = endpoint.get("EndpointName") or "the endpoint"
    status = endpoint.get("EndpointStatus")
    live = endpoint.get("EndpointConfigName") or None
    reason = (endpoint.get("FailureReason") or "").strip()
    because = f": {reason}" if reason else ""
    if status == "InService":
        if live == requested_config:
            return Verification(
                Verdict.SUCCEEDED, f"{name} is InService on {requested_config}", live
            )
        served = live or "an unknown config"
        return Verification(
            Verdict.ROLLED_BACK,
            f"{name} is InService on {served}, not on the requested {requested_config}: "
            f"the update was rolled back{because}",
            live,
        )
    if status in FAILED_STATUSES:
        return Verification(Verdict.FAILED, f"{name} is {status}{because}", live)
    if status in SETTLING_STATUSES:
        return Verification(Verdict.IN_PROGRESS, f"{name} is still {status}", live)
    return Verification(
        Verdict.FAILED, f"{name} reports an unknown status {status!r}{because}", live
    )
