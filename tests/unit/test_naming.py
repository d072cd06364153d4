"""Every SageMaker name not managed by CloudFormation carries its environment, fits
SageMaker's limits, and every clean-up matches only its own environment (modelrail.naming)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelrail.deploy.finish import cleanup_configs
from modelrail.deploy.naming import deployment_names, endpoint_name
from modelrail.naming import (
    ENVIRONMENTS,
    MAX_NAME,
    MAX_TUNING_JOB_NAME,
    resource_prefix,
    training_job_name,
    tuning_job_name,
)

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
LONGEST_MODEL = "a-very-long-model-name-of-32-chr"
EXECUTION = f"{LONGEST_MODEL}-0123456789abcdef01234567"


def test_the_environments_are_those_config_accepts() -> None:
    from infra.config import EnvironmentConfig

    assert set(ENVIRONMENTS) == set(EnvironmentConfig.model_fields["name"].annotation.__args__)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("model", ["churn", "abc", LONGEST_MODEL])
def test_names_carry_the_environment_and_fit_sagemakers_limits(
    environment: str, model: str
) -> None:
    assert len(LONGEST_MODEL) == 32
    prefix = resource_prefix(environment)
    names = {
        "endpoint": endpoint_name(environment, model),
        "training": training_job_name(environment, model, EXECUTION),
        **dict(
            zip(
                ("model", "config"),
                deployment_names(environment, model, 999_999, EXECUTION),
                strict=True,
            )
        ),
    }
    for kind, name in names.items():
        assert name.startswith(prefix), (kind, name)
        assert len(name) <= MAX_NAME and SAGEMAKER_NAME.match(name), (kind, name)
    tuning = tuning_job_name(environment, model, EXECUTION)
    assert tuning.startswith(prefix)
    assert len(tuning) <= MAX_TUNING_JOB_NAME and SAGEMAKER_NAME.match(tuning), tuning
    # deterministic, and distinct per execution
    assert training_job_name(environment, model, EXECUTION) == names["training"]
    assert training_job_name(environment, model, EXECUTION + "x") != names["training"]
    assert tuning_job_name(environment, model, EXECUTION + "x") != tuning


def test_long_models_that_share_a_prefix_keep_distinct_deployment_names() -> None:
    a, b = LONGEST_MODEL, LONGEST_MODEL[:-1] + "x"
    config_a = deployment_names("staging", a, 1, "e")[1]
    config_b = deployment_names("staging", b, 1, "e")[1]
    assert config_a.rsplit("-v1-", 1)[0] != config_b.rsplit("-v1-", 1)[0]


def test_a_version_beyond_the_reserved_width_is_refused() -> None:
    with pytest.raises(ValueError, match="version 1000000 is beyond"):
        deployment_names("dev", "churn", 1_000_000, "e")


class _Configs:
    """list_endpoint_configs/delete_endpoint_config over configs of every environment."""

    def __init__(self, names: list[str]) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.configs = {n: start + timedelta(minutes=i) for i, n in enumerate(names)}
        self.deleted: list[str] = []

    def list_endpoint_configs(self, **kwargs: Any) -> dict[str, Any]:
        contains = kwargs.get("NameContains", "")
        rows = [
            {"EndpointConfigName": n, "CreationTime": t}
            for n, t in sorted(self.configs.items(), key=lambda kv: kv[1], reverse=True)
            if contains in n
        ]
        return {"EndpointConfigs": rows}

    def delete_endpoint_config(self, EndpointConfigName: str) -> None:
        self.deleted.append(EndpointConfigName)
        del self.configs[EndpointConfigName]


def test_devs_clean_up_never_touches_a_prod_or_staging_config() -> None:
    names = []
    for version in range(1, 6):
        for env in ENVIRONMENTS:
            names.append(deployment_names(env, "churn", version, f"{env}-exec-{version}")[1])
    # configs of the same model made before environments were in the names
    names += ["churn-v1-c-0123456789", "churn-v2-c-abcdef0123"]
    client = _Configs(names)
    deleted = cleanup_configs(client, environment="dev", model="churn", keep=1, protected=[])
    assert deleted and all(name.startswith("modelrail-dev-churn-v") for name in deleted)
    assert len(deleted) == 4  # five dev configs, the newest kept
    remaining = set(client.configs)
    for env in ("prod", "staging"):
        assert sum(n.startswith(f"modelrail-{env}-") for n in remaining) == 5
    assert {"churn-v1-c-0123456789", "churn-v2-c-abcdef0123"} <= remaining
