"""The managed Lambda layers, per region, and the Python packages each one carries.

Layer ARNs differ by region: the version number (AWS SDK for pandas publishes 3.16.1 as
``AWSSDKPandas-Python313:12`` in most regions but ``:11`` in af-south-1) and, in some
regions, the publishing account. So the table is per region, and synth fails with a clear
message for a region that has no entry (infra.config). Sources, for whoever updates it:

* Powertools for AWS Lambda (Python) v3, ``[all]`` extras (pydantic included), account
  017000801446 in the commercial regions, layer version 27 (the documentation's install
  page at 3.24.0 lists ``AWSLambdaPowertoolsPythonV3-{python_version}-x86_64:27``; the
  layer's Description names the release it carries).
* AWS SDK for pandas 3.16.1 (its "AWS Lambda Managed Layers" page, docs/source/layers.rst):
  the layer build installs awswrangler with pandas and numpy from source and pyarrow
  22.0.0, without boto3; pandas and numpy are whatever pip resolved at build time within
  awswrangler's ranges (pandas 3, numpy 2). No PyYAML, scipy or scikit-learn.

Both publish python3.14 layers too; the runtime stays python3.13 (docs/decisions.md D35).
What each of these layer versions carries (the packages, as pip requirements) is recorded
once, beside the local Lambda runtime that rebuilds it: ``modelrail/local/layers.py``.
"""

from __future__ import annotations

RUNTIME = "python3.13"

POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_LAYER = "AWSLambdaPowertoolsPythonV3-python313-x86_64"
POWERTOOLS_VERSION = 27
PANDAS_LAYER = "AWSSDKPandas-Python313"

#: region -> (AWS SDK for pandas publisher account, its layer version for 3.16.1)
_PANDAS = {
    region: ("336392948345", 12)
    for region in (
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-southeast-1", "ap-southeast-2",
    )
}  # fmt: skip
_PANDAS["af-south-1"] = ("336392948345", 11)


def _powertools(region: str) -> str:
    return f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:{POWERTOOLS_LAYER}:{POWERTOOLS_VERSION}"


#: region -> the layer ARNs every function gets, Powertools first.
LAYERS: dict[str, tuple[str, ...]] = {
    region: (
        _powertools(region),
        f"arn:aws:lambda:{region}:{account}:layer:{PANDAS_LAYER}:{version}",
    )
    for region, (account, version) in sorted(_PANDAS.items())
}


class LayerError(ValueError):
    """No layer is recorded for the region, or an ARN is not one of the table's."""


def layer_arns(region: str) -> list[str]:
    try:
        return list(LAYERS[region])
    except KeyError:
        raise LayerError(
            f"no managed layer versions recorded for region {region!r}: add the Powertools and "
            f"AWS SDK for pandas layer ARNs for {RUNTIME} x86_64 in that region to "
            f"infra/layers.py (recorded: {', '.join(sorted(LAYERS))})"
        ) from None
