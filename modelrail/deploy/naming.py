"""Names shared by the CDK app and the deployment functions (one definition of each).

The endpoint of a model is ``modelrail-<env>-<model>``; its one production variant is
``live`` (a blue/green update must keep the variant name); its rollback alarms are named
from the endpoint, so the stack creates them and the deployment state machine passes
the same names to ``UpdateEndpoint``. The SageMaker model and endpoint config of a
deployment are ``modelrail-<env>-<model tag>-v<n>-m|c-<10 hex>`` (modelrail.naming: every
name outside CloudFormation carries its environment).
"""

from __future__ import annotations

import re

from modelrail.naming import MAX_NAME, digest, resource_prefix

VARIANT = "live"
NAMESPACE = "AWS/SageMaker"
#: Versions up to 999999 fit; the model tag does not depend on the version, so that one
#: pattern finds every config of a model.
MAX_VERSION = 999_999
_DEPLOY_DIGEST = 10
_TAG_HASH = 6


def endpoint_name(environment: str, model: str) -> str:
    return f"{resource_prefix(environment)}{model}"


def alarm_names(environment: str, model: str) -> dict[str, str]:
    """The rollback alarms of a model's endpoint, by role."""
    base = endpoint_name(environment, model)
    return {
        "errors": f"{base}-5xx",
        "latency": f"{base}-latency-p99",
        "model_errors": f"{base}-model-errors",
    }


def model_tag(environment: str, model: str) -> str:
    """The model as it appears in deployment names: whole when it fits, else cut with a
    hash of the whole name, so two long models sharing a prefix never share a tag."""
    room = MAX_NAME - len(resource_prefix(environment)) - len(f"-v{MAX_VERSION}-c-")
    room -= _DEPLOY_DIGEST
    if len(model) <= room:
        return model
    return f"{model[: room - _TAG_HASH - 1].rstrip('-')}-{digest(model, _TAG_HASH)}"


def deployment_names(
    environment: str, model: str, version: int, execution_name: str
) -> tuple[str, str]:
    """(SageMaker model name, endpoint config name) for one deployment execution.

    Deterministic, so a retried state reuses them; unique per execution, so redeploying
    a version makes a new config (an update to the same config name is refused).
    """
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(
            f"version {version} is beyond what deployment names hold (1-{MAX_VERSION})"
        )
    stem = f"{resource_prefix(environment)}{model_tag(environment, model)}-v{version}"
    tail = digest(execution_name, _DEPLOY_DIGEST)
    return f"{stem}-m-{tail}", f"{stem}-c-{tail}"


def config_pattern(environment: str, model: str) -> tuple[str, re.Pattern[str]]:
    """(ListEndpointConfigs NameContains, exact pattern) for one model's deployment configs
    in one environment: another environment's, another model's or a hand-made config
    never matches."""
    stem = f"{resource_prefix(environment)}{model_tag(environment, model)}-v"
    return stem, re.compile(rf"^{re.escape(stem)}\d+-c-[0-9a-f]{{{_DEPLOY_DIGEST}}}$")
