"""FinishDeployment: verify what the endpoint serves, record it, clean up, unlock.

* an ``error`` from a SageMaker task: the version is FAILED;
* InService on the requested config: PRODUCTION; the champion moves to the version by
  compare-and-swap (a rollback to ``previous`` moves the champion only, as
  ``modelrail registry rollback`` does; otherwise ``previous`` follows the replaced
  champion); every other PRODUCTION version of the model is ARCHIVED, since the
  endpoint serves one version;
* InService on another config: SageMaker rolled the canary back; the version is
  ROLLED_BACK with the alarm(s) that fired;
* anything else: FAILED with DescribeEndpoint's explanation.

Then endpoint configs of the model beyond the newest ``keep_configs`` are deleted (never
a config the endpoint serves or is moving to), and the lock is released, always.

Retry-safe: a transition to the status the version already has is skipped, a champion
that already is the version is left alone, deleting a gone config is ignored and
releasing a released lock does nothing, so a second call records nothing more and
returns the same outcome.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modelrail.deploy.lock import EndpointLock
from modelrail.deploy.models import DeploymentPlan, FinishInput, FinishOutput, Outcome
from modelrail.deploy.naming import config_pattern
from modelrail.deploy.verify import Verdict, verify
from modelrail.registry.aliases import PreviousNotUpdated, promote, roll_back_to, rollback_reason
from modelrail.registry.errors import StaleAlias, StaleStatus
from modelrail.registry.models import AliasName, VersionStatus, clip_reason
from modelrail.registry.port import ModelRegistry

log = logging.getLogger(__name__)
S = VersionStatus
_ALARM_SUMMARY = re.compile(r"\bto ALARM\b")
_HISTORY_PAGES = 10
#: How far before a deployment's start an alarm's last transition is looked for.
ALARM_LOOKBACK = timedelta(minutes=15)


def _settle(
    registry: ModelRegistry, plan: DeploymentPlan, target: VersionStatus, reason: str
) -> None:
    """Move the version to ``target`` unless it already is there (a retried call)."""
    current = registry.get_version(plan.model, plan.version)
    if current.status is target:
        return
    registry.transition(
        plan.model,
        plan.version,
        target,
        by=plan.requested_by,
        reason=clip_reason(reason),
        expected_status=current.status,
    )


# -- champion ---------------------------------------------------------------------------


def _move_champion(registry: ModelRegistry, plan: DeploymentPlan) -> tuple[bool, str]:
    """(the champion is this version now, what happened to the aliases)."""
    model, version, by = plan.model, plan.version, plan.requested_by
    champion = registry.get_alias(model, AliasName.CHAMPION)
    current = None if champion is None else champion.version
    if current == version:
        return True, f"v{version} is the champion"
    previous = registry.get_alias(model, AliasName.PREVIOUS)
    try:
        if current is not None and previous is not None and previous.version == version:
            # A rollback to the previous champion: the champion only; previous stays, so
            # the next rollback does not return to the version just judged bad.
            reason = rollback_reason(current, version, plan.reason)
            roll_back_to(
                registry, model, version, expected=current, by=by, reason=clip_reason(reason)
            )
            return (
                True,
                f"champion v{current} -> v{version} (a rollback; previous stays v{version})",
            )
        moved = promote(
            registry,
            model,
            version,
            by=by,
            reason=clip_reason(plan.reason),
            expected=plan.previous_champion,
        )
    except StaleAlias as exc:
        return False, _stale_note(exc)
    except PreviousNotUpdated as exc:
        log.warning("previous not moved for %s: %s", model, exc.cause)
        return True, f"champion v{exc.old} -> v{version}; previous not moved: {exc.cause}"
    if moved.old_champion is None:
        return True, f"v{version} is the first champion"
    if moved.previous is None:
        return True, f"champion v{moved.old_champion} -> v{version}; {moved.note}"
    return True, f"champion v{moved.old_champion} -> v{version}; previous v{moved.old_champion}"


def _stale_note(exc: StaleAlias) -> str:
    seen = "unset" if exc.expected is None else f"v{exc.expected}"
    actual = "unset" if exc.actual is None else f"v{exc.actual}"
    return (
        f"the champion was not moved: it changed during the deployment (it is {actual}, "
        f"the plan saw {seen}); promote explicitly if this version should be champion"
    )


def _archive_replaced(registry: ModelRegistry, plan: DeploymentPlan) -> list[int]:
    """ARCHIVE every other PRODUCTION version: the endpoint serves this one alone."""
    archived = []
    for other in registry.list_versions(plan.model, status=S.PRODUCTION, limit=100):
        if other.version == plan.version:
            continue
        try:
            registry.transition(
                plan.model,
                other.version,
                S.ARCHIVED,
                by=plan.requested_by,
                reason=f"replaced by v{plan.version} on {plan.endpoint_name}",
                expected_status=S.PRODUCTION,
            )
        except StaleStatus:  # moved on concurrently: no longer ours to archive
            continue
        archived.append(other.version)
    return archived


# -- alarms -----------------------------------------------------------------------------


def _started(started_at: str, now: datetime) -> datetime:
    try:
        at = datetime.fromisoformat(started_at)
    except ValueError:
        log.warning("unparseable startedAt %r; searching the last day of alarms", started_at)
        return now - timedelta(days=1)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _went_to_alarm(item: Mapping[str, Any]) -> bool:
    if _ALARM_SUMMARY.search(str(item.get("HistorySummary") or "")):
        return True
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except (TypeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("newState", {}).get("stateValue") == "ALARM"


def _fired_since(cloudwatch_client: Any, alarm: str, start: datetime) -> bool:
    """The alarm went to ALARM after ``start``, or was in ALARM at ``start`` (its last
    transition in the ``ALARM_LOOKBACK`` before was to ALARM): SageMaker rolls back on an
    alarm that is already firing when the update begins."""
    kwargs: dict[str, Any] = {
        "AlarmName": alarm,
        "HistoryItemType": "StateUpdate",
        "StartDate": start - ALARM_LOOKBACK,
    }
    latest_before: Mapping[str, Any] | None = None
    for _ in range(_HISTORY_PAGES):
        page = cloudwatch_client.describe_alarm_history(**kwargs)
        for item in page.get("AlarmHistoryItems", []):
            at = _as_utc(item.get("Timestamp"))
            if at is None or at >= start:
                if _went_to_alarm(item):
                    return True
            elif latest_before is None or at > (_as_utc(latest_before.get("Timestamp")) or at):
                latest_before = item
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return latest_before is not None and _went_to_alarm(latest_before)


def _as_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def tripped_alarms(
    cloudwatch_client: Any, alarms: Iterable[str], *, started_at: str, now: datetime
) -> list[str]:
    """The rollback alarms that went to ALARM since the deployment started (from their
    history), else those in ALARM now; sorted."""
    names = sorted(set(alarms))
    start = _started(started_at, now)
    fired = []
    for name in names:
        try:
            if _fired_since(cloudwatch_client, name, start):
                fired.append(name)
        except (ClientError, BotoCoreError) as exc:
            log.warning("cannot read the history of alarm %s: %s", name, exc)
    if fired or not names:
        return fired
    try:
        described = cloudwatch_client.describe_alarms(AlarmNames=names)
    except (ClientError, BotoCoreError) as exc:
        log.warning("cannot describe the rollback alarms: %s", exc)
        return []
    return sorted(
        a["AlarmName"]
        for a in described.get("MetricAlarms", [])
        if a.get("StateValue") == "ALARM" and a.get("AlarmName") in names
    )


# -- endpoint configs -------------------------------------------------------------------


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "Could not find" in str(
        error.get("Message", "")
    )


@dataclass(frozen=True)
class _Endpoint:
    exists: bool
    live: str | None
    pending: str | None


def _describe(sagemaker_client: Any, name: str) -> _Endpoint:
    try:
        described = sagemaker_client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if _not_found(exc):
            return _Endpoint(False, None, None)
        raise
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    return _Endpoint(True, described.get("EndpointConfigName"), pending)


def _model_configs(sagemaker_client: Any, environment: str, model: str) -> list[str]:
    """The model's deployment configs in this environment
    (``modelrail-<env>-<model tag>-v<N>-c-<10 hex>``), newest first."""
    contains, pattern = config_pattern(environment, model)
    kwargs: dict[str, Any] = {
        "NameContains": contains,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    names: list[str] = []
    created: list[datetime] = []
    while True:
        page = sagemaker_client.list_endpoint_configs(**kwargs)
        for summary in page.get("EndpointConfigs", []):
            name = summary.get("EndpointConfigName", "")
            if pattern.match(name):
                names.append(name)
                if isinstance(summary.get("CreationTime"), datetime):
                    created.append(summary["CreationTime"])
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    if len(created) == len(names):  # newest first even if the pages were not sorted
        order = sorted(range(len(names)), key=lambda i: created[i], reverse=True)
        names = [names[i] for i in order]
    return names


def cleanup_configs(
    sagemaker_client: Any,
    *,
    environment: str,
    model: str,
    keep: int,
    protected: Iterable[str | None],
) -> list[str]:
    """Delete the model's configs of this environment beyond the newest ``keep``, never a
    ``protected`` one; the names deleted."""
    keep_names = {name for name in protected if name}
    deleted = []
    for rank, name in enumerate(_model_configs(sagemaker_client, environment, model)):
        if rank < keep or name in keep_names:
            continue
        try:
            sagemaker_client.delete_endpoint_config(EndpointConfigName=name)
        except ClientError as exc:
            if not _not_found(exc):
                log.warning("could not delete endpoint config %s: %s", name, exc)
            continue
        deleted.append(name)
    return deleted


# -- the step ---------------------------------------------------------------------------


def _record(
    inp: FinishInput,
    *,
    registry: ModelRegistry,
    cloudwatch_client: Any,
    now: datetime,
) -> FinishOutput:
    plan = inp.plan
    label = f"{plan.model} v{plan.version}"
    endpoint = plan.endpoint_name

    def output(outcome: Outcome, message: str, **extra: Any) -> FinishOutput:
        return FinishOutput(
            outcome=outcome,
            model=plan.model,
            version=plan.version,
            endpoint_name=endpoint,
            config_name=plan.config_name,
            message=message,
            **extra,
        )

    if inp.error is not None:
        error = str(inp.error.get("Error") or "unknown error")
        cause = str(inp.error.get("Cause") or "no cause given")
        message = clip_reason(f"{label} failed on {endpoint}: {error}: {cause}")
        _settle(registry, plan, S.FAILED, message)
        return output("FAILED", message)
    if inp.endpoint is None:
        message = f"{label} failed on {endpoint}: neither the endpoint nor an error was given"
        _settle(registry, plan, S.FAILED, message)
        return output("FAILED", message)

    checked = verify(inp.endpoint, plan.config_name)
    live = checked.live_config
    if checked.verdict is Verdict.SUCCEEDED:
        _settle(registry, plan, S.PRODUCTION, plan.reason)
        moved, note = _move_champion(registry, plan)
        archived = _archive_replaced(registry, plan)
        message = f"{label} is in production on {endpoint} ({plan.config_name}); {note}"
        if archived:
            message += "; archived " + ", ".join(f"v{v}" for v in archived)
        return output("PRODUCTION", message, live_config_name=live, champion_moved=moved)
    if checked.verdict is Verdict.ROLLED_BACK:
        alarms = tripped_alarms(
            cloudwatch_client,
            [a.alarm_name for a in plan.rollback_alarms],
            started_at=plan.started_at,
            now=now,
        )
        serves = live or "its previous config"
        if alarms:
            what = ("alarm " if len(alarms) == 1 else "alarms ") + ", ".join(alarms)
            cause = f"{what} fired during the canary"
        else:
            cause = (
                "SageMaker rolled back without a reason and no rollback alarm was found in ALARM"
            )
        message = clip_reason(
            f"v{plan.version} rolled back on {endpoint}: {cause}; the endpoint serves "
            f"{serves} again"
        )
        _settle(registry, plan, S.ROLLED_BACK, message)
        return output("ROLLED_BACK", message, live_config_name=live, tripped_alarms=alarms)
    message = clip_reason(f"{label} failed on {endpoint}: {checked.explanation}")
    _settle(registry, plan, S.FAILED, message)
    return output("FAILED", message, live_config_name=live)


def finish_deployment(
    inp: FinishInput,
    *,
    registry: ModelRegistry,
    lock: EndpointLock,
    sagemaker_client: Any,
    cloudwatch_client: Any,
    keep_configs: int,
    environment: str,
    now: datetime,
) -> FinishOutput:
    """Record the deployment's outcome, delete old configs, release the lock (always).

    ``now`` bounds the alarm search when the plan's ``startedAt`` cannot be read.
    """
    if keep_configs < 0:
        raise ValueError(f"keep_configs must be at least 0, got {keep_configs}")
    plan = inp.plan
    try:
        result = _record(inp, registry=registry, cloudwatch_client=cloudwatch_client, now=now)
        try:
            state = _describe(sagemaker_client, plan.endpoint_name)
            reported = (inp.endpoint or {}).get("EndpointConfigName")
            deleted = cleanup_configs(
                sagemaker_client,
                environment=environment,
                model=plan.model,
                keep=keep_configs,
                protected=[reported, state.live, state.pending],
            )
        except (ClientError, BotoCoreError) as exc:
            log.warning("endpoint configs not cleaned up: %s", exc)
            return result
        update: dict[str, Any] = {"deleted_configs": deleted}
        if result.live_config_name is None and state.live is not None:
            update["live_config_name"] = state.live
        return result.model_copy(update=update)
    finally:
        try:
            lock.release(plan.endpoint_name, plan.execution_name)
        except Exception:  # the deployment is recorded; an unreleased lock expires
            log.exception("could not release the lock of %s", plan.endpoint_name)
