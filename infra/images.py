"""SageMaker framework image URIs, resolved offline at synth.

The SageMaker SDK ships the image registry table (``sagemaker-core``'s
``image_uri_config``); ``retrieve`` reads it without calling AWS.
"""

from __future__ import annotations

from functools import lru_cache

from infra.config import EnvironmentConfig


@lru_cache(maxsize=16)
def _retrieve(framework_version: str, region: str, instance_type: str, scope: str) -> str:
    from sagemaker.core import image_uris  # slow import: only when synthesizing

    uri: str = image_uris.retrieve(
        "sklearn",
        region=region,
        version=framework_version,
        py_version="py3",
        instance_type=instance_type,
        image_scope=scope,
    )
    return uri


def sklearn_image_uri(config: EnvironmentConfig, scope: str = "training") -> str:
    return _retrieve(
        config.sklearn_framework_version, config.region, config.training_instance_type, scope
    )
