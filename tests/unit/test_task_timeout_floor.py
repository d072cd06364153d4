"""A task's timeout lasts at least a real-time floor on a sped-up clock (timeouts.py)."""

from __future__ import annotations

import threading
import time

from modelrail.local.clock import LocalClock
from modelrail.local.timeouts import _FlooredClockEvent


def test_a_timeout_lasts_the_floor_in_real_seconds_when_the_clock_would_end_it_sooner() -> None:
    event = _FlooredClockEvent(LocalClock(speed=600.0), floor=0.3)
    started = time.monotonic()
    assert event.wait(60) is False  # 60 clock seconds are 0.1 real seconds at 600x
    assert 0.3 <= time.monotonic() - started < 1.0


def test_the_floor_never_exceeds_the_timeout_itself() -> None:
    event = _FlooredClockEvent(LocalClock(speed=1.0), floor=5.0)
    started = time.monotonic()
    assert event.wait(0.2) is False
    assert time.monotonic() - started < 1.0


def test_an_event_set_during_the_floor_ends_the_wait() -> None:
    event = _FlooredClockEvent(LocalClock(speed=600.0), floor=5.0)
    threading.Timer(0.3, event.set).start()
    started = time.monotonic()
    assert event.wait(60) is True
    assert time.monotonic() - started < 2.0
