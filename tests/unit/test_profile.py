"""modelrail.profile: the baseline profile drift checks compare live traffic to."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelrail.contract import ColumnType, ModelContract, load_contract, parse_contract
from modelrail.profile import (
    MAX_CATEGORIES,
    OTHER_CATEGORY,
    QUANTILES,
    BaselineProfile,
    FeatureProfile,
    build_profile,
    load_profile,
    profile_json,
    to_constraints_json,
    to_statistics_json,
)
from modelrail.sample import generate

DEMAND = load_contract("demand")
NUMERIC = ("price", "day_of_week", "month", "temperature", "competitor_price", "units_sold")
SHA = "ab" * 32


def frame(rows: int = 10, seed: int = 0, **columns: Any) -> pd.DataFrame:
    """Demand sample rows with some columns replaced."""
    df = generate(DEMAND, rows=rows, seed=seed)
    for name, values in columns.items():
        df[name] = values
    return df


def column(profile: BaselineProfile, name: str) -> FeatureProfile:
    return profile.target if name == profile.target.name else profile.features[name]


def bin_of(edges: tuple[float, ...], values: np.ndarray) -> np.ndarray:
    """The documented rule: bins are [edges[i], edges[i+1])."""
    index: np.ndarray = np.searchsorted(np.asarray(edges), values, side="right") - 1
    return index


def with_datetime() -> ModelContract:
    data = DEMAND.to_runtime_json()
    data["name"] = "events"
    data["columns"] = [*data["columns"], {"name": "when", "type": "datetime", "nullable": True}]
    return parse_contract(data)


def no_constants(text: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {text}")


# ---------------------------------------------------------------------------
# known answers


def test_numeric_known_answers() -> None:
    values = np.arange(1.0, 11.0)
    p = build_profile(frame(price=values), DEMAND, bins=4).features["price"]
    assert (p.kind, p.column_type, p.count, p.nulls, p.unique) == ("numeric", "numeric", 10, 0, 10)
    assert (p.min, p.max, p.mean) == (1.0, 10.0, 5.5)
    assert p.std == pytest.approx(math.sqrt(8.25))  # population std
    assert p.quantiles is not None and list(p.quantiles) == list(QUANTILES)
    for key, q in QUANTILES.items():
        assert p.quantiles[key] == pytest.approx(np.quantile(values, q))
    assert p.quantiles["p50"] == 5.5
    # ranks 10*k//4 = 2, 5, 7 of the sorted values: edges 3, 6, 8
    assert p.bin_edges == (-math.inf, 3.0, 6.0, 8.0, math.inf)
    assert p.bin_counts == (2, 3, 2, 3)


def test_ten_values_ten_bins_one_each() -> None:
    p = build_profile(frame(price=np.arange(10.0, 0.0, -1.0)), DEMAND).features["price"]
    assert p.bin_edges == (-math.inf, *np.arange(2.0, 11.0), math.inf)
    assert p.bin_counts == (1,) * 10


def test_nulls_are_counted_and_left_out_of_bins() -> None:
    values = [1.0, np.nan, 3.0, None, 5.0, 6.0, np.nan, 8.0, 9.0, 10.0]
    p = build_profile(frame(competitor_price=values), DEMAND).features["competitor_price"]
    assert (p.count, p.nulls, p.present) == (10, 3, 7)
    assert p.bin_counts is not None and sum(p.bin_counts) == 7
    assert p.min == 1.0 and p.max == 10.0
    assert p.quantiles is not None
    assert p.quantiles["p50"] == 6.0


def test_integer_column_gets_one_bin_per_value() -> None:
    days = np.tile(np.arange(7), 10)
    p = build_profile(frame(rows=70, day_of_week=days), DEMAND).features["day_of_week"]
    assert p.bin_edges == (-math.inf, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, math.inf)
    assert p.bin_counts == (10,) * 7
    assert p.unique == 7


def test_constant_column_has_one_bin() -> None:
    p = build_profile(frame(price=[4.5] * 10), DEMAND).features["price"]
    assert p.bin_edges == (-math.inf, math.inf)
    assert p.bin_counts == (10,)
    assert (p.min, p.max, p.mean, p.std, p.unique) == (4.5, 4.5, 4.5, 0.0, 1)


def test_all_null_optional_column_and_missing_optional_column() -> None:
    all_null = build_profile(frame(competitor_price=[np.nan] * 10), DEMAND)
    dropped = build_profile(frame().drop(columns=["competitor_price"]), DEMAND)
    for profile in (all_null, dropped):
        p = profile.features["competitor_price"]
        assert (p.count, p.nulls, p.min, p.quantiles) == (10, 10, None, None)
        assert p.bin_edges == (-math.inf, math.inf) and p.bin_counts == (0,)
    # the model sees both as the same data
    assert all_null.fingerprint == dropped.fingerprint


def test_outer_edges_are_infinite_and_reference_bins_are_never_empty() -> None:
    profile = build_profile(generate(DEMAND, rows=2000, seed=7), DEMAND, bins=10)
    for name in NUMERIC:
        p = column(profile, name)
        assert p.bin_edges is not None and p.bin_counts is not None
        assert p.bin_edges[0] == -math.inf and p.bin_edges[-1] == math.inf
        assert len(p.bin_edges) <= 11 and len(p.bin_counts) == len(p.bin_edges) - 1
        assert all(c > 0 for c in p.bin_counts), name
        assert sum(p.bin_counts) == p.count - p.nulls
    price = profile.features["price"]
    assert price.bin_counts is not None and len(price.bin_counts) == 10
    # quantile bins: about equal mass (prices are rounded to cents, so ties move a few rows)
    assert max(price.bin_counts) - min(price.bin_counts) <= 10


def test_categories_include_declared_values_with_zero_count() -> None:
    stores = ["S01"] * 6 + ["S03"] * 4
    p = build_profile(frame(store_id=stores), DEMAND)
    store = p.features["store_id"]
    assert store.kind == "categorical"
    assert store.categories == {f"S{i:02d}": 0 for i in range(1, 11)} | {"S01": 6, "S03": 4}
    assert store.bin_edges is None and store.quantiles is None
    assert OTHER_CATEGORY not in store.categories


def test_booleans_are_true_false_counts_whatever_the_encoding() -> None:
    flags = [True, False, True, True, False, True, True, True, True, True]
    native = build_profile(frame(promotion=flags), DEMAND)
    texts = ["yes", "no", "TRUE", " 1", "0", "true", "True", "y", "1", "t"]
    parsed = build_profile(frame(promotion=texts), DEMAND)
    numbers = build_profile(frame(promotion=[1.0 if f else 0.0 for f in flags]), DEMAND)
    nullable = build_profile(frame(promotion=pd.array(flags, dtype="boolean")), DEMAND)
    for profile in (native, parsed, numbers, nullable):
        p = profile.features["promotion"]
        assert p.kind == "boolean" and p.categories == {"false": 2, "true": 8}
    assert native.fingerprint == parsed.fingerprint == numbers.fingerprint == nullable.fingerprint
    never = build_profile(frame(holiday=[False] * 10), DEMAND).features["holiday"]
    assert never.categories == {"false": 10, "true": 0}


def test_undeclared_categories_are_reported_as_seen() -> None:
    # validation may tolerate a few unknown values: the profile keeps them, stripped
    stores = ["S01"] * 8 + [" S01 ", "S99"]
    p = build_profile(frame(store_id=stores), DEMAND).features["store_id"]
    assert p.categories is not None
    assert p.categories["S01"] == 9 and p.categories["S99"] == 1
    assert sum(p.categories.values()) == 10


def test_high_cardinality_undeclared_column_is_capped() -> None:
    data = DEMAND.to_runtime_json()
    data["columns"] = [
        {**c, "categories": None} if c["name"] == "store_id" else c for c in data["columns"]
    ]
    contract = parse_contract(data)
    rows = MAX_CATEGORIES + 500
    df = generate(DEMAND, rows=rows, seed=1)
    df["store_id"] = [f"store-{i}" for i in range(rows)]
    df.loc[:9, "store_id"] = "big"
    p = build_profile(df, contract).features["store_id"]
    assert p.categories is not None
    assert len(p.categories) == MAX_CATEGORIES + 1
    assert p.categories["big"] == 10
    assert p.categories[OTHER_CATEGORY] == rows - 10 - (MAX_CATEGORIES - 1)
    assert sum(p.categories.values()) == rows


def test_target_is_profiled_apart_from_the_features() -> None:
    p = build_profile(frame(), DEMAND)
    assert p.target.name == "units_sold" and "units_sold" not in p.features
    assert list(p.features) == [c.name for c in DEMAND.features]
    assert p.column_order == tuple(c.name for c in DEMAND.columns)
    assert p.model == "demand" and p.rows == 10 and p.bins == 10


def test_datetime_columns_profile_months_in_utc() -> None:
    contract = with_datetime()
    texts: list[Any] = [
        "2024-01-31 23:30",
        "2024-01-02",
        None,
        "2024-03-15",
        "2024-03-01",
        "2024-03-31",
    ]
    when = pd.DatetimeIndex(pd.to_datetime(texts * 2, format="mixed"))
    df = generate(contract, rows=12, seed=3)
    df["when"] = when
    profile = build_profile(df, contract)
    p = profile.features["when"]
    assert (p.kind, p.count, p.nulls) == ("datetime", 12, 2)
    assert p.earliest == datetime(2024, 1, 2, tzinfo=UTC)
    assert p.latest == datetime(2024, 3, 31, tzinfo=UTC)
    assert p.months == {"2024-01": 4, "2024-03": 6}
    # the same instants as text, or in another time zone, are the same data
    as_text = build_profile(df.assign(when=when.strftime("%Y-%m-%dT%H:%M:%S")), contract)
    paris = build_profile(
        df.assign(when=when.tz_localize("UTC").tz_convert("Europe/Paris")), contract
    )
    assert as_text.fingerprint == paris.fingerprint == profile.fingerprint
    mixed = df.assign(when=["2024-01-31T23:30:00", "2 Jan 2024", "", *when[3:].astype(str)])
    assert build_profile(mixed, contract).features["when"].months == {"2024-01": 4, "2024-03": 6}
    loaded = load_profile(profile_json(profile))
    assert loaded == profile


# ---------------------------------------------------------------------------
# robustness


def test_empty_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty frame"):
        build_profile(frame().iloc[:0], DEMAND)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"\['store_id', 'units_sold'\]"):
        build_profile(frame().drop(columns=["units_sold", "store_id"]), DEMAND)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_numbers_are_an_error_naming_the_column(bad: float) -> None:
    values = [1.0] * 9 + [bad]
    with pytest.raises(ValueError, match=r"'temperature'.*infinite"):
        build_profile(frame(temperature=values), DEMAND)
    with pytest.raises(ValueError, match=r"'temperature'.*infinite"):
        build_profile(frame(temperature=[str(v) for v in values]), DEMAND)


def test_unparseable_values_are_an_error_naming_the_column() -> None:
    with pytest.raises(ValueError, match=r"'price'.*not numbers.*'abc'"):
        build_profile(frame(price=["1.5"] * 9 + ["abc"]), DEMAND)
    with pytest.raises(ValueError, match="'price'"):
        build_profile(frame(price=[True] * 10), DEMAND)
    with pytest.raises(ValueError, match=r"'holiday'.*booleans.*'maybe'"):
        build_profile(frame(holiday=["true"] * 9 + ["maybe"]), DEMAND)
    contract = with_datetime()
    bad: list[Any] = ["2024-01-01", "soon", None]
    df = generate(contract, rows=3, seed=1).assign(when=bad)
    with pytest.raises(ValueError, match=r"'when'.*dates"):
        build_profile(df, contract)


def test_numbers_read_as_text_are_parsed() -> None:
    df = frame()
    text = df.astype({"price": str, "competitor_price": str, "units_sold": str})
    text.loc[0, "competitor_price"] = " "
    df.loc[0, "competitor_price"] = np.nan
    assert build_profile(text, DEMAND) == build_profile(df, DEMAND)


@pytest.mark.parametrize("bins", [0, -1, 1001, 2.5, True])
def test_bins_must_be_a_sensible_integer(bins: Any) -> None:
    with pytest.raises(ValueError, match="bins"):
        build_profile(frame(), DEMAND, bins=bins)


def test_one_bin_is_the_whole_line() -> None:
    p = build_profile(frame(), DEMAND, bins=1).features["price"]
    assert p.bin_edges == (-math.inf, math.inf) and p.bin_counts == (10,)


def test_extra_columns_and_index_are_ignored() -> None:
    df = frame()
    other = df.assign(note="x").set_index(pd.Index(range(100, 110)))
    assert build_profile(other, DEMAND) == build_profile(df, DEMAND)


def test_repeated_column_is_an_error() -> None:
    df = frame()
    doubled = pd.concat([df, df[["price"]]], axis=1)
    with pytest.raises(ValueError, match=r"more than once.*price"):
        build_profile(doubled, DEMAND)


def test_dataset_sha256_is_recorded_and_checked() -> None:
    assert build_profile(frame(), DEMAND, dataset_sha256=SHA).created_from == SHA
    assert build_profile(frame(), DEMAND).created_from is None
    with pytest.raises(ValueError):
        build_profile(frame(), DEMAND, dataset_sha256="not-a-hash")


# ---------------------------------------------------------------------------
# JSON


def test_json_round_trip_is_exact_and_canonical() -> None:
    profile = build_profile(generate(DEMAND, rows=500, seed=3), DEMAND, dataset_sha256=SHA)
    data = profile_json(profile)
    loaded = load_profile(data)
    assert loaded == profile
    assert profile_json(loaded) == data
    parsed = json.loads(data, parse_constant=no_constants)  # standard JSON: no Infinity token
    assert data == json.dumps(
        parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert parsed["features"]["price"]["bin_edges"][0] == "-Infinity"
    assert parsed["features"]["price"]["bin_edges"][-1] == "Infinity"
    assert loaded.features["price"].bin_edges == profile.features["price"].bin_edges
    assert len(data) < 10_000  # compact: bins and counts, no rows
    # the order of the columns survives sorted keys
    assert [f.name for f in loaded.ordered()] == [c.name for c in DEMAND.columns]


def test_load_profile_rejects_garbage_and_inconsistent_profiles() -> None:
    with pytest.raises(ValueError, match="invalid JSON"):
        load_profile(b"{not json")
    with pytest.raises(ValueError):
        load_profile(b"{}")
    parsed = json.loads(profile_json(build_profile(frame(), DEMAND)))
    parsed["features"]["price"]["bin_counts"][0] += 1
    with pytest.raises(ValueError, match="bin counts"):
        load_profile(json.dumps(parsed).encode())
    parsed = json.loads(profile_json(build_profile(frame(), DEMAND)))
    parsed["features"]["price"]["bin_edges"][0] = 0.0
    with pytest.raises(ValueError, match="-inf"):
        load_profile(json.dumps(parsed).encode())
    parsed = json.loads(profile_json(build_profile(frame(), DEMAND)))
    parsed["rows"] = 11
    with pytest.raises(ValueError, match="rows"):
        load_profile(json.dumps(parsed).encode())


def test_profiles_are_frozen() -> None:
    profile = build_profile(frame(), DEMAND)
    with pytest.raises(ValueError):
        profile.rows = 3  # type: ignore[misc]


# ---------------------------------------------------------------------------
# SageMaker Model Monitor shapes


def test_statistics_json_shape() -> None:
    profile = build_profile(generate(DEMAND, rows=300, seed=5), DEMAND)
    stats = to_statistics_json(profile)
    assert stats["version"] == 0.0
    assert stats["dataset"] == {"item_count": 300}
    by_name = {f["name"]: f for f in stats["features"]}
    assert list(by_name) == [c.name for c in DEMAND.features]  # no target by default
    assert by_name["price"]["inferred_type"] == "Fractional"
    assert by_name["month"]["inferred_type"] == "Integral"
    assert by_name["store_id"]["inferred_type"] == "String"
    assert by_name["promotion"]["inferred_type"] == "String"
    num = by_name["competitor_price"]["numerical_statistics"]
    assert set(num) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    p = profile.features["competitor_price"]
    assert num["common"] == {"num_present": p.present, "num_missing": p.nulls}
    buckets = num["distribution"]["kll"]["buckets"]
    assert {tuple(sorted(b)) for b in buckets} == {("count", "lower_bound", "upper_bound")}
    assert buckets[0]["lower_bound"] == p.min and buckets[-1]["upper_bound"] == p.max
    assert sum(b["count"] for b in buckets) == p.present
    text = by_name["store_id"]["string_statistics"]
    assert set(text) == {"common", "distinct_count", "distribution"}
    cat = text["distribution"]["categorical"]["buckets"]
    assert {tuple(sorted(b)) for b in cat} == {("count", "value")}
    assert sum(b["count"] for b in cat) == 300
    json.dumps(stats, allow_nan=False)  # finite, serialisable
    with_target = to_statistics_json(profile, include_target=True)
    assert with_target["features"][-1]["name"] == "units_sold"


def test_constraints_json_shape() -> None:
    profile = build_profile(generate(DEMAND, rows=300, seed=5), DEMAND)
    constraints = to_constraints_json(profile)
    assert constraints["version"] == 0.0
    assert set(constraints["monitoring_config"]) >= {
        "evaluate_constraints",
        "emit_metrics",
        "distribution_constraints",
    }
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["price"]["completeness"] == 1.0
    assert by_name["price"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["temperature"]["num_constraints"] == {"is_non_negative": False}
    p = profile.features["competitor_price"]
    assert by_name["competitor_price"]["completeness"] == pytest.approx(p.present / p.count)
    assert by_name["store_id"]["string_constraints"]["domains"] == [
        f"S{i:02d}" for i in range(1, 11)
    ]
    assert by_name["holiday"]["string_constraints"]["domains"] == ["false", "true"]
    assert "units_sold" not in by_name
    json.dumps(constraints, allow_nan=False)


def test_model_monitor_files_survive_the_round_trip() -> None:
    profile = build_profile(generate(DEMAND, rows=300, seed=5), DEMAND)
    loaded = load_profile(profile_json(profile))
    assert to_statistics_json(loaded) == to_statistics_json(profile)
    assert to_constraints_json(loaded) == to_constraints_json(profile)


# ---------------------------------------------------------------------------
# fingerprint


def test_fingerprint_ignores_row_order() -> None:
    df = generate(DEMAND, rows=400, seed=11)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert build_profile(shuffled, DEMAND).fingerprint == build_profile(df, DEMAND).fingerprint


def test_fingerprint_changes_when_any_value_changes() -> None:
    df = generate(DEMAND, rows=400, seed=11)
    base = build_profile(df, DEMAND)
    row: dict[Any, Any] = df.iloc[17].to_dict()
    changes: dict[str, Any] = {
        "price": row["price"] + 0.01,
        "store_id": "S10" if row["store_id"] != "S10" else "S01",
        "promotion": not row["promotion"],
        "units_sold": row["units_sold"] + 1,
        "competitor_price": np.nan if pd.notna(row["competitor_price"]) else 1.0,
    }
    for name, value in changes.items():
        changed = df.copy()
        changed.loc[17, name] = value
        profile = build_profile(changed, DEMAND)
        assert profile.fingerprint != base.fingerprint, name
        assert profile.features.get(name, profile.target) != column(base, name)


def test_fingerprint_sees_values_moving_between_rows() -> None:
    # every column keeps the same values, only two rows trade a price
    df = generate(DEMAND, rows=400, seed=11)
    swapped = df.copy()
    prices = df["price"].to_numpy()
    assert prices[3] != prices[4]
    swapped["price"] = prices[[*range(3), 4, 3, *range(5, len(prices))]]
    a, b = build_profile(df, DEMAND), build_profile(swapped, DEMAND)
    assert a.features["price"] == b.features["price"]
    assert a.fingerprint != b.fingerprint


def test_fingerprint_sees_duplicated_and_dropped_rows() -> None:
    df = generate(DEMAND, rows=400, seed=11)
    base = build_profile(df, DEMAND).fingerprint
    assert build_profile(df.iloc[1:], DEMAND).fingerprint != base
    assert build_profile(pd.concat([df, df.iloc[:1]]), DEMAND).fingerprint != base


def test_fingerprint_is_the_content_not_the_encoding_nor_the_settings() -> None:
    df = generate(DEMAND, rows=400, seed=11)
    base = build_profile(df, DEMAND)
    csv = pd.read_csv(io.StringIO(df.to_csv(index=False)), dtype={"store_id": str})
    assert build_profile(csv, DEMAND).fingerprint == base.fingerprint
    assert build_profile(df, DEMAND, bins=3, dataset_sha256=SHA).fingerprint == base.fingerprint
    floats = df.astype({"units_sold": "float64", "month": "float64"})
    assert build_profile(floats, DEMAND).fingerprint == base.fingerprint
    negative_zero = df.copy()
    negative_zero.loc[0, "temperature"] = -0.0
    zero = df.copy()
    zero.loc[0, "temperature"] = 0.0
    assert (
        build_profile(negative_zero, DEMAND).fingerprint == build_profile(zero, DEMAND).fingerprint
    )


def test_fingerprint_depends_on_the_contract_columns() -> None:
    df = generate(DEMAND, rows=100, seed=2)
    data = DEMAND.to_runtime_json()
    data["columns"] = [
        {**c, "type": "numeric"} if c["name"] == "month" else c for c in data["columns"]
    ]
    retyped = parse_contract(data)
    assert retyped.column("month").type is ColumnType.NUMERIC
    assert build_profile(df, retyped).fingerprint != build_profile(df, DEMAND).fingerprint


# ---------------------------------------------------------------------------
# properties

finite = st.floats(allow_nan=False, allow_infinity=False)
maybe_null = st.one_of(finite, st.just(math.nan))
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(values=st.lists(maybe_null, min_size=1, max_size=60), bins=st.integers(1, 20))
def test_bins_hold_every_reference_value_exactly_once(values: list[float], bins: int) -> None:
    rows = len(values)
    profile = build_profile(frame(rows=rows, competitor_price=values), DEMAND, bins=bins)
    p = profile.features["competitor_price"]
    assert p.bin_edges is not None and p.bin_counts is not None
    present = np.array([v for v in values if not math.isnan(v)]) + 0.0
    assert p.nulls == rows - len(present)
    assert sum(p.bin_counts) == len(present) == p.count - p.nulls
    assert len(p.bin_edges) <= bins + 1
    assert p.bin_edges[0] == -math.inf and p.bin_edges[-1] == math.inf
    assert all(a < b for a, b in zip(p.bin_edges, p.bin_edges[1:], strict=False))
    index = bin_of(p.bin_edges, present)
    edges = np.asarray(p.bin_edges)
    # exactly one bin: the one whose half-open interval holds the value
    assert ((edges[index] <= present) & (present < edges[index + 1])).all()
    assert tuple(np.bincount(index, minlength=len(p.bin_counts))) == p.bin_counts
    if len(present):
        assert all(c > 0 for c in p.bin_counts)
        assert p.min == present.min() and p.max == present.max()
        assert p.min is not None and p.max is not None and p.mean is not None
        assert p.min <= p.mean <= p.max
        assert p.std is not None and math.isfinite(p.std)
        assert p.quantiles is not None
        qs = list(p.quantiles.values())
        assert all(p.min <= q <= p.max for q in qs) and qs == sorted(qs)
    assert load_profile(profile_json(profile)) == profile


@PROPERTY
@given(
    first=st.tuples(st.integers(1, 80), st.integers(0, 2**16)),
    second=st.tuples(st.integers(1, 80), st.integers(0, 2**16)),
)
def test_profile_of_a_concatenation_adds_up(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    a = generate(DEMAND, rows=first[0], seed=first[1])
    b = generate(DEMAND, rows=second[0], seed=second[1], variant="drifted")
    pa, pb = build_profile(a, DEMAND), build_profile(b, DEMAND)
    both = build_profile(pd.concat([a, b], ignore_index=True), DEMAND)
    assert both.rows == pa.rows + pb.rows
    for name in (c.name for c in DEMAND.columns):
        x, y, z = column(pa, name), column(pb, name), column(both, name)
        assert z.count == x.count + y.count
        assert z.nulls == x.nulls + y.nulls
        if z.categories is not None:
            assert x.categories is not None and y.categories is not None
            assert z.categories == {k: x.categories[k] + y.categories[k] for k in z.categories}
        else:
            assert z.bin_counts is not None and sum(z.bin_counts) == z.count - z.nulls
            lows = [v for v in (x.min, y.min) if v is not None]
            highs = [v for v in (x.max, y.max) if v is not None]
            assert z.min == (min(lows) if lows else None)
            assert z.max == (max(highs) if highs else None)


@PROPERTY
@given(rows=st.integers(1, 120), seed=st.integers(0, 2**16), order=st.randoms())
def test_fingerprint_of_any_permutation_is_the_same(rows: int, seed: int, order: Any) -> None:
    df = generate(DEMAND, rows=rows, seed=seed)
    positions = list(range(rows))
    order.shuffle(positions)
    shuffled = df.iloc[positions]
    assert build_profile(shuffled, DEMAND) == build_profile(df, DEMAND)
