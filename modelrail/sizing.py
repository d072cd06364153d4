"""Which SageMaker resources a dataset gets: the Processing path and the training size.

Pure rules over the dataset's size in bytes, configured per environment (infra/config.py
validates the tables at synth; PrepareData reads them from its environment).

* A dataset larger than the environment's ``processing_threshold_bytes`` is validated and
  profiled by a SageMaker Processing job instead of the Lambdas (the state machine's
  ``LargeDataset?`` Choice applies the same comparison: :func:`runs_in_processing`).
* The training job's instance type and volume come from the first size band that holds
  the dataset. The instance count is always 1: the estimator (scikit-learn's
  HistGradientBoosting in script mode) trains on one node, and more instances would
  each fit the same model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

GIB = 1024**3
#: The training volume holds the channels (the snapshot, the champion), the model and
#: scratch: at least twice the dataset plus this much.
VOLUME_HEADROOM_GB = 5


class SizingError(ValueError):
    """A size band table that cannot be applied."""


@dataclass(frozen=True)
class SizeBand:
    max_bytes: int | None  # None: every larger dataset
    instance_type: str
    volume_gb: int


@dataclass(frozen=True)
class TrainingResources:
    instance_type: str
    instance_count: int
    volume_gb: int

    def to_json(self) -> dict[str, Any]:
        """The Train state's ResourceConfig values (camelCase, as the state carries them)."""
        return {
            "instanceType": self.instance_type,
            "instanceCount": self.instance_count,
            "volumeSizeInGB": self.volume_gb,
        }


def runs_in_processing(size_bytes: int | None, threshold_bytes: int) -> bool:
    """An upload of unknown size (a manual start without ``sizeBytes``) stays in Lambda,
    which reads its size first and refuses what the contract does not allow."""
    return size_bytes is not None and size_bytes > threshold_bytes


def check_bands(bands: tuple[SizeBand, ...]) -> None:
    if not bands:
        raise SizingError("at least one size band is needed")
    bounds = [b.max_bytes for b in bands]
    if bounds[-1] is not None:
        raise SizingError(
            "the last size band must have no max_bytes (it takes every larger dataset)"
        )
    if any(b is None for b in bounds[:-1]):
        raise SizingError("only the last size band may have no max_bytes")
    finite = [b for b in bounds[:-1] if b is not None]
    if any(b <= 0 for b in finite) or finite != sorted(set(finite)):
        raise SizingError(f"size bands' max_bytes must be positive and increasing, got {finite}")
    for band in bands:
        if not band.instance_type.startswith("ml."):
            raise SizingError(f"{band.instance_type!r} is not a SageMaker instance type")
        if not 1 <= band.volume_gb <= 16384:
            raise SizingError(f"volume_gb {band.volume_gb} is outside 1-16384")


def training_resources(size_bytes: int, bands: tuple[SizeBand, ...]) -> TrainingResources:
    """The first band whose ``max_bytes`` holds the dataset (a band's bound included)."""
    check_bands(bands)
    if size_bytes < 0:
        raise SizingError(f"a dataset cannot be {size_bytes} bytes")
    band = next(b for b in bands if b.max_bytes is None or size_bytes <= b.max_bytes)
    needed = math.ceil(2 * size_bytes / GIB) + VOLUME_HEADROOM_GB
    return TrainingResources(band.instance_type, 1, max(band.volume_gb, needed))


def bands_to_json(bands: tuple[SizeBand, ...]) -> str:
    return json.dumps(
        [
            {"max_bytes": b.max_bytes, "instance_type": b.instance_type, "volume_gb": b.volume_gb}
            for b in bands
        ],
        separators=(",", ":"),
    )


def bands_from_json(text: str) -> tuple[SizeBand, ...]:
    try:
        raw = json.loads(text)
        bands = tuple(
            SizeBand(int(b["max_bytes"]) if b["max_bytes"] is not None else None,
                     str(b["instance_type"]), int(b["volume_gb"]))
            for b in raw
        )  # fmt: skip
    except (ValueError, TypeError, KeyError) as exc:
        raise SizingError(f"size bands are not a list of bands: {exc}") from None
    check_bands(bands)
    return bands
