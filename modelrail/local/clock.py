"""The local clock: AWS durations, run faster.

A canary bakes for minutes, a CloudWatch alarm looks at one-minute periods, the
deployment state machine polls every 30 seconds. On the local cloud all of those run
``speed`` times faster (60x by default: a 5-minute bake takes 5 s), consistently: the
hosting executor bakes and evaluates alarms with :meth:`LocalClock.real_seconds`, and
:func:`install_wait_scaling` makes the state-machine interpreter's ``Wait`` states use
the same scale. Timestamps stay real (moto stamps them), only durations shrink.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LocalClock:
    def __init__(self, speed: float = 60.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed

    def real_seconds(self, aws_seconds: float) -> float:
        """How long ``aws_seconds`` of AWS time take here."""
        return max(0.0, aws_seconds) / self.speed

    def sleep(self, aws_seconds: float, stop: threading.Event | None = None) -> bool:
        """Sleep ``aws_seconds`` of AWS time; True if ``stop`` was set meanwhile."""
        event = stop or threading.Event()
        return event.wait(self.real_seconds(aws_seconds))


def install_wait_scaling(clock: LocalClock) -> Callable[[], None]:
    """Make ``Wait`` states of the Step Functions interpreter run on ``clock``."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    original = WaitFunction._wait_interval

    def scaled(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            # program_state_event is set when the execution stops: the wait ends early.
            env.program_state_event.wait(clock.real_seconds(wait_seconds))

    WaitFunction._wait_interval = scaled  # type: ignore[method-assign]

    def undo() -> None:
        WaitFunction._wait_interval = original  # type: ignore[method-assign]

    return undo
