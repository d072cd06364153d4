"""``modelrail registry ...``: read and steer the model registry from a terminal.

Commands (each takes ``--json`` for machine-readable output, ``--table`` and ``--env``)::

    list     [--model M] [--status S] [--limit N]   versions, newest first (N per model)
    show     MODEL VERSION                          one version in full
    history  MODEL [--alias A] [--version V]        alias moves; V's status history too
    diff     MODEL V1 V2                            metrics (with deltas), hyperparameters,
                                                    data, code/image, gates
    promote  MODEL VERSION --reason R [--by B] [--expected N|none]
    rollback MODEL --reason R [--by B]
    approve  MODEL VERSION --reason R [--by B]
    reject   MODEL VERSION --reason R [--by B]
    card     MODEL VERSION [--out DIR] [--contracts DIR]
                                                    Markdown + HTML model card; the
                                                    contract is read if the model has one

**Which registry.** A :data:`RegistryFactory` turns the parsed arguments into a
:class:`~modelrail.registry.ModelRegistry`; tests inject one over ``InMemoryRegistry``.
The default builds ``DynamoDBRegistry(table)``, the table being ``--table``, else
``$MODELRAIL_REGISTRY_TABLE``, else the ``RegistryTableName`` output of the CloudFormation
stack ``modelrail-<--env>`` (default ``dev``). Standard AWS configuration applies, and
boto3 honours ``AWS_ENDPOINT_URL``, so the same commands work against AWS and against
a local cloud server. ``--by`` defaults to ``$MODELRAIL_ACTOR``, else the login name.

**promote** and **rollback** apply :mod:`modelrail.registry.aliases` (the same code
FinishDeployment uses): compare-and-swap moves of ``champion``, ``previous`` following a
promotion and staying put on a rollback, so two rollbacks never ping-pong. ``promote``
takes ``--expected`` (``none``: there is no champion yet); a ``previous`` move that
fails after the champion moved exits 1, the champion alias history being the
authoritative record either way. ``rollback`` redeploys the previous champion unless
``--pointer-only``; ``promote`` does not redeploy, and its output says so.

**Exit codes** are decided in one place, :data:`OUTCOMES`, by exception type (never by
message): 0 success; 2 when the request was refused as stated (not found, illegal
transition, stale status, alias or registration, not eligible, invalid request, nothing to roll back,
registry not configured, invalid contract): the caller must change something; 1 when
the operation could not be carried out (store failure, contention that outlasted the
retries, a promotion whose ``previous`` move failed): retrying may work. The error is
printed as one line on stderr (and, with ``--json``, as ``{"error": ...}`` on stdout).
"""

from __future__ import annotations

import argparse
import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelrail.contract import CONTRACTS_DIR, METRICS, ContractError, ModelContract, load_contract
from modelrail.deploy.client import DeploymentNotConfigured
from modelrail.model_card import build_card, parse_slice_key, write_card
from modelrail.registry.aliases import (
    READ_CHAMPION,
    NothingToRollBack,
    PreviousNotUpdated,
    promote,
    rollback,
    rollback_target,
)
from modelrail.registry.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InvalidRequest,
    ModelNotFound,
    NotEligible,
    RegistryError,
    StaleAlias,
    StaleRegistration,
    StaleStatus,
    StoreError,
    VersionNotFound,
)
from modelrail.registry.models import (
    AliasChange,
    AliasName,
    ModelVersion,
    VersionStatus,
    check_text,
    iso,
    utc_now,
)
from modelrail.registry.port import ModelRegistry

RegistryFactory = Callable[[argparse.Namespace], ModelRegistry]

ENV_ARTIFACTS = "MODELRAIL_ARTIFACTS_BUCKET"
ENV_TABLE = "MODELRAIL_REGISTRY_TABLE"
ENV_ACTOR = "MODELRAIL_ACTOR"
TABLE_OUTPUT = "RegistryTableName"
ARTIFACTS_OUTPUT = "ArtifactsBucketName"
DEFAULT_ENV = "dev"
DEFAULT_CARD_DIR = Path("out/cards")
DEPLOY_NOTE = (
    "the endpoint is not redeployed by this command; `modelrail deploy MODEL VERSION` or "
    "`modelrail registry rollback MODEL` (without --pointer-only) redeploys it"
)

CHAMPION = AliasName.CHAMPION
PREVIOUS = AliasName.PREVIOUS


# -- errors raised by the CLI itself ----------------------------------------------------


class RegistryNotConfigured(RegistryError):
    """The registry table could not be resolved (no stack, or no table output)."""


@dataclass(frozen=True)
class Outcome:
    code: int
    kind: str


#: The one place that maps an error to an exit code and a label. Looked up along the
#: exception's MRO, so the most specific entry wins.
OUTCOMES: dict[type[Exception], Outcome] = {
    ModelNotFound: Outcome(2, "not found"),
    VersionNotFound: Outcome(2, "not found"),
    IllegalTransition: Outcome(2, "illegal transition"),
    StaleStatus: Outcome(2, "stale status"),
    StaleAlias: Outcome(2, "stale alias"),
    StaleRegistration: Outcome(2, "stale registration"),
    NotEligible: Outcome(2, "not eligible"),
    InvalidRequest: Outcome(2, "invalid request"),
    NothingToRollBack: Outcome(2, "nothing to roll back"),
    RegistryNotConfigured: Outcome(2, "registry not configured"),
    DeploymentNotConfigured: Outcome(2, "deployment not configured"),
    ContractError: Outcome(2, "invalid contract"),
    ConcurrencyConflict: Outcome(1, "concurrency conflict"),
    StoreError: Outcome(1, "store error"),
    PreviousNotUpdated: Outcome(1, "previous not updated"),
    RegistryError: Outcome(1, "registry error"),
}


def outcome_for(exc: BaseException) -> Outcome | None:
    for cls in type(exc).__mro__:
        if cls in OUTCOMES:
            return OUTCOMES[cls]
    return None


def report_error(exc: Exception, outcome: Outcome, *, as_json: bool) -> int:
    message = " ".join(str(exc).split())
    if as_json:
        _emit({"error": {"kind": outcome.kind, "type": type(exc).__name__, "message": message}})
    print(f"modelrail registry: {outcome.kind}: {message}", file=sys.stderr)
    return outcome.code


# -- resolving the registry and the actor -----------------------------------------------


def resolve_table(args: argparse.Namespace, *, cloudformation: Any | None = None) -> str:
    """``--table``, else ``$MODELRAIL_REGISTRY_TABLE``, else the stack output."""
    explicit = getattr(args, "table", None) or os.environ.get(ENV_TABLE)
    if explicit:
        return str(explicit)
    hint = f"pass --table or set {ENV_TABLE}"
    return stack_output(args, TABLE_OUTPUT, cloudformation=cloudformation, advice=f"; {hint}")


def stack_output(
    args: argparse.Namespace,
    key: str,
    *,
    cloudformation: Any | None,
    advice: str,
    advise_on_failure: bool = False,
) -> str:
    """The environment stack's output ``key``. Raises RegistryNotConfigured (no stack, no
    output) or StoreError (DescribeStacks failed), each naming the stack; ``advice`` (what
    to do) ends the message, on failures too with ``advise_on_failure``."""
    from botocore.exceptions import BotoCoreError, ClientError

    stack = f"modelrail-{getattr(args, 'env', None) or DEFAULT_ENV}"
    failed = advice if advise_on_failure else ""
    try:
        if cloudformation is None:
            import boto3

            cloudformation = boto3.client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError":  # CloudFormation's code for "no such stack"
            raise RegistryNotConfigured(
                f"cannot find stack {stack!r} ({error.get('Message', exc)}){advice}"
            ) from exc
        raise StoreError(
            f"CloudFormation DescribeStacks {stack!r} failed: "
            f"{error.get('Code', '?')}: {error.get('Message', exc)}{failed}"
        ) from exc
    except BotoCoreError as exc:
        raise StoreError(f"CloudFormation DescribeStacks {stack!r} failed: {exc}{failed}") from exc
    for entry in stacks:
        for output in entry.get("Outputs", []):
            if output.get("OutputKey") == key and output.get("OutputValue"):
                return str(output["OutputValue"])
    raise RegistryNotConfigured(f"stack {stack!r} has no output {key!r}{advice}")


def default_registry_factory(args: argparse.Namespace) -> ModelRegistry:
    from modelrail.registry.dynamodb import DynamoDBRegistry

    return DynamoDBRegistry(resolve_table(args))


def resolve_actor(args: argparse.Namespace) -> str:
    """``--by``, else ``$MODELRAIL_ACTOR``, else the login name."""
    explicit = getattr(args, "by", None) or os.environ.get(ENV_ACTOR)
    if explicit:
        return str(explicit)
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        raise InvalidRequest(f"cannot tell who is acting: pass --by or set {ENV_ACTOR}") from None


# -- shaping data -----------------------------------------------------------------------


def aliases_of(registry: ModelRegistry, model: str) -> dict[AliasName, int]:
    """Where each alias of ``model`` points (unset aliases are absent)."""
    found: dict[AliasName, int] = {}
    for name in AliasName:
        alias = registry.get_alias(model, name)
        if alias is not None:
            found[name] = alias.version
    return found


def _names_for(version: int, aliases: dict[AliasName, int]) -> list[str]:
    return [name.value for name, v in aliases.items() if v == version]


def version_summary(version: ModelVersion, aliases: dict[AliasName, int]) -> dict[str, Any]:
    data = version.lineage.data
    return {
        "model": version.model,
        "version": version.version,
        "status": version.status.value,
        "aliases": _names_for(version.version, aliases),
        "created_at": version.created_at,
        "created_by": version.created_by,
        "gates_passed": version.gates_passed,
        "metrics": dict(version.metrics),
        "training_job_name": version.lineage.training_job_name,
        "data": {
            "key": data.key,
            "version_id": data.version_id,
            "sha256": data.sha256,
            "rows": data.rows,
        },
    }


def list_rows(
    registry: ModelRegistry,
    *,
    model: str | None = None,
    status: VersionStatus | str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Version summaries, newest first; every model (``limit`` each) when ``model`` is None."""
    models = [model] if model is not None else registry.list_models()
    rows: list[dict[str, Any]] = []
    for name in models:
        versions = registry.list_versions(name, status=status, limit=limit)
        if not versions:
            continue
        aliases = aliases_of(registry, name)
        rows.extend(version_summary(v, aliases) for v in versions)
    return rows


def _num(value: float) -> str:
    return f"{value:.6g}"


def _signed(value: float) -> str:
    return f"{value:+.6g}"


def _v(version: int | None) -> str:
    return "-" if version is None else f"v{version}"


def _compact_metrics(metrics: dict[str, float]) -> str:
    overall = {k: v for k, v in metrics.items() if parse_slice_key(k) is None}
    text = " ".join(f"{k}={_num(v)}" for k, v in sorted(overall.items()))
    slices = len(metrics) - len(overall)
    if slices:
        text += f" (+{slices} slice metrics)"
    return text or "-"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A compact, left-aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in [list(headers), *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return lines


def listing_lines(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["no versions"]
    return format_table(
        ("MODEL", "VERSION", "STATUS", "ALIASES", "GATES", "METRICS", "CREATED"),
        [
            (
                r["model"],
                f"v{r['version']}",
                r["status"],
                ",".join(r["aliases"]) or "-",
                "passed" if r["gates_passed"] else "failed",
                _compact_metrics(r["metrics"]),
                r["created_at"][:19].replace("T", " "),
            )
            for r in rows
        ],
    )


def print_listing(
    registry: ModelRegistry,
    *,
    model: str | None = None,
    status: VersionStatus | str | None = None,
    limit: int = 50,
) -> None:
    """Print the ``modelrail registry list`` table (for the demo and the command)."""
    for line in listing_lines(list_rows(registry, model=model, status=status, limit=limit)):
        print(line)


def _better(name: str, delta: float | None) -> bool | None:
    """Whether the change is an improvement, for metrics whose direction is known."""
    if delta is None or delta == 0:
        return None
    sliced = parse_slice_key(name)
    base = sliced[2] if sliced is not None else name
    if base not in METRICS:
        return None
    return (delta > 0) == METRICS[base][1]


def _changes(before: dict[str, Any], after: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [
        {key: name, "from": before.get(name), "to": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def diff_versions(a: ModelVersion, b: ModelVersion) -> dict[str, Any]:
    """What changed from ``a`` to ``b``. Metrics are all listed (with deltas); every other
    section lists only what differs."""
    metrics = []
    for name in sorted(a.metrics.keys() | b.metrics.keys()):
        old, new = a.metrics.get(name), b.metrics.get(name)
        delta = None if old is None or new is None else new - old
        metrics.append(
            {"name": name, "from": old, "to": new, "delta": delta, "better": _better(name, delta)}
        )
    la, lb = a.lineage, b.lineage
    data_fields = ("bucket", "key", "version_id", "sha256", "rows", "size_bytes")
    training_fields = ("code_version", "git_commit", "training_image", "seed")
    gates_a = {g.name: {"passed": g.passed, "reasons": list(g.reasons)} for g in a.gates}
    gates_b = {g.name: {"passed": g.passed, "reasons": list(g.reasons)} for g in b.gates}
    return {
        "model": a.model,
        "from_version": a.version,
        "to_version": b.version,
        "status": {"from": a.status.value, "to": b.status.value},
        "metrics": metrics,
        "hyperparameters": _changes(la.hyperparameters, lb.hyperparameters, "name"),
        "data": [
            {"field": f, "from": getattr(la.data, f), "to": getattr(lb.data, f)}
            for f in data_fields
            if getattr(la.data, f) != getattr(lb.data, f)
        ],
        "training": [
            {"field": f, "from": getattr(la, f), "to": getattr(lb, f)}
            for f in training_fields
            if getattr(la, f) != getattr(lb, f)
        ],
        "gates": _changes(gates_a, gates_b, "name"),
    }


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):  # a gate result
        verdict = "passed" if value["passed"] else "failed"
        return f"{verdict} ({'; '.join(value['reasons'])})" if value["reasons"] else verdict
    return str(value)


def diff_lines(diff: dict[str, Any]) -> list[str]:
    lines = [
        f"{diff['model']} v{diff['from_version']} -> v{diff['to_version']}"
        f"  ({diff['status']['from']} -> {diff['status']['to']})",
        "",
        "metrics",
    ]
    if diff["metrics"]:
        rows = []
        for m in diff["metrics"]:
            delta = "-" if m["delta"] is None else _signed(m["delta"])
            if m["better"] is not None:
                delta += " (better)" if m["better"] else " (worse)"
            rows.append((m["name"], _plain(m["from"]), _plain(m["to"]), delta))
        header = ("NAME", f"V{diff['from_version']}", f"V{diff['to_version']}", "DELTA")
        lines += ["  " + line for line in format_table(header, rows)]
    else:
        lines.append("  (no metrics)")
    for section, key in (
        ("hyperparameters", "name"),
        ("data", "field"),
        ("training", "field"),
        ("gates", "name"),
    ):
        lines += ["", section]
        changes = diff[section]
        if not changes:
            lines.append("  (no changes)")
            continue
        rows = [(c[key], _plain(c["from"]), "->", _plain(c["to"])) for c in changes]
        lines += ["  " + line for line in format_table(("", "", "", ""), rows)[1:]]
    return lines


def _change_json(change: AliasChange) -> dict[str, Any]:
    return change.model_dump(mode="json")


# -- operations -------------------------------------------------------------------------


def find_contract(model: str, contracts_dir: Path = CONTRACTS_DIR) -> ModelContract | None:
    """The model's contract if ``contracts_dir`` has a file for it, else None. A contract
    file that exists but is invalid raises ContractError."""
    if not any((contracts_dir / f"{model}{ext}").is_file() for ext in (".yaml", ".yml", ".json")):
        return None
    return load_contract(model, contracts_dir)


def write_model_card(
    registry: ModelRegistry,
    model: str,
    version: int,
    out_dir: Path = DEFAULT_CARD_DIR,
    *,
    contracts_dir: Path = CONTRACTS_DIR,
    generated_at: str | None = None,
) -> tuple[Path, Path]:
    """Write ``<model>-v<version>.md`` and ``.html`` from the registry; return both paths."""
    entity = registry.get_version(model, version)
    history = [change for name in AliasName for change in registry.alias_history(model, name)]
    champion = registry.get_alias(model, CHAMPION)
    card = build_card(
        entity,
        contract=find_contract(model, contracts_dir),
        alias_history=history,
        champion=None if champion is None else champion.version,
        generated_at=generated_at or iso(utc_now()),
    )
    return write_card(card, out_dir)


# -- commands ---------------------------------------------------------------------------


def _emit(payload: Any) -> None:
    print(json.dumps(payload, indent=2))


def _cmd_list(args: argparse.Namespace, registry: ModelRegistry) -> int:
    rows = list_rows(registry, model=args.model, status=args.status, limit=args.limit)
    if args.json:
        _emit({"versions": rows})
    else:
        for line in listing_lines(rows):
            print(line)
    return 0


def _cmd_show(args: argparse.Namespace, registry: ModelRegistry) -> int:
    v = registry.get_version(args.model, args.version)
    aliases = _names_for(v.version, aliases_of(registry, args.model))
    if args.json:
        _emit({**v.model_dump(mode="json"), "aliases": aliases, "gates_passed": v.gates_passed})
        return 0
    lin, data = v.lineage, v.lineage.data
    gates = ", ".join(f"{g.name} {'passed' if g.passed else 'FAILED'}" for g in v.gates)
    reasons = [f"{g.name}: {r}" for g in v.gates for r in g.reasons]
    hyper = " ".join(f"{k}={val}" for k, val in sorted(lin.hyperparameters.items()))
    facts = [
        ("status", v.status.value),
        ("aliases", ", ".join(aliases) or "-"),
        ("created", f"{v.created_at} by {v.created_by}"),
        ("metrics", _compact_metrics(v.metrics)),
        ("gates", gates or "none (no evidence: cannot carry an alias)"),
        *[("", r) for r in reasons],
        ("data", f"s3://{data.bucket}/{data.key} @ {data.version_id or 'unversioned'}"),
        ("", f"sha256 {data.sha256}, {data.rows:,} rows, {data.size_bytes:,} bytes"),
        ("training job", lin.training_job_name),
        *([("tuning job", lin.tuning_job_arn)] if lin.tuning_job_arn else []),
        ("image", lin.training_image),
        ("code", f"{lin.code_version} (git {lin.git_commit or '-'})"),
        ("hyperparams", f"{hyper or '-'} (seed {'-' if lin.seed is None else lin.seed})"),
        ("champion then", _v(lin.champion_at_training)),
        *(
            [("judged against", f"{_v(lin.compared_with.version)} ({lin.compared_with.reason})")]
            if lin.compared_with
            else []
        ),
        ("artifact", lin.model_artifact_uri),
    ]
    print(f"{v.model} v{v.version}")
    for line in format_table(("", ""), facts)[1:]:
        print("  " + line)
    print("status history")
    for line in _status_lines(v):
        print("  " + line)
    return 0


def _status_lines(v: ModelVersion) -> list[str]:
    return format_table(
        ("FROM", "TO", "AT", "BY", "REASON"),
        [
            (
                c.from_status.value if c.from_status else "-",
                c.to_status.value,
                c.at,
                c.by,
                c.reason,
            )
            for c in v.status_history
        ],
    )


def _cmd_history(args: argparse.Namespace, registry: ModelRegistry) -> int:
    alias = AliasName(args.alias)
    changes = registry.alias_history(args.model, alias)
    v = None if args.version is None else registry.get_version(args.model, args.version)
    if args.json:
        _emit(
            {
                "model": args.model,
                "alias": alias.value,
                "alias_history": [_change_json(c) for c in changes],
                "version": args.version,
                "status_history": None
                if v is None
                else [c.model_dump(mode="json") for c in v.status_history],
            }
        )
        return 0
    print(f"{alias.value} of {args.model}")
    if changes:
        rows = [
            (str(c.revision), _v(c.from_version), _v(c.to_version), c.at, c.by, c.reason)
            for c in changes
        ]
        for line in format_table(("REV", "FROM", "TO", "AT", "BY", "REASON"), rows):
            print("  " + line)
    else:
        print("  never set")
    if v is not None:
        print(f"status history of v{v.version}")
        for line in _status_lines(v):
            print("  " + line)
    return 0


def _cmd_diff(args: argparse.Namespace, registry: ModelRegistry) -> int:
    a = registry.get_version(args.model, args.v1)
    b = registry.get_version(args.model, args.v2)
    diff = diff_versions(a, b)
    if args.json:
        _emit(diff)
    else:
        for line in diff_lines(diff):
            print(line)
    return 0


def _cmd_promote(args: argparse.Namespace, registry: ModelRegistry) -> int:
    result = promote(
        registry,
        args.model,
        args.version,
        by=resolve_actor(args),
        reason=args.reason,
        expected=args.expected,
    )
    if args.json:
        _emit({**result.to_json(), "deploy_note": DEPLOY_NOTE})
        return 0
    print(
        f"champion of {result.model}: {_v(result.old_champion)} -> v{result.version} "
        f"(alias revision {result.champion.revision})"
    )
    if result.previous is not None:
        print(
            f"previous of {result.model}: {_v(result.previous_from)} -> v{result.previous.version}"
        )
    if result.note:
        print(f"note: {result.note}")
    print(f"note: {DEPLOY_NOTE}")
    return 0


def _cmd_rollback(args: argparse.Namespace, registry: ModelRegistry) -> int:
    if getattr(args, "redeploy", False):
        return _redeploy_previous(args, registry)
    result = rollback(registry, args.model, by=resolve_actor(args), reason=args.reason)
    if args.json:
        _emit({**result.to_json(), "deploy_note": DEPLOY_NOTE})
        return 0
    to = result.champion.version
    print(
        f"rolled back {result.model}: champion v{result.from_version} -> v{to} "
        f"(alias revision {result.champion.revision})"
    )
    print(
        f"previous stays at v{to}: v{result.from_version} is not a rollback target, so a "
        "second rollback is refused until the next promotion"
    )
    print(f"note: {DEPLOY_NOTE}")
    return 0


def _redeploy_previous(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """Redeploy ``previous`` through the deployment state machine; the champion moves (by
    compare-and-swap) only when the endpoint really serves it."""
    from modelrail.cli.deploy import report
    from modelrail.deploy.client import start_deployment, wait_for

    check_text("reason", args.reason)
    champion, previous = rollback_target(registry, args.model)
    arn = start_deployment(
        args.model,
        previous,
        env=args.env or DEFAULT_ENV,
        reason=f"rollback from v{champion} to v{previous}: {args.reason}",
        requested_by=resolve_actor(args),
    )
    if not args.json:
        print(f"rolling {args.model} back from v{champion} to v{previous}: redeploying v{previous}")
    return report(wait_for(arn), as_json=args.json)


def _transition(args: argparse.Namespace, registry: ModelRegistry, to: VersionStatus) -> int:
    updated = registry.transition(
        args.model, args.version, to, by=resolve_actor(args), reason=args.reason
    )
    change = updated.status_history[-1]
    before = change.from_status.value if change.from_status else None
    if args.json:
        _emit(
            {
                "model": updated.model,
                "version": updated.version,
                "from": before,
                "to": change.to_status.value,
                "at": change.at,
                "by": change.by,
                "reason": change.reason,
            }
        )
    else:
        print(f"{updated.model} v{updated.version}: {before} -> {change.to_status.value}")
    return 0


def _cmd_approve(args: argparse.Namespace, registry: ModelRegistry) -> int:
    bucket = _approval_bucket(args)  # before anything changes: a failure here changes nothing
    code = _transition(args, registry, VersionStatus.APPROVED)
    return code or _answer_pipeline(args, bucket, approved=True)


def _cmd_reject(args: argparse.Namespace, registry: ModelRegistry) -> int:
    bucket = _approval_bucket(args)
    code = _transition(args, registry, VersionStatus.REJECTED)
    return code or _answer_pipeline(args, bucket, approved=False)


def resolve_artifacts_bucket(args: argparse.Namespace, *, cloudformation: Any | None = None) -> str:
    """``--artifacts-bucket``, else ``$MODELRAIL_ARTIFACTS_BUCKET``, else the stack's
    ``ArtifactsBucketName`` output. Raises RegistryNotConfigured (no stack, no output) or
    StoreError (DescribeStacks failed), each naming the stack and what to do."""
    explicit = getattr(args, "artifacts_bucket", None) or os.environ.get(ENV_ARTIFACTS)
    if explicit:
        return str(explicit)
    what = (
        "the waiting pipeline cannot be answered and nothing was changed; pass "
        f"--artifacts-bucket or set {ENV_ARTIFACTS} (the stack's {ARTIFACTS_OUTPUT} output), "
        "or check --env and your AWS credentials, then run the command again"
    )
    return stack_output(
        args,
        ARTIFACTS_OUTPUT,
        cloudformation=cloudformation,
        advice=f": {what}",
        advise_on_failure=True,
    )


def _approval_bucket(args: argparse.Namespace) -> str | None:
    """Where approval requests wait, when this command answers the pipeline."""
    if not getattr(args, "answer_pipeline", False):
        return None
    return resolve_artifacts_bucket(args)


def _answer_pipeline(args: argparse.Namespace, bucket: str | None, *, approved: bool) -> int:
    if bucket is None:
        return 0
    import boto3

    from modelrail.steps.approval import answer_approval

    execution = answer_approval(
        args.model,
        args.version,
        approved=approved,
        by=resolve_actor(args),
        reason=args.reason,
        s3=boto3.client("s3"),
        sfn=boto3.client("stepfunctions"),
        bucket=bucket,
    )
    if execution and not args.json:
        print(f"  pipeline {execution.rsplit(':', 1)[-1]} {'resumed' if approved else 'stopped'}")
    return 0


def _cmd_card(args: argparse.Namespace, registry: ModelRegistry) -> int:
    markdown, page = write_model_card(
        registry, args.model, args.version, Path(args.out), contracts_dir=Path(args.contracts)
    )
    if args.json:
        _emit(
            {
                "model": args.model,
                "version": args.version,
                "markdown": str(markdown),
                "html": str(page),
            }
        )
    else:
        print(f"wrote {markdown}")
        print(f"wrote {page}")
    return 0


Handler = Callable[[argparse.Namespace, ModelRegistry], int]
_HANDLED: tuple[type[Exception], ...] = tuple(OUTCOMES)


def run_command(args: argparse.Namespace, *, handler: Handler, factory: RegistryFactory) -> int:
    """Build the registry, run one command, and turn a known error into its exit code."""
    try:
        return handler(args, factory(args))
    except _HANDLED as exc:
        outcome = outcome_for(exc)
        assert outcome is not None  # every caught type is a key of OUTCOMES
        return report_error(exc, outcome, as_json=bool(getattr(args, "json", False)))


# -- the parser -------------------------------------------------------------------------


def _version_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a version number: {text!r}") from None


def _expected(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    return _version_number(text)


def _positive(text: str) -> int:
    value = _version_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    factory: RegistryFactory | None = None,
) -> None:
    """Add ``registry`` and its subcommands. ``factory`` builds the registry from the
    parsed arguments (default: :func:`default_registry_factory`)."""
    make = factory or default_registry_factory
    registry = subparsers.add_parser(
        "registry",
        help="list, inspect, promote, roll back and document model versions",
        description="Read and steer the model registry.",
    )
    sub = registry.add_subparsers(dest="registry_command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--table", help=f"registry table (default: ${ENV_TABLE}, else the stack output)"
    )
    common.add_argument(
        "--env",
        default=DEFAULT_ENV,
        help=f"environment whose stack modelrail-ENV names the table (default {DEFAULT_ENV})",
    )
    writer = argparse.ArgumentParser(add_help=False)
    writer.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    writer.add_argument("--by", help=f"who (default: ${ENV_ACTOR}, else your login name)")

    def command(
        name: str, handler: Handler, help_: str, *, writes: bool = False
    ) -> argparse.ArgumentParser:
        parents = [common, writer] if writes else [common]
        parser = sub.add_parser(name, help=help_, description=help_, parents=parents)
        parser.set_defaults(func=functools.partial(run_command, handler=handler, factory=make))
        return parser

    statuses = [s.value for s in VersionStatus]
    aliases = [a.value for a in AliasName]

    p = command("list", _cmd_list, "list versions, newest first")
    p.add_argument("--model", help="one model (default: every model)")
    p.add_argument("--status", choices=statuses)
    p.add_argument("--limit", type=_positive, default=50, help="versions per model (default 50)")

    p = command("show", _cmd_show, "show one version in full")
    p.add_argument("model")
    p.add_argument("version", type=_version_number)

    p = command("history", _cmd_history, "alias history, and a version's status history")
    p.add_argument("model")
    p.add_argument("--alias", choices=aliases, default=CHAMPION.value)
    p.add_argument("--version", type=_version_number, help="also show this version's statuses")

    p = command("diff", _cmd_diff, "what changed between two versions")
    p.add_argument("model")
    p.add_argument("v1", type=_version_number)
    p.add_argument("v2", type=_version_number)

    p = command("promote", _cmd_promote, "make a version the champion", writes=True)
    p.add_argument("model")
    p.add_argument("version", type=_version_number)
    p.add_argument(
        "--expected",
        type=_expected,
        default=READ_CHAMPION,
        help="the champion you expect now, or 'none' (default: read it)",
    )

    p = command(
        "rollback", _cmd_rollback, "redeploy the previous champion and point the champion back",
        writes=True,
    )  # fmt: skip
    p.add_argument("model")
    p.add_argument(
        "--pointer-only",
        dest="redeploy",
        action="store_false",
        help="only move the champion alias back; do not redeploy the endpoint",
    )
    # Only against a real store: an injected registry has no deployment behind it.
    p.set_defaults(redeploy=factory is None)

    for name, handler, help_ in (
        ("approve", _cmd_approve, "approve a version (and resume its waiting pipeline)"),
        ("reject", _cmd_reject, "reject a version (and stop its waiting pipeline)"),
    ):
        p = command(name, handler, help_, writes=True)
        p.add_argument("model")
        p.add_argument("version", type=_version_number)
        p.add_argument(
            "--artifacts-bucket",
            help=f"where approval requests wait (default: ${ENV_ARTIFACTS}, else the stack output)",
        )
        # Only against a real store: an injected registry has no pipeline behind it.
        p.set_defaults(answer_pipeline=factory is None)

    p = command("card", _cmd_card, "write a version's model card (Markdown and HTML)")
    p.add_argument("model")
    p.add_argument("version", type=_version_number)
    p.add_argument("--out", default=str(DEFAULT_CARD_DIR), help="output folder")
    p.add_argument("--contracts", default=str(CONTRACTS_DIR), help="contracts folder")


def main(argv: Sequence[str] | None = None, *, factory: RegistryFactory | None = None) -> int:
    """``modelrail registry ...`` on its own (argv starts with ``registry``); returns the
    exit code, including argparse's 2 for a usage error."""
    parser = argparse.ArgumentParser(prog="modelrail")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub, factory=factory)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        return 2
    code: int = args.func(args)
    return code
