"""Regenerate the corpus of bad inputs for the ``demand`` contract.

    .venv/bin/python tests/data/bad/make_bad_inputs.py

Deterministic (seeded numpy, no timestamps), so the committed files only change when
this script does; ``tests/unit/test_validation.py`` checks that they are up to date.
Every file breaks one thing. ``expected.json`` maps each file to the error codes the
validator must report (exactly), the main code and a fragment of its message.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HEADER = [
    "store_id",
    "product_category",
    "price",
    "promotion",
    "day_of_week",
    "month",
    "temperature",
    "holiday",
    "competitor_price",
    "units_sold",
]
STORES = [f"S{i:02d}" for i in range(1, 11)]
CATEGORIES = ["grocery", "electronics", "apparel", "home", "toys"]

Rows = list[list[str]]


def valid_rows(n: int = 300, seed: int = 7) -> Rows:
    """Rows that satisfy the demand contract."""
    rng = np.random.default_rng(seed)
    rows: Rows = []
    for _ in range(n):
        competitor = "" if rng.random() < 0.1 else f"{rng.uniform(1, 500):.2f}"
        rows.append(
            [
                STORES[int(rng.integers(0, 10))],
                CATEGORIES[int(rng.integers(0, 5))],
                f"{rng.uniform(1, 500):.2f}",
                ["true", "false"][int(rng.integers(0, 2))],
                str(int(rng.integers(0, 7))),
                str(int(rng.integers(1, 13))),
                f"{rng.uniform(-10, 35):.1f}",
                ["0", "1"][int(rng.integers(0, 2))],
                competitor,
                f"{rng.uniform(0, 300):.1f}",
            ]
        )
    return rows


def to_csv(rows: Rows, header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    lines = [delimiter.join(header), *(delimiter.join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def setcol(rows: Rows, column: str, updates: dict[int, str]) -> Rows:
    """A copy of ``rows`` with ``column`` changed at the given 0-based row indexes."""
    pos = HEADER.index(column)
    out = [list(r) for r in rows]
    for i, value in updates.items():
        out[i][pos] = value
    return out


def without(rows: Rows, column: str) -> bytes:
    """The file without ``column``."""
    pos = HEADER.index(column)
    return to_csv([r[:pos] + r[pos + 1 :] for r in rows], [h for h in HEADER if h != column])


def _truncated(rows: Rows) -> bytes:
    data = to_csv(rows)
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    return data[: last_line_start + 14]  # cut inside the last row, no final newline


def _ragged(rows: Rows) -> bytes:
    out = [list(r) for r in rows]
    out[10] = [*out[10], "extra"]
    out[50] = out[50][:-1]
    out[120] = [*out[120][:3], "oops", *out[120][3:]]
    return to_csv(out)


def _quoted_ragged(rows: Rows) -> bytes:
    lines = [",".join(HEADER)]
    for i, r in enumerate(rows):
        cells = list(r)
        cells[1] = f'"{cells[1]}"'
        if i == 42:
            cells[1] = "home, garden"  # an unquoted delimiter inside a value
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _latin1(rows: Rows) -> bytes:
    text = to_csv(setcol(rows, "store_id", {4: "Säo"})).decode("utf-8")
    return text.encode("latin-1")


def _unterminated_quote(rows: Rows) -> bytes:
    broken = b'S01,"home,12.00,true,1,2,3.0,0,,5.0\n'  # the quote never closes
    rest = "".join(",".join(r) + "\n" for r in rows[250:]).encode("utf-8")
    return to_csv(rows[:250]) + broken + rest


def _duplicates(rows: Rows) -> bytes:
    return to_csv(rows + [list(rows[i]) for i in range(0, 150, 10)])  # 15 repeats = 4.8%


def _duplicate_header(rows: Rows) -> bytes:
    header = list(HEADER)
    header[HEADER.index("competitor_price")] = "price"
    return to_csv(rows, header)


# file name -> (content, error codes expected (exactly), main code, message fragment)
Case = tuple[Callable[[Rows], bytes], list[str], str, str]
CASES: dict[str, Case] = {
    "empty.csv": (lambda r: b"", ["empty_file"], "empty_file", "is empty (0 bytes)"),
    "whitespace_only.csv": (
        lambda r: b"\n   \n\r\n\n",
        ["empty_file"],
        "empty_file",
        "contains only whitespace",
    ),
    "header_only.csv": (lambda r: to_csv([]), ["no_data_rows"], "no_data_rows", "no data rows"),
    "semicolon.csv": (
        lambda r: to_csv(r, delimiter=";"),
        ["wrong_delimiter"],
        "wrong_delimiter",
        "';' (semicolon)-delimited",
    ),
    "tab_separated.csv": (
        lambda r: to_csv(r, delimiter="\t"),
        ["wrong_delimiter"],
        "wrong_delimiter",
        "(tab)-delimited",
    ),
    "latin1.csv": (_latin1, ["not_utf8"], "not_utf8", "not valid UTF-8: invalid byte(s) e4"),
    "utf16.csv": (
        lambda r: to_csv(r).decode("utf-8").encode("utf-16"),
        ["not_utf8"],
        "not_utf8",
        "UTF-16",
    ),
    "gzipped.csv": (
        lambda r: gzip.compress(to_csv(r), compresslevel=0, mtime=0),
        ["not_utf8"],
        "not_utf8",
        "gzip-compressed",
    ),
    "truncated.csv": (_truncated, ["ragged_rows"], "ragged_rows", "the file looks truncated"),
    "ragged.csv": (
        _ragged,
        ["ragged_rows"],
        "ragged_rows",
        "3 rows (1.00%) have a different number of fields than the header's 10 (row 11 has 11",
    ),
    "quoted_ragged.csv": (
        _quoted_ragged,
        ["ragged_rows"],
        "ragged_rows",
        "row 43 has 11",
    ),
    "unterminated_quote.csv": (
        _unterminated_quote,
        ["malformed_csv"],
        "malformed_csv",
        "unterminated or stray quote",
    ),
    "duplicate_header.csv": (
        _duplicate_header,
        ["duplicate_header"],
        "duplicate_header",
        "column 'price' appears 2 times in the header (positions 3, 9)",
    ),
    "missing_target.csv": (
        lambda r: without(r, "units_sold"),
        ["missing_target"],
        "missing_target",
        "required column 'units_sold' (the target) is missing",
    ),
    "missing_column.csv": (
        lambda r: without(r, "price"),
        ["missing_column"],
        "missing_column",
        "required column 'price' is missing",
    ),
    "renamed_column.csv": (
        lambda r: to_csv(r, [h if h != "day_of_week" else "Day Of Week" for h in HEADER]),
        ["missing_column", "unexpected_column"],
        "missing_column",
        "required column 'day_of_week' is missing (found 'Day Of Week'",
    ),
    "extra_column.csv": (
        lambda r: to_csv([[*row, "x"] for row in r], [*HEADER, "notes"]),
        ["unexpected_column"],
        "unexpected_column",
        "column 'notes' is not in the contract",
    ),
    "wrong_type.csv": (
        lambda r: to_csv(setcol(r, "price", {3: "abc", 77: '"12,50"'})),
        ["invalid_number"],
        "invalid_number",
        "column 'price' has 2 non-numeric values (0.67% of rows), e.g. 'abc' in row 4",
    ),
    "infinite_value.csv": (
        lambda r: to_csv(setcol(r, "temperature", {9: "inf"})),
        ["non_finite_number"],
        "non_finite_number",
        "column 'temperature' has 1 infinite value",
    ),
    "non_integer_day.csv": (
        lambda r: to_csv(setcol(r, "day_of_week", {5: "2.5", 6: "3.25"})),
        ["not_integer"],
        "not_integer",
        "column 'day_of_week' has 2 non-integer values",
    ),
    "bad_boolean.csv": (
        lambda r: to_csv(setcol(r, "promotion", {0: "maybe", 1: "nope"})),
        ["invalid_boolean"],
        "invalid_boolean",
        "column 'promotion' has 2 values that are not a boolean",
    ),
    "nulls_required.csv": (
        lambda r: to_csv(setcol(r, "store_id", {2: "", 8: "NA", 9: ""})),
        ["null_values"],
        "null_values",
        "column 'store_id' is not nullable but has 3 empty/null values",
    ),
    "null_target.csv": (
        lambda r: to_csv(setcol(r, "units_sold", {12: ""})),
        ["null_values"],
        "null_values",
        "column 'units_sold' (the target) is not nullable but has 1 empty/null value",
    ),
    "out_of_range.csv": (
        lambda r: to_csv(setcol(r, "temperature", {20: "80.5", 21: "-55"})),
        ["out_of_range"],
        "out_of_range",
        "column 'temperature' has 2 values outside [-40, 55]",
    ),
    "negative_price.csv": (
        lambda r: to_csv(setcol(r, "price", {30: "-4.99"})),
        ["out_of_range"],
        "out_of_range",
        "column 'price' has 1 value outside [0.01, 10000]",
    ),
    "bad_month.csv": (
        lambda r: to_csv(setcol(r, "month", {40: "13", 41: "0"})),
        ["out_of_range"],
        "out_of_range",
        "column 'month' has 2 values outside [1, 12]",
    ),
    "unknown_category.csv": (
        lambda r: to_csv(setcol(r, "store_id", {1: "S11", 2: "S11", 3: "s01"})),
        ["unknown_category"],
        "unknown_category",
        "not among its categories: 'S11' (2), 's01' (1)",
    ),
    "duplicates.csv": (
        _duplicates,
        ["duplicate_rows"],
        "duplicate_rows",
        "15 rows (4.76%) exactly repeat an earlier row (e.g. row 301 repeats row 1)",
    ),
    "too_few_rows.csv": (
        lambda r: to_csv(r[:150]),
        ["too_few_rows"],
        "too_few_rows",
        "has 150 data rows; the contract needs at least 200",
    ),
    "constant_target.csv": (
        lambda r: to_csv(setcol(r, "units_sold", dict.fromkeys(range(len(r)), "10"))),
        ["constant_target"],
        "constant_target",
        "the target 'units_sold' has the same value (10) on every valid row",
    ),
    "not_csv.json": (
        lambda r: json.dumps([dict(zip(HEADER, row, strict=True)) for row in r[:20]]).encode(),
        ["unsupported_format"],
        "unsupported_format",
        "has suffix '.json'; upload a .csv or .parquet file",
    ),
    "compressed.csv.gz": (
        lambda r: gzip.compress(to_csv(r[:100]), compresslevel=0, mtime=0),
        ["unsupported_format"],
        "unsupported_format",
        "has suffix '.gz'",
    ),
}


def main(out_dir: Path = HERE) -> None:
    rows = valid_rows()
    expected: dict[str, dict[str, object]] = {}
    for name, (make, errors, code, fragment) in CASES.items():
        content = make(rows)
        assert len(content) < 50_000, name
        (out_dir / name).write_bytes(content)
        expected[name] = {"errors": sorted(errors), "code": code, "message": fragment}
    text = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (out_dir / "expected.json").write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} files and expected.json to {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
