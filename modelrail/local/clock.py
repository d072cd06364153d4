"""The local clock: AWS durations, run faster.

A canary bakes for minutes, a CloudWatch alarm looks at one-minute periods, the
deployment state machine polls every 30 seconds, a reviewer has 72 hours to approve. On
the local cloud all of those run ``speed`` times faster (60x by default: a 5-minute bake
takes 5 s), consistently: the hosting executor bakes and evaluates alarms with
:meth:`LocalClock.real_seconds`, :func:`install_wait_scaling` makes the state-machine
interpreter's ``Wait`` states use the same scale, and :mod:`.timeouts` puts the
interpreter's timeouts, heartbeats and retry intervals on it. Timestamps stay real (moto
stamps them), only durations shrink.

Work that really runs here (a training or processing job, a Lambda handler) takes real
time: while any runs (:meth:`LocalClock.working`), local time passes at real speed, so the
work counts against an AWS deadline (a Task's TimeoutSeconds, the execution's) what it
takes, not ``speed`` times more (D46: a 1 GB dataset's ten-minute training would
otherwise spend a 90-minute budget at 60x). To let a long wait pass quickly,
:meth:`LocalClock.fast_forward` runs the clock faster for a stretch of local time and then
returns to the normal speed; waits in progress on the clock (:meth:`LocalClock.wait`,
:class:`ClockEvent`) follow either change.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Leg:
    """From ``real`` (``time.monotonic()``) on, local time is ``local`` + elapsed x ``speed``."""

    real: float
    local: float
    speed: float


class LocalClock:
    # How often (real seconds) a wait in progress re-reads the clock, so that it follows a
    # fast_forward started after it began.
    FOLLOW_SECONDS = 0.2

    def __init__(self, speed: float = 60.0) -> None:
        _check_positive("clock speed", speed)
        self._normal = speed
        self._lock = threading.Lock()
        self._legs = [_Leg(time.monotonic(), 0.0, speed)]
        self._working = 0  # stretches of real work in progress
        self._forward_until = 0.0  # real time a fast_forward ends

    # ---- reading the clock -----------------------------------------------------------
    @property
    def speed(self) -> float:
        """How many local seconds pass per real second right now."""
        with self._lock:
            return self._leg_at(time.monotonic()).speed

    def now(self) -> float:
        """Local seconds since the clock was made."""
        with self._lock:
            return self._local_at(time.monotonic())

    def real_seconds(self, aws_seconds: float) -> float:
        """How long the next ``aws_seconds`` of AWS time take here."""
        with self._lock:
            real = time.monotonic()
            return max(0.0, self._real_at(self._local_at(real) + max(0.0, aws_seconds)) - real)

    # ---- waiting on the clock ----------------------------------------------------------
    def wait(
        self,
        aws_seconds: float,
        event: threading.Event | None = None,
        *,
        done: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait ``aws_seconds`` of local time, or until ``event`` is set or ``done()`` holds.

        True if the wait ended early (event or ``done``), False if the time ran out.
        """
        event = event or threading.Event()
        with self._lock:
            deadline = self._local_at(time.monotonic()) + max(0.0, aws_seconds)
        while True:
            if event.is_set() or (done is not None and done()):
                return True
            with self._lock:
                left = self._real_at(deadline) - time.monotonic()
            if left <= 0:
                return False
            # The base class's wait: ``event`` may be a ClockEvent, whose own wait comes here.
            if threading.Event.wait(event, min(left, self.FOLLOW_SECONDS)):
                return True

    def sleep(self, aws_seconds: float, stop: threading.Event | None = None) -> bool:
        """Sleep ``aws_seconds`` of AWS time; True if ``stop`` was set meanwhile."""
        return self.wait(aws_seconds, stop)

    # ---- changing speed ------------------------------------------------------------------
    def fast_forward(self, aws_seconds: float, *, within: float) -> None:
        """Let the next ``aws_seconds`` of local time pass in ``within`` real seconds, then
        go on at the normal speed. Returns at once; waits on the clock follow the change
        within :attr:`FOLLOW_SECONDS`; so do the hosting executor's bakes, which count
        local time. Durations already converted with :meth:`real_seconds` keep the speed
        they were converted at."""
        _check_positive("fast_forward seconds", aws_seconds)
        _check_positive("fast_forward within", within)
        with self._lock:
            real = time.monotonic()
            local = self._local_at(real)
            self._forward_until = real + within
            after = 1.0 if self._working else self._normal
            self._legs = [
                _Leg(real, local, aws_seconds / within),
                _Leg(real + within, local + aws_seconds, after),
            ]

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Real work in progress: until every such stretch has ended, local time passes at
        real speed (1x), then at the normal speed again. A fast_forward in progress keeps
        its speed (it was asked for explicitly)."""
        with self._lock:
            self._working += 1
            if self._working == 1:
                self._set_speed(1.0)
        try:
            yield
        finally:
            with self._lock:
                self._working -= 1
                if self._working == 0:
                    self._set_speed(self._normal)

    def _set_speed(self, speed: float) -> None:
        """From now on at ``speed`` (callers hold the lock); during a fast_forward, from
        its end on."""
        real = time.monotonic()
        if real < self._forward_until:
            last = self._legs[-1]
            self._legs[-1] = _Leg(last.real, last.local, speed)
            return
        self._legs = [_Leg(real, self._local_at(real), speed)]

    # ---- the piecewise-linear map between real and local time (callers hold the lock) ------
    def _leg_at(self, real: float) -> _Leg:
        leg = self._legs[0]
        for candidate in self._legs[1:]:
            if candidate.real <= real:
                leg = candidate
        return leg

    def _local_at(self, real: float) -> float:
        leg = self._leg_at(real)
        return leg.local + (real - leg.real) * leg.speed

    def _real_at(self, local: float) -> float:
        leg = self._legs[0]
        for candidate in self._legs[1:]:
            if candidate.local <= local:
                leg = candidate
        return leg.real + (local - leg.local) / leg.speed


class ClockEvent(threading.Event):
    """A :class:`threading.Event` whose ``wait(timeout)`` counts ``timeout`` in local-clock
    seconds: what the interpreter's timeouts and heartbeats wait on (see :mod:`.timeouts`)."""

    def __init__(self, clock: LocalClock) -> None:
        super().__init__()
        self._clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        return self._clock.wait(timeout, self)


def working(clock: LocalClock | None) -> contextlib.AbstractContextManager[None]:
    """``clock.working()``, or nothing for an executor run without a clock (unit tests)."""
    return clock.working() if clock is not None else contextlib.nullcontext()


def _check_positive(what: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{what} must be positive, got {value}")


def install_wait_scaling(clock: LocalClock) -> Callable[[], None]:
    """Make ``Wait`` states of the Step Functions interpreter run on ``clock``."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    original = WaitFunction._wait_interval

    def scaled(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            # program_state_event is pulsed when the execution stops or times out: the wait
            # ends early (is_running() catches a pulse between two looks at the clock).
            clock.wait(wait_seconds, env.program_state_event, done=lambda: not env.is_running())

    WaitFunction._wait_interval = scaled  # type: ignore[method-assign]

    def undo() -> None:
        WaitFunction._wait_interval = original  # type: ignore[method-assign]

    return undo
