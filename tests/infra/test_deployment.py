"""The deployment state machine and its alarms, read from the synthesized templates
(RELIABILITY 17, 29, 30)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import ROOT
from infra.config import load_environments
from infra.stack import ModelrailStack
from modelrail.contract import load_contracts
from modelrail.deploy.naming import VARIANT, alarm_names, endpoint_name
from tests.infra.definition import PLACEHOLDER, _render, definition, definition_parts


def _states(template: dict[str, Any]) -> dict[str, Any]:
    text = "".join(_render(p) for p in definition_parts(template, "deploy"))
    body: dict[str, Any] = json.loads(text)
    assert body["StartAt"] == "PlanDeployment"
    states: dict[str, Any] = body["States"]
    return states


@pytest.fixture(scope="module")
def dev_states(dev_template: dict[str, Any]) -> dict[str, Any]:
    return _states(dev_template)


@pytest.fixture(scope="module")
def prod_states(prod_template: dict[str, Any]) -> dict[str, Any]:
    return _states(prod_template)


def test_the_first_deployment_creates_later_ones_update_then_the_loop_settles(
    dev_states: dict[str, Any],
) -> None:
    s = dev_states
    assert s["PlanDeployment"]["Next"] == "CreateModel"
    assert s["CreateModel"]["Next"] == "CreateEndpointConfig"
    assert s["CreateEndpointConfig"]["Next"] == "EndpointExists?"
    (rule,) = s["EndpointExists?"]["Choices"]
    assert rule["Next"] == "UpdateEndpoint" and s["EndpointExists?"]["Default"] == "CreateEndpoint"
    assert s["CreateEndpoint"]["Next"] == s["UpdateEndpoint"]["Next"] == "WaitForEndpoint"
    assert s["WaitForEndpoint"]["Next"] == "DescribeEndpoint"
    assert s["DescribeEndpoint"]["Next"] == "Settled?"
    settled = s["Settled?"]
    (waiting,) = settled["Choices"]
    assert waiting["Next"] == "WaitForEndpoint"
    statuses = {c["StringEquals"] for c in waiting["Or"]}
    assert statuses == {"Creating", "Updating", "SystemUpdating", "RollingBack"}
    assert settled["Default"] == "FinishDeployment"
    assert s["FinishDeployment"]["Next"] == "Outcome?"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_updates_are_blue_green_canary_within_sagemaker_guardrails(
    env: str, dev_states: dict[str, Any], prod_states: dict[str, Any]
) -> None:
    s = dev_states if env == "dev" else prod_states
    params = s["UpdateEndpoint"]["Parameters"]
    assert s["UpdateEndpoint"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint"
    policy = params["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    instances = s["CreateEndpointConfig"]["Parameters"]["ProductionVariants"][0][
        "InitialInstanceCount"
    ]
    assert routing["CanarySize"]["Type"] == "INSTANCE_COUNT"
    assert 2 * routing["CanarySize"]["Value"] <= instances  # at most half the fleet
    assert 0 < routing["WaitIntervalInSeconds"] <= 3600
    assert 0 <= policy["TerminationWaitInSeconds"] <= 3600
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    assert policy["MaximumExecutionTimeoutInSeconds"] > (
        routing["WaitIntervalInSeconds"] + policy["TerminationWaitInSeconds"]
    )
    alarms = params["DeploymentConfig"]["AutoRollbackConfiguration"]
    assert alarms == {"Alarms.$": "$.plan.rollbackAlarms"}


def test_endpoint_config_keeps_the_variant_name_and_encrypts_model_and_capture(
    dev_states: dict[str, Any],
) -> None:
    params = dev_states["CreateEndpointConfig"]["Parameters"]
    (variant,) = params["ProductionVariants"]
    assert variant["VariantName"] == VARIANT
    assert params["KmsKeyId"] == PLACEHOLDER
    capture = params["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["KmsKeyId"] == PLACEHOLDER
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    model = dev_states["CreateModel"]["Parameters"]
    assert model["EnableNetworkIsolation"] is True


def test_every_failure_after_planning_is_recorded_then_notified_once(
    dev_states: dict[str, Any],
) -> None:
    s = dev_states
    for name in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint",
                 "DescribeEndpoint"):  # fmt: skip
        (catch,) = s[name]["Catch"]
        assert catch["Next"] == "RecordFailure", name
        assert all("States.ALL" not in r["ErrorEquals"] for r in s[name]["Retry"]), name
    assert s["RecordFailure"]["Next"] == "NotifyDeployFailed"
    superseded, failed = s["PlanDeployment"]["Catch"]
    assert (superseded["ErrorEquals"], superseded["Next"]) == (
        ["DeploymentSuperseded"],
        "NotifySuperseded",
    )
    assert (failed["ErrorEquals"], failed["Next"]) == (["States.ALL"], "NotifyDeployFailed")
    assert s["NotifySuperseded"]["Next"] == "Superseded"
    assert s["Superseded"]["Type"] == "Succeed"  # a decision, not an error
    notifications = {n for n, st in s.items() if st.get("Resource", "").endswith(":sns:publish")}
    assert notifications == {
        "NotifySuperseded",
        "NotifyDeployFailed",
        "NotifyDeployed",
        "NotifyRolledBack",
        "NotifyNotVerified",
    }
    # each terminal path passes through exactly one notification
    outcome = s["Outcome?"]
    targets = {c["Next"] for c in outcome["Choices"]} | {outcome["Default"]}
    assert targets == {"NotifyDeployed", "NotifyRolledBack", "NotifyNotVerified"}
    assert s["NotifyRolledBack"]["Next"] == "RolledBack"
    assert s["RolledBack"] == {
        "Type": "Fail",
        "Error": "DeploymentRolledBack",
        "CausePath": "$.result.message",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_model_has_three_rollback_alarms_on_its_live_variant(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    template = dev_template if env == "dev" else prod_template
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    dims = None
    for model, contract in load_contracts().items():
        names = alarm_names(env, model)
        want = {"EndpointName": endpoint_name(env, model), "VariantName": VARIANT}
        for name in names.values():
            alarm = alarms[name]
            stats = [q["MetricStat"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
            for stat in stats or [alarm]:
                metric = stat.get("Metric", stat)
                dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                assert dims == want, name
                assert metric["Namespace"] == "AWS/SageMaker"
                assert stat["Period"] == 60
            assert alarm["TreatMissingData"] == "notBreaching"
            assert alarm["AlarmActions"], name  # the notifications topic
        latency = alarms[names["latency"]]
        assert latency["ExtendedStatistic"] == "p99"
        assert latency["MetricName"] == "ModelLatency"
        budget = contract.quality.max_latency_ms or 1000.0
        assert latency["Threshold"] == budget * 1000  # microseconds
        # latency must stay high for 3 minutes; an error rate alarms within one
        assert latency["EvaluationPeriods"] == latency["DatapointsToAlarm"] == 3
        for role, errors in (
            ("errors", "Invocation5XXErrors"),
            ("model_errors", "InvocationModelErrors"),
        ):
            alarm = alarms[names[role]]
            assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1
            assert alarm["Threshold"] == 0.1
            assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            queries = {q["Id"]: q for q in alarm["Metrics"]}
            (returned,) = [q for q in queries.values() if q.get("ReturnData", True)]
            # the share of the minute's requests, over at least 20 of them (D39)
            assert returned["Expression"] == (
                "IF(invocations < 20, FILL(errors, 0) / 20, FILL(errors, 0) / invocations)"
            )
            assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == errors
            assert queries["errors"]["MetricStat"]["Stat"] == "Sum"
            assert queries["invocations"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
            assert queries["invocations"]["MetricStat"]["Stat"] == "Sum"
    assert dims is not None


def test_the_pipeline_starts_a_deployment_after_registration(dev_template: dict[str, Any]) -> None:
    states = definition(dev_template)["States"]
    assert states["NotifyRegistered"]["Next"] == "StartDeployment"
    start = states["StartDeployment"]
    assert start["Resource"] == "arn:aws:states:::states:startExecution"
    assert start["Next"] == "Registered"
    assert start["Parameters"]["Input"]["version.$"] == "$.registered.version"


def test_a_busy_endpoint_is_looked_at_again_for_a_bounded_time(
    dev_template: dict[str, Any], dev_states: dict[str, Any]
) -> None:
    from infra.constructs.deployment import POLL_SECONDS, queue_looks

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    budget = load_environments(context["modelrail:environments"])["dev"].deployment_max_seconds
    plan = dev_states["PlanDeployment"]
    (queue,) = [r for r in plan["Retry"] if r["ErrorEquals"] == ["DeploymentInProgress"]]
    looks = queue_looks(budget)
    assert queue == {
        "ErrorEquals": ["DeploymentInProgress"],
        "IntervalSeconds": POLL_SECONDS,
        "MaxAttempts": looks,
        "BackoffRate": 1,
    }
    # PlanDeployment knows which look it is: the last one fails the version instead.
    assert plan["Parameters"]["attempt.$"] == "$$.State.RetryCount"
    functions = [
        r["Properties"]
        for r in dev_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "check a version, lock its endpoint" in r["Properties"].get("Description", "")
    ]
    (function,) = functions
    assert function["Environment"]["Variables"]["DEPLOYMENT_QUEUE_LOOKS"] == str(looks)
    body = "".join(_render(p) for p in definition_parts(dev_template, "deploy"))
    assert json.loads(body)["TimeoutSeconds"] > looks * POLL_SECONDS + budget


def test_the_plan_function_has_reserved_concurrency(prod_template: dict[str, Any]) -> None:
    functions = [
        r["Properties"]
        for r in prod_template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "check a version, lock its endpoint" in r["Properties"].get("Description", "")
    ]
    (plan,) = functions
    assert plan["ReservedConcurrentExecutions"] >= 1


def test_an_environment_may_register_without_deploying(tmp_path: Path) -> None:
    """``deploy_after_training: false``: the pipeline ends at Registered; the deployment
    state machine still exists for ``modelrail deploy``."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    config = load_environments(context["modelrail:environments"])["dev"]
    config = config.model_copy(update={"deploy_after_training": False})
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = ModelrailStack(
        app,
        "modelrail-dev",
        config=config,
        env=cdk.Environment(account=config.account, region=config.region),
    )
    template = Template.from_stack(stack).to_json()
    states = definition(template)["States"]
    assert "StartDeployment" not in states
    assert states["NotifyRegistered"]["Next"] == "Registered"
    assert _states(template)["PlanDeployment"]["Next"] == "CreateModel"


def _grants(template: dict[str, Any], policy_id_part: str) -> list[tuple[str, str, Any]]:
    """(action, rendered resource, condition) for every statement of the policies whose
    logical id contains ``policy_id_part``."""
    from tests.infra.test_key_policy import render

    out = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy" or policy_id_part not in logical:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                for res in resources if isinstance(resources, list) else [resources]:
                    out.append((action, str(render(res)), statement.get("Condition")))
    assert out, f"no policy {policy_id_part}"
    return out


def _key_ref(template: dict[str, Any]) -> str:
    (key,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    return str({"Fn::GetAtt": [key, "Arn"]})


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_model_role_writes_data_capture_under_the_capture_prefix_only(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    template = dev_template if env == "dev" else prod_template
    grants = _grants(template, "DeployHostingRole")
    puts = [(a, r) for a, r, _ in grants if a in {"s3:PutObject", "s3:PutObject*", "s3:*"}]
    assert puts and all(r.endswith("/capture/*") for _, r in puts), puts
    key = _key_ref(template)
    for action in ("kms:GenerateDataKey", "kms:Encrypt"):
        assert any(a == action and r == key for a, r, _ in grants), action


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_deployment_may_create_endpoints_on_the_encrypted_config_and_read_the_alarms(
    env: str, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> None:
    """CreateEndpoint (and the new fleet of UpdateEndpoint) for a config with a KmsKeyId
    needs kms:CreateGrant for the caller; guardrails read the rollback alarms."""
    from tests.infra.test_key_policy import ACCOUNT, REGION

    template = dev_template if env == "dev" else prod_template
    key = _key_ref(template)
    caller = _grants(template, "DeployStateMachineRole")
    (grant,) = [(r, c) for a, r, c in caller if a == "kms:CreateGrant"]
    assert grant == (key, {"Bool": {"kms:GrantIsForAWSResource": "true"}})
    assert any(a == "kms:DescribeKey" and r == key for a, r, _ in caller)
    alarms = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:modelrail-{env}-*"
    for part in ("DeployStateMachineRole", "DeployHostingRole"):
        described = [r for a, r, _ in _grants(template, part) if a == "cloudwatch:DescribeAlarms"]
        assert described == [alarms], part
