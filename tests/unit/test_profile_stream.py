"""The streamed profile (one read, spilled columns) is the profile of the whole frame."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from modelrail.columns import CsvColumns, ParquetColumns, infer_like_pandas
from modelrail.contract import load_contract
from modelrail.profile import build_profile, build_profile_streamed
from modelrail.profile_stream import ProfileBuilder
from modelrail.sample import generate
from modelrail.steps.prepare import read_frame
from modelrail.validation import validate_stream

MODELS = ["demand", "churn"]


def _csv(model: str, rows: int = 500, seed: int = 7) -> bytes:
    frame = generate(load_contract(model), rows=rows, seed=seed)
    return frame.to_csv(index=False, lineterminator="\n").encode()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("memory", [1, 10**9])  # numbers sorted one at a time; all at once
def test_a_streamed_csv_profile_is_the_whole_frame_profile(model: str, memory: int) -> None:
    data, contract = _csv(model), load_contract(model)
    source = CsvColumns(lambda: io.BytesIO(data), block_bytes=4096)
    streamed = build_profile_streamed(source, contract, rows=500, memory=memory)
    assert streamed == build_profile(read_frame(data, "x.csv"), contract)


@pytest.mark.parametrize("model", MODELS)
def test_a_streamed_parquet_profile_is_the_whole_frame_profile(model: str) -> None:
    pytest.importorskip("pyarrow")
    contract = load_contract(model)
    buf = io.BytesIO()
    generate(contract, rows=400, seed=3).to_parquet(buf, row_group_size=64)
    data = buf.getvalue()
    source = ParquetColumns(lambda: io.BytesIO(data))
    streamed = build_profile_streamed(source, contract, rows=None, memory=1)
    source.close()
    assert streamed == build_profile(read_frame(data, "x.parquet"), contract)


def test_the_row_count_is_counted_when_unknown() -> None:
    data, contract = _csv("demand", rows=120), load_contract("demand")
    source = CsvColumns(lambda: io.BytesIO(data))
    assert build_profile_streamed(source, contract, rows=None).rows == 120


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", "3"], pd.Series([1, 2, 3], dtype="int64")),
        (["1", None, "3"], pd.Series([1.0, None, 3.0], dtype="float64")),
        (["1.5", "2"], pd.Series([1.5, 2.0])),
        (["true", "False"], pd.Series([True, False])),
        (["a", "1"], pd.Series(["a", "1"], dtype=object)),
    ],
)
def test_text_columns_are_inferred_as_pandas_reads_them(
    values: list[str | None], expected: pd.Series
) -> None:
    got = infer_like_pandas(pd.Series(values, dtype=object))
    expected_csv = pd.read_csv(
        io.StringIO("c\n" + "\n".join("NA" if v is None else v for v in values) + "\n")
    )["c"]
    pd.testing.assert_series_equal(got, expected, check_names=False)
    text = expected.dtype == object  # pandas 3 reads text as its str dtype, same values
    pd.testing.assert_series_equal(got, expected_csv, check_names=False, check_dtype=not text)


def test_coded_text_columns_profile_as_their_numbers() -> None:
    """A categorical column of numeric codes ("01", "2") profiles as pandas reads it."""
    contract = load_contract("demand")
    frame = generate(contract, rows=200, seed=1)
    frame["store_id"] = [f"{i % 7}" for i in range(200)]
    frame["promotion"] = ["True", "false"] * 100
    data = frame.to_csv(index=False, lineterminator="\n").encode()
    source = CsvColumns(lambda: io.BytesIO(data), block_bytes=1024)
    streamed = build_profile_streamed(source, contract, rows=200, memory=1)
    assert streamed == build_profile(read_frame(data, "x.csv"), contract)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_validation_feeds_the_profile_of_the_whole_frame(model: str, suffix: str) -> None:
    """One read: the batches validation parses build the profile (the dataset job's path)."""
    contract = load_contract(model)
    frame = generate(contract, rows=700, seed=11)
    if suffix == ".csv":
        data = frame.to_csv(index=False, lineterminator="\n").encode()
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, row_group_size=128)
        data = buf.getvalue()
    with ProfileBuilder(contract, infer_text=suffix == ".csv", bins=10, memory=64) as builder:
        report = validate_stream(
            io.BytesIO(data),
            filename=f"x{suffix}",
            size=len(data),
            contract=contract,
            batch_bytes=2048,
            batch_rows=50,
            sink=builder.add,
        )
        assert report.ok, report.summary()
        streamed = builder.finish(rows=report.rows, dataset_sha256=report.sha256)
    whole = build_profile(read_frame(data, f"x{suffix}"), contract, dataset_sha256=report.sha256)
    assert streamed == whole


def test_a_value_the_profile_cannot_take_is_raised_at_the_end() -> None:
    contract = load_contract("demand")
    with ProfileBuilder(contract, infer_text=True, bins=10) as builder:
        builder.add({"price": pd.Series([1.0, float("inf")])}, 2)
        builder.add({"price": pd.Series([1.0])}, 1)  # ignored after the error
        with pytest.raises(ValueError, match="infinite"):
            builder.finish()


def test_the_row_count_read_must_be_the_one_expected() -> None:
    data, contract = _csv("demand", rows=50), load_contract("demand")
    with pytest.raises(ValueError, match="expected 51 rows, read 50"):
        build_profile_streamed(CsvColumns(lambda: io.BytesIO(data)), contract, rows=51)


def test_the_row_hashes_sorted_in_256_parts_give_the_same_fingerprint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import modelrail.profile_stream as profile_stream

    monkeypatch.setattr(profile_stream, "_ROW_PART_BYTES", 8)  # 256 parts for 500 rows
    data, contract = _csv("churn"), load_contract("churn")
    streamed = build_profile_streamed(CsvColumns(lambda: io.BytesIO(data)), contract, rows=500)
    assert streamed == build_profile(read_frame(data, "x.csv"), contract)
