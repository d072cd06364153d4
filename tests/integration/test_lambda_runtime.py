"""The local Lambda executor fails where AWS fails: tiny functions deployed into moto,
run by workers in the Lambda runtime's Python with only their code, their layers and
the runtime's boto3 to import from."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local import layers
from modelrail.local.cloud import loopback_server
from modelrail.local.lambda_runtime import LambdaRuntime, install
from tests.conftest import ROOT

REGION = "us-east-1"
ACCOUNT = "123456789012"
POWERTOOLS = (
    f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
)
# What the function may see: its own variables, what Lambda sets, the local cloud's.
LAMBDA_VARIABLES = {
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ", "LANG", "PATH",
}  # fmt: skip
LOCAL_VARIABLES = {
    "POWERTOOLS_TRACE_DISABLED", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    # Python sets it itself (PEP 538 locale coercion) where en_US.UTF-8 is not installed
    "LC_CTYPE",
}  # fmt: skip


def _zip(files: Mapping[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


@dataclass
class Cloud:
    runtime: LambdaRuntime
    client: Any
    url: str
    role: str

    def deploy(self, name: str, handler: str, **config: Any) -> str:
        files = {"handler.py": handler, **config.pop("files", {})}
        layer_arns = config.pop("layers", [])
        self.client.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=self.role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": _zip(files)},
            **config,
        )
        if layer_arns:  # moto refuses layers it did not publish; the stack's reconcile does this
            from moto.awslambda.models import lambda_backends

            fn = lambda_backends[ACCOUNT][REGION].get_function(name)
            fn.layers = [{"Arn": arn, "CodeSize": 0} for arn in layer_arns]
        return name

    def invoke(self, name: str, event: Any = None) -> tuple[Any, str | None]:
        response = self.client.invoke(FunctionName=name, Payload=json.dumps(event or {}))
        return json.loads(response["Payload"].read()), response.get("FunctionError")


def _role_credentials(role_arn: str) -> Mapping[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "AKIA" + role_arn.rsplit("/", 1)[-1].upper()[:16],
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
    }


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        server, url = loopback_server()
        runtime = LambdaRuntime(
            tmp_path / "lambda", endpoint_url=url, credentials=_role_credentials
        )
        undo = install(runtime)
        try:
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(
                RoleName="fn-role",
                AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            )["Role"]["Arn"]
            yield Cloud(runtime, boto3.client("lambda", region_name=REGION), url, role)
        finally:
            undo()
            server.stop()


def test_an_import_no_layer_ships_fails_as_an_init_error_on_aws(cloud: Cloud) -> None:
    name = cloud.deploy(
        "needs-yaml", "import yaml\n\ndef lambda_handler(event, context):\n    return 1\n"
    )
    payload, function_error = cloud.invoke(name)
    assert function_error is not None
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'handler': No module named 'yaml'"
    assert cloud.runtime.invocations[-1].error_type == "Runtime.ImportModuleError"
    # the invocation failed, not the local cloud: another function still runs
    ok = cloud.deploy("fine", "def lambda_handler(event, context):\n    return {'ok': True}\n")
    assert cloud.invoke(ok) == ({"ok": True}, None)


def test_the_handler_imports_modelrail_from_its_own_code(cloud: Cloud) -> None:
    handler = (
        "import os, sys, modelrail\n"
        "def lambda_handler(event, context):\n"
        "    return {'modelrail': modelrail.__file__, 'path': sys.path, 'cwd': os.getcwd(),\n"
        "            'root': os.environ['LAMBDA_TASK_ROOT'], 'version': sys.version_info[:2]}\n"
    )
    name = cloud.deploy("where", handler, files={"modelrail/__init__.py": ""})
    result, error = cloud.invoke(name)
    assert error is None
    root = result["root"]
    assert result["modelrail"] == f"{root}/modelrail/__init__.py"
    assert result["cwd"] == root and result["path"][0] == root
    assert not [p for p in result["path"] if p.startswith(str(ROOT)) and "/.modelrail/" not in p]
    assert not [p for p in result["path"] if "site-packages" in p]
    assert layers.interpreter_for("python3.13").minor == "3.13", "python3.13 is not installed"
    assert result["version"] == [3, 13]


def test_layers_and_the_runtime_sdk_come_from_their_own_folders(cloud: Cloud) -> None:
    handler = (
        "import boto3, pydantic, aws_lambda_powertools\n"
        "def lambda_handler(event, context):\n"
        "    found = {m.__name__: m.__file__ for m in (boto3, pydantic, aws_lambda_powertools)}\n"
        "    return found | {'boto3_version': boto3.__version__}\n"
    )
    name = cloud.deploy("layered", handler, layers=[POWERTOOLS])
    result, error = cloud.invoke(name)
    assert error is None, result
    env = layers.ensure_environment([POWERTOOLS])
    assert result["boto3"].startswith(str(env.runtime))
    assert result["pydantic"].startswith(str(env.layers[0]))
    assert result["aws_lambda_powertools"].startswith(str(env.layers[0]))
    assert result["boto3_version"] == layers.RUNTIME_SDK["python3.13"][0].split("==")[1]


def test_an_unknown_layer_fails_naming_its_arn(cloud: Cloud) -> None:
    from moto.awslambda.models import lambda_backends

    unknown = f"arn:aws:lambda:{REGION}:123456789012:layer:home-made:3"
    name = cloud.deploy("odd-layer", "def lambda_handler(event, context):\n    return 1\n")
    fn = lambda_backends[ACCOUNT][REGION].get_function(name)
    fn.layers = [{"Arn": unknown, "CodeSize": 0}]
    with pytest.raises(layers.LayerError, match=re.escape(f"layer {unknown} is not in")):
        cloud.runtime.invoke(fn, {})


def test_a_slow_invocation_times_out_as_on_aws_and_the_worker_is_replaced(cloud: Cloud) -> None:
    handler = (
        "import os, time\n"
        "def lambda_handler(event, context):\n"
        "    time.sleep(event.get('sleep', 0))\n"
        "    return os.getpid()\n"
    )
    name = cloud.deploy("slow", handler, Timeout=1)
    first_pid, _ = cloud.invoke(name)
    payload, error = cloud.invoke(name, {"sleep": 4})
    assert error is not None
    assert payload["errorType"] == "Sandbox.Timedout"
    request_id = cloud.runtime.invocations[-1].request_id
    assert re.fullmatch(
        rf"RequestId: {request_id} Error: Task timed out after 1\.\d\d seconds",
        payload["errorMessage"],
    )
    assert cloud.runtime.invocations[-1].seconds < 3
    again, error = cloud.invoke(name)
    assert error is None and again != first_pid
    assert cloud.runtime.invocations[-1].cold_start


def test_the_handler_sees_no_variable_of_the_parent_process(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELRAIL_SENTINEL", "leaked")
    handler = "import os\ndef lambda_handler(event, context):\n    return dict(os.environ)\n"
    name = cloud.deploy("env", handler, Environment={"Variables": {"TABLE": "registry"}})
    env, error = cloud.invoke(name)
    assert error is None
    assert "MODELRAIL_SENTINEL" not in env
    assert set(env) <= LAMBDA_VARIABLES | LOCAL_VARIABLES | {"TABLE"}, set(env) - LAMBDA_VARIABLES
    assert env["TABLE"] == "registry"
    assert env["AWS_ENDPOINT_URL"] == cloud.url
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAFN-ROLE"  # from the credentials hook, by role
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"


def test_a_warm_worker_serves_the_next_invocation_and_calls_reach_moto(cloud: Cloud) -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="seen-by-the-handler")
    handler = (
        "import os, boto3\n"
        "def lambda_handler(event, context):\n"
        "    print('listing for', context.aws_request_id)\n"
        "    names = [b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']]\n"
        "    return {'pid': os.getpid(), 'buckets': names,\n"
        "            'remaining': context.get_remaining_time_in_millis(),\n"
        "            'memory': context.memory_limit_in_mb, 'name': context.function_name}\n"
    )
    name = cloud.deploy("lister", handler, Timeout=30, MemorySize=256)
    first, _ = cloud.invoke(name)
    second, _ = cloud.invoke(name)
    assert first["buckets"] == ["seen-by-the-handler"]
    assert first["pid"] == second["pid"]
    assert [i.cold_start for i in cloud.runtime.invocations] == [True, False]
    assert 0 < first["remaining"] <= 30_000
    assert first["memory"] == "256" and first["name"] == name
    request_id = cloud.runtime.invocations[0].request_id
    assert (name, request_id, f"listing for {request_id}") in cloud.runtime.log_lines


def test_a_handler_error_keeps_lambdas_payload_shape(cloud: Cloud) -> None:
    handler = (
        "class DataValidationError(Exception):\n    pass\n\n"
        "def lambda_handler(event, context):\n"
        "    raise DataValidationError('units_sold is missing')\n"
    )
    name = cloud.deploy("invalid", handler)
    payload, error = cloud.invoke(name)
    assert error is not None
    assert payload["errorType"] == "DataValidationError"
    assert payload["errorMessage"] == "units_sold is missing"
    assert payload["requestId"] == cloud.runtime.invocations[-1].request_id
    assert "handler.py" in payload["stackTrace"][0] and "lambda_handler" in payload["stackTrace"][0]
    assert "lambda_bootstrap" not in json.dumps(payload["stackTrace"])


def test_invocations_run_concurrently_up_to_the_reserved_concurrency(cloud: Cloud) -> None:
    handler = (
        "import os, time\n"
        "def lambda_handler(event, context):\n"
        "    time.sleep(0.5)\n"
        "    return os.getpid()\n"
    )
    name = cloud.deploy("busy", handler, Timeout=10)
    cloud.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    pids: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        pid, _ = cloud.invoke(name)
        with lock:
            pids.append(pid)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pids) == 4 and len(set(pids)) == 2


def test_the_workers_python_is_isolated(cloud: Cloud) -> None:
    handler = (
        "import sys\n"
        "def lambda_handler(event, context):\n"
        "    return {'isolated': sys.flags.isolated, 'no_site': sys.flags.no_site,\n"
        "            'site': 'site' in sys.modules, 'executable': sys.executable}\n"
    )
    result, _ = cloud.invoke(cloud.deploy("flags", handler))
    assert result["isolated"] == 1 and result["no_site"] == 1 and not result["site"]
    assert result["executable"] != sys.executable


def test_installing_serializes_dynamodb_requests_and_undo_restores_moto() -> None:
    from moto.dynamodb.responses import DynamoHandler

    before = DynamoHandler.call_action
    undo = install(LambdaRuntime(Path("/nonexistent")))
    try:
        assert DynamoHandler.call_action is not before
    finally:
        undo()
    assert DynamoHandler.call_action is before
    assert (
        "call_action" not in DynamoHandler.__dict__
        or DynamoHandler.__dict__["call_action"] is before
    )


def test_every_worker_of_a_function_gets_the_same_credentials(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fresh_keys(role_arn: str) -> Mapping[str, str]:  # a new key each time it is asked
        asked.append(role_arn)
        return {"AWS_ACCESS_KEY_ID": f"AKIA{len(asked)}", "AWS_SECRET_ACCESS_KEY": "s"}

    monkeypatch.setattr(cloud.runtime, "credentials", fresh_keys)
    handler = (
        "import os, time\n"
        "def lambda_handler(event, context):\n"
        "    time.sleep(0.3)\n"
        "    return [os.getpid(), os.environ['AWS_ACCESS_KEY_ID']]\n"
    )
    name = cloud.deploy("keys", handler, Timeout=10)
    results: list[list[Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cloud.invoke(name)[0])) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({pid for pid, _ in results}) == 2, "two workers"
    assert {key for _, key in results} == {"AKIA1"}
    assert asked == [cloud.role]
