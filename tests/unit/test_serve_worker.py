"""The local serving worker's latency: what a dedicated instance would measure."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelrail.local import serve_worker


def test_the_run_queue_wait_is_read_from_schedstat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = tmp_path / "schedstat"
    stat.write_text("262934 5000 1\n")  # cpu ns, run-queue wait ns, timeslices
    monkeypatch.setattr(serve_worker, "SCHEDSTAT", stat)
    assert serve_worker._run_queue_wait_ns() == 5000


@pytest.mark.parametrize("content", [None, "", "garbage"])
def test_without_schedstat_the_wall_time_is_reported(
    content: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = tmp_path / "schedstat"
    if content is not None:
        stat.write_text(content)
    monkeypatch.setattr(serve_worker, "SCHEDSTAT", stat)
    assert serve_worker._run_queue_wait_ns() == 0
