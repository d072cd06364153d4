"""The local cloud patches moto at a few seams; these tests fail loudly if moto moves them.

moto is pinned (pyproject.toml). When upgrading it, these are the places to re-check.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

from modelrail.local import training_runtime


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5"


def test_lambda_invocations_go_through_invoke_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    assert "_invoke_lambda" in inspect.getsource(LambdaFunction.invoke)
    assert list(inspect.signature(LambdaFunction._invoke_lambda).parameters) == ["self", "event"]
    assert hasattr(LambdaFunction, "code_bytes") or "code_bytes" in inspect.getsource(
        LambdaFunction
    )


def test_cloudformation_drops_a_functions_layers() -> None:
    """provision.py restores them (D2); a moto that keeps them makes this fail first."""
    from moto.awslambda.models import LambdaFunction

    source = inspect.getsource(LambdaFunction.create_from_cloudformation_json)
    assert '"Layers"' not in source and "'Layers'" not in source
    assert "self.layers" in inspect.getsource(LambdaFunction.__init__)


def test_the_server_reports_the_port_it_bound() -> None:
    from moto.server import ThreadedMotoServer

    assert list(inspect.signature(ThreadedMotoServer.__init__).parameters) == [
        "self",
        "ip_address",
        "port",
        "verbose",
    ]
    assert hasattr(ThreadedMotoServer, "get_host_and_port")


def test_dynamodb_requests_go_through_call_action() -> None:
    """The Lambda executor serializes DynamoDB requests there (D9, D17)."""
    from moto.dynamodb.responses import DynamoHandler

    assert list(inspect.signature(DynamoHandler.call_action).parameters) == ["self"]


def test_the_interpreter_picks_task_services_through_the_factory_function() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory

    assert "state_task_service_for(" in inspect.getsource(state_task_factory)
    assert "sagemaker" in inspect.getsource(
        __import__(
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory",
            fromlist=["_"],
        )
    )


def test_rules_deliver_through_send_to_targets() -> None:
    from moto.events.models import Rule
    from moto.s3 import notifications

    assert list(inspect.signature(Rule.send_to_targets).parameters) == [
        "self",
        "original_event",
        "transform_input",
    ]
    assert "send_to_targets" in inspect.getsource(notifications._send_event_bridge_message)


def test_training_job_records_have_the_fields_the_executor_sets() -> None:
    from moto.sagemaker.models import FakeTrainingJob

    source = inspect.getsource(FakeTrainingJob.__init__)
    for attribute in (
        "training_job_status",
        "model_artifacts",
        "secondary_status",
        "final_metric_data_list",
    ):
        assert f"self.{attribute}" in source


def test_https_s3_urls_are_understood() -> None:
    """CDK renders S3 locations as https URLs; SageMaker accepts both forms."""
    assert (
        training_runtime.s3_uri("https://s3.us-east-1.amazonaws.com/bkt/a/b.gz")
        == "s3://bkt/a/b.gz"
    )
    assert training_runtime.s3_uri("https://bkt.s3.eu-west-1.amazonaws.com/x") == "s3://bkt/x"
    assert training_runtime.s3_uri("s3://bkt/k") == "s3://bkt/k"


def test_tuning_job_records_have_the_fields_the_executor_sets() -> None:
    from moto.sagemaker.models import HyperParameterTuningJob

    source = inspect.getsource(HyperParameterTuningJob)
    for attribute in (
        "hyper_parameter_tuning_job_status",
        "training_job_status_counters",
        "objective_status_counters",
        "best_training_job",
        "OverallBestTrainingJob",
        "failure_reason",
        "hyper_parameter_tuning_end_time",
        "consumed_resources",
        "tuning_job_completion_details",
    ):
        assert f"self.{attribute}" in source, attribute


def test_fail_states_build_their_error_through_custom_error_name() -> None:
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail

    assert "CustomErrorName(error_value)" in inspect.getsource(state_fail)
