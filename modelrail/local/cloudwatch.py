"""CloudWatch on the local cloud: metrics in, alarms evaluated, history and actions out.

moto stores ``PutMetricData`` datapoints and ``PutMetricAlarm`` definitions but never
evaluates an alarm. This runtime does, as CloudWatch does, for **every** namespace
(``AWS/SageMaker`` from the hosting runtime, custom namespaces from the handlers):

* **Evaluation.** Every ``EVALUATE_EVERY`` real seconds each metric alarm (single
  metric or metric math, :mod:`.metric_math`) gets one datapoint per period, the
  alarm's statistic of that period's values (or its expression over its queries'
  statistics), over the last ``EvaluationPeriods`` periods on the local clock; ALARM when
  ``DatapointsToAlarm`` of them breach, missing data as ``TreatMissingData`` says.
* **History.** Every state change is an alarm history item; moto's missing
  ``DescribeAlarmHistory`` is added (a seam, :func:`install`), so a rolled-back
  deployment can name the alarm that tripped.
* **Actions.** On a change to ALARM (or OK) the alarm's SNS actions are published as
  ``cloudwatch.amazonaws.com``: the topic policy and, for an encrypted topic, the key
  policy must allow it (a refused action is an ``Action`` history item, as on AWS).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3

from modelrail.local import metric_math
from modelrail.local.clock import LocalClock

if TYPE_CHECKING:
    from modelrail.local.iam.enforce import Enforcer

logger = logging.getLogger(__name__)

EVALUATE_EVERY = 0.1  # real seconds between alarm evaluations

_PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _is_true(value: Any) -> bool:
    """``ReturnData`` as the API leaves it: a bool, a "true"/"false" string, or absent
    (which means true)."""
    return value is None or value is True or str(value).lower() == "true"


def statistic(values: list[float], stat: str) -> float:
    """A CloudWatch statistic of one period's values (``Sum``, ``Average``, ``pNN``...)."""
    if not values:
        raise ValueError("a statistic needs at least one value")
    if stat == "Sum":
        return sum(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
    if match:
        ordered = sorted(values)
        rank = max(0, math.ceil(float(match.group(1)) / 100 * len(ordered)) - 1)
        return ordered[rank]
    return sum(values) / len(values)


def judge(
    datapoints: list[float | None],
    *,
    threshold: float,
    compare: Callable[[float, float], bool],
    to_alarm: int,
    treat_missing: str,
) -> tuple[str, int] | None:
    """(state, breaching datapoints) for "M out of N" datapoints, or None to keep the
    state. Missing datapoints count as CloudWatch's TreatMissingData says:
    ``notBreaching`` as good, ``breaching`` as bad, ``missing``/``ignore`` not at all
    (and with none present the state is kept)."""
    missing = treat_missing.lower()
    breaching = good = 0
    for value in datapoints:
        if value is None:
            if missing == "breaching":
                breaching += 1
            elif missing == "notbreaching":
                good += 1
        elif compare(value, threshold):
            breaching += 1
        else:
            good += 1
    if breaching + good == 0:
        return None
    return ("ALARM" if breaching >= max(1, to_alarm) else "OK"), breaching


def _now() -> datetime:
    return datetime.now(UTC)


class CloudWatchRuntime:
    """Alarm evaluation, history and actions over moto's CloudWatch backend."""

    def __init__(
        self,
        clock: LocalClock,
        *,
        account_id: str,
        region: str,
        enforcer: Enforcer | None = None,
    ) -> None:
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.enforcer = enforcer
        self._stop = threading.Event()
        self._evaluator: threading.Thread | None = None
        self._alarm_history: dict[str, list[dict[str, Any]]] = {}

    def _cloudwatch(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account_id][self.region]

    # ---- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Evaluate alarms in the background until :meth:`shutdown`."""
        if self._evaluator is None or not self._evaluator.is_alive():
            self._stop.clear()
            self._evaluator = threading.Thread(
                target=self._evaluate_forever, name="alarm-evaluator", daemon=True
            )
            self._evaluator.start()

    def _evaluate_forever(self) -> None:
        while not self._stop.wait(EVALUATE_EVERY):
            try:
                self.evaluate_alarms()
            except Exception:  # keep evaluating; the next round may succeed
                logger.exception("alarm evaluation failed")

    def shutdown(self) -> None:
        self._stop.set()
        if self._evaluator is not None:
            self._evaluator.join(timeout=5)
            self._evaluator = None

    # ---- what other runtimes use ------------------------------------------------------
    def put_metrics(self, namespace: str, metrics: list[dict[str, Any]]) -> None:
        """Record datapoints as ``PutMetricData`` would (a service publishing its own
        metrics, such as SageMaker's ``AWS/SageMaker``: no caller to authorize)."""
        self._cloudwatch().put_metric_data(namespace, metrics)

    def in_alarm(self, names: list[str]) -> list[str]:
        """Those of the alarms ``names`` that are in ALARM now."""
        alarms = self._cloudwatch().alarms
        return [a for a in names if a in alarms and alarms[a].state_value == "ALARM"]

    # ---- evaluation -------------------------------------------------------------------
    def evaluate_alarms(self) -> None:
        """One evaluation of every metric alarm, whatever its namespace, as CloudWatch
        evaluates them: one datapoint per period (the alarm's statistic, or its metric
        math expression over its queries' statistics, :mod:`.metric_math`) over the last
        ``EvaluationPeriods`` periods, ALARM when ``DatapointsToAlarm`` of them breach."""
        cw = self._cloudwatch()
        for alarm in list(cw.alarms.values()):
            if alarm.rule is not None:
                continue
            compare = _COMPARE.get(alarm.comparison_operator)
            if compare is None:
                continue
            periods = max(1, int(alarm.evaluation_periods))
            if alarm.metric_data_queries:
                signal = self._math_datapoints(cw, alarm.metric_data_queries, periods)
                if signal is None:
                    continue
                what, datapoints = signal
            elif alarm.metric_name:
                stat = str(alarm.extended_statistic or alarm.statistic or "Average")
                what = f"{stat} {alarm.metric_name}"
                datapoints = [
                    None if not values else statistic(values, stat)
                    for values in self._period_values(
                        cw, alarm.namespace, alarm.metric_name, alarm.dimensions,
                        int(alarm.period), periods,
                    )
                ]  # fmt: skip
            else:
                continue
            verdict = judge(
                datapoints,
                threshold=float(alarm.threshold),
                compare=compare,
                to_alarm=int(alarm.datapoints_to_alarm or periods),
                treat_missing=str(alarm.treat_missing_data or "missing"),
            )
            if verdict is None:
                continue
            state, breaching = verdict
            present = [v for v in datapoints if v is not None]
            if not present:
                why = f"no datapoints (treated as {alarm.treat_missing_data})"
            else:
                why = (
                    f"Threshold Crossed: {breaching} of the last {periods} datapoints of "
                    f"{what} [{', '.join(f'{v:g}' for v in present)}] "
                    f"were {alarm.comparison_operator} {float(alarm.threshold):g}"
                )
            if state != alarm.state_value:
                self._set_state(cw, alarm, state, why, present[0] if present else None)

    def _math_datapoints(
        self, cw: Any, queries: list[Any], periods: int
    ) -> tuple[str, list[float | None]] | None:
        """(the expression, its value per period, newest first) for a metric math alarm,
        or None for one without metric queries."""
        returned = [q for q in queries if q.expression and _is_true(q.return_data)]
        stats = {q.id: q.metric_stat for q in queries if q.metric_stat is not None}
        if not stats:
            return None
        if len(returned) != 1 or len(stats) + 1 != len(queries):
            raise metric_math.MetricMathError(
                "the local cloud evaluates alarms with one returned expression over metric "
                f"queries; got ids {[q.id for q in queries]}"
            )
        tree = metric_math.parse(returned[0].expression)
        unknown = metric_math.references(tree) - set(stats)
        if unknown:
            raise metric_math.MetricMathError(
                f"expression {returned[0].expression!r} refers to unknown ids {sorted(unknown)}"
            )
        series = {
            query_id: [
                None if not values else statistic(values, str(stat.stat))
                for values in self._period_values(
                    cw, stat.metric.namespace, stat.metric.metric_name,
                    stat.metric.dimensions, int(stat.period), periods,
                )
            ]
            for query_id, stat in stats.items()
        }  # fmt: skip
        datapoints = [
            metric_math.evaluate(tree, {k: v[index] for k, v in series.items()})
            for index in range(periods)
        ]
        return returned[0].expression, datapoints

    def _period_values(
        self,
        cw: Any,
        namespace: str,
        metric_name: str,
        dimensions: list[Any],
        period_seconds: int,
        periods: int,
    ) -> list[list[float]]:
        """The metric's values in each of the last ``periods`` periods (on the local
        clock), newest period first."""
        period = timedelta(seconds=self.clock.real_seconds(period_seconds))
        now = _now()
        cutoff = now - period * periods
        wanted = {(d.name, d.value) for d in dimensions}
        buckets: list[list[float]] = [[] for _ in range(periods)]
        for datum in reversed(cw.metric_data):
            stamp = datum.timestamp
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            if stamp < cutoff:
                break
            if datum.namespace != namespace or datum.name != metric_name:
                continue
            if {(d.name, d.value) for d in datum.dimensions} != wanted:
                continue
            if hasattr(datum, "value"):
                index = min(periods - 1, max(0, int((now - stamp) / period)))
                buckets[index].append(float(datum.value))
        return buckets

    def _set_state(self, cw: Any, alarm: Any, state: str, reason: str, value: float | None) -> None:
        old = alarm.state_value
        data = {
            "version": "1.0",
            "queryDate": _now().isoformat(),
            "statistic": alarm.extended_statistic or alarm.statistic,
            "period": alarm.period,
            "recentDatapoints": [] if value is None else [value],
            "threshold": alarm.threshold,
        }
        cw.set_alarm_state(alarm.name, reason, json.dumps(data), state)
        self._alarm_history.setdefault(alarm.name, []).append(
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": _now(),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {state}",
                "HistoryData": json.dumps(
                    {
                        "version": "1.0",
                        "oldState": {"stateValue": old},
                        "newState": {"stateValue": state, "stateReason": reason},
                    }
                ),
            }
        )
        actions = alarm.alarm_actions if state == "ALARM" else alarm.ok_actions
        if alarm.actions_enabled:
            self._publish_actions(alarm, actions or [], old, state, reason)

    def _publish_actions(
        self, alarm: Any, actions: list[str], old: str, state: str, reason: str
    ) -> None:
        message = {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "NewStateValue": state,
            "OldStateValue": old,
            "NewStateReason": reason,
            "StateChangeTime": _now().isoformat(),
            "Region": self.region,
            "AlarmArn": alarm.alarm_arn,
        }
        sns = boto3.client("sns", region_name=self.region)
        for arn in actions:
            if ":sns:" in arn:
                if not self._may_notify(alarm, arn):
                    continue
                try:
                    sns.publish(
                        TopicArn=arn,
                        Subject=f'{state}: "{alarm.name}" in {self.region}'[:100],
                        Message=json.dumps(message),
                    )
                except Exception:
                    logger.warning("could not notify %s for alarm %s", arn, alarm.name)

    def _may_notify(self, alarm: Any, topic: str) -> bool:
        """CloudWatch publishes alarm actions as ``cloudwatch.amazonaws.com``: the topic's
        policy and, for an encrypted topic, the key policy must allow it. A refused action
        is recorded in the alarm's history and nothing is delivered, as on AWS."""
        if self.enforcer is None:
            return True
        from modelrail.local.iam.enforce import AccessDenied, MotoWorld
        from modelrail.local.iam.requests import Check, PolicyRef, kms_checks

        context = {"aws:SourceArn": alarm.alarm_arn, "aws:SourceAccount": self.account_id}
        world = MotoWorld(self.account_id, self.region)
        checks = [
            Check("sns:Publish", topic, context, PolicyRef("sns", topic)),
            *kms_checks(world, world.topic_key(topic), _PUBLISH_KEY_ACTIONS, context),
        ]
        try:
            for check in checks:
                self.enforcer.require_service("cloudwatch.amazonaws.com", check)
        except AccessDenied as exc:
            self._alarm_history.setdefault(alarm.name, []).append(
                {
                    "AlarmName": alarm.name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": _now(),
                    "HistoryItemType": "Action",
                    "HistorySummary": f"Failed to execute action {topic}",
                    "HistoryData": json.dumps({"actionState": "Failed", "error": str(exc)}),
                }
            )
            logger.warning("alarm %s could not notify %s: %s", alarm.name, topic, exc)
            return False
        return True

    def alarm_history(
        self, name: str | None, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        items = [
            item
            for alarm, history in self._alarm_history.items()
            if name in (None, alarm)
            for item in history
            if (start is None or item["Timestamp"] >= start)
            and (end is None or item["Timestamp"] <= end)
        ]
        return sorted(items, key=lambda i: i["Timestamp"], reverse=True)


def install(runtime: CloudWatchRuntime) -> Callable[[], None]:
    """Seams in moto's CloudWatch: ``DescribeAlarmHistory`` (moto has none) answered
    from the runtime's history, and ``PutMetricAlarm`` leaving states as CloudWatch
    does: a new alarm starts in INSUFFICIENT_DATA (moto: OK), an updated one keeps its
    state (moto: resets it)."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    original = CloudWatchResponse.__dict__.get("describe_alarm_history")
    put_original = CloudWatchBackend.put_metric_alarm

    def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        before = self.alarms.get(name)
        alarm = put_original(self, name, *args, **kwargs)
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:
            alarm.state_value = before.state_value
            alarm.state_reason = before.state_reason
            alarm.state_reason_data = before.state_reason_data
            alarm.state_updated_timestamp = before.state_updated_timestamp
        return alarm

    def describe_alarm_history(self: Any) -> Any:
        items = runtime.alarm_history(
            self._get_param("AlarmName"),
            _as_datetime(self._get_param("StartDate")),
            _as_datetime(self._get_param("EndDate")),
        )
        kind = self._get_param("HistoryItemType")
        if kind:
            items = [i for i in items if i["HistoryItemType"] == kind]
        if self._get_param("ScanBy") == "TimestampAscending":
            items.reverse()
        limit = int(self._get_param("MaxRecords") or 100)
        return ActionResult({"AlarmHistoryItems": items[:limit]})

    CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]

    def undo() -> None:
        CloudWatchBackend.put_metric_alarm = put_original  # type: ignore[method-assign]
        if original is None:
            delattr(CloudWatchResponse, "describe_alarm_history")
        else:
            CloudWatchResponse.describe_alarm_history = original  # type: ignore[attr-defined]

    return undo


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
