"""Captured traffic to a drift window (modelrail.monitoring.window, D55): requests read
as the endpoint reads them, whatever their encoding or content type, equal to the window
of the same rows built directly; refused requests counted, never fatal."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelrail.contract import ModelContract, load_contract, parse_contract
from modelrail.drift import DriftBaseline, DriftWindow, NumericWindow, merge
from modelrail.drift.build import build_baseline, build_window
from modelrail.drift_summary import COLUMN_KINDS
from modelrail.monitoring.capture import CaptureRecords, read_records
from modelrail.monitoring.window import CapturedWindow, captured_window
from modelrail.sample import generate

DEMAND = load_contract("demand")
FEATURES = [c.name for c in DEMAND.features]
CSV_TYPE, JSON_TYPE = "text/csv", "application/json"


def _baseline(contract: ModelContract, rows: int = 3000, seed: int = 1) -> DriftBaseline:
    frame = generate(contract, rows=rows, seed=seed)
    columns = {
        c.name: (COLUMN_KINDS[c.type], frame[c.name])
        for c in contract.features
        if c.type in COLUMN_KINDS
    }
    if contract.problem_type.value == "regression":
        prediction = ("numeric", frame[contract.target].to_numpy(dtype=float))
    else:
        prediction = ("numeric", np.linspace(0, 1, rows))
    return build_baseline(columns, prediction=prediction)  # type: ignore[arg-type]


BASELINE = _baseline(DEMAND)
LIVE = generate(DEMAND, rows=120, seed=9)


def _csv(frame: pd.DataFrame, *, header: bool = False) -> str:
    return frame[FEATURES].to_csv(index=False, header=header, lineterminator="\n")


def _json(frame: pd.DataFrame) -> str:
    return json.dumps({"instances": json.loads(frame[FEATURES].to_json(orient="records"))})


def _part(data: str, kind: str, encoding: str) -> dict[str, Any]:
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    return {"observedContentType": kind, "mode": "INPUT", "data": data, "encoding": encoding}


def _record(
    i: int, request: str, kind: str = CSV_TYPE, *, encoding: str = "CSV", response: Any = None
) -> dict[str, Any]:
    capture: dict[str, Any] = {"endpointInput": _part(request, kind, encoding)}
    if response is not None:
        body, out_kind = response
        capture["endpointOutput"] = _part(
            body, out_kind, "JSON" if out_kind == JSON_TYPE else "CSV"
        )
    meta = {
        "eventId": f"ev-{i}",
        "inferenceId": f"req-{i}",
        "inferenceTime": "2026-12-02T01:00:00Z",
    }
    return {"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}


def _read(records: list[dict[str, Any]]) -> CaptureRecords:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return read_records([("ep/AllTraffic/2026/12/02/01/a.jsonl", body)])


def _predicted(frame: pd.DataFrame) -> tuple[str, str]:
    return json.dumps({"predictions": frame["units_sold"].astype(float).tolist()}), JSON_TYPE


def _one_row_records(frame: pd.DataFrame, **kw: Any) -> list[dict[str, Any]]:
    return [
        _record(i, _csv(frame.iloc[[i]]), response=_predicted(frame.iloc[[i]]), **kw)
        for i in range(len(frame))
    ]


def _direct(frame: pd.DataFrame, baseline: DriftBaseline = BASELINE) -> DriftWindow:
    """The window of the same rows built from the frame (no capture involved)."""
    text = pd.read_csv(io.StringIO(_csv(frame, header=True)), dtype=str)
    columns = {
        n: (
            pd.to_numeric(text[n]).to_numpy(dtype=float)
            if COLUMN_KINDS[t] == "numeric"
            else text[n]
        )
        for n, t in ((c.name, c.type) for c in DEMAND.features)
    }
    prediction = frame["units_sold"].to_numpy(dtype=float)
    return build_window(baseline, columns, prediction=prediction)


def _same(a: DriftWindow, b: DriftWindow) -> None:
    """Counts bit for bit, float sums to rounding (the order of the rows may differ)."""
    assert set(a.features) == set(b.features)
    pairs = [(a.features[n], b.features[n]) for n in a.features] + [(a.prediction, b.prediction)]
    for x, y in pairs:
        if isinstance(x, NumericWindow) and isinstance(y, NumericWindow):
            fields = ("rows", "nulls", "non_finite", "n", "edge_counts", "gap_counts", "minimum")
            assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields]
            assert np.allclose(x.gap_offsets, y.gap_offsets, rtol=1e-9, atol=1e-6)
            assert math.isclose(x.total, y.total, rel_tol=1e-9, abs_tol=1e-6)
        else:
            assert x == y
    assert (a.prediction is None) == (b.prediction is None)


def test_csv_requests_give_the_window_of_their_rows() -> None:
    got = captured_window(_read(_one_row_records(LIVE)), BASELINE, DEMAND)
    assert isinstance(got, CapturedWindow)
    assert (got.rows, got.corrupt, got.unparsed_rows) == (len(LIVE), [], 0)
    _same(got.window, _direct(LIVE))
    assert got.row_ids == [f"req-{i}" for i in range(len(LIVE))]
    assert np.array_equal(got.outputs.predictions, LIVE["units_sold"].to_numpy(dtype=float))
    assert got.outputs.present.all() and got.outputs.probabilities is None


@pytest.mark.parametrize(
    ("kind", "encoding"), [(CSV_TYPE, "BASE64"), (JSON_TYPE, "JSON"), (JSON_TYPE, "BASE64")]
)
def test_every_encoding_reads_the_same_rows(kind: str, encoding: str) -> None:
    records = []
    for i in range(len(LIVE)):
        row = LIVE.iloc[[i]]
        body = _csv(row) if kind == CSV_TYPE else _json(row)
        records.append(_record(i, body, kind, encoding=encoding, response=_predicted(row)))
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert got.corrupt == [] and got.rows == len(LIVE)
    _same(got.window, _direct(LIVE))


def test_multi_row_requests_give_each_row_an_id_aligned_with_its_prediction() -> None:
    records = [
        _record(0, _csv(LIVE.iloc[0:3]), response=_predicted(LIVE.iloc[0:3])),
        _record(1, _csv(LIVE.iloc[3:4]), response=_predicted(LIVE.iloc[3:4])),
        _record(
            2,
            _json(LIVE.iloc[4:9]),
            JSON_TYPE,
            encoding="JSON",
            response=_predicted(LIVE.iloc[4:9]),
        ),
        _record(3, _csv(LIVE.iloc[9:40]), response=_predicted(LIVE.iloc[9:40])),
    ]
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert got.rows == 40 and got.corrupt == []
    ids = ["req-0:0", "req-0:1", "req-0:2", "req-1", *[f"req-2:{i}" for i in range(5)]]
    assert got.row_ids == ids + [f"req-3:{i}" for i in range(31)]
    assert np.array_equal(
        got.outputs.predictions, LIVE["units_sold"].iloc[:40].to_numpy(dtype=float)
    )
    _same(got.window, _direct(LIVE.iloc[:40]))


def test_mixed_content_types_and_the_readers_slow_paths_agree_with_the_bulk_read() -> None:
    """Headers, quotes and blank lines go to the endpoint's own reader one request at a
    time; JSON between CSV records; the rows stay in record order."""
    header = _csv(LIVE.iloc[10:12], header=True)
    quoted = io.StringIO()
    csv.writer(quoted, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(
        LIVE[FEATURES].iloc[12:14].astype(str).replace("nan", "").to_numpy().tolist()
    )
    requests = [
        (_csv(LIVE.iloc[0:10]), CSV_TYPE),
        (header, CSV_TYPE),
        (quoted.getvalue(), "text/csv; charset=utf-8"),
        ("\n" + _csv(LIVE.iloc[14:15]) + "\n\n" + _csv(LIVE.iloc[15:16]), CSV_TYPE),
        (_json(LIVE.iloc[16:30]), JSON_TYPE),
        (_csv(LIVE.iloc[30:60]), CSV_TYPE),
    ]
    bounds = [(0, 10), (10, 12), (12, 14), (14, 16), (16, 30), (30, 60)]
    records = [
        _record(i, body, kind, encoding="JSON" if kind == JSON_TYPE else "CSV",
                response=_predicted(LIVE.iloc[a:b]))
        for i, ((body, kind), (a, b)) in enumerate(zip(requests, bounds, strict=True))
    ]  # fmt: skip
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert got.corrupt == [] and got.rows == 60
    _same(got.window, _direct(LIVE.iloc[:60]))
    assert np.array_equal(
        got.outputs.predictions, LIVE["units_sold"].iloc[:60].to_numpy(dtype=float)
    )
    assert got.row_ids[10:12] == ["req-1:0", "req-1:1"]


def test_requests_the_endpoint_refuses_are_counted_with_their_reason() -> None:
    good = _one_row_records(LIVE.iloc[:20])
    row = _csv(LIVE.iloc[[0]]).strip().split(",")
    short = ",".join(row[:-1])
    not_a_number = ",".join([*row[:2], "cheap", *row[3:]])
    not_a_boolean = ",".join([*row[:3], "maybe", *row[4:]])
    bad = [
        _record(100, short + "\n" + short),
        _record(101, not_a_number),
        _record(102, not_a_boolean),
        _record(103, "{not json", JSON_TYPE, encoding="JSON"),
        _record(104, "a,b", "text/plain"),
        _record(105, "", CSV_TYPE),
        _record(107, "extra," + _csv(LIVE.iloc[[0]], header=True).replace("\n", "\n1,", 1)),
    ]
    records = _read([*good[:10], *bad, *good[10:]])
    records.input_encodings.append("BASE64")  # one more: a payload that is not base64
    for name, value in (
        ("event_ids", "ev-106"), ("inference_ids", None), ("times", ""), ("input_types", CSV_TYPE),
        ("inputs", "%%%"), ("output_types", None), ("output_encodings", None), ("outputs", None),
    ):  # fmt: skip
        getattr(records, name).append(value)
    records.arrow = None
    got = captured_window(records, BASELINE, DEMAND)
    assert got.rows == 20
    _same(got.window, _direct(LIVE.iloc[:20]))
    reasons = {c.key: c.reason for c in got.corrupt}
    assert set(reasons) == {f"ev-{i}" for i in range(100, 108)}
    assert "CSV row 1 has 8 values; expected 9" in reasons["ev-100"]
    assert "'price'" in reasons["ev-101"] and "number" in reasons["ev-101"]
    assert "'promotion'" in reasons["ev-102"] and "boolean" in reasons["ev-102"]
    assert "not valid JSON" in reasons["ev-103"]
    assert "unsupported content type 'text/plain'" in reasons["ev-104"]
    assert "no rows" in reasons["ev-105"]
    assert "not text" in reasons["ev-106"]
    assert "do not fit the model: unknown ['extra']" in reasons["ev-107"]  # a header
    assert got.unparsed_rows == 2 + 1 + 1 + 1 + 1 + 1 + 1 + 2


def test_a_refused_value_in_the_bulk_read_drops_only_its_request() -> None:
    rows = [_csv(LIVE.iloc[[i]]).strip() for i in range(30)]
    cells = rows[7].split(",")
    rows[7] = ",".join([*cells[:6], "warm", *cells[7:]])  # temperature
    records = [_record(i, r + "\n") for i, r in enumerate(rows)]
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert [c.key for c in got.corrupt] == ["ev-7"] and "'temperature'" in got.corrupt[0].reason
    assert got.rows == 29 and "req-7" not in got.row_ids and got.unparsed_rows == 1
    expected = _direct(LIVE.iloc[[i for i in range(30) if i != 7]])
    _same(got.window.model_copy(update={"prediction": expected.prediction}), expected)


def test_a_window_without_outputs_has_no_prediction_summary() -> None:
    records = [_record(i, _csv(LIVE.iloc[[i]])) for i in range(40)]
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert got.rows == 40 and got.window.prediction is None
    assert not got.outputs.present.any() and np.isnan(got.outputs.predictions).all()
    expected = _direct(LIVE.iloc[:40])
    _same(got.window, expected.model_copy(update={"prediction": None}))


def test_a_response_that_does_not_fit_its_request_is_reported_and_the_rows_kept() -> None:
    records = _one_row_records(LIVE.iloc[:5])
    records[2]["captureData"]["endpointOutput"]["data"] = json.dumps({"predictions": [1.0, 2.0]})
    got = captured_window(_read(records), BASELINE, DEMAND)
    assert got.rows == 5 and got.unparsed_rows == 0
    assert [c.key for c in got.corrupt] == ["ev-2"] and "2 predictions for 1 rows" in got.corrupt[
        0
    ].reason
    assert got.outputs.present.tolist() == [True, True, False, True, True]


CHURN = parse_contract(
    {
        "name": "attrition",
        "problem_type": "binary",
        "target": "churned",
        "columns": [
            {"name": "tenure", "type": "integer", "min": 0, "max": 120},
            {"name": "plan", "type": "categorical", "categories": ["basic", "plus", "pro"]},
            {"name": "autopay", "type": "boolean"},
            {"name": "churned", "type": "boolean"},
        ],
        "primary_metric": {"name": "roc_auc", "threshold": 0.6},
    }
)


def test_a_classifiers_labels_and_probabilities_from_json_and_csv_responses() -> None:
    baseline = _baseline(CHURN, 1000)
    json_body = json.dumps(
        {
            "predictions": [True, False],
            "probabilities": [[0.2, 0.8], [0.9, 0.1]],
            "classes": [False, True],
        }
    )
    records = [
        _record(0, "12,basic,yes\n3,pro,n\n", response=(json_body, JSON_TYPE)),
        _record(1, "40,plus,false\n", response=("False,0.7,0.3\n", CSV_TYPE)),
        _record(2, '{"tenure": 5, "plan": "pro", "autopay": true}', JSON_TYPE, encoding="JSON"),
    ]
    got = captured_window(_read(records), baseline, CHURN)
    assert got.row_ids == ["req-0:0", "req-0:1", "req-1", "req-2"]
    assert got.outputs.predictions.tolist() == ["true", "false", "false", None]
    assert got.outputs.classes == ["false", "true"]
    probabilities = got.outputs.probabilities
    assert probabilities is not None
    assert np.allclose(probabilities[:3], [[0.2, 0.8], [0.9, 0.1], [0.7, 0.3]])
    assert np.isnan(probabilities[3]).all()
    assert got.window.features["autopay"].categories == {"true": 2, "false": 2}  # type: ignore[union-attr]
    pred = got.window.prediction
    assert isinstance(pred, NumericWindow) and pred.n == 3  # the positive class's probability
    assert math.isclose(pred.total, 0.8 + 0.1 + 0.3)


def _merged(a: DriftWindow, b: DriftWindow) -> DriftWindow:
    features = {n: merge(a.features[n], b.features[n]) for n in a.features}
    prediction = None
    if a.prediction is not None and b.prediction is not None:
        prediction = merge(a.prediction, b.prediction)
    else:
        prediction = a.prediction or b.prediction
    return DriftWindow(features=features, prediction=prediction)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 4), min_size=2, max_size=25), st.data())
def test_splitting_the_records_and_merging_the_windows_is_the_whole(
    sizes: list[int], data: st.DataObject
) -> None:
    frame = generate(DEMAND, rows=sum(sizes), seed=len(sizes))
    starts = np.cumsum([0, *sizes])
    records = []
    for i, (a, b) in enumerate(pairwise(starts)):
        chunk = frame.iloc[a:b]
        as_json = data.draw(st.booleans())
        body, kind = (_json(chunk), JSON_TYPE) if as_json else (_csv(chunk), CSV_TYPE)
        records.append(
            _record(
                i, body, kind, encoding="JSON" if as_json else "CSV", response=_predicted(chunk)
            )
        )
    cut = data.draw(st.integers(0, len(records)))
    whole = captured_window(_read(records), BASELINE, DEMAND)
    first = captured_window(_read(records[:cut]), BASELINE, DEMAND)
    second = captured_window(_read(records[cut:]), BASELINE, DEMAND)
    _same(whole.window, _merged(first.window, second.window))
    assert whole.row_ids == first.row_ids + second.row_ids
    assert np.array_equal(
        whole.outputs.predictions,
        np.concatenate([first.outputs.predictions, second.outputs.predictions]),
    )
