"""Environment configuration is validated at synth with specific messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import ConfigError, EnvironmentConfig, load_environments
from tests.conftest import ROOT


def _dev(**overrides: Any) -> dict[str, Any]:
    return {"dev": {"retain_data": False, **overrides}}


def test_the_shipped_cdk_json_is_valid() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["modelrail:environments"]
    configs = load_environments(context)
    assert list(configs) == ["dev", "staging", "prod"]
    assert configs["prod"].retain_data and configs["prod"].require_approval
    assert configs["staging"].retain_data and configs["staging"].require_approval
    assert configs["dev"].layer_arns()[0].startswith("arn:aws:lambda:us-east-1:")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"region": "mars-1"}, "is not an AWS region name"),
        ({"log_retention_days": 10}, "is not a CloudWatch Logs retention"),
        ({"training_instance_type": "m5.large"}, "start with 'ml.'"),
        ({"training_max_runtime_seconds": 5}, "greater than or equal to 60"),
        ({"region": "mx-central-1"}, "no managed layer versions recorded for region"),
        ({"lambda_reserved_concurrency": 0}, "greater than or equal to 1"),
        ({"bogus": 1}, "Extra inputs are not permitted"),
        ({"processing_threshold_bytes": 0}, "processing_threshold_bytes: Input should be greater"),
        ({"processing_instance_type": "m5.xlarge"}, "start with 'ml.'"),
        ({"processing_instance_count": 2}, "processing_instance_count: Input should be less"),
        (
            {"training_size_bands": [{"max_bytes": 10, "instance_type": "ml.m5.large"}]},
            "training_size_bands: the last size band must have no max_bytes",
        ),
        (
            {"training_size_bands": [{"instance_type": "ml.m5.large", "volume_gb": 0}]},
            "volume_gb: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_value_names_the_environment_and_the_field(
    overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=r"environment 'dev' in cdk\.json is invalid") as info:
        load_environments(_dev(**overrides))
    assert fragment in str(info.value)


def test_prod_must_retain_its_data() -> None:
    with pytest.raises(ConfigError, match="prod must retain its data"):
        load_environments({"prod": {"retain_data": False}})


def test_unknown_environment_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="name"):
        load_environments({"qa": {"retain_data": False}})


def test_missing_context_is_refused() -> None:
    with pytest.raises(ConfigError, match="must map environment names"):
        load_environments(None)


def test_config_is_frozen() -> None:
    config = EnvironmentConfig(name="dev", retain_data=False)
    with pytest.raises(ValueError, match="frozen"):
        config.region = "eu-west-1"  # type: ignore[misc]


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"endpoint_instance_count": 1}, "greater than or equal to 2"),
        ({"endpoint_instance_count": 2, "canary_instances": 2}, "more than half"),
        ({"bake_seconds": 3601}, "less than or equal to 3600"),
        ({"deployment_max_seconds": 500}, "greater than or equal to 600"),
        (
            {"bake_seconds": 600, "termination_wait_seconds": 600, "deployment_max_seconds": 1200},
            "must exceed",
        ),
        ({"endpoint_instance_type": "m5.large"}, "not a SageMaker instance type"),
        ({"capture_percent": 101}, "less than or equal to 100"),
    ],
)
def test_deployment_settings_respect_sagemaker_guardrails(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_environments({"dev": {"retain_data": False, **settings}})


def test_prod_may_not_inject_faults() -> None:
    with pytest.raises(ConfigError, match="fault injection"):
        load_environments({"prod": {"retain_data": True, "allow_fault_injection": True}})


def test_reserved_concurrency_is_off_unless_asked_for() -> None:
    """An account with the default quota (new accounts: 10 in total, and Lambda keeps 10
    unreserved) refuses any reservation: none unless the environment sets one."""
    assert load_environments(_dev())["dev"].lambda_reserved_concurrency is None
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["modelrail:environments"]
    configs = load_environments(context)
    assert configs["dev"].lambda_reserved_concurrency is None
    assert configs["prod"].lambda_reserved_concurrency == 10


def test_without_size_bands_training_uses_the_configured_instance_for_every_size() -> None:
    from modelrail.sizing import SizeBand

    settings = _dev(training_instance_type="ml.c5.xlarge", training_volume_gb=60)
    config = load_environments(settings)["dev"]
    assert config.size_bands() == (SizeBand(None, "ml.c5.xlarge", 60),)


def test_every_shipped_environment_sizes_training_and_processing() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["modelrail:environments"]
    for name, config in load_environments(context).items():
        bands = config.size_bands()
        assert len(bands) >= 2, name
        assert bands[0].instance_type == config.training_instance_type, name
        # above the Lambda's limit, the job: the contracts' default max_bytes fits the Lambda
        assert config.processing_threshold_bytes == 256 * 1024 * 1024, name
