"""The local cloud patches moto at a few seams; these tests fail loudly if moto moves them.

moto is pinned (pyproject.toml). When upgrading it, these are the places to re-check.
"""

from __future__ import annotations

import inspect
import re
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


def test_processing_job_records_describe_every_attribute_the_executor_sets() -> None:
    """moto's processing job is Completed at once and has no ExitMessage, FailureReason or
    ProcessingResources; its description is every attribute, camel-cased, so the ones the
    executor adds (processing_runtime.record_outcome) appear in DescribeProcessingJob."""
    from moto.sagemaker.models import FakeProcessingJob

    job = FakeProcessingJob(
        app_specification={}, experiment_config={}, network_config={}, processing_inputs=[],
        processing_job_name="j", processing_output_config={}, account_id="123456789012",
        region_name="us-east-1", role_arn="arn:aws:iam::123456789012:role/r", tags=[],
        stopping_condition={},
    )  # fmt: skip
    assert job.processing_job_status == "Completed"
    assert "ExitMessage" not in job.response_object
    job.exit_message, job.failure_reason = "{}", "AlgorithmError: x"  # type: ignore[attr-defined]
    job.processing_resources = {"ClusterConfig": {"InstanceCount": 1}}  # type: ignore[attr-defined]
    described = job.response_object
    assert described["ExitMessage"] == "{}" and described["FailureReason"] == "AlgorithmError: x"
    assert described["ProcessingResources"] == {"ClusterConfig": {"InstanceCount": 1}}


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


# ---- the interpreter's time (modelrail.local.clock, modelrail.local.timeouts) ----------------


def test_wait_states_wait_through_wait_interval() -> None:
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    assert list(inspect.signature(WaitFunction._wait_interval).parameters) == [
        "self",
        "env",
        "wait_seconds",
    ]
    assert "self._wait_interval(env=env, wait_seconds=" in inspect.getsource(WaitFunction)


def test_an_execution_is_timed_by_program_eval_joining_its_worker() -> None:
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    source = inspect.getsource(Program.eval)
    for line in (
        "target=super().eval",
        "worker_thread.join(timeout=timeout)",
        "env.set_timed_out()",
    ):
        assert line in source, line
    assert "ProgramTimedOut" in inspect.getsource(Program._eval_body)  # writes the event
    assert list(inspect.signature(EventManager.add_event).parameters)[:4] == [
        "self",
        "context",
        "event_type",
        "event_details",
    ]
    assert "set_error" in Environment.__dict__ and "set_timed_out" in Environment.__dict__
    assert hasattr(CallbackPoolManager(activity_store={}), "_pool")


def test_a_task_timeout_waits_on_the_only_threading_event_in_execute_state() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    assert re.findall(r"\bthreading\.(\w+)", inspect.getsource(execute_state)) == ["Event"]
    source = inspect.getsource(execute_state.ExecutionState._evaluate_with_timeout)
    assert "terminated_event = threading.Event()" in source
    assert "terminated_event.wait(timeout_seconds)" in source


def test_token_and_heartbeat_waits_are_on_events_the_callback_module_makes() -> None:
    from moto.stepfunctions.parser.asl.eval.callback import callback

    source = inspect.getsource(callback)
    assert "from threading import Event, Lock" in source
    assert len(re.findall(r"\bEvent\(\)", source)) == 3  # heartbeat, activity start, token
    assert "self._notify_event.wait(timeout=timeout)" in inspect.getsource(
        callback.CallbackEndpoint.wait
    )
    assert "self._next_heartbeat_event.wait(timeout=self._heartbeat_seconds)" in inspect.getsource(
        callback.HeartbeatEndpoint.clear_and_wait
    )


def test_a_missed_heartbeat_is_a_timeout_error_named_by_state_task() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError

    assert issubclass(HeartbeatTimeoutError, TimeoutError)
    source = inspect.getsource(StateTask._from_error)
    assert "isinstance(ex, TimeoutError)" in source and "_get_timed_out_failure_event" in source
    assert "error_name in self.error_names" in inspect.getsource(ErrorEqualsDecl._eval_body)
    assert StatesErrorNameType.StatesHeartbeatTimeout.to_name() == "States.HeartbeatTimeout"


def test_a_callback_task_makes_its_token_once_and_retries_inside() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    assert "_evaluate_with_timeout" not in StateTaskServiceCallback.__dict__
    assert "update_task_token()" in inspect.getsource(StateTaskServiceCallback._eval_body)
    loop = inspect.getsource(ExecutionState._eval_state)
    assert "self._evaluate_with_timeout(env)" in loop and "continue" in loop
    assert '["RetryCount"]' in inspect.getsource(ExecutionState._handle_retry)
    assert "callback_endpoint.interrupt_all()" in inspect.getsource(
        StateTaskServiceCallback._eval_integration_pattern
    )


def test_task_answers_reach_the_parser_backend() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for name, parameters in {
        "send_task_success": ["self", "task_token", "outcome"],
        "send_task_failure": ["self", "task_token", "error", "cause"],
        "send_task_heartbeat": ["self", "task_token"],
    }.items():
        assert list(inspect.signature(getattr(StepFunctionsParserBackend, name)).parameters) == (
            parameters
        )
    assert hasattr(StepFunctionsParserBackend, "_get_executions")
    endpoint = CallbackEndpoint(callback_id="t")
    assert endpoint.consumer_error is None and hasattr(endpoint, "report")


def test_retry_intervals_are_the_only_time_sleep_in_the_retrier() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    assert re.findall(r"\btime\.(\w+)", inspect.getsource(retrier_decl)) == ["sleep"]
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)


def test_a_log_groups_cfn_arn_is_patched_where_moto_reads_it() -> None:
    """provision.install_attribute_fixes replaces LogGroup.get_cfn_attribute; moto still
    answers GetAtt Arn there with the bare group ARN (CloudFormation adds ':*')."""
    from moto.logs.models import LogGroup

    from modelrail.local import provision

    source = inspect.getsource(LogGroup.get_cfn_attribute)
    assert 'attribute_name == "Arn"' in source and "return self.arn" in source
    undo = provision.install_attribute_fixes()
    try:
        group = LogGroup.__new__(LogGroup)
        group.arn = "arn:aws:logs:us-east-1:123456789012:log-group:/g"
        assert (
            group.get_cfn_attribute("Arn") == "arn:aws:logs:us-east-1:123456789012:log-group:/g:*"
        )
    finally:
        undo()
    assert (
        LogGroup.get_cfn_attribute(group, "Arn")
        == "arn:aws:logs:us-east-1:123456789012:log-group:/g"
    )


# ---- multipart uploads on disk (modelrail.local.s3_parts, D45) ---------------------------


def test_a_completed_upload_is_put_as_one_value_after_its_parts_are_disposed() -> None:
    """The parts' value reaches FakeKey's setter through put_object; moto disposes of the
    parts (closes their files) before that, so s3_parts.Assembled holds descriptors."""
    from moto.s3.models import FakeKey, FakeMultipart, MultipartDict, S3Backend

    assert list(inspect.signature(FakeMultipart.complete).parameters) == ["self", "body"]
    source = inspect.getsource(S3Backend.complete_multipart_upload)
    assert "value, etag, checksum_details = multipart.complete(body)" in source
    assert source.index("del bucket.multiparts[multipart_id]") < source.index("self.put_object(")
    assert "self[key].dispose()" in inspect.getsource(MultipartDict.__delitem__)
    assert "self.value = value" in inspect.getsource(FakeKey.__init__)
    assert "self._value_buffer = tempfile.SpooledTemporaryFile(" in inspect.getsource(
        FakeKey.__init__
    )
    setter = inspect.getsource(FakeKey.value.fset)
    assert "self._value_buffer.write(new_value)" in setter
    assert "self.contentsize = len(new_value)" in setter


def test_a_keys_value_is_set_once_when_it_is_made_and_its_buffer_only_read_after() -> None:
    """s3_parts makes an upload's (or a copy's) buffer its parts' files (StoredParts, read
    only), shared by copies and readers: moto must never write a made key's buffer again."""
    import moto.s3.models
    import moto.s3.responses
    import moto.s3.utils
    from moto.s3.models import FakeKey

    for module in (moto.s3.models, moto.s3.responses, moto.s3.utils):
        assigned = re.findall(r"(\S+)\.value = ", inspect.getsource(module))
        expected = ["self", "self"] if module is moto.s3.models else []  # __init__, __setstate__
        assert assigned == expected, module.__name__
    assert 'self.value = state["value"]' in inspect.getsource(FakeKey.__setstate__)
    used = set(re.findall(r"self\._value_buffer\.(\w+)", inspect.getsource(FakeKey)))
    assert used == {"seek", "read", "truncate", "write", "close"}


def test_a_part_is_made_from_its_value_before_its_etag_is_needed() -> None:
    """s3_parts' set_part hands FakeKey a part whose value setter sets the ETag: after
    __init__ has set it from its argument, and before moto lists the part."""
    from moto.s3.models import FakeKey, FakeMultipart

    init = inspect.getsource(FakeKey.__init__)
    assert init.index("self._etag = etag") < init.index("self.value = value")
    set_part = inspect.getsource(FakeMultipart.set_part)
    assert set_part.count("value") == 2 and "            value,\n" in set_part
    assert set_part.index("key = FakeKey(") < set_part.index("self.parts[part_id] = key")


def test_copy_object_reads_the_source_only_through_its_value() -> None:
    """s3_parts hands copy_object a proxy of the source whose value is its file."""
    from moto.s3.models import S3Backend

    assert list(inspect.signature(S3Backend.copy_object).parameters)[:2] == ["self", "src_key"]
    source = inspect.getsource(S3Backend.copy_object)
    assert source.count("src_key.value") == 1 and "value=src_key.value," in source
    assert "isinstance(src_key" not in source and "type(src_key" not in source


def test_moto_completes_parts_with_the_checks_s3_parts_repeats() -> None:
    from moto.s3.models import FakeMultipart, MultipartChecksumBuilder
    from moto.s3.utils import compute_checksum

    source = inspect.getsource(FakeMultipart.complete)
    for line in (
        "if part is None or part_etag != etag:",
        "raise InvalidPart()",
        "if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:",
        "raise EntityTooSmall()",
        "raise MalformedXML",
        "md5s.extend(decode_hex(part_etag)[0])",
        'f"{full_etag.hexdigest()}-{count}"',
        "checksum_builder.addPart(part.value)",
        'checksum_algo: str | None = self.metadata.get("x-amz-checksum-algorithm")',
        'checksum_type: str | None = self.metadata.get("x-amz-checksum-type")',
    ):
        assert line in source, line
    builder = MultipartChecksumBuilder(None, None)
    assert (builder.checksum_algorithm, builder.checksum_type) == ("CRC64NVME", "FULL_OBJECT")
    full = MultipartChecksumBuilder("CRC32", "FULL_OBJECT")
    full.addPart(b"ab")
    full.addPart(b"c")  # a full-object checksum is the checksum of the joined bytes
    assert full.build() == ("FULL_OBJECT", compute_checksum(b"abc", "CRC32").decode(), 1)
    assert list(inspect.signature(compute_checksum).parameters) == [
        "body",
        "algorithm",
        "encode_base64",
    ]


def test_a_parts_etag_is_computed_lazily_from_etag_and_set_part_returns_the_part() -> None:
    from moto.s3.models import FakeKey, FakeMultipart

    assert "if self._etag is None:" in inspect.getsource(FakeKey.etag.fget)
    assert list(inspect.signature(FakeMultipart.set_part).parameters) == [
        "self",
        "part_id",
        "value",
    ]
    assert "return key" in inspect.getsource(FakeMultipart.set_part)
    assert "self.lock = threading.Lock()" in inspect.getsource(FakeKey.__init__)


def test_moto_does_not_check_the_order_of_parts() -> None:
    """s3_parts checks it (InvalidPartOrder); when moto's check works, this fails and
    s3_parts' check is redundant."""
    from moto.s3.responses import S3Response

    source = inspect.getsource(S3Response._complete_multipart_body)
    assert "if pn <= prev:" in source and "prev = pn" not in source


def test_in_process_requests_are_built_by_from_primitives_and_read_through_get_data() -> None:
    from moto.core.request import Request, normalize_request
    from moto.core.responses import BaseResponse
    from werkzeug.wrappers import Request as WerkzeugRequest

    assert list(inspect.signature(Request.from_primitives).parameters) == [
        "method",
        "url",
        "headers",
        "body",
    ]
    assert "Request.from_primitives(" in inspect.getsource(normalize_request)
    assert 'rv = getattr(self, "_cached_data", None)' in inspect.getsource(WerkzeugRequest.get_data)
    assert "self.body: Any = request.data" in inspect.getsource(BaseResponse.setup_class)
    assert 'self.environ["werkzeug.request"] = self' in inspect.getsource(WerkzeugRequest.__init__)
    assert "request.stream = gzip.GzipFile(fileobj=request.stream)" in inspect.getsource(
        BaseResponse.decompress_request_body
    )


def test_get_object_sends_the_keys_value_and_ranges_slice_it() -> None:
    """s3_parts gives get_object a key whose value is a FileBody: it reaches the range
    slicing, the in-process raw response (made by MockRawResponse, looked up at call
    time) and the server's werkzeug response (which iterates it)."""
    from moto.core import botocore_stubber
    from moto.core.utils import convert_to_flask_response
    from moto.s3.responses import S3Response

    source = inspect.getsource(S3Response.get_object)
    assert "key, not_modified = self._get_key()" in source
    assert source.count("key.value") == 2 and "return 200, response_headers, key.value" in source
    ranges = inspect.getsource(S3Response._handle_range_header)
    assert "length = len(response_content)" in ranges
    assert "content = response_content[begin : end + 1]" in ranges
    assert "MockRawResponse(body)" in inspect.getsource(botocore_stubber.BotocoreStubber.__call__)
    assert "Response(response=content, status=status, headers=headers)" in inspect.getsource(
        convert_to_flask_response.__call__
    )
