"""The local clock (modelrail.local.clock): speed, waits, fast_forward."""

from __future__ import annotations

import threading
import time

import pytest

from modelrail.local.clock import ClockEvent, LocalClock


def test_a_duration_takes_speed_times_less_real_time() -> None:
    clock = LocalClock(speed=60)
    assert clock.speed == 60
    assert clock.real_seconds(300) == pytest.approx(5.0)
    assert clock.real_seconds(-5) == 0.0


@pytest.mark.parametrize("speed", [0, -1])
def test_the_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match=f"clock speed must be positive, got {speed}"):
        LocalClock(speed=speed)


def test_local_time_advances_at_the_speed() -> None:
    clock = LocalClock(speed=1000)
    before = clock.now()
    time.sleep(0.05)
    assert clock.now() - before == pytest.approx(50, rel=0.5)


def test_a_wait_runs_out_after_its_local_duration() -> None:
    clock = LocalClock(speed=600)
    started = time.monotonic()
    assert clock.wait(60) is False  # 60 local seconds = 0.1 s here
    assert 0.09 <= time.monotonic() - started < 0.5


def test_a_wait_ends_early_on_its_event_or_condition() -> None:
    clock = LocalClock(speed=1)
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    started = time.monotonic()
    assert clock.wait(3600, event) is True
    assert time.monotonic() - started < 0.5
    assert clock.wait(3600, done=lambda: True) is True


def test_fast_forward_runs_a_stretch_of_local_time_faster_then_resumes() -> None:
    clock = LocalClock(speed=60)
    before = clock.now()
    clock.fast_forward(72 * 3600, within=0.2)
    assert clock.speed == pytest.approx(72 * 3600 / 0.2)
    assert clock.real_seconds(36 * 3600) == pytest.approx(0.1, abs=0.01)
    time.sleep(0.25)
    assert clock.speed == 60
    # 72 h passed in 0.2 s, then about 0.05 s at 60x
    assert clock.now() - before == pytest.approx(72 * 3600 + 3, abs=2)
    assert clock.real_seconds(60) == pytest.approx(1.0)


@pytest.mark.parametrize(("seconds", "within"), [(0, 1), (10, 0)])
def test_fast_forward_needs_positive_durations(seconds: float, within: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        LocalClock().fast_forward(seconds, within=within)


def test_a_clock_event_times_out_in_local_seconds() -> None:
    event = ClockEvent(LocalClock(speed=600))
    started = time.monotonic()
    assert event.wait(timeout=60) is False
    assert 0.09 <= time.monotonic() - started < 0.5
    event.set()
    assert event.wait(timeout=3600) is True
    assert event.wait() is True


def test_a_wait_in_progress_follows_a_fast_forward() -> None:
    clock = LocalClock(speed=60)
    event = ClockEvent(clock)
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(event.wait(timeout=24 * 3600)))
    started = time.monotonic()
    waiter.start()  # a day at 60x: 24 minutes, unless the clock speeds up
    time.sleep(0.05)
    clock.fast_forward(24 * 3600, within=0.1)
    waiter.join(timeout=5)
    assert outcome == [False]
    assert time.monotonic() - started < clock.FOLLOW_SECONDS + 1.0


def test_real_work_runs_the_clock_at_real_speed_until_the_last_stretch_ends() -> None:
    clock = LocalClock(speed=600)
    with clock.working():
        assert clock.speed == 1.0
        with clock.working():  # a second job at the same time
            pass
        assert clock.speed == 1.0
        before = clock.now()
        time.sleep(0.05)
        assert clock.now() - before == pytest.approx(0.05, abs=0.03)
        assert clock.real_seconds(60) == pytest.approx(60.0, abs=0.1)
    assert clock.speed == 600
    assert clock.real_seconds(60) == pytest.approx(0.1, abs=0.01)


def test_a_wait_in_progress_slows_down_while_work_runs() -> None:
    """A Task's timeout of 60 local seconds is 0.1 s idle at 600x, but work done meanwhile
    counts what it takes: 0.3 s of it use 0.3 of the 60 local seconds."""
    clock = LocalClock(speed=600)
    done = threading.Event()

    def work() -> None:
        with clock.working():
            time.sleep(0.3)
        done.set()

    threading.Thread(target=work).start()
    started = time.monotonic()
    assert clock.wait(60) is False
    assert time.monotonic() - started >= 0.3
    assert done.is_set()


def test_work_during_a_fast_forward_keeps_it_then_runs_at_real_speed() -> None:
    clock = LocalClock(speed=60)
    clock.fast_forward(3600, within=0.1)
    with clock.working():
        assert clock.speed == pytest.approx(36000)
        time.sleep(0.15)
        assert clock.speed == 1.0
    assert clock.speed == 60
