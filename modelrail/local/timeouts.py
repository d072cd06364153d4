"""Step Functions timeouts, heartbeats and retry intervals on the local clock.

moto's interpreter enforces these in real seconds (a 72-hour approval waits 72 real
hours), and departs from the service in a few places. Each correction below is one seam,
pinned by ``tests/integration/test_local_cloud_seams.py``; ``tests/integration/
test_timeouts.py`` shows moto's own behaviour next to the corrected one.

* **Execution ``TimeoutSeconds``**: moto joins the execution's worker thread for that many
  real seconds, then marks it timed out, but the worker carries on: the
  ``ExecutionTimedOut`` event is written only if the worker's current state ever returns
  (a task waiting for a token never does), and a task that fails afterwards is caught or
  fails the execution, appending ``ExecutionFailed`` to a TIMED_OUT execution. Here the
  deadline is on the clock; at the deadline the execution ends TIMED_OUT with its
  ``ExecutionTimedOut`` event, nothing the worker does afterwards is recorded or changes
  the outcome, and the execution's open task tokens are closed.
* **Task ``TimeoutSeconds``/``TimeoutSecondsPath``** (``States.Timeout``) and the
  waits for a task token and for heartbeats count their seconds on the clock
  (:class:`~.clock.ClockEvent`).
* **``HeartbeatSeconds``**: moto reports a missed heartbeat as ``States.Timeout``; the
  service reports ``States.HeartbeatTimeout``, which a ``States.Timeout`` retrier or
  catcher also matches.
* **Retried callback tasks** get a new task token per attempt. moto keeps the first
  attempt's token, whose wait it has already interrupted, so every retry of a timed-out
  ``.waitForTaskToken`` task timed out at once.
* **Closed tokens**: ``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat`` for a
  task that is over (timed out, answered, or its execution ended) fail with
  ``TaskTimedOut``, as the service documents. moto accepted them silently while the
  execution ran, and answered ``InvalidToken`` once it had ended.
* **Retry ``IntervalSeconds``** (and its backoff) sleep on the clock, not in real seconds.

Not corrected: activity tasks (the stack has none) keep moto's handling;
``StopExecution`` of an execution waiting for a token leaves it RUNNING in moto, as before.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from modelrail.local.clock import ClockEvent, LocalClock
from modelrail.local.threads import ContextThread


def install(clock: LocalClock, *, compute_floor: float = 0.0) -> Callable[[], None]:
    """``compute_floor``: real seconds a task's ``TimeoutSeconds`` lasts at least (never
    more than the timeout itself). Handlers and jobs compute in real time while the clock
    runs faster: at 60x a Lambda task's 150 s would end after 2.5 real seconds, shorter
    than a cold worker takes here, though the same code finishes in time on AWS."""
    undos = [
        _install_execution_timeout(clock),
        _install_task_timeout(clock, compute_floor),
        _install_callback_waits(clock),
        _install_heartbeat_error(),
        _install_attempt_tokens(),
        _install_closed_tokens(),
        _install_retry_interval(clock),
    ]

    def undo() -> None:
        for one in reversed(undos):
            one()

    return undo


# ---- execution TimeoutSeconds -----------------------------------------------------------


class _History:
    """An execution's history that can be closed: once closed, only :meth:`record` writes
    to it. ``add_event`` is replaced on this execution's event manager only (its frames
    share the manager)."""

    def __init__(self, env: Any) -> None:
        manager = env.event_manager
        self._add = manager.add_event
        self._lock = threading.Lock()
        self._open = True
        manager.add_event = self._add_while_open

    def _add_while_open(self, *args: Any, **kwargs: Any) -> int:
        with self._lock:
            if self._open:
                return int(self._add(*args, **kwargs))
            return 0

    def close_unless(self, finished: threading.Event) -> bool:
        """Close, unless the worker finished (its last event is then written); True if closed."""
        with self._lock:
            if finished.is_set():
                return False
            self._open = False
            return True

    def record(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._add(*args, **kwargs)


def _install_execution_timeout(clock: LocalClock) -> Callable[[], None]:
    from moto.stepfunctions.parser.api import ExecutionTimedOutEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramTimedOut
    from moto.stepfunctions.parser.utils import TMP_THREADS

    original = Program.eval

    def eval_on_the_clock(self: Any, env: Any) -> None:
        if self.timeout_seconds is None:
            original(self, env)
            return
        history = _History(env)
        set_error = env.set_error

        def set_error_unless_timed_out(error: Any) -> None:
            # The worker may fail after the deadline (a task interrupted by it): the
            # execution stays TIMED_OUT.
            if not isinstance(env.program_state(), ProgramTimedOut):
                set_error(error)

        env.set_error = set_error_unless_timed_out
        finished = threading.Event()

        def work() -> None:
            try:
                EvalComponent.eval(self, env)  # what moto's Program.eval runs on its worker
            finally:
                finished.set()

        env.next_state_name = self.start_at.start_at_name
        worker = ContextThread(target=work, daemon=True, name="sfn-execution")
        TMP_THREADS.append(worker)
        worker.start()
        if clock.wait(self.timeout_seconds.timeout_seconds, finished):
            return
        # The deadline: uncatchable, and nothing the worker does after it counts.
        if not history.close_unless(finished):
            return
        env.set_timed_out()
        details: Any = {"executionTimedOutEventDetails": ExecutionTimedOutEventDetails()}
        history.record(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionTimedOut,
            event_details=details,
        )
        _close_all_tokens(env)

    Program.eval = eval_on_the_clock  # type: ignore[method-assign]

    def undo() -> None:
        Program.eval = original  # type: ignore[method-assign]

    return undo


def _close_all_tokens(env: Any) -> None:
    """Close the execution's task tokens and wake whatever waits on them."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerTimeout

    for endpoint in list(env.callback_pool_manager._pool.values()):
        if endpoint.consumer_error is None:
            endpoint.report(CallbackConsumerTimeout())
        endpoint.interrupt_all()


# ---- task TimeoutSeconds, callback and heartbeat waits ---------------------------------------


class _FlooredClockEvent(ClockEvent):
    """A :class:`ClockEvent` whose timed wait lasts at least ``min(timeout, floor)`` real
    seconds."""

    def __init__(self, clock: LocalClock, floor: float) -> None:
        super().__init__(clock)
        self._floor = floor

    def wait(self, timeout: float | None = None) -> bool:
        started = time.monotonic()
        if super().wait(timeout) or timeout is None:
            return True
        rest = min(timeout, self._floor) - (time.monotonic() - started)
        return threading.Event.wait(self, rest) if rest > 0 else False


class _ThreadingOnTheClock:
    """Stands in for the ``threading`` module inside one moto module: its ``Event`` is a
    :class:`ClockEvent` (with a real-time floor); everything else is the real module."""

    def __init__(self, clock: LocalClock, floor: float = 0.0) -> None:
        self.Event = functools.partial(_FlooredClockEvent, clock, floor)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def _install_task_timeout(clock: LocalClock, floor: float) -> Callable[[], None]:
    """A task's ``TimeoutSeconds``: ExecutionState._evaluate_with_timeout waits on a
    ``threading.Event()`` for the task's seconds."""
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    module: Any = execute_state
    original = module.threading
    module.threading = _ThreadingOnTheClock(clock, floor)

    def undo() -> None:
        module.threading = original

    return undo


def _install_callback_waits(clock: LocalClock) -> Callable[[], None]:
    """The wait for a task token (up to the task's TimeoutSeconds) and for each heartbeat
    (HeartbeatSeconds) are ``Event.wait(timeout=...)`` on events the callback module makes."""
    from moto.stepfunctions.parser.asl.eval.callback import callback

    module: Any = callback
    original = module.Event
    module.Event = functools.partial(ClockEvent, clock)

    def undo() -> None:
        module.Event = original

    return undo


# ---- HeartbeatSeconds: States.HeartbeatTimeout ---------------------------------------------


def _install_heartbeat_error() -> Callable[[], None]:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError

    heartbeat = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)
    timeout = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)
    original_from_error = StateTask._from_error
    original_matches = ErrorEqualsDecl._eval_body

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        failure = original_from_error(self, env, ex)
        if not isinstance(ex, HeartbeatTimeoutError):
            return failure
        # moto's TaskTimedOut event for the task, with the heartbeat's own error name.
        moto_details: dict[str, Any] = dict(failure.event_details or {})
        details: Any = {
            key: {**value, "error": heartbeat.error_name} for key, value in moto_details.items()
        }
        return FailureEvent(
            env=env, error_name=heartbeat, event_type=failure.event_type, event_details=details
        )

    def matches(self: Any, env: Any) -> None:
        # States.Timeout also names heartbeat timeouts (the service added
        # States.HeartbeatTimeout later, without narrowing States.Timeout).
        if env.stack and env.stack[-1] == heartbeat and timeout in self.error_names:
            env.stack.pop()
            env.stack.append(True)
            return
        original_matches(self, env)

    StateTask._from_error = from_error  # type: ignore[method-assign]
    ErrorEqualsDecl._eval_body = matches  # type: ignore[method-assign]

    def undo() -> None:
        ErrorEqualsDecl._eval_body = original_matches  # type: ignore[method-assign]
        StateTask._from_error = original_from_error  # type: ignore[method-assign]

    return undo


# ---- task tokens: one per attempt, closed for good -------------------------------------------


def _install_attempt_tokens() -> Callable[[], None]:
    """A retried callback task is a new task: a new token (in the context object, so the
    retried request carries it) and a full TimeoutSeconds. Each attempt's token is closed
    when the attempt ends, also when its TimeoutSeconds ran out first."""
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    inherited = ExecutionState._evaluate_with_timeout

    def attempt(self: Any, env: Any) -> None:
        if not (
            self._is_integration_pattern()
            and ResourceCondition.WaitForTaskToken in self._supported_integration_patterns
        ):
            inherited(self, env)
            return
        context = env.states.context_object
        if context.context_object_data["State"]["RetryCount"] > 0:
            env.callback_pool_manager.add(context.update_task_token())
        token = context.context_object_data["Task"]["Token"]
        try:
            inherited(self, env)
        finally:
            endpoint = env.callback_pool_manager.get(token)
            if endpoint is not None:
                endpoint.interrupt_all()

    # Set on the subclass; undo restores what was there (nothing, unless another local
    # cloud in this process installed it first).
    previous = StateTaskServiceCallback.__dict__.get("_evaluate_with_timeout")
    StateTaskServiceCallback._evaluate_with_timeout = attempt  # type: ignore[method-assign]

    def undo() -> None:
        if previous is None:
            del StateTaskServiceCallback._evaluate_with_timeout
        else:
            StateTaskServiceCallback._evaluate_with_timeout = previous  # type: ignore[method-assign]

    return undo


def _install_closed_tokens() -> Callable[[], None]:
    from moto.stepfunctions.parser.api import TaskTimedOut
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerTimeout,
        CallbackEndpoint,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_interrupt = CallbackEndpoint.interrupt_all

    def interrupt_all(self: Any) -> None:
        # moto interrupts a task's waits when the task is over: its token is closed.
        if self.consumer_error is None:
            self.report(CallbackConsumerTimeout())
        original_interrupt(self)

    def closed(backend: Any, token: str) -> bool:
        for execution in backend._get_executions():
            env = execution.exec_worker.env if execution.exec_worker else None
            endpoint = env.callback_pool_manager.get(token) if env is not None else None
            if endpoint is not None:
                return endpoint.consumer_error is not None or execution.status != "RUNNING"
        return False

    def refusing_closed(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def send(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            if closed(self, task_token):
                # moto's TaskTimedOut has no error code of its own: name it.
                raise TaskTimedOut(
                    "Task Timed Out: the task for this token is already closed",
                    exception_type="TaskTimedOut",
                )
            return original(self, task_token, *args, **kwargs)

        return send

    names = ("send_task_success", "send_task_failure", "send_task_heartbeat")
    originals = {name: getattr(StepFunctionsParserBackend, name) for name in names}
    CallbackEndpoint.interrupt_all = interrupt_all  # type: ignore[method-assign]
    for name, original in originals.items():
        setattr(StepFunctionsParserBackend, name, refusing_closed(original))

    def undo() -> None:
        for name, original in originals.items():
            setattr(StepFunctionsParserBackend, name, original)
        CallbackEndpoint.interrupt_all = original_interrupt  # type: ignore[method-assign]

    return undo


# ---- Retry IntervalSeconds --------------------------------------------------------------------


class _TimeOnTheClock:
    """Stands in for the ``time`` module inside moto's retrier: ``sleep`` is on the clock."""

    def __init__(self, clock: LocalClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.wait(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _install_retry_interval(clock: LocalClock) -> Callable[[], None]:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    module: Any = retrier_decl
    original = module.time
    module.time = _TimeOnTheClock(clock)

    def undo() -> None:
        module.time = original

    return undo
