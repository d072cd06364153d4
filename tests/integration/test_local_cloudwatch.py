"""The local cloud's CloudWatch (modelrail.local.cloudwatch) on moto: alarms in any
namespace are evaluated over PutMetricData datapoints, their history is kept and
answered by DescribeAlarmHistory, and their SNS actions are published."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelrail.local import clock, cloudwatch
from modelrail.local.cloudwatch import CloudWatchRuntime

ACCOUNT = "123456789012"
REGION = "us-east-1"
NAMESPACE = "modelrail"  # a custom namespace: what the handlers will publish
DIMS = [{"Name": "Environment", "Value": "dev"}, {"Name": "Model", "Value": "demand"}]


@pytest.fixture
def cw(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, CloudWatchRuntime]]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        runtime = CloudWatchRuntime(clock.LocalClock(speed=60), account_id=ACCOUNT, region=REGION)
        undo = cloudwatch.install(runtime)
        try:
            yield boto3.client("cloudwatch", region_name=REGION), runtime
        finally:
            undo()


def _topic_with_queue() -> tuple[str, Any, str]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, sqs, queue


def _put(client: Any, name: str, value: float) -> None:
    client.put_metric_data(
        Namespace=NAMESPACE, MetricData=[{"MetricName": name, "Value": value, "Dimensions": DIMS}]
    )


def test_a_custom_namespace_alarm_fires_records_history_and_notifies(
    cw: tuple[Any, CloudWatchRuntime],
) -> None:
    client, runtime = cw
    topic, sqs, queue = _topic_with_queue()
    client.put_metric_alarm(
        AlarmName="demand-live-metric",
        Namespace=NAMESPACE,
        MetricName="LiveMetric",
        Dimensions=DIMS,
        Statistic="Average",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=25.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="missing",
        AlarmActions=[topic],
    )
    runtime.evaluate_alarms()  # no data: the state is kept
    state = client.describe_alarms(AlarmNames=["demand-live-metric"])["MetricAlarms"][0]
    assert state["StateValue"] == "INSUFFICIENT_DATA"

    _put(client, "LiveMetric", 31.0)
    _put(client, "LiveMetric", 29.0)
    runtime.evaluate_alarms()
    alarm = client.describe_alarms(AlarmNames=["demand-live-metric"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM"
    assert "Average LiveMetric [30]" in alarm["StateReason"]
    assert runtime.in_alarm(["demand-live-metric", "other"]) == ["demand-live-metric"]

    history = client.describe_alarm_history(AlarmName="demand-live-metric")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from INSUFFICIENT_DATA to ALARM"
    ]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    sent = json.loads(messages[0]["Body"])
    assert (sent["AlarmName"], sent["NewStateValue"]) == ("demand-live-metric", "ALARM")

    # Updating an alarm keeps its state, as CloudWatch does (moto would reset it to OK).
    client.put_metric_alarm(
        AlarmName="demand-live-metric",
        Namespace=NAMESPACE,
        MetricName="LiveMetric",
        Dimensions=DIMS,
        Statistic="Average",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=26.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert runtime.in_alarm(["demand-live-metric"]) == ["demand-live-metric"]


def test_a_metric_math_alarm_in_a_custom_namespace(cw: tuple[Any, CloudWatchRuntime]) -> None:
    client, runtime = cw

    def query(qid: str, name: str) -> dict[str, Any]:
        metric = {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": DIMS}
        return {
            "Id": qid,
            "MetricStat": {"Metric": metric, "Period": 3600, "Stat": "Sum"},
            "ReturnData": False,
        }

    client.put_metric_alarm(
        AlarmName="demand-drift-share",
        Metrics=[
            query("drifted", "DriftedFeatures"),
            query("features", "Features"),
            {"Id": "share", "Expression": "drifted / features", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=0.5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    _put(client, "DriftedFeatures", 2)
    _put(client, "Features", 8)
    runtime.evaluate_alarms()
    assert runtime.in_alarm(["demand-drift-share"]) == []
    _put(client, "DriftedFeatures", 4)  # 6 of 8 this period
    runtime.evaluate_alarms()
    assert runtime.in_alarm(["demand-drift-share"]) == ["demand-drift-share"]


def test_the_evaluator_thread_runs_until_shutdown(cw: tuple[Any, CloudWatchRuntime]) -> None:
    client, runtime = cw
    client.put_metric_alarm(
        AlarmName="errors",
        Namespace=NAMESPACE,
        MetricName="Errors",
        Dimensions=DIMS,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    _put(client, "Errors", 1)
    runtime.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while not runtime.in_alarm(["errors"]):
            assert time.monotonic() < deadline, "the evaluator never set the alarm"
            time.sleep(0.02)
    finally:
        runtime.shutdown()
