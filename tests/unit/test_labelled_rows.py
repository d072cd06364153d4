"""The labelled production window (modelrail.monitoring.labelled): captured requests read
as the endpoint reads them, each row with its label, in the training data's columns."""

from __future__ import annotations

import json

from modelrail.contract import load_contract
from modelrail.monitoring.capture import read_records
from modelrail.monitoring.labelled import labelled_rows
from modelrail.monitoring.labels import read_labels

CONTRACT = load_contract("demand")
ROW_A = "S01,grocery,3.5,False,2,6,21.0,False,3.6"
ROW_B = "S02,toys,9.0,True,5,7,30.0,True,"


def _line(inference_id: str | None, content_type: str, data: str, event: str) -> str:
    metadata = {"eventId": event, "inferenceTime": "2026-12-01T10:00:00Z"}
    if inference_id:
        metadata["inferenceId"] = inference_id
    part = {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": "CSV"}
    return json.dumps({"captureData": {"endpointInput": part}, "eventMetadata": metadata})


def test_labelled_rows_of_csv_and_json_requests_in_the_training_columns() -> None:
    record = {
        "store_id": "S03", "product_category": "home", "price": 4.0, "promotion": True,
        "day_of_week": 1, "month": 2, "temperature": -3.5, "holiday": False,
    }  # fmt: skip
    lines = [
        _line("req1", "text/csv", f"{ROW_A}\n{ROW_B}\n", "e1"),
        _line("req2", "application/json", json.dumps({"instances": [record]}), "e2"),
        _line(None, "text/csv", ROW_A, "e3"),  # no inference id: its event id names it
        _line("req4", "text/csv", "only,three,values", "e4"),  # the endpoint refused it
    ]
    records = read_records([("capture/x.jsonl", ("\n".join(lines) + "\n").encode())])
    labels = read_labels(
        [("gt/l.csv", b"inference_id,label\nreq1:1,40\nreq2,7\ne3,12\nreq4,1\nnobody,3\n")]
    )
    out = labelled_rows(records, labels, CONTRACT)
    assert out.header == [*[c.name for c in CONTRACT.features], "units_sold"]
    assert out.rows == [
        ["S02", "toys", "9.0", "True", "5", "7", "30.0", "True", "", "40"],
        ["S03", "home", "4.0", "true", "1", "2", "-3.5", "false", "", "7"],
        ["S01", "grocery", "3.5", "False", "2", "6", "21.0", "False", "3.6", "12"],
    ]
    assert out.unreadable == 1
    text = out.to_csv().decode().splitlines()
    assert text[0].endswith(",units_sold") and len(text) == 4


def test_no_labels_no_rows() -> None:
    records = read_records([("c.jsonl", (_line("r", "text/csv", ROW_A, "e") + "\n").encode())])
    assert labelled_rows(records, read_labels([]), CONTRACT).rows == []
