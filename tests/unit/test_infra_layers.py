"""Managed Lambda layers per region (infra/layers.py): ARNs differ by region and publisher
account, a region without an entry fails synth clearly, and the Python packages each
layer carries are data a local runtime can install."""

from __future__ import annotations

import re

import pytest

from infra.config import ConfigError, load_environments
from infra.layers import LAYERS, RUNTIME, LayerError, layer_arns

_ARN = re.compile(r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


def test_every_region_has_both_layers_for_the_runtime() -> None:
    assert RUNTIME == "python3.13"
    assert {"us-east-1", "eu-west-1"} <= set(LAYERS)
    for region in LAYERS:
        arns = layer_arns(region)
        assert len(arns) == 2
        for arn in arns:
            match = _ARN.match(arn)
            assert match and match["region"] == region, arn
        assert "PowertoolsPythonV3-python313-x86_64" in arns[0]
        assert "AWSSDKPandas-Python313:" in arns[1]


def test_us_east_1_uses_the_documented_versions() -> None:
    assert layer_arns("us-east-1") == [
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27",
        "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python313:12",
    ]


def test_a_region_without_an_entry_is_refused_with_what_to_do() -> None:
    with pytest.raises(
        LayerError, match="no managed layer versions recorded for region 'mx-central-1'"
    ):
        layer_arns("mx-central-1")
    with pytest.raises(ConfigError, match=r"environment 'dev' .*mx-central-1.*infra/layers\.py"):
        load_environments({"dev": {"retain_data": False, "region": "mx-central-1"}})


def test_every_deployed_layer_has_its_contents_recorded_for_the_local_runtime() -> None:
    from modelrail.local.layers import LAYERS as CONTENTS
    from modelrail.local.layers import LayerRef

    for region, arns in LAYERS.items():
        for arn in arns:
            ref = LayerRef.parse(arn)
            assert (ref.name, ref.version) in CONTENTS, f"{region}: {arn}"
