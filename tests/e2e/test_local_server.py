"""`modelrail local up` serves the local cloud on loopback: another process uploads with
plain boto3, the pipeline runs, and `modelrail registry ...` works over AWS_ENDPOINT_URL
exactly as it would against AWS."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest

from modelrail.sample import sample_command

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(assembly: Path) -> Iterator[dict[str, str]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelrail.cli", "local", "up", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MODELRAIL_ASSEMBLY": str(assembly)},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "local cloud ready" in line:
            break
    else:
        proc.kill()
        pytest.fail("local up did not become ready:\n" + "".join(lines))
    assert any("local cloud ready" in line for line in lines), "".join(lines)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        yield env
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "modelrail.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**clean, **env, "MODELRAIL_ACTOR": "e2e"},
    )


def test_an_upload_from_another_process_runs_and_the_registry_cli_sees_it(
    server: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in server.items():
        monkeypatch.setenv(key, value)
    cfn = boto3.client("cloudformation")
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName="modelrail-dev")["Stacks"][0]["Outputs"]
    }
    data = sample_command("demand", 800, 5, tmp_path / "served.csv")
    boto3.client("s3").put_object(
        Bucket=outputs["DataBucketName"], Key="incoming/demand/served.csv", Body=data.read_bytes()
    )
    sfn = boto3.client("stepfunctions")
    status = "RUNNING"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=outputs["TrainingStateMachineArn"])[
            "executions"
        ]
        if executions and executions[0]["status"] != "RUNNING":
            status = executions[0]["status"]
            break
        time.sleep(0.5)
    assert status == "SUCCEEDED"

    listing = _cli(server, "registry", "list", "--model", "demand", "--json")
    assert listing.returncode == 0, listing.stderr
    (row,) = json.loads(listing.stdout)["versions"]
    assert row["version"] == 1 and row["data"]["key"] == "incoming/demand/served.csv"

    # dev needs no approval: the pipeline deployed v1, which became the champion
    deployments = outputs["DeploymentStateMachineArn"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = sfn.list_executions(stateMachineArn=deployments)["executions"]
        if runs and runs[0]["status"] != "RUNNING":
            break
        time.sleep(0.5)
    assert runs and runs[0]["status"] == "SUCCEEDED", runs
    shown = _cli(server, "registry", "show", "demand", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "production"

    rows = tmp_path / "rows.csv"
    rows.write_text(
        pd.read_csv(data).drop(columns=["units_sold"]).head(3).to_csv(index=False, header=False)
    )
    predicted = _cli(server, "predict", "demand", "--data", str(rows))
    assert predicted.returncode == 0, predicted.stderr
    assert len(json.loads(predicted.stdout)["predictions"]) == 3

    stale = _cli(
        server, "registry", "promote", "demand", "1", "--reason", "again", "--expected", "none"
    )
    assert stale.returncode == 2 and "champion of 'demand' is v1" in stale.stderr
    refused = _cli(server, "registry", "reject", "demand", "1", "--reason", "too late")
    assert refused.returncode == 2 and "production" in refused.stderr  # illegal transition
    history = _cli(server, "registry", "history", "demand", "--json")
    assert history.returncode == 0 and '"by": "pipeline"' in history.stdout
