"""``modelrail registry ...`` (modelrail.cli.registry) over an injected InMemoryRegistry,
plus one run against DynamoDBRegistry on moto through the default factory (``--table``)."""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import modelrail.registry.errors as errors_module
from modelrail.cli.registry import (
    DEPLOY_NOTE,
    OUTCOMES,
    RegistryNotConfigured,
    main,
    outcome_for,
    resolve_table,
)
from modelrail.registry import (
    AliasName,
    DynamoDBRegistry,
    InMemoryRegistry,
    ModelRegistry,
    ModelVersion,
    RegistryError,
    StoreError,
    VersionStatus,
)
from tests.conftest_registry import REGION, TABLE, TickClock, create_registry_table, gates, lineage

MODEL = "demand"
S = VersionStatus


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELRAIL_REGISTRY_TABLE", raising=False)
    monkeypatch.setenv("MODELRAIL_ACTOR", "tester")


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry(clock=TickClock())


@pytest.fixture
def cli(registry: InMemoryRegistry, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> Result:
        code = main(["registry", *argv], factory=lambda _args: registry)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def squash(text: str) -> str:
    """Text with every run of whitespace (column padding, newlines) made one space."""
    return " ".join(text.split())


def register(
    registry: ModelRegistry,
    n: int,
    *,
    model: str = MODEL,
    metrics: dict[str, float] | None = None,
    passed: bool = True,
    approve: bool = True,
    **lineage_overrides: Any,
) -> ModelVersion:
    """Register a version (gates passed unless told) and, by default, approve it."""
    v = registry.register_version(
        model,
        metrics={"rmse": 20.0 - n, "mae": 10.0} if metrics is None else metrics,
        lineage=lineage(f"train-{model}-{n}", **lineage_overrides),
        gates=gates(passed),
        created_by="pipeline",
    )
    if approve:
        v = registry.transition(model, v.version, S.APPROVED, by="reviewer", reason="looks good")
    return v


def champion(registry: ModelRegistry, model: str = MODEL) -> int | None:
    alias = registry.get_alias(model, AliasName.CHAMPION)
    return None if alias is None else alias.version


def previous(registry: ModelRegistry, model: str = MODEL) -> int | None:
    alias = registry.get_alias(model, AliasName.PREVIOUS)
    return None if alias is None else alias.version


# -- reading ----------------------------------------------------------------------------


def test_list_json_shape_across_models_and_filters(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1)
    register(registry, 2, approve=False)
    register(registry, 1, model="churn", metrics={"accuracy": 0.9})
    assert cli("promote", MODEL, "1", "--reason", "first").code == 0

    result = cli("list", "--json")
    assert result.code == 0, result.err
    rows = result.json()["versions"]
    assert [(r["model"], r["version"]) for r in rows] == [
        ("churn", 1),
        ("demand", 2),
        ("demand", 1),
    ]
    first = rows[2]
    assert set(first) == {
        "model",
        "version",
        "status",
        "aliases",
        "created_at",
        "created_by",
        "gates_passed",
        "metrics",
        "training_job_name",
        "data",
    }
    assert first["status"] == "approved"
    assert first["aliases"] == ["champion"]
    assert first["gates_passed"] is True
    assert first["metrics"] == {"rmse": 19.0, "mae": 10.0}
    assert first["training_job_name"] == "train-demand-1"
    assert first["data"] == {
        "key": "datasets/demand/2025-01-01.csv",
        "version_id": "v1",
        "sha256": "a" * 64,
        "rows": 1000,
    }

    only = cli("list", "--model", MODEL, "--status", "registered", "--json").json()["versions"]
    assert [(r["model"], r["version"], r["status"]) for r in only] == [(MODEL, 2, "registered")]
    limited = cli("list", "--model", MODEL, "--limit", "1", "--json").json()["versions"]
    assert [r["version"] for r in limited] == [2]

    human = cli("list")
    assert human.code == 0
    lines = human.out.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "VERSION",
        "STATUS",
        "ALIASES",
        "GATES",
        "METRICS",
        "CREATED",
    ]
    assert "champion" in lines[3] and "rmse=19" in lines[3]
    assert cli("list", "--model", "nothing-here").out.strip() == "no versions"


def test_list_rejects_an_unknown_status(cli: Run) -> None:
    result = cli("list", "--status", "live")
    assert result.code == 2
    assert "invalid choice: 'live'" in result.err


def test_show_json_and_human(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, hyperparameters={"max_depth": "6"}, git_commit="abc123")
    data = cli("show", MODEL, "1", "--json").json()
    assert data["model"] == MODEL and data["version"] == 1
    assert data["status"] == "approved"
    assert data["aliases"] == [] and data["gates_passed"] is True
    assert data["lineage"]["hyperparameters"] == {"max_depth": "6"}
    assert data["lineage"]["data"]["sha256"] == "a" * 64
    assert [c["to_status"] for c in data["status_history"]] == ["registered", "approved"]
    assert [g["name"] for g in data["gates"]] == ["schema", "rmse"]

    human = cli("show", MODEL, "1").out
    for fact in ("demand v1", "approved", "train-demand-1", "max_depth=6", "abc123", "looks good"):
        assert fact in human, fact


def test_show_unknown_model_and_version_exit_2(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1)
    missing = cli("show", MODEL, "9")
    assert missing.code == 2
    assert missing.err.strip() == "modelrail registry: not found: model 'demand' has no version 9"
    assert missing.out == ""
    unknown = cli("show", "nope", "1", "--json")
    assert unknown.code == 2
    assert unknown.json() == {
        "error": {
            "kind": "not found",
            "type": "ModelNotFound",
            "message": "model 'nope' is not in the registry",
        }
    }


def test_diff_json_shape(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, metrics={"rmse": 14.0, "r2": 0.8, "mae": 9.0})
    other_data = lineage("x").data.model_copy(update={"sha256": "b" * 64, "rows": 2000})
    register(
        registry,
        2,
        metrics={"rmse": 12.5, "r2": 0.75, "custom": 1.0},
        hyperparameters={"max_depth": "8", "eta": "0.1"},
        data=other_data,
        code_version="c0de2",
    )
    diff = cli("diff", MODEL, "1", "2", "--json").json()
    assert diff["model"] == MODEL and (diff["from_version"], diff["to_version"]) == (1, 2)
    assert diff["metrics"] == [
        {"name": "custom", "from": None, "to": 1.0, "delta": None, "better": None},
        {"name": "mae", "from": 9.0, "to": None, "delta": None, "better": None},
        {"name": "r2", "from": 0.8, "to": 0.75, "delta": pytest.approx(-0.05), "better": False},
        {"name": "rmse", "from": 14.0, "to": 12.5, "delta": -1.5, "better": True},
    ]
    assert diff["hyperparameters"] == [
        {"name": "eta", "from": None, "to": "0.1"},
        {"name": "max_depth", "from": "6", "to": "8"},
    ]
    assert diff["data"] == [
        {"field": "sha256", "from": "a" * 64, "to": "b" * 64},
        {"field": "rows", "from": 1000, "to": 2000},
    ]
    assert diff["training"] == [{"field": "code_version", "from": "c0de", "to": "c0de2"}]
    assert diff["gates"] == []

    human = squash(cli("diff", MODEL, "1", "2").out)
    assert "rmse 14 12.5 -1.5 (better)" in human
    assert "r2 0.8 0.75 -0.05 (worse)" in human
    assert "max_depth 6 -> 8" in human
    assert "gates (no changes)" in human


def test_diff_shows_gate_changes(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, passed=False, approve=False)
    register(registry, 2)
    diff = cli("diff", MODEL, "1", "2", "--json").json()
    assert diff["gates"] == [
        {
            "name": "rmse",
            "from": {"passed": False, "reasons": ["rmse 31.2 > 25"]},
            "to": {"passed": True, "reasons": []},
        }
    ]
    assert "rmse failed (rmse 31.2 > 25) -> passed" in squash(cli("diff", MODEL, "1", "2").out)


def test_history_of_an_alias_and_of_a_version(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1)
    register(registry, 2)
    cli("promote", MODEL, "1", "--reason", "first")
    cli("promote", MODEL, "2", "--reason", "better rmse")
    data = cli("history", MODEL, "--json").json()
    assert data["alias"] == "champion" and data["version"] is None
    assert data["status_history"] is None
    moves = [
        (c["from_version"], c["to_version"], c["by"], c["reason"]) for c in data["alias_history"]
    ]
    assert moves == [(None, 1, "tester", "first"), (1, 2, "tester", "better rmse")]

    prev = cli("history", MODEL, "--alias", "previous", "--version", "1", "--json").json()
    assert [(c["from_version"], c["to_version"]) for c in prev["alias_history"]] == [(None, 1)]
    assert [c["to_status"] for c in prev["status_history"]] == ["registered", "approved"]

    human = cli("history", MODEL, "--version", "2").out
    assert "champion of demand" in human and "better rmse" in human
    assert "status history of v2" in human and "looks good" in human


# -- promote ----------------------------------------------------------------------------


def test_promote_reads_the_champion_and_moves_previous(
    registry: InMemoryRegistry, cli: Run
) -> None:
    for n in (1, 2):
        register(registry, n)
    first = cli("promote", MODEL, "1", "--reason", "first model", "--json")
    assert first.code == 0, first.err
    assert first.json() == {
        "model": MODEL,
        "version": 1,
        "champion": {"from": None, "to": 1, "revision": 1},
        "previous": None,
        "note": "there was no champion",
        "redeployed": False,
        "deploy_note": DEPLOY_NOTE,
    }
    second = cli("promote", MODEL, "2", "--reason", "rmse 18 beats 19", "--by", "carol")
    assert second.code == 0, second.err
    assert second.out.splitlines() == [
        "champion of demand: v1 -> v2 (alias revision 2)",
        "previous of demand: - -> v1",
        f"note: {DEPLOY_NOTE}",
    ]
    assert (champion(registry), previous(registry)) == (2, 1)
    last = registry.alias_history(MODEL, AliasName.CHAMPION)[-1]
    assert (last.by, last.reason) == ("carol", "rmse 18 beats 19")
    prev = registry.alias_history(MODEL, AliasName.PREVIOUS)[-1]
    assert prev.reason == "replaced as champion by v2: rmse 18 beats 19"


def test_promote_with_the_right_expectation(registry: InMemoryRegistry, cli: Run) -> None:
    for n in (1, 2):
        register(registry, n)
    assert cli("promote", MODEL, "1", "--reason", "r", "--expected", "none").code == 0
    assert cli("promote", MODEL, "2", "--reason", "r", "--expected", "1").code == 0
    assert (champion(registry), previous(registry)) == (2, 1)


def test_promote_with_a_stale_expectation_exits_2_and_names_both(
    registry: InMemoryRegistry, cli: Run
) -> None:
    for n in (1, 2, 3):
        register(registry, n)
    cli("promote", MODEL, "1", "--reason", "r")
    cli("promote", MODEL, "2", "--reason", "r")
    stale = cli("promote", MODEL, "3", "--reason", "r", "--expected", "1")
    assert stale.code == 2
    assert stale.err.strip() == (
        "modelrail registry: stale alias: champion of 'demand' is v2, not v1 as expected"
    )
    nothing = cli("promote", MODEL, "3", "--reason", "r", "--expected", "none")
    assert nothing.code == 2
    assert "champion of 'demand' is v2, not unset as expected" in nothing.err
    assert (champion(registry), previous(registry)) == (2, 1)  # nothing moved


def test_promote_refuses_an_ineligible_version(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, approve=False)
    register(registry, 2, passed=False, approve=False)
    pending = cli("promote", MODEL, "1", "--reason", "r")
    assert pending.code == 2
    assert "not eligible: 'demand' v1 cannot be champion: it is registered" in pending.err
    failed = cli("promote", MODEL, "2", "--reason", "r")
    assert failed.code == 2
    assert "cannot be champion: gates failed: rmse" in failed.err
    assert cli("promote", MODEL, "7", "--reason", "r").code == 2
    assert champion(registry) is None


def test_promote_does_not_make_a_failed_champion_previous(
    registry: InMemoryRegistry, cli: Run
) -> None:
    for n in (1, 2, 3):
        register(registry, n)
    cli("promote", MODEL, "1", "--reason", "r")
    cli("promote", MODEL, "2", "--reason", "r")  # previous -> v1
    for status in (S.DEPLOYING, S.FAILED):
        registry.transition(MODEL, 2, status, by="deployer", reason="endpoint failed")
    result = cli("promote", MODEL, "3", "--reason", "r")
    assert result.code == 0, result.err
    assert "note: previous not moved: v2 may not be previous (it is failed;" in result.out
    assert (champion(registry), previous(registry)) == (3, 1)  # rollback goes to v1, not v2


def test_promote_with_a_blank_reason_writes_nothing(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1)
    result = cli("promote", MODEL, "1", "--reason", "  ")
    assert result.code == 2
    assert "invalid request: reason must be a non-empty string" in result.err
    assert registry.events(MODEL)[0].type == "model_version.status_changed"


# -- rollback ---------------------------------------------------------------------------


def test_rollback_restores_the_previous_champion_and_records_it(
    registry: InMemoryRegistry, cli: Run
) -> None:
    for n in (1, 2):
        register(registry, n)
    cli("promote", MODEL, "1", "--reason", "first")
    cli("promote", MODEL, "2", "--reason", "second")
    result = cli("rollback", MODEL, "--reason", "p95 latency alarm", "--by", "oncall")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "rolled back demand: champion v2 -> v1 (alias revision 3)"
    assert "--pointer-only" in result.out
    assert (champion(registry), previous(registry)) == (1, 1)
    last = registry.alias_history(MODEL, AliasName.CHAMPION)[-1]
    assert (last.from_version, last.to_version, last.by) == (2, 1, "oncall")
    assert last.reason == "rollback from v2 to v1: p95 latency alarm"
    history = cli("history", MODEL, "--json").json()["alias_history"]
    assert [(c["from_version"], c["to_version"]) for c in history] == [(None, 1), (1, 2), (2, 1)]
    # statuses are the deployment workflow's business: untouched
    assert registry.get_version(MODEL, 2).status is S.APPROVED


def test_a_second_rollback_is_refused(registry: InMemoryRegistry, cli: Run) -> None:
    for n in (1, 2):
        register(registry, n)
    cli("promote", MODEL, "1", "--reason", "first")
    cli("promote", MODEL, "2", "--reason", "second")
    assert cli("rollback", MODEL, "--reason", "alarm").code == 0
    again = cli("rollback", MODEL, "--reason", "alarm again", "--json")
    assert again.code == 2
    assert again.json()["error"]["kind"] == "nothing to roll back"
    assert "previous is v1, which already is the champion" in again.err
    assert champion(registry) == 1


def test_rollback_without_a_target(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1)
    none = cli("rollback", MODEL, "--reason", "r")
    assert none.code == 2
    assert "nothing to roll back for 'demand': no champion is set" in none.err
    cli("promote", MODEL, "1", "--reason", "r")
    unset = cli("rollback", MODEL, "--reason", "r")
    assert unset.code == 2
    assert "the champion is v1 and previous is unset" in unset.err
    unknown = cli("rollback", "nope", "--reason", "r")
    assert unknown.code == 2
    assert "not found: model 'nope' is not in the registry" in unknown.err


def test_rollback_json(registry: InMemoryRegistry, cli: Run) -> None:
    for n in (1, 2):
        register(registry, n)
    cli("promote", MODEL, "1", "--reason", "first")
    cli("promote", MODEL, "2", "--reason", "second")
    assert cli("rollback", MODEL, "--reason", "alarm", "--json").json() == {
        "model": MODEL,
        "champion": {"from": 2, "to": 1, "revision": 3},
        "previous": {"version": 1, "moved": False},
        "redeployed": False,
        "deploy_note": DEPLOY_NOTE,
    }


# -- approve / reject -------------------------------------------------------------------


def test_approve_and_reject(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, approve=False)
    register(registry, 2, approve=False)
    registry.transition(MODEL, 2, S.PENDING_APPROVAL, by="pipeline", reason="needs review")
    approved = cli("approve", MODEL, "1", "--reason", "reviewed", "--json")
    assert approved.code == 0, approved.err
    data = approved.json()
    assert {k: data[k] for k in ("model", "version", "from", "to", "by", "reason")} == {
        "model": MODEL,
        "version": 1,
        "from": "registered",
        "to": "approved",
        "by": "tester",  # $MODELRAIL_ACTOR
        "reason": "reviewed",
    }
    rejected = cli("reject", MODEL, "2", "--reason", "leaks the target", "--by", "dana")
    assert rejected.out.strip() == "demand v2: pending_approval -> rejected"
    v2 = registry.get_version(MODEL, 2)
    assert v2.status is S.REJECTED
    assert (v2.status_history[-1].by, v2.status_history[-1].reason) == ("dana", "leaks the target")


def test_an_illegal_transition_exits_2(registry: InMemoryRegistry, cli: Run) -> None:
    register(registry, 1, approve=False)
    cli("reject", MODEL, "1", "--reason", "no")
    result = cli("approve", MODEL, "1", "--reason", "changed my mind")
    assert result.code == 2
    assert result.err.strip() == (
        "modelrail registry: illegal transition: cannot move 'demand' v1 from rejected to "
        "approved; allowed from rejected: none (terminal status)"
    )
    again = cli("approve", MODEL, "1", "--reason", "r")
    assert again.code == 2 and "from rejected to approved" in again.err


def test_by_falls_back_to_the_login_name(
    registry: InMemoryRegistry, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELRAIL_ACTOR")
    monkeypatch.setattr("getpass.getuser", lambda: "login-name")
    register(registry, 1, approve=False)
    assert cli("approve", MODEL, "1", "--reason", "ok").code == 0
    assert registry.get_version(MODEL, 1).status_history[-1].by == "login-name"


# -- card -------------------------------------------------------------------------------


def test_card_files_are_written(registry: InMemoryRegistry, cli: Run, tmp_path: Path) -> None:
    register(registry, 1, metrics={"rmse": 12.5, "slice:store_id=S01:rmse": 30.0})
    cli("promote", MODEL, "1", "--reason", "first")
    result = cli("card", MODEL, "1", "--out", str(tmp_path), "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data == {
        "model": MODEL,
        "version": 1,
        "markdown": str(tmp_path / "demand-v1.md"),
        "html": str(tmp_path / "demand-v1.html"),
    }
    markdown = (tmp_path / "demand-v1.md").read_text(encoding="utf-8")
    assert "Daily units sold" in markdown  # the repository's demand contract
    assert "| rmse | 12.5 | primary | \\<= 25 | pass |" in markdown
    assert "| store\\_id | S01 | 30 (fail) |" in markdown
    assert "v1 is the champion now." in markdown
    assert "<h1>Model card: demand v1</h1>" in (tmp_path / "demand-v1.html").read_text()

    human = cli("card", MODEL, "1", "--out", str(tmp_path / "h"))
    assert human.out.splitlines() == [
        f"wrote {tmp_path / 'h' / 'demand-v1.md'}",
        f"wrote {tmp_path / 'h' / 'demand-v1.html'}",
    ]


def test_card_without_a_contract(registry: InMemoryRegistry, cli: Run, tmp_path: Path) -> None:
    register(registry, 1, model="fraud", metrics={"accuracy": 0.9})
    assert cli("card", "fraud", "1", "--out", str(tmp_path)).code == 0
    assert "No contract was found" in (tmp_path / "fraud-v1.md").read_text()


def test_card_with_a_broken_contract_exits_2(
    registry: InMemoryRegistry, cli: Run, tmp_path: Path
) -> None:
    (tmp_path / "demand.yaml").write_text("name: demand\nproblem_type: nonsense\n")
    register(registry, 1)
    result = cli("card", MODEL, "1", "--out", str(tmp_path / "out"), "--contracts", str(tmp_path))
    assert result.code == 2
    assert "invalid contract:" in result.err and "problem_type" in result.err
    assert not (tmp_path / "out").exists()


def test_card_of_a_missing_version_exits_2(cli: Run, tmp_path: Path) -> None:
    result = cli("card", MODEL, "1", "--out", str(tmp_path))
    assert result.code == 2
    assert "not found: model 'demand' is not in the registry" in result.err


# -- error mapping and registry resolution ----------------------------------------------


def test_every_registry_error_has_an_explicit_exit_code() -> None:
    subclasses = [
        cls
        for _, cls in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(cls, RegistryError)
    ]
    assert len(subclasses) >= 10
    missing = [cls.__name__ for cls in subclasses if cls not in OUTCOMES]
    assert missing == []
    assert {cls.__name__: OUTCOMES[cls].code for cls in subclasses} == {
        "RegistryError": 1,
        "InvalidRequest": 2,
        "ModelNotFound": 2,
        "VersionNotFound": 2,
        "IllegalTransition": 2,
        "StaleStatus": 2,
        "StaleAlias": 2,
        "StaleRegistration": 2,
        "NotEligible": 2,
        "ConcurrencyConflict": 1,
        "StoreError": 1,
    }

    class Unknown(StoreError):
        pass

    outcome = outcome_for(Unknown("x"))
    assert outcome is not None and outcome.code == 1  # the nearest mapped base class


def test_a_store_error_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(_args: argparse.Namespace) -> ModelRegistry:
        raise StoreError("DynamoDB Query on table 't' failed: AccessDeniedException: no")

    assert main(["registry", "list"], factory=broken) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "modelrail registry: store error: DynamoDB Query on table 't' failed: "
        "AccessDeniedException: no"
    )


class FakeCloudFormation:
    def __init__(self, outputs: list[dict[str, str]] | None = None, code: str = "") -> None:
        self.outputs = outputs or []
        self.code = code
        self.asked: list[str] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.asked.append(StackName)
        if self.code:
            raise ClientError(
                {
                    "Error": {
                        "Code": self.code,
                        "Message": f"Stack with id {StackName} does not exist",
                    }
                },
                "DescribeStacks",
            )
        return {"Stacks": [{"StackName": StackName, "Outputs": self.outputs}]}


def test_resolve_table_order(monkeypatch: pytest.MonkeyPatch) -> None:
    cfn = FakeCloudFormation([{"OutputKey": "RegistryTableName", "OutputValue": "from-stack"}])
    args = argparse.Namespace(table=None, env="prod")
    assert resolve_table(args, cloudformation=cfn) == "from-stack"
    assert cfn.asked == ["modelrail-prod"]
    monkeypatch.setenv("MODELRAIL_REGISTRY_TABLE", "from-env")
    assert resolve_table(args, cloudformation=cfn) == "from-env"
    assert resolve_table(argparse.Namespace(table="flag", env="dev"), cloudformation=cfn) == "flag"
    assert cfn.asked == ["modelrail-prod"]


def test_resolve_table_failures() -> None:
    args = argparse.Namespace(table=None, env="dev")
    with pytest.raises(RegistryNotConfigured, match="cannot find stack 'modelrail-dev'"):
        resolve_table(args, cloudformation=FakeCloudFormation(code="ValidationError"))
    with pytest.raises(RegistryNotConfigured, match="has no output 'RegistryTableName'"):
        resolve_table(args, cloudformation=FakeCloudFormation([]))
    with pytest.raises(StoreError, match="AccessDenied"):
        resolve_table(args, cloudformation=FakeCloudFormation(code="AccessDenied"))
    assert OUTCOMES[RegistryNotConfigured].code == 2


# -- DynamoDB on moto, through the default factory ----------------------------------------


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDBRegistry]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_registry_table(client)
        yield DynamoDBRegistry(TABLE, client=client, clock=TickClock())


def test_the_default_factory_on_dynamodb(
    dynamodb: DynamoDBRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for n in (1, 2):
        register(dynamodb, n)

    def run(*argv: str) -> Result:
        code = main(["registry", *argv, "--table", TABLE])  # no factory: the default one
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    listed = run("list", "--json")
    assert listed.code == 0, listed.err
    assert [r["version"] for r in listed.json()["versions"]] == [2, 1]
    assert run("promote", MODEL, "1", "--reason", "first", "--expected", "none").code == 0
    assert run("promote", MODEL, "2", "--reason", "second").code == 0
    stale = run("promote", MODEL, "1", "--reason", "r", "--expected", "1")
    assert stale.code == 2
    assert "champion of 'demand' is v2, not v1 as expected" in stale.err
    # without a deployment state machine a redeploying rollback is refused, clearly
    refused = run("rollback", MODEL, "--reason", "alarm")
    assert refused.code == 2
    assert "deployment not configured" in refused.err and "modelrail-dev" in refused.err
    assert champion(dynamodb) == 2
    assert run("rollback", MODEL, "--reason", "alarm", "--pointer-only").code == 0
    assert (champion(dynamodb), previous(dynamodb)) == (1, 1)
    assert run("show", MODEL, "1", "--json").json()["aliases"] == ["champion", "previous"]
    assert run("card", MODEL, "2", "--out", str(tmp_path)).code == 0
    assert "rollback from v2 to v1: alarm" in (tmp_path / "demand-v2.md").read_text()
    missing = main(["registry", "list", "--table", "no-such-table"])
    assert missing == 1
    assert "store error: DynamoDB Query on table 'no-such-table' failed" in capsys.readouterr().err


# -- approve / reject answer the waiting pipeline, or fail saying why ---------------------


def test_approve_fails_clearly_and_changes_nothing_when_the_stack_cannot_be_read(
    dynamodb: DynamoDBRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --artifacts-bucket the approval record is found through the stack's
    outputs; a DescribeStacks failure must not leave the run waiting behind exit 0."""
    register(dynamodb, 1, approve=False)  # no stack modelrail-dev on moto
    code = main(["registry", "approve", MODEL, "1", "--reason", "ok", "--table", TABLE])
    err = squash(capsys.readouterr().err)
    assert code == 2
    assert "cannot find stack 'modelrail-dev'" in err
    assert "the waiting pipeline cannot be answered" in err
    assert "--artifacts-bucket" in err and "MODELRAIL_ARTIFACTS_BUCKET" in err
    assert "nothing was changed" in err
    assert dynamodb.get_version(MODEL, 1).status is S.REGISTERED


def test_the_artifacts_bucket_comes_from_the_flag_the_environment_or_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelrail.cli.registry import resolve_artifacts_bucket

    monkeypatch.delenv("MODELRAIL_ARTIFACTS_BUCKET", raising=False)
    args = argparse.Namespace(artifacts_bucket=None, env="prod")
    cfn = FakeCloudFormation([{"OutputKey": "ArtifactsBucketName", "OutputValue": "from-stack"}])
    assert resolve_artifacts_bucket(args, cloudformation=cfn) == "from-stack"
    with pytest.raises(RegistryNotConfigured, match="stack 'modelrail-prod' has no output"):
        resolve_artifacts_bucket(args, cloudformation=FakeCloudFormation([]))
    with pytest.raises(StoreError, match=r"DescribeStacks 'modelrail-prod' failed: AccessDenied"):
        resolve_artifacts_bucket(args, cloudformation=FakeCloudFormation(code="AccessDenied"))
    monkeypatch.setenv("MODELRAIL_ARTIFACTS_BUCKET", "from-env")
    assert resolve_artifacts_bucket(args, cloudformation=FakeCloudFormation(code="X")) == "from-env"
