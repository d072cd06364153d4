"""Corrections to moto's Step Functions interpreter where it departs from the service.

* A ``Fail`` state may end an execution with any error name, including the service's
  own ``States.*`` names: a pipeline that catches ``States.TaskFailed`` from a SageMaker
  job and re-raises it through ``ErrorPath`` ends FAILED with ``States.TaskFailed`` on
  AWS. moto's ``StateFail`` wraps the name in ``CustomErrorName``, which refuses the
  ``States.`` prefix and turns the execution's error into an interpreter crash.
"""

from __future__ import annotations

from collections.abc import Callable


def install() -> Callable[[], None]:
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
