"""The dataset Processing job's core (modelrail.dataset_job) over temporary folders: the
same files and verdict as the Lambda path, the exit message within its 1 KB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelrail.contract import load_contract
from modelrail.dataset_job import (
    EXIT_MESSAGE_LIMIT,
    JobInputError,
    JobPaths,
    exit_message,
    run_job,
)
from modelrail.profile import build_profile, load_profile, profile_json
from modelrail.sample import sample_command
from modelrail.steps.prepare import read_frame
from modelrail.validation import validate_dataset

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"


def _paths(root: Path) -> JobPaths:
    inputs = root / "input" / "data"
    inputs.mkdir(parents=True)
    return JobPaths(inputs, root / "out" / "dataset", root / "out" / "quarantine", root / "msg")


def test_a_valid_dataset_leaves_the_snapshot_report_and_profile(tmp_path: Path) -> None:
    contract = load_contract("demand")
    paths = _paths(tmp_path)
    source = sample_command("demand", 400, 3, paths.input_dir / "2026-11.csv")
    data = source.read_bytes()
    verdict = run_job(paths, contract=contract, filename=source.name, expected_size=len(data))

    report = validate_dataset(
        data, filename=source.name, contract=contract, limits=contract.validation_limits()
    )
    expected = build_profile(read_frame(data, source.name), contract, dataset_sha256=report.sha256)
    assert verdict == {
        "ok": True,
        "sha256": report.sha256,
        "rows": 400,
        "fingerprint": expected.fingerprint,
        "warnings": [v.message for v in report.warnings],
    }
    dataset = paths.dataset_dir
    assert (dataset / "data" / "train.csv").read_bytes() == data
    assert json.loads((dataset / "validation.json").read_text()) == report.to_json()
    assert (dataset / "profile.json").read_bytes() == profile_json(expected)
    assert load_profile((dataset / "profile.json").read_bytes()).created_from == report.sha256
    assert {p.name for p in dataset.iterdir()} == {
        "data", "validation.json", "profile.json", "statistics.json", "constraints.json",
    }  # fmt: skip
    assert not paths.quarantine_dir.exists()
    assert json.loads(paths.message_file.read_text()) == verdict


def test_an_invalid_dataset_is_quarantined_with_its_report(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    shutil.copyfile(BAD / "ragged.csv", paths.input_dir / "ragged.csv")
    verdict = run_job(paths, contract=load_contract("demand"), filename="ragged.csv")
    assert verdict["ok"] is False
    assert "[ragged_rows]" in str(verdict["summary"])
    quarantined = paths.quarantine_dir
    assert (quarantined / "ragged.csv").read_bytes() == (BAD / "ragged.csv").read_bytes()
    report = json.loads((quarantined / "report.json").read_text())
    assert report["summary"] == verdict["summary"]
    assert not paths.dataset_dir.exists()


def test_a_missing_or_changed_input_is_a_job_failure_not_a_verdict(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    (paths.input_dir / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(JobInputError, match=r"'data.csv' is not in the job's input"):
        run_job(paths, contract=load_contract("demand"), filename="data.csv")
    (paths.input_dir / "data.csv").write_text("a,b\n1,2\n")
    with pytest.raises(JobInputError, match="the key was overwritten after the upload"):
        run_job(paths, contract=load_contract("demand"), filename="data.csv", expected_size=3)


def test_the_exit_message_fits_in_one_kilobyte() -> None:
    many = {"ok": True, "sha256": "0" * 64, "rows": 1, "warnings": ["w" * 200] * 20}
    text = exit_message(many)
    assert len(text.encode()) <= EXIT_MESSAGE_LIMIT
    kept = json.loads(text)["warnings"]
    assert 0 < len(kept) < 20 and kept == many["warnings"][: len(kept)]
    long = {"ok": False, "summary": "é" * 2000}
    cut = json.loads(exit_message(long))
    assert len(exit_message(long).encode()) <= EXIT_MESSAGE_LIMIT
    assert cut["summary"].endswith("...")
