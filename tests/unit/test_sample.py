"""modelrail.sample: seeded, contract-valid sample data."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelrail import sample
from modelrail.contract import ColumnType, ModelContract, load_contract, parse_contract

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demand() -> ModelContract:
    return load_contract("demand")


def contract_problems(df: pd.DataFrame, contract: ModelContract) -> list[str]:
    """Every way ``df`` breaks ``contract`` (empty when the frame is valid)."""
    problems = []
    if list(df.columns) != [c.name for c in contract.columns]:
        problems.append(f"columns {list(df.columns)} are not the declared ones in order")
    for column in contract.columns:
        if column.name not in df:
            if column.required:
                problems.append(f"{column.name}: required column missing")
            continue
        values = df[column.name]
        present = values.dropna()
        if len(present) < len(values) and not column.nullable:
            problems.append(f"{column.name}: {len(values) - len(present)} nulls, not nullable")
        if column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
            numbers = pd.to_numeric(present, errors="coerce")
            if numbers.isna().any():
                problems.append(f"{column.name}: non-numeric values")
            if column.type is ColumnType.INTEGER and not (numbers == numbers.round()).all():
                problems.append(f"{column.name}: non-integer values")
            if column.min is not None and (numbers < column.min).any():
                problems.append(f"{column.name}: values below {column.min}")
            if column.max is not None and (numbers > column.max).any():
                problems.append(f"{column.name}: values above {column.max}")
        elif column.type is ColumnType.CATEGORICAL:
            if not all(isinstance(v, str) for v in present):
                problems.append(f"{column.name}: non-string categories")
            if column.categories is not None:
                unknown = set(present) - set(column.categories)
                if unknown:
                    problems.append(f"{column.name}: undeclared categories {sorted(unknown)}")
        elif column.type is ColumnType.BOOLEAN:
            if not all(isinstance(v, bool | np.bool_) for v in present):
                problems.append(f"{column.name}: non-boolean values")
        elif (
            column.type is ColumnType.DATETIME
            and pd.to_datetime(present, errors="coerce").isna().any()
        ):
            problems.append(f"{column.name}: values that are not dates")
    return problems


def test_the_contract_checker_catches_out_of_range_values(demand: ModelContract) -> None:
    df = sample.generate(demand, rows=50, seed=1)
    df.loc[3, "month"] = 13
    df.loc[4, "store_id"] = "S99"
    df.loc[5, "price"] = None
    assert sorted(contract_problems(df, demand)) == [
        "month: values above 12.0",
        "price: 1 nulls, not nullable",
        "store_id: undeclared categories ['S99']",
    ]


# ---------------------------------------------------------------------------
# determinism


def test_same_arguments_give_identical_bytes(demand: ModelContract, tmp_path: Path) -> None:
    first = sample.write_sample(sample.generate(demand, rows=500, seed=11), tmp_path / "a.csv")
    second = sample.write_sample(sample.generate(demand, rows=500, seed=11), tmp_path / "b.csv")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().startswith(
        b"store_id,product_category,price,promotion,day_of_week,month,temperature,"
        b"holiday,competitor_price,units_sold\n"
    )


def test_gzip_output_is_deterministic_too(demand: ModelContract, tmp_path: Path) -> None:
    df = sample.generate(demand, rows=200, seed=3)
    first = sample.write_sample(df, tmp_path / "a.csv.gz").read_bytes()
    second = sample.write_sample(df, tmp_path / "b.csv.gz").read_bytes()
    assert first == second
    assert first[:2] == b"\x1f\x8b"
    assert len(pd.read_csv(tmp_path / "a.csv.gz")) == 200


@pytest.mark.parametrize(("change", "value"), [("seed", 12), ("rows", 501), ("variant", "drifted")])
def test_any_argument_changes_the_data(
    demand: ModelContract, tmp_path: Path, change: str, value: Any
) -> None:
    args: dict[str, Any] = {"rows": 500, "seed": 11, "variant": "good"}
    base = sample.write_sample(sample.generate(demand, **args), tmp_path / "base.csv")
    args[change] = value
    other = sample.write_sample(sample.generate(demand, **args), tmp_path / "other.csv")
    assert base.read_bytes() != other.read_bytes()


# ---------------------------------------------------------------------------
# the demand generator


@pytest.mark.parametrize("variant", sample.VARIANTS)
def test_demand_rows_satisfy_the_contract(demand: ModelContract, variant: str) -> None:
    df = sample.generate(demand, rows=3000, seed=5, variant=variant)
    assert len(df) == 3000
    assert contract_problems(df, demand) == []
    # every declared category shows up
    assert set(df["store_id"]) == set(demand.column("store_id").categories or ())
    assert set(df["product_category"]) == set(demand.column("product_category").categories or ())


def test_demand_dtypes(demand: ModelContract) -> None:
    df = sample.generate(demand, rows=100, seed=2)
    assert {name: str(dtype) for name, dtype in df.dtypes.items()} == {
        "store_id": "object",
        "product_category": "object",
        "price": "float64",
        "promotion": "bool",
        "day_of_week": "int64",
        "month": "int64",
        "temperature": "float64",
        "holiday": "bool",
        "competitor_price": "float64",
        "units_sold": "int64",
    }


def test_competitor_price_is_missing_about_five_percent(demand: ModelContract) -> None:
    df = sample.generate(demand, rows=4000, seed=9)
    share = df["competitor_price"].isna().mean()
    assert 0.035 < share < 0.065
    assert df.drop(columns="competitor_price").notna().all().all()


def test_demand_follows_price_calendar_and_store_size(demand: ModelContract) -> None:
    df = sample.generate(demand, rows=20000, seed=4)
    grocery = df[df["product_category"] == "grocery"]
    # price elasticity: dearer shelves sell less
    cheap = grocery["price"] < grocery["price"].quantile(0.25)
    dear = grocery["price"] > grocery["price"].quantile(0.75)
    assert grocery.loc[cheap, "units_sold"].mean() > 1.3 * grocery.loc[dear, "units_sold"].mean()
    # weekend lift
    weekend = df["day_of_week"] >= 5
    assert df.loc[weekend, "units_sold"].mean() > 1.15 * df.loc[~weekend, "units_sold"].mean()
    # holidays and promotions sell more
    assert df.loc[df["holiday"], "units_sold"].mean() > 1.2 * df["units_sold"].mean()
    assert df.loc[df["promotion"], "units_sold"].mean() > 1.3 * df["units_sold"].mean()
    # toys peak in December
    toys = df[df["product_category"] == "toys"]
    assert (
        toys.loc[toys["month"] == 12, "units_sold"].mean()
        > 1.5 * toys.loc[toys["month"].between(2, 10), "units_sold"].mean()
    )
    # store size: the busiest store sells at least twice what the quietest does
    by_store = df.groupby("store_id")["units_sold"].mean()
    assert by_store.max() > 2 * by_store.min()
    # temperature follows the season
    by_month = df.groupby("month")["temperature"].mean()
    assert by_month[7] - by_month[1] > 15


def test_demand_has_signal_beyond_the_mean(demand: ModelContract) -> None:
    """Per-category means alone already explain a large share of the variance."""
    df = sample.generate(demand, rows=5000, seed=8)
    total = df["units_sold"].var()
    within = df.groupby("product_category")["units_sold"].transform("mean")
    explained = 1 - ((df["units_sold"] - within) ** 2).mean() / total
    assert explained > 0.3


def test_drifted_demand_moves_prices_weather_and_mix(demand: ModelContract) -> None:
    good = sample.generate(demand, rows=5000, seed=21)
    drifted = sample.generate(demand, rows=5000, seed=21, variant="drifted")
    assert contract_problems(drifted, demand) == []
    for category in ("grocery", "toys"):
        g = good.loc[good["product_category"] == category, "price"].median()
        d = drifted.loc[drifted["product_category"] == category, "price"].median()
        assert d > 1.2 * g, category
    assert drifted["temperature"].mean() - good["temperature"].mean() > 4
    good_mix = good["product_category"].value_counts(normalize=True)
    drifted_mix = drifted["product_category"].value_counts(normalize=True)
    assert drifted_mix["electronics"] > 2 * good_mix["electronics"]
    assert drifted_mix["grocery"] < 0.5 * good_mix["grocery"]


# ---------------------------------------------------------------------------
# arguments and the registry


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0, "seed": 1}, "rows must be at least 1, got 0"),
        ({"rows": 10, "seed": -1}, "seed must be a non-negative integer, got -1"),
        (
            {"rows": 10, "seed": 1, "variant": "weird"},
            "unknown variant 'weird'; known: ['good', 'drifted']",
        ),
    ],
)
def test_bad_arguments_are_rejected(
    demand: ModelContract, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        sample.generate(demand, **kwargs)
    assert str(info.value) == message


def test_a_generator_that_breaks_its_contract_is_caught(
    demand: ModelContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sloppy(
        contract: ModelContract, rows: int, rng: np.random.Generator, variant: str
    ) -> pd.DataFrame:
        good = sample.demand_generator(contract, rows, rng, variant)
        return good.drop(columns="price").assign(extra=1)

    monkeypatch.setitem(sample.GENERATORS, "demand", sloppy)
    with pytest.raises(
        ValueError, match=r"missing columns \['price'\], undeclared columns \['extra'\]"
    ):
        sample.generate(demand, rows=10, seed=1)


def test_registered_generator_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    contract = parse_contract(_generic_contract("custom-model", "regression", "numeric"))
    calls: list[tuple[int, str]] = []

    def custom(
        contract: ModelContract, rows: int, rng: np.random.Generator, variant: str
    ) -> pd.DataFrame:
        calls.append((rows, variant))
        return sample.generic_generator(contract, rows, rng, variant)

    monkeypatch.setitem(sample.GENERATORS, "custom-model", custom)
    sample.generate(contract, rows=7, seed=0, variant="drifted")
    assert calls == [(7, "drifted")]


# ---------------------------------------------------------------------------
# the generic fallback


def _generic_contract(name: str, problem_type: str, target_type: str) -> dict[str, Any]:
    target: dict[str, Any] = {"name": "label", "type": target_type}
    if target_type == "categorical":
        target["categories"] = ["low", "mid", "high"]
    if target_type == "numeric":
        target.update(min=10, max=20)
    if problem_type == "regression":
        metric = {"name": "rmse", "threshold": 1.0}
    else:
        metric = {"name": "accuracy", "threshold": 0.5}
    return {
        "name": name,
        "problem_type": problem_type,
        "target": "label",
        "columns": [
            {"name": "amount", "type": "numeric", "min": -5, "max": 5},
            {"name": "visits", "type": "integer", "min": 0, "max": 30, "nullable": True},
            {"name": "score", "type": "numeric", "min": 100},
            {"name": "tier", "type": "categorical", "categories": ["a", "b", "c"]},
            {"name": "region", "type": "categorical", "nullable": True, "required": False},
            {"name": "member", "type": "boolean"},
            {"name": "opted_in", "type": "boolean", "nullable": True},
            {"name": "signup", "type": "datetime"},
            target,
        ],
        "primary_metric": metric,
    }


@pytest.mark.parametrize(
    ("problem_type", "target_type", "labels"),
    [
        ("regression", "numeric", None),
        ("regression", "integer", None),
        ("binary", "boolean", {True, False}),
        ("binary", "integer", {0, 1}),
        ("multiclass", "categorical", {"low", "mid", "high"}),
    ],
)
@pytest.mark.parametrize("variant", sample.VARIANTS)
def test_generic_fallback_covers_any_contract(
    problem_type: str, target_type: str, labels: set[Any] | None, variant: str, tmp_path: Path
) -> None:
    contract = parse_contract(_generic_contract("churn-like", problem_type, target_type))
    assert contract.name not in sample.GENERATORS
    df = sample.generate(contract, rows=2000, seed=13, variant=variant)
    assert contract_problems(df, contract) == []
    for nullable in ("visits", "region", "opted_in"):
        assert 0.02 < df[nullable].isna().mean() < 0.08, nullable
    if labels is not None:
        assert set(df["label"]) == labels
        assert df["label"].value_counts(normalize=True).min() > 0.05
    else:
        assert df["label"].std() > 0
    # CSV round trip keeps it valid and deterministic
    path = sample.write_sample(df, tmp_path / "generic.csv")
    again = sample.write_sample(
        sample.generate(contract, rows=2000, seed=13, variant=variant), tmp_path / "again.csv"
    )
    assert path.read_bytes() == again.read_bytes()


def test_generic_target_depends_on_the_features() -> None:
    contract = parse_contract(_generic_contract("churn-like", "regression", "numeric"))
    df = sample.generate(contract, rows=3000, seed=2)
    numeric = df[["amount", "score"]].assign(member=df["member"].astype(float))
    correlations = numeric.corrwith(df["label"]).abs()
    assert correlations.max() > 0.1


def test_generic_drift_shifts_numeric_and_categorical_columns() -> None:
    contract = parse_contract(_generic_contract("churn-like", "binary", "boolean"))
    good = sample.generate(contract, rows=3000, seed=2)
    drifted = sample.generate(contract, rows=3000, seed=2, variant="drifted")
    assert drifted["amount"].mean() - good["amount"].mean() > 1.5  # a quarter of the range: 2.5
    assert good["tier"].value_counts().idxmax() == "a"
    assert drifted["tier"].value_counts().idxmax() == "c"


# ---------------------------------------------------------------------------
# writing files


def test_parquet_without_pyarrow_is_a_clear_error(
    demand: ModelContract, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    df = sample.generate(demand, rows=10, seed=1)
    with pytest.raises(RuntimeError, match=r"Parquet output needs pyarrow, which is not installed"):
        sample.write_sample(df, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_parquet_round_trip(demand: ModelContract, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    df = sample.generate(demand, rows=100, seed=1)
    path = sample.write_sample(df, tmp_path / "nested" / "out.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)


def test_csv_round_trip_keeps_values(demand: ModelContract, tmp_path: Path) -> None:
    df = sample.generate(demand, rows=300, seed=6)
    path = sample.write_sample(df, tmp_path / "deep" / "dir" / "demand.csv")
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert math.isclose(back["price"].sum(), df["price"].sum())


def test_sample_command_loads_the_contract_and_writes(tmp_path: Path) -> None:
    out = sample.sample_command("demand", 120, 5, tmp_path / "s.csv", variant="drifted")
    assert out == tmp_path / "s.csv"
    expected = sample.generate(load_contract("demand"), rows=120, seed=5, variant="drifted")
    assert out.read_bytes() == expected.to_csv(index=False, lineterminator="\n").encode()


def test_sample_command_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no contract named 'nope'"):
        sample.sample_command("nope", 10, 1, tmp_path / "x.csv")


# ---------------------------------------------------------------------------
# scripts/generate_sample.py


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_sample_script", ROOT / "scripts" / "generate_sample.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_writes_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.csv"
    code = _script().main(["--model", "demand", "--rows", "40", "--seed", "3", "--out", str(out)])
    assert code == 0
    assert len(pd.read_csv(out)) == 40
    assert capsys.readouterr().out.strip() == f"wrote 40 good rows for demand to {out}"


def test_script_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _script().main(["--model", "nope", "--out", str(tmp_path / "x.csv")])
    assert code == 1
    assert "error: no contract named 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _script().main(["--variant", "weird", "--out", str(tmp_path / "x.csv")])
