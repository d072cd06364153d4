"""Corrections to moto's Step Functions interpreter where it departs from the service.

* A ``Fail`` state may end an execution with any error name, including the service's
  own ``States.*`` names: a pipeline that catches ``States.TaskFailed`` from a SageMaker
  job and re-raises it through ``ErrorPath`` ends FAILED with ``States.TaskFailed`` on
  AWS. moto's ``StateFail`` wraps the name in ``CustomErrorName``, which refuses the
  ``States.`` prefix and turns the execution's error into an interpreter crash.
* The optimized Step Functions integration (``states:startExecution``, used by the
  training pipeline's ``StartDeployment``) takes ``StateMachineArn``/``Name``/``Input``
  and answers ``ExecutionArn``/``StartDate``, as the service documents. moto's vendored
  interpreter skips the translation to and from boto's camelCase shapes (its base
  ``_normalise_parameters``/``_normalise_response`` are empty), so the call crashed with
  ``KeyError: 'StateMachineArn'``. The translation is restored from the botocore model,
  for that integration only.
* Task results are JSON on AWS (timestamps become strings). moto keeps boto's
  ``datetime`` objects in the state (``DescribeEndpoint``'s ``CreationTime``,
  ``StartExecution``'s ``StartDate``), and its ``DescribeExecution`` then fails to
  serialize the execution's output. The SDK and Step Functions integrations' results
  are passed through JSON, as the service does.
* ``StartExecution`` without a ``name`` gets a generated one (a UUID), as the service
  gives it: moto named such an execution ``None``, so the second one (the Scheduler's
  next start of a monitoring check) failed as ``ExecutionAlreadyExists``.

Timeouts, heartbeats and retry intervals, which moto enforces in real seconds, are put
on the local clock by :mod:`.timeouts` (:func:`install_timeouts`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore import xform_name

if TYPE_CHECKING:
    from modelrail.local.clock import LocalClock


def install() -> Callable[[], None]:
    undo_fail = _install_fail_names()
    undo_sfn = _install_sfn_shapes()
    undo_json = _install_json_results()
    undo_tokens = _install_token_lookup()
    undo_names = _install_generated_names()

    def undo() -> None:
        undo_names()
        undo_tokens()
        undo_json()
        undo_sfn()
        undo_fail()

    return undo


def _install_generated_names() -> Callable[[], None]:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]

    def undo() -> None:
        StepFunctionsParserBackend.start_execution = original  # type: ignore[method-assign]

    return undo


def _install_token_lookup() -> Callable[[], None]:
    """``SendTaskSuccess/Failure/Heartbeat`` look for the token in every execution's
    environment, which moto creates on the execution's own thread: an execution started a
    moment earlier has none yet, and the lookup crashed with ``AttributeError`` (seen with
    a deployment starting while a reviewer approved another run). An execution without an
    environment holds no token; the lookup skips it."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend._get_executions

    def with_environment(self: Any, execution_status: Any = None) -> list[Any]:
        return [
            e
            for e in original(self, execution_status)
            if getattr(getattr(e, "exec_worker", None), "env", None) is not None
        ]

    StepFunctionsParserBackend._get_executions = with_environment  # type: ignore[method-assign]

    def undo() -> None:
        StepFunctionsParserBackend._get_executions = original  # type: ignore[method-assign]

    return undo


def install_timeouts(clock: LocalClock, *, compute_floor: float = 0.0) -> Callable[[], None]:
    """Execution and task timeouts, heartbeats and retry intervals on ``clock``."""
    from modelrail.local import timeouts

    return timeouts.install(clock, compute_floor=compute_floor)


def _install_sfn_shapes() -> Callable[[], None]:
    from botocore.session import get_session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn,
    )

    service = state_task_service_sfn.StateTaskServiceSfn
    model = get_session().get_service_model("stepfunctions")
    operations = {xform_name(name): name for name in model.operation_names}
    original_params = service._normalise_parameters
    original_response = service._normalise_response

    def operation(task: Any, action: str | None) -> Any:
        return model.operation_model(operations[task._get_boto_service_action(action)])

    def normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_params(self, parameters, boto_service_name, service_action_name)
        shape = operation(self, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_response(self, response, boto_service_name, service_action_name)
        shape = operation(self, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)

    service._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
    service._normalise_response = normalise_response  # type: ignore[method-assign]

    def undo() -> None:
        service._normalise_parameters = original_params  # type: ignore[method-assign]
        service._normalise_response = original_response  # type: ignore[method-assign]

    return undo


def _install_json_results() -> Callable[[], None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_sfn,
    )
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    services = [
        state_task_service_aws_sdk.StateTaskServiceAwsSdk,
        state_task_service_sfn.StateTaskServiceSfn,
    ]
    originals = [service._eval_service_task for service in services]

    def as_json(original: Callable[..., Any]) -> Callable[..., Any]:
        def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(self, env, *args, **kwargs)
            if env.stack:
                env.stack[-1] = json.loads(to_json_str(env.stack[-1]))
            return result

        return eval_service_task

    for service, original in zip(services, originals, strict=True):
        service._eval_service_task = as_json(original)  # type: ignore[method-assign]

    def undo() -> None:
        for service, original in zip(services, originals, strict=True):
            service._eval_service_task = original  # type: ignore[method-assign]

    return undo


def _install_fail_names() -> Callable[[], None]:
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        ILLEGAL_CUSTOM_ERROR_PREFIX,
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    class AsWritten(ErrorName):
        pass

    def fail_error_name(name: str | None) -> object:
        if name is not None and name.startswith(ILLEGAL_CUSTOM_ERROR_PREFIX):
            try:
                return StatesErrorName(StatesErrorNameType.from_name(name))
            except Exception:  # an unknown States.* name: keep it as written
                return AsWritten(name)
        return CustomErrorName(name)

    module: object = state_fail
    original = module.CustomErrorName  # type: ignore[attr-defined]
    module.CustomErrorName = fail_error_name  # type: ignore[attr-defined]

    def undo() -> None:
        module.CustomErrorName = original  # type: ignore[attr-defined]

    return undo
