"""Names shared by the CDK app and the deployment functions (one definition of each).

The endpoint of a model is ``modelrail-<env>-<model>``; its one production variant is
``live`` (a blue/green update must keep the variant name); its rollback alarms are named
from the endpoint, so the stack creates them and the deployment state machine passes
the same names to ``UpdateEndpoint``. SageMaker names are at most 63 characters of
``[a-zA-Z0-9-]``; a model is at most 32 and an environment at most 8, so these fit.
"""

from __future__ import annotations

import hashlib

VARIANT = "live"
NAMESPACE = "AWS/SageMaker"
MAX_NAME = 63


def endpoint_name(environment: str, model: str) -> str:
    return f"modelrail-{environment}-{model}"


def alarm_names(environment: str, model: str) -> dict[str, str]:
    """The rollback alarms of a model's endpoint, by role."""
    base = endpoint_name(environment, model)
    return {
        "errors": f"{base}-5xx",
        "latency": f"{base}-latency-p99",
        "model_errors": f"{base}-model-errors",
    }


def deployment_names(model: str, version: int, execution_name: str) -> tuple[str, str]:
    """(SageMaker model name, endpoint config name) for one deployment execution.

    Deterministic, so a retried state reuses them; unique per execution, so redeploying
    a version makes a new config (an update to the same config name is refused).
    """
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:10]
    stem = f"{model}-v{version}"[: MAX_NAME - len(digest) - 3]
    return f"{stem}-m-{digest}", f"{stem}-c-{digest}"
