"""The table of managed layers the local cloud rebuilds (modelrail/local/layers.py)."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from modelrail.local import layers
from modelrail.local.layers import Interpreter, LayerError, LayerRef

POWERTOOLS = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
)
PANDAS = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:11"
PY313 = Interpreter("/usr/bin/python3.13", "3.13.0")


def test_every_configured_layer_is_in_the_table() -> None:
    for arns in layers.configured_layer_sets():
        assert [LayerRef.parse(a).contents.release for a in arns] == [
            "aws-lambda-powertools 3.23.0",
            "awswrangler 3.16.1",
        ]


def test_the_pandas_layer_brings_pandas_3_numpy_2_and_pyarrow() -> None:
    requirements = LayerRef.parse(PANDAS).contents.requirements
    assert "pandas==3.0.2" in requirements and "numpy==2.4.4" in requirements
    assert "pyarrow==22.0.0" in requirements
    assert not any(r.lower().startswith(("pyyaml", "scipy", "scikit-learn")) for r in requirements)


def test_layers_leave_boto3_to_the_runtime() -> None:
    for contents in layers.LAYERS.values():
        assert "boto*" in contents.removed
    assert layers.RUNTIME_SDK["python3.13"][0].startswith("boto3==")


def test_an_arn_that_is_not_a_layer_version_is_refused() -> None:
    with pytest.raises(
        LayerError, match=r"not a Lambda layer version ARN: 'arn:aws:lambda:us-east-1:1:layer:x'"
    ):
        LayerRef.parse("arn:aws:lambda:us-east-1:1:layer:x")


def test_an_unknown_layer_names_its_arn_and_the_known_ones() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:home-made:3"
    with pytest.raises(
        LayerError, match=re.escape(f"layer {arn} is not in modelrail.local.layers.LAYERS")
    ) as info:
        _ = LayerRef.parse(arn).contents
    assert "AWSSDKPandas-Python313:11" in str(info.value)


def test_the_environment_key_follows_the_requirements_and_the_interpreter() -> None:
    refs = [LayerRef.parse(POWERTOOLS), LayerRef.parse(PANDAS)]
    key = layers.environment_key(refs, PY313, "python3.13")
    assert key == layers.environment_key(refs, PY313, "python3.13")
    assert key != layers.environment_key(refs, Interpreter(PY313.path, "3.13.1"), "python3.13")
    assert key != layers.environment_key(refs[::-1], PY313, "python3.13")
    assert key != layers.environment_key(refs[:1], PY313, "python3.13")


def test_a_later_layer_is_searched_first_then_the_runtime(tmp_path: Path) -> None:
    refs = (LayerRef.parse(POWERTOOLS), LayerRef.parse(PANDAS))
    env = layers.LayerEnvironment(
        PY313, (tmp_path / "first", tmp_path / "second"), tmp_path / "runtime", refs, "python3.13"
    )
    assert env.search_path == [
        str(tmp_path / "second"),
        str(tmp_path / "first"),
        str(tmp_path / "runtime"),
    ]
    assert env.root == tmp_path and not env.built


def test_a_runtime_without_its_python_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelrail.local.layers"):
        found = layers.interpreter_for.__wrapped__("python3.99")
    assert found.path == sys.executable
    assert "no python3.99 interpreter found: Lambda workers run on Python" in caplog.text


def test_an_unsupported_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        LayerError, match=re.escape("runtime 'nodejs22.x' has no entry in RUNTIME_SDK")
    ):
        layers.plan_environment([POWERTOOLS], runtime="nodejs22.x", cache_root=tmp_path)


def test_configured_layer_sets_are_the_regions_layers_once_each(tmp_path: Path) -> None:
    from infra.layers import layer_arns

    cdk = tmp_path / "cdk.json"
    cdk.write_text(
        '{"context": {"modelrail:environments": {'
        '"dev": {"region": "eu-west-1", "retain_data": false},'
        '"staging": {"region": "eu-west-1", "retain_data": true},'
        '"prod": {"region": "af-south-1", "retain_data": true}}}}'
    )
    assert layers.configured_layer_sets(cdk) == [
        tuple(layer_arns("eu-west-1")),
        tuple(layer_arns("af-south-1")),
    ]
