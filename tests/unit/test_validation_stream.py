"""Streaming validation: the report does not depend on how the file is cut into batches."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelrail.contract import load_contract
from modelrail.validation import ValidationReport, ViolationCode, validate_dataset, validate_stream

DEMAND = load_contract("demand")
HEADER = [c.name for c in DEMAND.columns]
SMALL = DEMAND.model_copy(update={"min_rows": 1})

# Each field is a valid value or one kind of problem the validator reports.
_FIELDS = {
    "store_id": st.sampled_from(["S01", "S02", "S03", "", "S 01"]),
    "product_category": st.sampled_from(["grocery", "toys", "", "garden", '"home"']),
    "price": st.sampled_from(["1.50", "2", "", "free", "-3", "inf", "999999"]),
    "promotion": st.sampled_from(["true", "false", "0", "maybe", ""]),
    "day_of_week": st.sampled_from(["0", "6", "2.5", "9", "x"]),
    "month": st.sampled_from(["1", "12", "13", ""]),
    "temperature": st.sampled_from(["-10.5", "20", "abc", ""]),
    "holiday": st.sampled_from(["0", "1", "2"]),
    "competitor_price": st.sampled_from(["", "3.25", "4"]),
    "units_sold": st.sampled_from(["0", "12.5", "12.5", "", "-1", "x"]),
}
_ROW = st.fixed_dictionaries(_FIELDS)


def _csv(rows: list[dict[str, str]], ragged: list[int], eol: str) -> bytes:
    lines = [",".join(HEADER)]
    for i, row in enumerate(rows):
        fields = [row[h] for h in HEADER]
        lines.append(",".join(fields[:-2] if i in ragged else fields))
    return (eol.join(lines) + eol).encode()


def _stream(data: bytes, name: str, batch_bytes: int, batch_rows: int) -> ValidationReport:
    return validate_stream(
        io.BytesIO(data),
        filename=name,
        size=len(data),
        contract=SMALL,
        batch_bytes=batch_bytes,
        batch_rows=batch_rows,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_ROW, min_size=0, max_size=40),
    ragged=st.lists(st.integers(0, 39), max_size=3),
    eol=st.sampled_from(["\n", "\r\n"]),
    batch_bytes=st.integers(1, 300),
)
def test_csv_report_is_the_same_for_any_batch_size(
    rows: list[dict[str, str]], ragged: list[int], eol: str, batch_bytes: int
) -> None:
    data = _csv(rows, ragged, eol)
    whole = _stream(data, "x.csv", len(data) + 1, 10**6)
    assert _stream(data, "x.csv", batch_bytes, 1) == whole
    assert _stream(data, "x.csv", 1, 1) == whole


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_ROW, min_size=1, max_size=40), batch_rows=st.integers(1, 7))
def test_parquet_report_is_the_same_for_any_batch_size(
    rows: list[dict[str, str]], batch_rows: int
) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(rows, columns=HEADER)
    frame["holiday"] = frame["holiday"].astype(int)
    buf = io.BytesIO()
    frame.to_parquet(buf, row_group_size=5)
    data = buf.getvalue()
    whole = _stream(data, "x.parquet", 1 << 20, 10**6)
    assert _stream(data, "x.parquet", 7, batch_rows) == whole


def test_the_stream_report_matches_the_bytes_report() -> None:
    data = _csv([{h: "1" for h in HEADER}] * 3, [], "\n")
    report = _stream(data, "x.csv", 5, 1)
    assert report == validate_dataset(data, filename="x.csv", contract=SMALL)
    assert report.sha256 == hashlib.sha256(data).hexdigest()


def test_an_oversized_stream_names_its_true_size_and_is_not_read() -> None:
    class Unreadable(io.RawIOBase):
        def read(self, n: int = -1) -> bytes:
            raise AssertionError("an oversized file must not be read")

    size = DEMAND.max_bytes + 12_345
    report = validate_stream(Unreadable(), filename="big.csv", size=size, contract=DEMAND)  # type: ignore[arg-type]
    violation = report.violations[0]
    assert violation.code is ViolationCode.FILE_TOO_LARGE
    assert violation.count == size
    assert f"{size:,} bytes" in violation.message
    assert report.size_bytes == size


def test_invalid_utf8_late_in_the_file_wins_over_earlier_problems() -> None:
    data = _csv([{h: "1" for h in HEADER}] * 50, [3], "\n") + b"S01,\xe9\n"
    report = _stream(data, "x.csv", 64, 1)
    assert [v.code for v in report.violations] == [ViolationCode.NOT_UTF8]
    assert report == _stream(data, "x.csv", 1 << 20, 10**6)


def test_a_stray_quote_late_in_the_file_switches_to_the_csv_module() -> None:
    rows = [{h: "1" for h in HEADER}] * 30
    data = _csv(rows, [], "\n") + b'S01,a"b,1,true,1,1,1,0,,1\n' + _csv(rows, [], "\n")[-60:]
    small, whole = _stream(data, "x.csv", 40, 2), _stream(data, "x.csv", 1 << 20, 10**6)
    assert small == whole


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 40), max_size=60), min_size=1, max_size=6),
    st.booleans(),
    st.sampled_from([0, 10**12]),  # 16 partitions; 256 (the most, for a large file)
)
def test_duplicates_by_partitioned_hashes_are_the_brute_force_answer(
    batches: list[list[int]], spread: bool, size: int
) -> None:
    """Repeats are found a part of the hash space at a time: exact, in row order."""
    from modelrail.hashing import mix64
    from modelrail.validation import _HashPartitions

    parts = _HashPartitions(None, size)
    rows: list[int] = []
    for batch in batches:
        values = np.array(batch, dtype=np.uint64)
        hashes = mix64(values) if spread else values  # spread over the parts, or all in one
        parts.add(hashes, len(rows))
        rows += hashes.tolist()
    seen: dict[int, int] = {}
    repeats: list[tuple[int, int]] = []
    for i, h in enumerate(rows):
        if h in seen:
            repeats.append((i, seen[h]))
        else:
            seen[h] = i
    found = parts.duplicates()
    if not repeats:
        assert found is None
        return
    assert found == (len(repeats), repeats[0], [i for i, _ in repeats[:5]])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "a", '"x,y"', "1"]), min_size=1, max_size=4)))
def test_field_counts_with_the_width_known_are_the_counts_without(records: list[list[str]]) -> None:
    from modelrail.validation import _scan_records

    data = "".join(",".join(r) + "\n" for r in records).encode()
    for width in (1, 2, 3, 4):
        plain, fast = (
            _scan_records(data, header=False),
            _scan_records(data, header=False, width=width),
        )
        if plain is None:
            assert fast is None
            continue
        assert fast is not None
        assert fast.fields.tolist() == plain.fields.tolist()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_ROW, min_size=1, max_size=40),
    ragged=st.lists(st.integers(0, 39), max_size=3),
    blank=st.lists(st.integers(0, 39), max_size=2),
    eol=st.sampled_from(["\n", "\r\n"]),
    batch_bytes=st.integers(1, 300),
)
def test_plain_pieces_read_as_the_scanner_reads_them(
    rows: list[dict[str, str]], ragged: list[int], blank: list[int], eol: str, batch_bytes: int
) -> None:
    """A piece without quotes is taken as one record a line, checked by pyarrow's width
    and row count (D53): the same report as when every piece goes to the record scanner,
    blank lines, ragged rows and text in numeric columns included."""
    from modelrail import validation

    data = _csv(rows, ragged, eol)
    lines = data.split(b"\n")
    for at in sorted(set(blank), reverse=True):  # blank lines between records
        lines.insert(min(at + 1, len(lines)), eol.encode().rstrip(b"\n"))
    data = b"\n".join(lines)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validation._Validator, "plain_header", lambda self, piece: piece)
        patch.setattr(validation._Validator, "plain_records", lambda self, piece: None)
        scanned = _stream(data, "x.csv", batch_bytes, 1)
    assert _stream(data, "x.csv", batch_bytes, 1) == scanned
    assert _stream(data, "x.csv", len(data) + 1, 10**6) == scanned
