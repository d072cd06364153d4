"""PlanDeployment and FinishDeployment over the in-memory registry and lock.

SageMaker and CloudWatch are small fakes written here; ``Harness.deploy`` plays the
state machine between the two functions (CreateEndpointConfig, then the endpoint
settling as the test says).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelrail.deploy.finish import ALARM_LOOKBACK, finish_deployment
from modelrail.deploy.lock import InMemoryEndpointLock
from modelrail.deploy.models import (
    DeploymentPlan,
    DeployRequest,
    Fault,
    FinishInput,
    FinishOutput,
)
from modelrail.deploy.naming import alarm_names, endpoint_name
from modelrail.deploy.plan import (
    DeploymentInProgress,
    DeploymentQueueTimeout,
    DeploymentRefused,
    DeploymentSuperseded,
    FaultInjectionRefused,
    plan_deployment,
)
from modelrail.registry import (
    AliasName,
    ComparedWith,
    InMemoryRegistry,
    ModelVersion,
    VersionStatus,
)
from modelrail.release import PIPELINE
from tests.conftest_registry import TickClock, gates, lineage

MODEL = "demand"
ENV = "dev"
ENDPOINT = endpoint_name(ENV, MODEL)
ALARMS = alarm_names(ENV, MODEL)
S = VersionStatus
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class FakeSageMaker:
    """DescribeEndpoint, ListEndpointConfigs (2 per page), DeleteEndpointConfig."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, datetime] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    describe_error: ClientError | None = None
    page_size: int = 2
    made: int = 0

    def describe_endpoint(self, *, EndpointName: str) -> dict[str, Any]:
        if self.describe_error is not None:
            raise self.describe_error
        if EndpointName not in self.endpoints:
            raise client_error(
                "ValidationException",
                f'Could not find endpoint "{EndpointName}".',
                "DescribeEndpoint",
            )
        return dict(self.endpoints[EndpointName])

    def add_config(self, name: str) -> None:
        self.made += 1
        self.configs[name] = T0 + timedelta(minutes=self.made)

    def list_endpoint_configs(
        self,
        *,
        NameContains: str,
        SortBy: str,
        SortOrder: str,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        assert (SortBy, SortOrder) == ("CreationTime", "Descending")
        rows = sorted(
            ((n, t) for n, t in self.configs.items() if NameContains in n),
            key=lambda r: r[1],
            reverse=True,
        )
        start = int(NextToken or 0)
        page = rows[start : start + self.page_size]
        out: dict[str, Any] = {
            "EndpointConfigs": [
                {"EndpointConfigName": n, "EndpointConfigArn": f"arn:{n}", "CreationTime": t}
                for n, t in page
            ]
        }
        if start + self.page_size < len(rows):
            out["NextToken"] = str(start + self.page_size)
        return out

    def delete_endpoint_config(self, *, EndpointConfigName: str) -> None:
        if EndpointConfigName not in self.configs:
            raise client_error(
                "ValidationException",
                f'Could not find endpoint configuration "{EndpointConfigName}".',
                "DeleteEndpointConfig",
            )
        del self.configs[EndpointConfigName]
        self.deleted.append(EndpointConfigName)


@dataclass
class FakeCloudWatch:
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    history_calls: list[dict[str, Any]] = field(default_factory=list)

    def fire(self, alarm: str, at: datetime, *, summary: bool = True, to: str = "ALARM") -> None:
        old = "OK" if to == "ALARM" else "ALARM"
        item: dict[str, Any] = {
            "AlarmName": alarm,
            "Timestamp": at,
            "HistoryItemType": "StateUpdate",
            "HistoryData": json.dumps(
                {"oldState": {"stateValue": old}, "newState": {"stateValue": to}}
            ),
        }
        if summary:
            item["HistorySummary"] = f"Alarm updated from {old} to {to}"
        self.history.setdefault(alarm, []).append(item)

    def describe_alarm_history(
        self,
        *,
        AlarmName: str,
        HistoryItemType: str,
        StartDate: datetime,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        self.history_calls.append({"AlarmName": AlarmName, "StartDate": StartDate})
        items = [
            i
            for i in self.history.get(AlarmName, [])
            if i["HistoryItemType"] == HistoryItemType and i["Timestamp"] >= StartDate
        ]
        return {"AlarmHistoryItems": items}

    def describe_alarms(self, *, AlarmNames: list[str]) -> dict[str, Any]:
        return {
            "MetricAlarms": [
                {"AlarmName": n, "StateValue": self.states.get(n, "OK")} for n in AlarmNames
            ]
        }


@dataclass
class Harness:
    registry: InMemoryRegistry = field(default_factory=lambda: InMemoryRegistry(clock=TickClock()))
    lock: InMemoryEndpointLock = field(default_factory=InMemoryEndpointLock)
    sagemaker: FakeSageMaker = field(default_factory=FakeSageMaker)
    cloudwatch: FakeCloudWatch = field(default_factory=FakeCloudWatch)
    require_approval: bool = False
    allow_fault_injection: bool = True
    keep_configs: int = 3
    runs: int = 0

    def register(
        self, *, status: S = S.APPROVED, passed: bool = True, judged_against: int | None = None
    ) -> ModelVersion:
        n = len(self.registry.list_versions(MODEL, limit=1000)) + 1
        compared = ComparedWith(
            version=judged_against, role="none" if judged_against is None else "champion",
            reason="test",
        )  # fmt: skip
        return self.registry.register_version(
            MODEL,
            metrics={"rmse": 12.5},
            lineage=lineage(f"train-demand-{n}", compared_with=compared),
            gates=gates(passed),
            created_by="pipeline",
            status=status,
        )

    def request(
        self,
        version: int,
        *,
        execution: str | None = None,
        fault: Fault | None = None,
        by: str = "alice",
        attempt: int = 0,
    ) -> DeployRequest:
        if execution is None:
            self.runs += 1
            execution = f"deploy-{self.runs}"
        return DeployRequest(
            model=MODEL,
            version=version,
            reason=f"deploy v{version}",
            requested_by=by,
            fault=fault,
            execution_name=execution,
            attempt=attempt,
            started_at=(T0 + timedelta(hours=self.runs)).isoformat().replace("+00:00", "Z"),
        )

    def plan(
        self, request: DeployRequest, *, now: datetime | None = None, looks: int = 3
    ) -> DeploymentPlan:
        return plan_deployment(
            request,
            registry=self.registry,
            lock=self.lock,
            sagemaker_client=self.sagemaker,
            environment=ENV,
            region="eu-west-1",
            require_approval=self.require_approval,
            allow_fault_injection=self.allow_fault_injection,
            max_seconds=3600,
            now=now or T0,
            queue_looks=looks,
        )

    def finish(self, inp: FinishInput) -> FinishOutput:
        return finish_deployment(
            inp,
            registry=self.registry,
            lock=self.lock,
            sagemaker_client=self.sagemaker,
            cloudwatch_client=self.cloudwatch,
            keep_configs=self.keep_configs,
            environment=ENV,
            now=T0 + timedelta(days=1),
        )

    def settle(self, plan: DeploymentPlan, outcome: str) -> FinishInput:
        """What the state machine does between the two functions."""
        self.sagemaker.add_config(plan.config_name)
        old = plan.live_config_name
        if outcome == "success":
            state = {"EndpointStatus": "InService", "EndpointConfigName": plan.config_name}
        elif outcome == "rollback":
            assert old is not None
            state = {"EndpointStatus": "InService", "EndpointConfigName": old}
        elif outcome == "failed":
            state = {
                "EndpointStatus": "Failed",
                "EndpointConfigName": plan.config_name,
                "FailureReason": "ping health check failed",
            }
        else:
            raise AssertionError(outcome)
        described = {"EndpointName": plan.endpoint_name, **state}
        self.sagemaker.endpoints[plan.endpoint_name] = described
        return FinishInput(plan=plan, endpoint=dict(described), error=None)

    def deploy(
        self, version: int, outcome: str = "success", **kwargs: Any
    ) -> tuple[DeploymentPlan, FinishOutput]:
        plan = self.plan(self.request(version, **kwargs))
        return plan, self.finish(self.settle(plan, outcome))

    def status(self, version: int) -> S:
        return self.registry.get_version(MODEL, version).status

    def alias(self, name: AliasName) -> int | None:
        current = self.registry.get_alias(MODEL, name)
        return None if current is None else current.version


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- plan -------------------------------------------------------------------------------


def test_first_deployment_creates_the_endpoint_and_crowns_the_version(h: Harness) -> None:
    h.register()
    plan = h.plan(h.request(1))
    dumped = plan.model_dump(by_alias=True, mode="json")
    assert dumped["endpointExists"] is False and dumped["liveConfigName"] is None
    assert dumped["endpointName"] == ENDPOINT == "modelrail-dev-demand"
    assert dumped["previousChampion"] is None
    assert dumped["modelName"].startswith("modelrail-dev-demand-v1-m-")
    assert dumped["configName"].startswith("modelrail-dev-demand-v1-c-")
    assert dumped["rollbackAlarms"] == [
        {"AlarmName": "modelrail-dev-demand-5xx"},
        {"AlarmName": "modelrail-dev-demand-latency-p99"},
        {"AlarmName": "modelrail-dev-demand-model-errors"},
    ]
    assert dumped["image"] == lineage().training_image
    assert dumped["modelDataUrl"] == "s3://modelrail-artifacts/train-demand-1/model.tar.gz"
    assert dumped["environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "eu-west-1",
        "MODELRAIL_MODEL": "demand",
        "MODELRAIL_VERSION": "1",
    }
    assert h.status(1) is S.DEPLOYING
    assert h.registry.get_version(MODEL, 1).status_history[-1].reason == "deploy v1"
    held = h.lock.get(ENDPOINT)
    assert held is not None and held.holder == "deploy-1"
    assert held.expires_at == int(T0.timestamp()) + 3600 + 900
    # the plan round-trips through the JSON the state machine carries
    assert DeploymentPlan.model_validate(dumped) == plan

    result = h.finish(h.settle(plan, "success"))
    assert result.outcome == "PRODUCTION"
    assert result.champion_moved is True
    assert result.live_config_name == plan.config_name
    assert "first champion" in result.message
    assert h.status(1) is S.PRODUCTION
    assert h.alias(AliasName.CHAMPION) == 1
    assert h.alias(AliasName.PREVIOUS) is None
    assert h.lock.get(ENDPOINT) is None
    out = result.model_dump(by_alias=True, mode="json")
    assert set(out) == {
        "outcome", "model", "version", "endpointName", "configName", "liveConfigName",
        "trippedAlarms", "message", "deletedConfigs", "championMoved",
    }  # fmt: skip


def test_second_deployment_moves_the_champion_archives_the_old_one_and_sets_previous(
    h: Harness,
) -> None:
    h.register()
    h.register()
    first_plan, _ = h.deploy(1)
    plan, result = h.deploy(2)
    assert plan.endpoint_exists is True
    assert plan.live_config_name == first_plan.config_name
    assert plan.previous_champion == 1
    assert result.outcome == "PRODUCTION"
    assert result.champion_moved is True
    assert "champion v1 -> v2" in result.message and "previous v1" in result.message
    assert h.alias(AliasName.CHAMPION) == 2
    assert h.alias(AliasName.PREVIOUS) == 1
    assert h.status(2) is S.PRODUCTION
    v1 = h.registry.get_version(MODEL, 1)
    assert v1.status is S.ARCHIVED
    assert v1.status_history[-1].reason == "replaced by v2 on modelrail-dev-demand"


def test_redeploying_the_previous_version_is_a_rollback_that_keeps_previous(h: Harness) -> None:
    for _ in range(2):
        h.register()
    h.deploy(1)
    h.deploy(2)
    plan = h.plan(h.request(1))
    assert h.status(1) is S.DEPLOYING  # ARCHIVED -> DEPLOYING
    result = h.finish(h.settle(plan, "success"))
    assert result.outcome == "PRODUCTION" and result.champion_moved is True
    assert h.alias(AliasName.CHAMPION) == 1
    assert h.alias(AliasName.PREVIOUS) == 1  # not moved to the version rolled back from
    assert h.status(1) is S.PRODUCTION
    assert h.status(2) is S.ARCHIVED
    champion_history = h.registry.alias_history(MODEL, AliasName.CHAMPION)
    assert champion_history[-1].reason == "rollback from v2 to v1: deploy v1"
    assert len(h.registry.alias_history(MODEL, AliasName.PREVIOUS)) == 1


def test_a_canary_rolled_back_by_an_alarm_names_it_and_leaves_the_champion(h: Harness) -> None:
    for _ in range(3):
        h.register()
    _, second = h.deploy(1)
    _, second = h.deploy(2)
    plan = h.plan(h.request(3, fault=Fault(error_rate=1.0)))
    assert plan.environment["MODELRAIL_FAULT_ERROR_RATE"] == "1"
    assert plan.environment["MODELRAIL_FAULT_LATENCY_MS"] == "0"
    started = datetime.fromisoformat(plan.started_at)
    h.cloudwatch.fire(ALARMS["latency"], started - timedelta(hours=2))  # an older incident
    h.cloudwatch.fire(ALARMS["errors"], started + timedelta(minutes=3))
    result = h.finish(h.settle(plan, "rollback"))
    assert result.outcome == "ROLLED_BACK"
    assert result.tripped_alarms == ["modelrail-dev-demand-5xx"]
    assert result.message == (
        "v3 rolled back on modelrail-dev-demand: alarm modelrail-dev-demand-5xx fired "
        f"during the canary; the endpoint serves {second.config_name} again"
    )
    assert result.live_config_name == second.config_name
    assert result.champion_moved is False
    v3 = h.registry.get_version(MODEL, 3)
    assert v3.status is S.ROLLED_BACK
    assert "modelrail-dev-demand-5xx" in v3.status_history[-1].reason
    assert h.alias(AliasName.CHAMPION) == 2
    assert h.alias(AliasName.PREVIOUS) == 1
    assert h.status(2) is S.PRODUCTION
    assert {c["StartDate"] for c in h.cloudwatch.history_calls} == {started - ALARM_LOOKBACK}
    assert h.lock.get(ENDPOINT) is None


def test_an_alarm_already_firing_when_the_update_began_is_named(h: Harness) -> None:
    h.register()
    h.register()
    h.register()
    h.deploy(1)
    plan = h.plan(h.request(2))
    started = datetime.fromisoformat(plan.started_at)
    # latency went to ALARM a minute before the update and stayed there; 5xx fired and
    # recovered before it: only latency is named
    h.cloudwatch.fire(ALARMS["latency"], started - timedelta(minutes=1))
    h.cloudwatch.fire(ALARMS["errors"], started - timedelta(minutes=5))
    h.cloudwatch.fire(ALARMS["errors"], started - timedelta(minutes=4), to="OK")
    result = h.finish(h.settle(plan, "rollback"))
    assert result.tripped_alarms == [ALARMS["latency"]]


def test_alarm_history_without_a_summary_is_read_from_its_data(h: Harness) -> None:
    h.register()
    h.register()
    h.deploy(1)
    plan = h.plan(h.request(2))
    h.cloudwatch.fire(ALARMS["model_errors"], T0 + timedelta(days=2), summary=False)
    result = h.finish(h.settle(plan, "rollback"))
    assert result.tripped_alarms == [ALARMS["model_errors"]]


def test_a_rollback_falls_back_to_alarms_in_alarm_then_says_none_was_found(h: Harness) -> None:
    h.register()
    h.register()
    h.register()
    h.deploy(1)
    h.cloudwatch.states[ALARMS["latency"]] = "ALARM"
    _, result = h.deploy(2, "rollback")
    assert result.tripped_alarms == [ALARMS["latency"]]
    assert "alarm modelrail-dev-demand-latency-p99 fired" in result.message

    h.cloudwatch.states.clear()
    _, result = h.deploy(3, "rollback")
    assert result.outcome == "ROLLED_BACK"
    assert result.tripped_alarms == []
    assert (
        "SageMaker rolled back without a reason and no rollback alarm was found in ALARM"
        in result.message
    )
    assert h.status(3) is S.ROLLED_BACK


def test_a_failed_sagemaker_task_fails_the_version_and_unlocks(h: Harness) -> None:
    h.register()
    plan = h.plan(h.request(1))
    error = {"Error": "SageMaker.ResourceLimitExceededException", "Cause": "quota of ml.m5"}
    result = h.finish(FinishInput(plan=plan, endpoint=None, error=error))
    assert result.outcome == "FAILED"
    assert "SageMaker.ResourceLimitExceededException" in result.message
    assert "quota of ml.m5" in result.message
    v1 = h.registry.get_version(MODEL, 1)
    assert v1.status is S.FAILED
    assert "ResourceLimitExceeded" in v1.status_history[-1].reason
    assert "quota of ml.m5" in v1.status_history[-1].reason
    assert h.alias(AliasName.CHAMPION) is None
    assert h.lock.get(ENDPOINT) is None


def test_an_endpoint_that_failed_fails_the_version(h: Harness) -> None:
    h.register()
    _, result = h.deploy(1, "failed")
    assert result.outcome == "FAILED"
    assert "ping health check failed" in result.message
    assert h.status(1) is S.FAILED
    assert h.alias(AliasName.CHAMPION) is None


# -- refusals ---------------------------------------------------------------------------


def test_a_busy_endpoint_is_refused_naming_the_holder(h: Harness) -> None:
    h.register()
    h.register()
    h.plan(h.request(1, execution="exec-one"))
    with pytest.raises(DeploymentInProgress) as caught:
        h.plan(h.request(2, execution="exec-two"), now=T0 + timedelta(minutes=5))
    message = str(caught.value)
    assert "modelrail-dev-demand" in message
    assert "exec-one" in message and "demand v1" in message
    assert "2025-03-01T12:00:00" in message and "retry when it finishes" in message
    assert isinstance(caught.value, DeploymentRefused)
    assert h.status(2) is S.APPROVED
    with pytest.raises(DeploymentInProgress, match="execution exec-one"):
        h.plan(h.request(1, execution="exec-three"))  # the same version, DEPLOYING
    assert h.status(1) is S.DEPLOYING
    held = h.lock.get(ENDPOINT)
    assert held is not None and held.holder == "exec-one"


def test_a_queued_pipeline_deployment_gives_up_at_its_last_look_as_failed(h: Harness) -> None:
    h.register()
    h.register(judged_against=1)
    h.plan(h.request(1, execution="exec-one"))
    with pytest.raises(DeploymentInProgress):
        h.plan(h.request(2, by=PIPELINE, attempt=1), looks=3)
    assert h.status(2) is S.APPROVED  # still queued
    with pytest.raises(DeploymentQueueTimeout, match="at each of 3 looks") as caught:
        h.plan(h.request(2, by=PIPELINE, attempt=2), looks=3)
    assert "modelrail deploy demand 2 --env dev" in str(caught.value)
    last = h.registry.get_version(MODEL, 2).status_history[-1]
    assert last.to_status is S.FAILED and "exec-one" in last.reason


def test_a_queued_version_beaten_by_a_newer_approved_one_is_superseded(h: Harness) -> None:
    h.register()
    h.register(judged_against=1)
    h.register(judged_against=2)
    h.plan(h.request(1, execution="exec-one"))
    with pytest.raises(DeploymentSuperseded, match="superseded by v3"):
        h.plan(h.request(2, by=PIPELINE))
    last = h.registry.get_version(MODEL, 2).status_history[-1]
    assert last.to_status is S.SUPERSEDED and last.by == PIPELINE
    assert "judged better than v2" in last.reason
    with pytest.raises(DeploymentInProgress):  # v3 waits for v1's deployment
        h.plan(h.request(3, by=PIPELINE))
    assert h.status(3) is S.APPROVED


def test_an_operator_deployment_skips_the_queue_rules(h: Harness) -> None:
    h.register()
    h.register(judged_against=1)
    plan = h.plan(h.request(1, by="alice"))  # v2 beat v1, but a person chose v1
    assert plan.version == 1 and h.status(1) is S.DEPLOYING


def test_a_pipeline_deployment_on_stale_evidence_is_superseded(h: Harness) -> None:
    h.register()
    h.register()  # judged against nothing
    h.deploy(1)  # v1 became champion after v2 was judged
    with pytest.raises(DeploymentSuperseded, match="evidence is stale"):
        h.plan(h.request(2, by=PIPELINE))
    assert h.status(2) is S.SUPERSEDED
    plan = h.plan(h.request(2, by="alice"))  # an explicit deployment still may
    assert plan.version == 2 and h.status(2) is S.DEPLOYING


def test_a_retried_plan_is_safe_and_an_expired_lock_is_taken_over(h: Harness) -> None:
    h.register()
    h.register()
    first = h.plan(h.request(1, execution="exec-one"))
    again = h.plan(h.request(1, execution="exec-one"))
    assert again == first
    assert [c.to_status for c in h.registry.get_version(MODEL, 1).status_history] == [
        S.APPROVED,
        S.DEPLOYING,
    ]
    late = T0 + timedelta(seconds=3600 + 900 + 1)
    taken = h.plan(h.request(2, execution="exec-two"), now=late)
    assert taken.execution_name == "exec-two"
    held = h.lock.get(ENDPOINT)
    assert held is not None and held.holder == "exec-two"


def test_pending_approval_is_refused(h: Harness) -> None:
    h.register(status=S.PENDING_APPROVAL)
    with pytest.raises(DeploymentRefused, match="awaits approval; run modelrail registry approve"):
        h.plan(h.request(1))
    assert h.status(1) is S.PENDING_APPROVAL
    assert h.lock.get(ENDPOINT) is None


def test_registered_needs_approval_where_required_and_is_approved_elsewhere(h: Harness) -> None:
    h.register(status=S.REGISTERED)
    h.require_approval = True
    with pytest.raises(DeploymentRefused, match="registered but dev requires approval"):
        h.plan(h.request(1))
    assert h.status(1) is S.REGISTERED
    h.require_approval = False
    h.plan(h.request(1))
    history = h.registry.get_version(MODEL, 1).status_history
    assert [c.to_status for c in history] == [S.REGISTERED, S.APPROVED, S.DEPLOYING]
    assert history[1].reason == "approved automatically: dev needs no manual approval"
    assert history[1].by == "alice"


def test_rejected_and_failed_gates_are_refused(h: Harness) -> None:
    h.register(status=S.REJECTED)
    h.register(passed=False)
    with pytest.raises(DeploymentRefused, match="was rejected"):
        h.plan(h.request(1))
    with pytest.raises(DeploymentRefused, match="gates failed: rmse"):
        h.plan(h.request(2))
    assert h.lock.get(ENDPOINT) is None


def test_a_fault_is_refused_where_fault_injection_is_not_allowed(h: Harness) -> None:
    h.register()
    h.allow_fault_injection = False
    with pytest.raises(FaultInjectionRefused, match="fault injection is not allowed in dev"):
        h.plan(h.request(1, fault=Fault(latency_ms=500)))
    assert h.status(1) is S.APPROVED
    assert h.lock.get(ENDPOINT) is None


def test_an_endpoint_not_in_service_is_refused_and_the_lock_released(h: Harness) -> None:
    h.register()
    h.register()
    h.deploy(1)
    h.sagemaker.endpoints[ENDPOINT]["EndpointStatus"] = "Failed"
    with pytest.raises(DeploymentRefused, match="endpoint modelrail-dev-demand is Failed"):
        h.plan(h.request(2))
    assert h.status(2) is S.APPROVED
    assert h.lock.get(ENDPOINT) is None


def test_an_unexpected_sagemaker_error_releases_the_lock(h: Harness) -> None:
    h.register()
    h.sagemaker.describe_error = client_error("AccessDeniedException", "no", "DescribeEndpoint")
    with pytest.raises(ClientError):
        h.plan(h.request(1))
    assert h.lock.get(ENDPOINT) is None
    assert h.status(1) is S.APPROVED


# -- retries, races, cleanup ------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["success", "rollback", "failed", "error"])
def test_a_retried_finish_changes_nothing_more(h: Harness, outcome: str) -> None:
    h.register()
    h.register()
    h.deploy(1)
    plan = h.plan(h.request(2))
    if outcome == "error":
        inp = FinishInput(plan=plan, endpoint=None, error={"Error": "X", "Cause": "Y"})
    else:
        inp = h.settle(plan, outcome)
    first = h.finish(inp)
    events = h.registry.events(MODEL, limit=1000)
    second = h.finish(inp)
    assert second.outcome == first.outcome
    assert second.champion_moved == first.champion_moved
    assert second.tripped_alarms == first.tripped_alarms
    assert h.registry.events(MODEL, limit=1000) == events
    assert second.deleted_configs == []


def test_a_champion_moved_during_the_deployment_is_left_alone(h: Harness) -> None:
    for _ in range(3):
        h.register()
    h.deploy(1)
    plan = h.plan(h.request(2))
    h.registry.move_alias(
        MODEL, AliasName.CHAMPION, to_version=3, expected_version=1, by="bob", reason="manual"
    )
    result = h.finish(h.settle(plan, "success"))
    assert result.outcome == "PRODUCTION"
    assert result.champion_moved is False
    assert "champion was not moved" in result.message and "it is v3" in result.message
    assert h.alias(AliasName.CHAMPION) == 3
    assert h.status(2) is S.PRODUCTION
    assert h.lock.get(ENDPOINT) is None


def test_cleanup_keeps_the_newest_and_never_deletes_the_live_config(h: Harness) -> None:
    h.keep_configs = 2
    for _ in range(5):
        h.register()
    c1 = h.deploy(1)[0].config_name
    c2 = h.deploy(2)[0].config_name  # live from now on: every later canary rolls back
    # not this model's deployment configs, though ListEndpointConfigs returns them
    h.sagemaker.add_config("old-demand-v1-c-0123456789")
    h.sagemaker.add_config("demand-v1-c-manual")
    p3, r3 = h.deploy(3, "rollback")
    assert r3.deleted_configs == [c1]
    p4, r4 = h.deploy(4, "rollback")
    assert r4.deleted_configs == []  # c2 is past the newest two, but live
    p5, r5 = h.deploy(5, "rollback")
    assert r5.deleted_configs == [p3.config_name]
    assert r5.live_config_name == c2
    assert h.sagemaker.deleted == [c1, p3.config_name]
    assert set(h.sagemaker.configs) == {
        p5.config_name,
        p4.config_name,
        c2,
        "old-demand-v1-c-0123456789",
        "demand-v1-c-manual",
    }


def test_cleanup_protects_the_config_an_update_is_moving_to(h: Harness) -> None:
    h.keep_configs = 0
    h.register()
    h.register()
    _, first = h.deploy(1)
    plan = h.plan(h.request(2))
    inp = FinishInput(plan=plan, endpoint=None, error={"Error": "States.Timeout", "Cause": "late"})
    h.sagemaker.add_config(plan.config_name)
    h.sagemaker.endpoints[ENDPOINT] = {
        "EndpointName": ENDPOINT,
        "EndpointStatus": "Updating",
        "EndpointConfigName": first.config_name,
        "PendingDeploymentSummary": {"EndpointConfigName": plan.config_name},
    }
    result = h.finish(inp)
    assert result.outcome == "FAILED"
    assert result.deleted_configs == []
    assert result.live_config_name == first.config_name


def test_a_deleted_config_that_is_already_gone_is_ignored(h: Harness) -> None:
    h.keep_configs = 1
    h.register()
    h.register()
    c1 = h.deploy(1)[0].config_name
    original = h.sagemaker.delete_endpoint_config

    def vanish(*, EndpointConfigName: str) -> None:
        h.sagemaker.configs.pop(EndpointConfigName, None)  # someone deleted it first
        original(EndpointConfigName=EndpointConfigName)

    h.sagemaker.delete_endpoint_config = vanish  # type: ignore[method-assign]
    _, result = h.deploy(2)
    assert result.outcome == "PRODUCTION"
    assert result.deleted_configs == []
    assert c1 not in h.sagemaker.configs
