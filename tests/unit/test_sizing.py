"""The size rules (modelrail.sizing): which path validates a dataset, what trains on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelrail.sizing import (
    GIB,
    VOLUME_HEADROOM_GB,
    SizeBand,
    SizingError,
    bands_from_json,
    bands_to_json,
    runs_in_processing,
    training_resources,
)

MIB = 1024**2
BANDS = (
    SizeBand(256 * MIB, "ml.m5.large", 30),
    SizeBand(2 * GIB, "ml.m5.2xlarge", 50),
    SizeBand(None, "ml.m5.12xlarge", 100),
)


def test_above_the_threshold_runs_in_processing_and_at_it_in_lambda() -> None:
    assert runs_in_processing(1001, 1000)
    assert not runs_in_processing(1000, 1000)
    assert not runs_in_processing(None, 1000)  # a manual start without a size


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, ("ml.m5.large", 1, 30)),
        (256 * MIB, ("ml.m5.large", 1, 30)),  # a band's bound is in the band
        (256 * MIB + 1, ("ml.m5.2xlarge", 1, 50)),
        (2 * GIB, ("ml.m5.2xlarge", 1, 50)),
        (2 * GIB + 1, ("ml.m5.12xlarge", 1, 100)),
        # the volume grows with the data: twice the dataset plus headroom
        (60 * GIB, ("ml.m5.12xlarge", 1, 120 + VOLUME_HEADROOM_GB)),
    ],
)
def test_the_first_band_that_holds_the_dataset_sizes_training(
    size: int, expected: tuple[str, int, int]
) -> None:
    got = training_resources(size, BANDS)
    assert (got.instance_type, got.instance_count, got.volume_gb) == expected


@given(st.integers(min_value=0, max_value=10**13))
def test_training_is_single_node_and_the_volume_holds_twice_the_data(size: int) -> None:
    got = training_resources(size, BANDS)
    assert got.instance_count == 1  # HistGradientBoosting trains on one node
    assert got.volume_gb * GIB >= 2 * size
    bigger = training_resources(size * 2 + 1, BANDS)
    assert [b.instance_type for b in BANDS].index(bigger.instance_type) >= [
        b.instance_type for b in BANDS
    ].index(got.instance_type)


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ((), "at least one size band"),
        ((SizeBand(10, "ml.m5.large", 30),), "the last size band must have no max_bytes"),
        (
            (SizeBand(None, "ml.m5.large", 30), SizeBand(None, "ml.m5.xlarge", 30)),
            "only the last size band may have no max_bytes",
        ),
        (
            (SizeBand(20, "ml.m5.large", 30), SizeBand(10, "ml.m5.large", 30), BANDS[-1]),
            "positive and increasing",
        ),
        ((SizeBand(None, "m5.large", 30),), "not a SageMaker instance type"),
        ((SizeBand(None, "ml.m5.large", 0),), "volume_gb 0 is outside 1-16384"),
    ],
)
def test_a_bad_table_is_refused_by_name(bands: tuple[SizeBand, ...], message: str) -> None:
    with pytest.raises(SizingError, match=message):
        training_resources(1, bands)


def test_the_table_travels_as_json() -> None:
    assert bands_from_json(bands_to_json(BANDS)) == BANDS
    with pytest.raises(SizingError, match="not a list of bands"):
        bands_from_json('[{"instance_type": "ml.m5.large"}]')
