"""The data-validation gate (modelrail.validation): one test per violation code, the bad
input corpus in tests/data/bad, the report's contract and hypothesis properties."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelrail import validation
from modelrail.contract import ModelContract, load_contract, parse_contract
from modelrail.validation import (
    SUMMARY_MAX_CHARS,
    DataValidationError,
    ValidationLimits,
    ValidationReport,
    Violation,
    ViolationCode,
    validate_dataset,
)

DEMAND = load_contract("demand")
BAD_DIR = Path(__file__).resolve().parents[1] / "data" / "bad"
HEADER = [c.name for c in DEMAND.columns]
STORES = [f"S{i:02d}" for i in range(1, 11)]
CATEGORIES = ["grocery", "electronics", "apparel", "home", "toys"]

Row = dict[str, str]


def demand_rows(n: int = 300, seed: int = 0) -> list[Row]:
    """``n`` rows that satisfy the demand contract (seeded, so every run is the same)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rows.append(
            {
                "store_id": STORES[int(rng.integers(0, 10))],
                "product_category": CATEGORIES[int(rng.integers(0, 5))],
                "price": f"{rng.uniform(1, 500):.2f}",
                "promotion": ["true", "false"][int(rng.integers(0, 2))],
                "day_of_week": str(int(rng.integers(0, 7))),
                "month": str(int(rng.integers(1, 13))),
                "temperature": f"{rng.uniform(-10, 35):.1f}",
                "holiday": ["0", "1"][int(rng.integers(0, 2))],
                "competitor_price": "" if rng.random() < 0.1 else f"{rng.uniform(1, 500):.2f}",
                "units_sold": f"{rng.uniform(0, 300):.1f}",
            }
        )
    return rows


def to_csv(
    rows: list[Row], header: list[str] | None = None, *, sep: str = ",", eol: str = "\n"
) -> bytes:
    header = header or HEADER
    lines = [sep.join(header), *(sep.join(r.get(h, "") for h in header) for r in rows)]
    return (eol.join(lines) + eol).encode("utf-8")


def valid_csv(n: int = 300, seed: int = 0) -> bytes:
    return to_csv(demand_rows(n, seed))


def with_values(column: str, updates: dict[int, str], n: int = 300) -> bytes:
    """A valid file with ``column`` set at the given 1-based data rows."""
    rows = demand_rows(n)
    for row_no, value in updates.items():
        rows[row_no - 1][column] = value
    return to_csv(rows)


def check(
    data: bytes,
    filename: str = "sales.csv",
    contract: ModelContract = DEMAND,
    limits: ValidationLimits | None = None,
) -> ValidationReport:
    return validate_dataset(data, filename=filename, contract=contract, limits=limits)


def only(report: ValidationReport, code: ViolationCode) -> Violation:
    """The one violation with ``code``."""
    found = [v for v in report.violations if v.code == code]
    assert len(found) == 1, f"expected one {code}, got {report.violations}"
    return found[0]


def error_codes(report: ValidationReport) -> set[str]:
    return {v.code.value for v in report.errors}


def churn_contract(problem: str = "binary", target_type: str = "boolean") -> ModelContract:
    target: dict[str, Any] = {"name": "churned", "type": target_type}
    if target_type == "categorical":
        target["categories"] = ["a", "b", "c"]
    return parse_contract(
        {
            "name": "attrition",
            "problem_type": problem,
            "target": "churned",
            "columns": [
                {"name": "tenure", "type": "integer", "min": 0},
                {"name": "signup", "type": "datetime", "required": False},
                target,
            ],
            "primary_metric": {"name": "accuracy", "threshold": 0.7},
            "min_rows": 10,
        }
    )


def churn_csv(labels: list[str], signup: list[str] | None = None) -> bytes:
    header = ["tenure", "churned"] if signup is None else ["tenure", "signup", "churned"]
    lines = [",".join(header)]
    for i, label in enumerate(labels):
        cells = [str(i), label] if signup is None else [str(i), signup[i], label]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- valid files


def test_valid_file_passes_with_no_violations() -> None:
    data = valid_csv()
    report = check(data)
    assert report.ok
    assert report.violations == ()
    assert report.rows == 300
    assert report.columns == tuple(HEADER)
    assert report.format == "csv"
    assert report.model == "demand"
    assert report.size_bytes == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.summary() == "demand: 'sales.csv' passed data validation (300 rows, 10 columns)"


def test_valid_file_variants_pass() -> None:
    rows = demand_rows()
    crlf_bom = b"\xef\xbb\xbf" + to_csv(rows, eol="\r\n")
    quoted = b"".join(
        b",".join(b'"' + cell + b'"' for cell in line.split(b",")) + b"\n"
        for line in to_csv(rows).splitlines()
    )
    reordered = to_csv(rows, list(reversed(HEADER)))
    blank_lines = to_csv(rows).replace(b"\n", b"\n\n", 3)
    without_optional = to_csv(rows, [h for h in HEADER if h != "competitor_price"])
    for data in (crlf_bom, quoted, reordered, blank_lines, without_optional):
        report = check(data)
        assert report.ok, report.summary()
        assert report.errors == ()
        assert report.rows == 300


@pytest.mark.parametrize(
    "values", [["true", "false"], ["TRUE", "False"], ["yes", "No"], ["1", "0"], [" Yes ", "nO"]]
)
def test_boolean_spellings_are_accepted(values: list[str]) -> None:
    updates = {i: values[i % 2] for i in range(1, 301)}
    report = check(with_values("promotion", updates))
    assert report.ok, report.summary()


def test_boundary_values_are_in_range() -> None:
    data = with_values("price", {1: "0.01", 2: "10000", 3: "1e-2"})
    data_t = with_values("temperature", {1: "-40", 2: "55", 3: "55.0"})
    assert check(data).ok
    assert check(data_t).ok


# --------------------------------------------------------------------------- one per code


def _datetime_bad() -> ValidationReport:
    labels = ["true", "false"] * 10
    signup = ["2024-01-05"] * 17 + ["not a date", "2024-13-45", "2024-02-30"]
    return check(churn_csv(labels, signup), contract=churn_contract())


def _parquet_engine_missing(monkeypatch: pytest.MonkeyPatch) -> ValidationReport:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    return check(b"PAR1" + b"\x00" * 64 + b"PAR1", filename="sales.parquet")


def _unreadable_parquet(monkeypatch: pytest.MonkeyPatch) -> ValidationReport:
    def broken(*args: Any, **kwargs: Any) -> pd.DataFrame:
        raise OSError("Parquet magic bytes not found in footer")

    monkeypatch.setattr(validation, "_read_parquet_batches", broken)
    return check(b"not parquet at all", filename="sales.parquet")


def _ragged() -> ValidationReport:
    lines = valid_csv().decode().splitlines()
    lines[5] += ",surplus"  # data row 5
    lines[9] = ",".join(lines[9].split(",")[:7])  # data row 9
    return check(("\n".join(lines) + "\n").encode())


def _duplicates_error() -> ValidationReport:
    rows = demand_rows()
    return check(to_csv(rows + [dict(rows[0]) for _ in range(6)]))  # 6/306 = 1.96%


Case = Callable[[pytest.MonkeyPatch], ValidationReport]
CASES: dict[ViolationCode, tuple[Case, str]] = {
    ViolationCode.EMPTY_FILE: (lambda m: check(b""), "'sales.csv' is empty (0 bytes)"),
    ViolationCode.FILE_TOO_LARGE: (
        lambda m: check(valid_csv(), contract=DEMAND.model_copy(update={"max_bytes": 1000})),
        "bytes; the contract allows at most 1,000 bytes (max_bytes)",
    ),
    ViolationCode.UNSUPPORTED_FORMAT: (
        lambda m: check(valid_csv(), filename="uploads/sales.xlsx"),
        "'uploads/sales.xlsx' has suffix '.xlsx'; upload a .csv or .parquet file",
    ),
    ViolationCode.NOT_UTF8: (
        lambda m: check(valid_csv().replace(b"grocery", b"\xe9picerie", 1)),
        "is not valid UTF-8: invalid byte(s) e9",
    ),
    ViolationCode.WRONG_DELIMITER: (
        lambda m: check(to_csv(demand_rows(), sep=";")),
        "the file looks ';' (semicolon)-delimited",
    ),
    ViolationCode.MALFORMED_CSV: (
        lambda m: check(valid_csv() + b'S01,"home,1.0,true,1,1,1.0,0,,1.0\n'),
        "not well-formed CSV in the record starting at line 302: unexpected end of data",
    ),
    ViolationCode.RAGGED_ROWS: (
        lambda m: _ragged(),
        "2 rows (0.67%) have a different number of fields than the header's 10 "
        "(row 5 has 11, row 9 has 7)",
    ),
    ViolationCode.DUPLICATE_HEADER: (
        lambda m: check(
            to_csv(demand_rows(), [h if h != "competitor_price" else "month" for h in HEADER])
        ),
        "column 'month' appears 2 times in the header (positions 6, 9); only the first is checked",
    ),
    ViolationCode.NO_DATA_ROWS: (
        lambda m: check(to_csv([])),
        "'sales.csv' has a header but no data rows",
    ),
    ViolationCode.PARQUET_ENGINE_MISSING: (
        _parquet_engine_missing,
        "is Parquet, but this runtime cannot read Parquet (pyarrow is not installed)",
    ),
    ViolationCode.UNREADABLE_PARQUET: (
        _unreadable_parquet,
        "'sales.parquet' is not a readable Parquet file: Parquet magic bytes not found",
    ),
    ViolationCode.MISSING_TARGET: (
        lambda m: check(to_csv(demand_rows(), HEADER[:-1])),
        "required column 'units_sold' (the target) is missing",
    ),
    ViolationCode.MISSING_COLUMN: (
        lambda m: check(to_csv(demand_rows(), [h for h in HEADER if h != "month"])),
        "required column 'month' is missing",
    ),
    ViolationCode.UNEXPECTED_COLUMN: (
        lambda m: check(to_csv(demand_rows(), [*HEADER, "weather"])),
        "column 'weather' is not in the contract",
    ),
    ViolationCode.NULL_VALUES: (
        lambda m: check(with_values("month", {4: "", 8: "null"})),
        "column 'month' is not nullable but has 2 empty/null values (0.67% of rows)",
    ),
    ViolationCode.INVALID_NUMBER: (
        lambda m: check(with_values("temperature", {3: "warm", 4: "12C"})),
        "column 'temperature' has 2 non-numeric values (0.67% of rows), "
        "e.g. 'warm' in row 3, '12C' in row 4",
    ),
    ViolationCode.NON_FINITE_NUMBER: (
        lambda m: check(with_values("price", {7: "-inf", 8: "Infinity"})),
        "column 'price' has 2 infinite values (0.67% of rows), e.g. -inf in row 7, inf in row 8",
    ),
    ViolationCode.NOT_INTEGER: (
        lambda m: check(with_values("month", {2: "6.5"})),
        "column 'month' has 1 non-integer value (0.33% of rows), e.g. 6.5 in row 2",
    ),
    ViolationCode.INVALID_BOOLEAN: (
        lambda m: check(with_values("holiday", {5: "maybe", 6: "2"})),
        "column 'holiday' has 2 values that are not a boolean (true/false, t/f, yes/no, y/n, 1/0) "
        "(0.67% of rows), e.g. 'maybe' in row 5, '2' in row 6",
    ),
    ViolationCode.INVALID_DATETIME: (
        lambda m: _datetime_bad(),
        "column 'signup' has 3 values that are not a date/time (15.0% of rows), "
        "e.g. 'not a date' in row 18, '2024-13-45' in row 19, '2024-02-30' in row 20",
    ),
    ViolationCode.OUT_OF_RANGE: (
        lambda m: check(with_values("day_of_week", {11: "7", 12: "-1"})),
        "column 'day_of_week' has 2 values outside [0, 6] (0.67% of rows; lowest -1, highest 7)",
    ),
    ViolationCode.UNKNOWN_CATEGORY: (
        lambda m: check(with_values("product_category", {1: "garden", 2: "Grocery", 3: "garden"})),
        "column 'product_category' has 3 values (1.00% of rows) not among its categories: "
        "'garden' (2), 'Grocery' (1); allowed: grocery, electronics, apparel, home, toys",
    ),
    ViolationCode.TOO_FEW_ROWS: (
        lambda m: check(valid_csv(199)),
        "'sales.csv' has 199 data rows; the contract needs at least 200 (min_rows)",
    ),
    ViolationCode.DUPLICATE_ROWS: (
        lambda m: _duplicates_error(),
        "6 rows (1.96%) exactly repeat an earlier row (e.g. row 301 repeats row 1); "
        "the limit is 1.0%",
    ),
    ViolationCode.CONSTANT_TARGET: (
        lambda m: check(with_values("units_sold", dict.fromkeys(range(1, 301), "42.0"))),
        "the target 'units_sold' has the same value (42) on every valid row",
    ),
    ViolationCode.TOO_FEW_CLASSES: (
        lambda m: check(churn_csv(["yes"] * 20), contract=churn_contract()),
        "the target 'churned' has only 1 class (True (20)); binary classification needs at least 2",
    ),
    ViolationCode.TOO_MANY_CLASSES: (
        lambda m: check(
            churn_csv(["a", "b", "c"] * 10),
            contract=churn_contract(target_type="categorical"),
        ),
        "the target 'churned' has 3 classes but the problem is binary",
    ),
    ViolationCode.CLASS_IMBALANCE: (
        lambda m: check(
            churn_csv(["a"] * 150 + ["b"] * 49 + ["c"]),
            contract=churn_contract("multiclass", "categorical"),
        ),
        "the target 'churned' has 1 class under the minimum share of 1.0%: 'c' is 0.50% (1 of 200)",
    ),
}


def test_every_code_has_a_case() -> None:
    assert set(CASES) == set(ViolationCode)


@pytest.mark.parametrize("code", list(CASES), ids=[c.value for c in CASES])
def test_each_code_is_reported_with_a_specific_message(
    code: ViolationCode, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, fragment = CASES[code]
    report = make(monkeypatch)
    violation = only(report, code)
    assert violation.severity == "error"
    assert fragment in violation.message, violation.message
    assert not report.ok
    assert error_codes(report) == {code.value}, report.violations
    assert fragment[:40] in report.summary() or len(report.summary()) >= 900


# --------------------------------------------------------------------------- details


def test_not_utf8_reports_the_exact_byte_offset_and_line() -> None:
    data = valid_csv()
    third_line = data.index(b"\n", data.index(b"\n") + 1) + 1
    bad = data[:third_line] + b"S0\xff" + data[third_line + 3 :]
    violation = only(check(bad), ViolationCode.NOT_UTF8)
    assert f"at byte offset {third_line + 2:,} (line 3)" in violation.message


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\t' (tab)"), ("|", "'|'")])
def test_wrong_delimiter_names_the_delimiter(sep: str, shown: str) -> None:
    violation = only(check(to_csv(demand_rows(), sep=sep)), ViolationCode.WRONG_DELIMITER)
    assert shown in violation.message
    assert violation.examples == (sep,)


def test_truncated_file_is_called_truncated() -> None:
    data = valid_csv()
    cut = data[: data.rstrip(b"\n").rfind(b"\n") + 10]
    violation = only(check(cut), ViolationCode.RAGGED_ROWS)
    assert "the last row (row 300) has" in violation.message
    assert "looks truncated" in violation.message
    assert violation.examples == (300,)


def test_other_checks_still_run_after_ragged_rows_with_the_right_row_numbers() -> None:
    rows = demand_rows()
    rows[9]["price"] = "cheap"  # data row 10
    lines = to_csv(rows).decode().splitlines()
    lines[3] += ",x"  # data row 3 is dropped as ragged; rows after it keep their numbers
    report = check(("\n".join(lines) + "\n").encode())
    assert only(report, ViolationCode.RAGGED_ROWS).examples == (3,)
    invalid = only(report, ViolationCode.INVALID_NUMBER)
    assert invalid.examples == (10,)
    assert "'cheap' in row 10" in invalid.message


def test_ragged_rows_in_a_quoted_file_use_the_csv_reader() -> None:
    rows = demand_rows()
    rows[0]["product_category"] = '"home"'
    rows[19]["product_category"] = "home, garden"
    violation = only(check(to_csv(rows)), ViolationCode.RAGGED_ROWS)
    assert "(row 20 has 11)" in violation.message


def test_header_only_still_checks_the_header() -> None:
    report = check(to_csv([], HEADER[:-1]))
    assert error_codes(report) == {"missing_target", "no_data_rows"}


def test_missing_column_hints_at_a_near_match() -> None:
    header = [h if h != "units_sold" else "Units Sold" for h in HEADER]
    report = check(to_csv(demand_rows(), header))
    violation = only(report, ViolationCode.MISSING_TARGET)
    assert "(found 'Units Sold': names are case- and space-sensitive)" in violation.message
    unexpected = only(report, ViolationCode.UNEXPECTED_COLUMN)
    assert unexpected.column == "Units Sold"
    assert "column 'Units Sold' (did you mean 'units_sold'?) is not in the contract" in (
        unexpected.message
    )


def test_extra_columns_can_be_allowed_as_a_warning() -> None:
    data = to_csv(demand_rows(), [*HEADER, "weather"])
    report = check(data, limits=ValidationLimits(allow_extra_columns=True))
    assert report.ok
    violation = only(report, ViolationCode.UNEXPECTED_COLUMN)
    assert violation.severity == "warning"
    assert "will be ignored" in violation.message


def test_unnamed_column_is_described_by_position() -> None:
    report = check(to_csv(demand_rows(), [*HEADER, ""]))
    assert "(unnamed, position 11)" in only(report, ViolationCode.UNEXPECTED_COLUMN).message


def test_optional_nullable_column_may_be_empty() -> None:
    data = with_values("competitor_price", dict.fromkeys(range(1, 301), ""))
    assert check(data).ok


def test_null_tolerance_turns_feature_nulls_into_a_warning() -> None:
    data = with_values("temperature", {1: "", 2: ""})  # 0.67%
    assert only(check(data), ViolationCode.NULL_VALUES).severity == "error"
    loose = ValidationLimits(max_null_fraction=0.01)
    report = check(data, limits=loose)
    assert report.ok
    assert only(report, ViolationCode.NULL_VALUES).severity == "warning"
    per_column = ValidationLimits(
        max_null_fraction=0.01, column_max_null_fraction={"temperature": 0.0}
    )
    assert only(check(data, limits=per_column), ViolationCode.NULL_VALUES).severity == "error"
    too_many = with_values("temperature", dict.fromkeys(range(1, 5), ""))  # 1.33%
    assert only(check(too_many, limits=loose), ViolationCode.NULL_VALUES).severity == "error"


def test_a_fraction_exactly_at_the_tolerance_is_a_warning() -> None:
    data = with_values("temperature", {1: "", 2: "", 3: ""})  # 3/300 = 1%
    report = check(data, limits=ValidationLimits(max_null_fraction=0.01))
    assert only(report, ViolationCode.NULL_VALUES).severity == "warning"


def test_a_bound_written_with_all_its_digits_is_in_range() -> None:
    """pandas' fast float parser reads "94.24502837770503" one ulp high: still in range."""
    bound = 94.24502837770503
    columns = tuple(
        c.model_copy(update={"max": bound}) if c.name == "temperature" else c
        for c in DEMAND.columns
    )
    contract = DEMAND.model_copy(update={"columns": columns})
    report = check(with_values("temperature", {1: repr(bound)}), contract=contract)
    assert report.ok, report.summary()
    over = check(with_values("temperature", {1: "94.2451"}), contract=contract)
    assert only(over, ViolationCode.OUT_OF_RANGE).examples == (1,)


def test_target_nulls_are_never_tolerated() -> None:
    data = with_values("units_sold", {5: ""})
    report = check(data, limits=ValidationLimits(max_null_fraction=0.5))
    violation = only(report, ViolationCode.NULL_VALUES)
    assert violation.severity == "error"
    assert "'units_sold' (the target)" in violation.message
    assert violation.examples == (5,)


def test_out_of_range_tolerance() -> None:
    data = with_values("price", {1: "0", 2: "20000"})
    violation = only(check(data), ViolationCode.OUT_OF_RANGE)
    assert violation.examples == (1, 2)
    assert "lowest 0, highest 20000" in violation.message
    report = check(data, limits=ValidationLimits(max_out_of_range_fraction=0.01))
    assert report.ok
    assert only(report, ViolationCode.OUT_OF_RANGE).severity == "warning"


def test_invalid_value_tolerance_applies_to_features_not_the_target() -> None:
    limits = ValidationLimits(max_invalid_fraction=0.05)
    feature = check(with_values("temperature", {1: "n/a?"}), limits=limits)
    assert only(feature, ViolationCode.INVALID_NUMBER).severity == "warning"
    target = check(with_values("units_sold", {1: "lots"}), limits=limits)
    assert only(target, ViolationCode.INVALID_NUMBER).severity == "error"


def test_unknown_categories_list_at_most_five_values() -> None:
    updates = {i: f"X{i}" for i in range(1, 8)}
    violation = only(check(with_values("store_id", updates)), ViolationCode.UNKNOWN_CATEGORY)
    assert "and 2 more" in violation.message
    assert violation.examples == ("X1", "X2", "X3", "X4", "X5")
    assert violation.count == 7


def test_a_few_duplicate_rows_are_a_warning() -> None:
    rows = demand_rows()
    report = check(to_csv([*rows, dict(rows[41]), dict(rows[41])]))  # 2/302 = 0.66%
    assert report.ok
    violation = only(report, ViolationCode.DUPLICATE_ROWS)
    assert violation.severity == "warning"
    assert "(e.g. row 301 repeats row 42)" in violation.message
    assert violation.examples == (301, 302)
    strict = check(
        to_csv([*rows, dict(rows[41])]), limits=ValidationLimits(max_duplicate_fraction=0.0)
    )
    assert only(strict, ViolationCode.DUPLICATE_ROWS).severity == "error"


def test_classification_targets_count_classes_by_value() -> None:
    balanced = ["yes", "no", "TRUE", "False", "1", "0"] * 5
    assert check(churn_csv(balanced), contract=churn_contract()).ok
    integer = churn_contract("multiclass", "integer")
    assert check(churn_csv(["1", "2", "3"] * 10), contract=integer).ok
    report = check(churn_csv(["4"] * 30), contract=integer)
    assert "has only 1 class (4 (30))" in only(report, ViolationCode.TOO_FEW_CLASSES).message


def test_datetime_columns_accept_iso_and_other_formats() -> None:
    labels = ["true", "false"] * 10
    signup = ["2024-01-05", "2024-01-05T10:00:00Z", "05/01/2024", "25/12/2024 10:00"] * 5
    assert check(churn_csv(labels, signup), contract=churn_contract()).ok


def _batches(frame: pd.DataFrame) -> tuple[list[str], Any]:
    """What the Parquet reader returns: the columns and the frames (here, one)."""
    return [str(c) for c in frame.columns], iter([frame])


def test_typed_parquet_frames_are_checked_by_value(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = demand_rows()
    frame = pd.DataFrame(rows)
    for col in ("price", "temperature", "units_sold"):
        frame[col] = frame[col].astype(float)
    frame["competitor_price"] = pd.to_numeric(frame["competitor_price"], errors="coerce")
    frame["day_of_week"] = frame["day_of_week"].astype(int)
    frame["month"] = frame["month"].astype("int32")
    frame["promotion"] = frame["promotion"] == "true"
    frame["holiday"] = frame["holiday"].astype(int)
    frame["store_id"] = frame["store_id"].astype("category")
    good = frame.copy()
    bad = frame.copy()
    bad.loc[3, "holiday"] = 7
    bad["price"] = bad["price"].astype(object)
    bad.loc[5, "price"] = "free"
    frames = iter([good, bad])
    monkeypatch.setattr(validation, "_read_parquet_batches", lambda *a: _batches(next(frames)))
    ok = check(b"PAR1...", filename="sales.parquet")
    assert ok.ok, ok.summary()
    assert ok.format == "parquet"
    report = check(b"PAR1...", filename="sales.parquet")
    assert error_codes(report) == {"invalid_boolean", "invalid_number"}
    assert "7 in row 4" in only(report, ViolationCode.INVALID_BOOLEAN).message
    assert "'free' in row 6" in only(report, ViolationCode.INVALID_NUMBER).message


def test_nested_parquet_values_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame(demand_rows())
    frame["units_sold"] = frame["units_sold"].astype(float)
    frame["competitor_price"] = pd.to_numeric(frame["competitor_price"], errors="coerce")
    frame["price"] = pd.Series([[1.0, 2.0]] * len(frame), dtype=object)
    frame["tags"] = pd.Series([{"a": 1}] * len(frame), dtype=object)
    monkeypatch.setattr(validation, "_read_parquet_batches", lambda *a: _batches(frame))
    report = check(b"PAR1...", filename="sales.parquet")
    assert error_codes(report) == {"invalid_number", "unexpected_column"}
    assert "'[1.0, 2.0]' in row 1" in only(report, ViolationCode.INVALID_NUMBER).message


def test_real_parquet_round_trip() -> None:
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(io.BytesIO(valid_csv()))
    buf = io.BytesIO()
    frame.to_parquet(buf)
    assert check(buf.getvalue(), filename="sales.parquet").ok
    garbage = check(b"definitely not parquet", filename="x.parquet")
    assert error_codes(garbage) == {"unreadable_parquet"}


# --------------------------------------------------------------------------- the report


def test_summary_names_every_error() -> None:
    rows = demand_rows()
    rows[0]["price"] = "abc"
    rows[1]["store_id"] = "S99"
    report = check(to_csv(rows, [*HEADER, "notes"]))
    summary = report.summary()
    assert summary.startswith("demand: 'sales.csv' failed data validation with 3 error(s):")
    for code in ("unexpected_column", "invalid_number", "unknown_category"):
        assert f"[{code}]" in summary
    assert "\n" not in summary


def test_summary_is_bounded_and_counts_what_it_leaves_out() -> None:
    header = [*HEADER, *(f"extra_column_number_{i:03d}" for i in range(200))]
    report = check(to_csv(demand_rows(), header))
    assert len(report.errors) == 200
    summary = report.summary()
    assert len(summary) <= SUMMARY_MAX_CHARS
    shown = summary.count("[unexpected_column]")
    assert 0 < shown < 200
    assert summary.endswith(f"; (+{200 - shown} more)")


def test_messages_quote_long_file_names_and_values_briefly() -> None:
    long_name = "x" * 3000
    report = check(to_csv(demand_rows(), [*HEADER, long_name]))
    violation = only(report, ViolationCode.UNEXPECTED_COLUMN)
    assert violation.column == long_name
    assert len(violation.message) < 200


def test_summary_cuts_a_single_huge_message() -> None:
    base = check(valid_csv())
    huge = Violation(code=ViolationCode.MISSING_COLUMN, message="m" * 5000)
    small = Violation(code=ViolationCode.TOO_FEW_ROWS, message="short")
    report = base.model_copy(update={"violations": (huge, small)})
    summary = report.summary()
    assert len(summary) <= SUMMARY_MAX_CHARS
    assert "[missing_column] mmmm" in summary
    assert summary.endswith("…; (+1 more)")


def test_to_json_has_every_violation_and_round_trips() -> None:
    report = check(with_values("price", {1: "abc"}))
    data = report.to_json()
    text = json.dumps(data)
    assert data["ok"] is False
    assert data["error_count"] == 1
    assert data["summary"] == report.summary()
    assert data["violations"][0]["code"] == "invalid_number"
    assert data["violations"][0]["examples"] == [1]
    assert ValidationReport.from_json(json.loads(text)) == report


def test_report_is_deterministic() -> None:
    rows = demand_rows()
    rows[3]["store_id"] = "S42"
    rows[7]["month"] = "13"
    data = to_csv([*rows, dict(rows[0])])
    first, second = check(data), check(data)
    assert first == second
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(
        second.to_json(), sort_keys=True
    )


def test_report_is_frozen() -> None:
    report = check(valid_csv())
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        report.rows = 1  # type: ignore[misc]


def test_data_validation_error_carries_the_report() -> None:
    report = check(to_csv(demand_rows(), HEADER[:-1]))
    error = DataValidationError(report)
    assert str(error) == report.summary()
    assert "required column 'units_sold' (the target) is missing" in str(error)
    assert error.report is report
    assert type(error).__name__ == "DataValidationError"
    copy = pickle.loads(pickle.dumps(error))
    assert copy.report == report
    assert str(copy) == str(error)


# --------------------------------------------------------------------------- corpus


def _load_corpus_script() -> Any:
    spec = importlib.util.spec_from_file_location("make_bad_inputs", BAD_DIR / "make_bad_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPECTED: dict[str, dict[str, Any]] = json.loads((BAD_DIR / "expected.json").read_text())


def test_corpus_is_complete_and_small() -> None:
    files = {p.name for p in BAD_DIR.iterdir()} - {"expected.json", "make_bad_inputs.py"}
    files = {f for f in files if not f.startswith((".", "__"))}
    assert files == set(EXPECTED)
    assert len(files) >= 20
    assert all((BAD_DIR / f).stat().st_size < 50_000 for f in files)
    assert len({(BAD_DIR / f).read_bytes() for f in files}) == len(files)  # all distinct


def test_corpus_is_up_to_date(tmp_path: Path) -> None:
    _load_corpus_script().main(tmp_path)
    for name in [*EXPECTED, "expected.json"]:
        assert (tmp_path / name).read_bytes() == (BAD_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_corpus(name: str) -> None:
    expected = EXPECTED[name]
    report = check((BAD_DIR / name).read_bytes(), filename=name)
    assert not report.ok
    assert error_codes(report) == set(expected["errors"]), report.summary()
    messages = [v.message for v in report.errors if v.code == expected["code"]]
    assert any(expected["message"] in m for m in messages), messages


# --------------------------------------------------------------------------- properties


def _verdict(report: ValidationReport) -> tuple[bool, list[tuple[str, str | None, str, int]]]:
    return report.ok, sorted(
        (v.code.value, v.column, v.severity, v.count) for v in report.violations
    )


def _corrupt(rows: list[Row], kind: str) -> list[Row]:
    rows = [dict(r) for r in rows]
    if kind == "price":
        rows[10]["price"] = "abc"
    elif kind == "range":
        rows[20]["temperature"] = "99"
    elif kind == "null":
        rows[30]["month"] = ""
    elif kind == "category":
        rows[40]["store_id"] = "S77"
    elif kind == "duplicate":
        rows.extend(dict(rows[i]) for i in range(5))
    elif kind == "boolean":
        rows[50]["holiday"] = "maybe"
    return rows


BASE_ROWS = demand_rows(250, seed=3)
KINDS = ["price", "range", "null", "category", "duplicate", "boolean"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.sets(st.sampled_from(KINDS)), data=st.data())
def test_shuffling_rows_does_not_change_the_verdict(kinds: set[str], data: st.DataObject) -> None:
    rows = BASE_ROWS
    for kind in sorted(kinds):
        rows = _corrupt(rows, kind)
    order = data.draw(st.permutations(range(len(rows))))
    shuffled = [rows[i] for i in order]
    before, after = check(to_csv(rows)), check(to_csv(shuffled))
    assert _verdict(before) == _verdict(after)
    assert before.ok == (not kinds)


def _number(lo: float, hi: float, places: int) -> st.SearchStrategy[str]:
    return st.floats(lo, hi, allow_nan=False).map(lambda x: f"{round(x, places)}")


VALID_ROW = st.fixed_dictionaries(
    {
        "store_id": st.sampled_from(STORES),
        "product_category": st.sampled_from(CATEGORIES),
        "price": st.one_of(st.just("0.01"), st.just("10000"), _number(0.01, 10000, 2)),
        "promotion": st.sampled_from(["true", "False", "YES", "no", "1", "0"]),
        "day_of_week": st.integers(0, 6).map(str),
        "month": st.one_of(st.integers(1, 12).map(str), st.integers(1, 12).map(lambda m: f"{m}.0")),
        "temperature": st.one_of(st.just("-40"), st.just("55"), _number(-40, 55, 6)),
        "holiday": st.sampled_from(["true", "false", "1", "0"]),
        "competitor_price": st.one_of(st.just(""), _number(0.01, 10000, 3)),
        "units_sold": st.one_of(st.just("0"), _number(0, 100000, 1)),
    }
)


@settings(max_examples=40, deadline=None)
@given(row=VALID_ROW, position=st.integers(0, 300))
def test_adding_a_valid_row_keeps_a_valid_file_valid(row: Row, position: int) -> None:
    rows = demand_rows()
    rows.insert(position, row)
    report = check(to_csv(rows))
    assert report.ok, report.summary()
    assert report.rows == 301


SMALL_VALID = valid_csv(40)


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(SMALL_VALID) - 1), st.binary(min_size=0, max_size=3)),
        max_size=6,
    ),
    noise=st.binary(max_size=300),
    suffix=st.sampled_from([".csv", ".parquet"]),
)
def test_damaged_files_give_a_report_never_an_exception(
    edits: list[tuple[int, bytes]], noise: bytes, suffix: str
) -> None:
    data = bytearray(SMALL_VALID)
    for position, replacement in edits:
        data[position : position + 1] = replacement
    for blob in (bytes(data), noise):
        report = check(blob, filename="sales" + suffix)
        assert isinstance(report.summary(), str)
        assert len(report.summary()) <= SUMMARY_MAX_CHARS
        assert report.ok == (not report.errors)


def test_quoted_text_with_delimiters_quotes_and_newlines() -> None:
    rows = demand_rows()
    rows[9]["price"] = "cheap"
    notes = ['"a, b"', '"say ""hi"", then\nleave"', '"line one\r\nline two"', 'x"y', '""']
    lines = [",".join([*HEADER, "notes"])]
    for i, row in enumerate(rows):
        lines.append(",".join([*(row[h] for h in HEADER), notes[i % len(notes)]]))
    data = ("\n".join(lines) + "\n").encode()
    report = check(data, limits=ValidationLimits(allow_extra_columns=True))
    assert report.rows == 300
    assert error_codes(report) == {"invalid_number"}
    assert only(report, ViolationCode.INVALID_NUMBER).examples == (10,)


_FIELD = st.lists(st.sampled_from(["a", ",", '"', "\n", "\r\n", " ", "é"]), max_size=6).map("".join)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.lists(_FIELD, min_size=1, max_size=5), min_size=1, max_size=8))
def test_vectorised_record_scan_agrees_with_the_csv_module(records: list[list[str]]) -> None:
    """Internal: the numpy scanner must count records and fields as csv.reader does."""
    import csv

    from modelrail.validation import _scan_records

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["h1", "h2"], *records])
    text = out.getvalue()
    scan = _scan_records(text.encode())
    assert scan is not None
    expected = [len(r) for r in csv.reader(io.StringIO(text, newline="")) if r][1:]
    assert scan.fields.tolist() == expected


@settings(max_examples=300, deadline=None)
@given(
    body=st.lists(st.sampled_from(["a", ",", '"', "\n", "\r\n", '""', ' "']), max_size=30).map(
        "".join
    )
)
def test_vectorised_scan_agrees_with_the_csv_module_or_defers(body: str) -> None:
    """Internal: on arbitrary (often malformed) quoting the scanner agrees or returns None."""
    import csv

    from modelrail.validation import _scan_records

    text = "h1,h2\n" + body
    scan = _scan_records(text.encode())
    if scan is None:
        return
    expected = [len(r) for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    assert scan.fields.tolist() == expected[1:]
