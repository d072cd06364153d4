"""What `cdk synth` ships: self-contained Lambda assets and a reproducible training source."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from infra.assets import lambda_function_names, stage_lambda, training_source_bytes
from modelrail.local import layers

# Handlers that never touch a data frame: importing pandas would only slow their cold start.
LIGHT = {
    "approval",
    "consider_retrain",
    "finish_deployment",
    "plan_deployment",
    "quality_gate",
    "register_model",
    "start_pipeline",
}
DATA_LIBRARIES = {"pandas", "numpy", "pyarrow"}


def test_the_training_source_is_byte_for_byte_reproducible() -> None:
    assert training_source_bytes() == training_source_bytes()


def test_the_training_source_is_script_mode_shaped() -> None:
    with tarfile.open(fileobj=io.BytesIO(training_source_bytes()), mode="r:gz") as tar:
        names = tar.getnames()
        contract = json.loads(tar.extractfile("contracts/demand.json").read())  # type: ignore[union-attr]
    assert {"train.py", "inference.py", "modelrail_features.py"} <= set(names)
    assert contract["name"] == "demand" and contract["target"] == "units_sold"


@pytest.fixture(scope="module")
def layer_env() -> layers.LayerEnvironment:
    """The managed layers the dev stack configures, as built by `make install`."""
    return layers.ensure_environment(layers.configured_layer_sets()[0])


def test_the_light_handlers_are_the_ones_without_data_frames() -> None:
    assert set(lambda_function_names()) > LIGHT
    assert set(lambda_function_names()) - LIGHT == {"check_drift", "prepare_data", "validate_data"}


@pytest.mark.parametrize("name", lambda_function_names())
def test_each_lambda_asset_imports_in_the_layer_environment(
    name: str, tmp_path: Path, layer_env: layers.LayerEnvironment
) -> None:
    """The handler imports with only its asset, the layers and the runtime's boto3 on the
    path, in the Lambda runtime's Python: nothing may come from the checkout or a venv."""
    asset = stage_lambda(name, build_dir=tmp_path)
    for left_out in ("local", "cli", "demo.py", "sample.py"):
        assert not (asset / "modelrail" / left_out).exists(), left_out
    assert (asset / "contracts" / "demand.json").is_file()
    probe = layers.probe_import(
        asset,
        layer_env,
        environ={"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert probe.origins["handler"] == str(asset / "handler.py")
    assert probe.origins["modelrail"].startswith(str(asset)), probe.origins["modelrail"]
    allowed = (str(asset), str(layer_env.root), str(Path(layer_env.python.path).parents[1]))
    strays = {m: f for m, f in probe.origins.items() if f and not f.startswith(allowed)}
    assert not strays, strays
    assert "yaml" not in probe.modules
    if name in LIGHT:
        assert not probe.modules & DATA_LIBRARIES, sorted(probe.modules & DATA_LIBRARIES)
    else:
        assert probe.modules >= DATA_LIBRARIES
