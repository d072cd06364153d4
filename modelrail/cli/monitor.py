"""``modelrail drift check|history`` and ``modelrail labels upload``: the deployed
monitoring from a terminal (AWS or ``modelrail local up``; ``--env`` picks the stack)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_ENV = "dev"
EXIT_DRIFTED = 3


def _fail(exc: Exception) -> int:
    from modelrail.cli.registry import outcome_for

    outcome = outcome_for(exc)
    print(f"modelrail: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2 if outcome is None else outcome.code


def _check_line(check: Any) -> str:
    line = f"{check.model}: {check.status} ({check.reason})"
    if check.drifted:
        line += f"; drifted: {', '.join(check.drifted[:8])}"
    if check.live is not None:
        line += f"; live {check.live.name} {check.live.value:.4g} on {check.live.labelled_rows} labelled rows"
    return line


def _cmd_check(args: argparse.Namespace) -> int:
    import boto3

    from modelrail.cli.registry import resolve_actor, stack_output
    from modelrail.monitoring.client import OUTPUT, start_check, wait_check

    sfn = boto3.client("stepfunctions")
    try:
        arn = stack_output(args, OUTPUT, cloudformation=None, advice="; deploy the stack first")
    except Exception as exc:  # RegistryNotConfigured / StoreError, each with its stack
        return _fail(exc)
    execution = start_check(
        args.model, state_machine_arn=arn, sfn=sfn, requested_by=resolve_actor(args)
    )
    run = wait_check(execution, sfn=sfn)
    if args.json:
        print(json.dumps(run.to_json(), indent=2))
    elif run.check is None:
        print(f"check {execution.rsplit(':', 1)[-1]}: {run.status}: {run.error}: {run.cause}")
    else:
        print(_check_line(run.check))
        if run.check.report_uri:
            print(f"  reports: {run.check.report_uri}")
        if run.retrain is not None and run.retrain.action != "none":
            print(f"  retraining {run.retrain.action}: {run.retrain.reason}")
    if run.status != "SUCCEEDED":
        return 1
    return EXIT_DRIFTED if run.check is not None and run.check.status == "drifted" else 0


def _cmd_history(args: argparse.Namespace) -> int:
    from modelrail.cli.registry import default_registry_factory
    from modelrail.monitoring.client import history

    try:
        entries = history(default_registry_factory(args), args.model, limit=args.limit)
    except Exception as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return 0
    if not entries:
        print(f"{args.model}: no monitoring checks recorded yet")
    for e in entries:
        detail = e.detail
        if e.type == "monitoring.checked":
            share = detail.get("driftShare")
            what = f"{detail.get('status')} rows={detail.get('rows')}"
            if share is not None:
                what += f" share={share:.2f}"
            live = detail.get("live")
            if live:
                what += f" live {live['name']}={live['value']:.4g}"
        else:
            what = f"{detail.get('trigger')}: {detail.get('reason')}"
        print(f"{e.at[:19]}  v{e.version}  {e.type:<22} {what}")
    return 0


def _cmd_labels_upload(args: argparse.Namespace) -> int:
    import boto3

    from modelrail.cli.registry import stack_output
    from modelrail.monitoring.client import LabelFileError, upload_labels

    try:
        bucket = stack_output(
            args, "DataBucketName", cloudformation=None, advice="; deploy the stack first"
        )
        key = upload_labels(args.model, Path(args.file), bucket=bucket, s3=boto3.client("s3"))
    except LabelFileError as exc:
        print(f"modelrail labels: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        return _fail(exc)
    print(f"uploaded s3://{bucket}/{key}; the next check joins these labels")
    return 0


def add_check_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``drift check`` and ``drift history``, under the ``drift`` group."""
    check = commands.add_parser("check", help="run the deployed monitoring check of MODEL now")
    check.add_argument("model")
    check.add_argument("--env", default=DEFAULT_ENV)
    check.add_argument("--json", action="store_true")
    check.add_argument("--by", help="who asks (recorded); default $MODELRAIL_ACTOR or the user")
    check.set_defaults(func=_cmd_check)
    hist = commands.add_parser("history", help="MODEL's checks and retraining decisions")
    hist.add_argument("model")
    hist.add_argument("--env", default=DEFAULT_ENV)
    hist.add_argument("--table", help="the registry table (default: the stack's)")
    hist.add_argument("--limit", type=int, default=100)
    hist.add_argument("--json", action="store_true")
    hist.set_defaults(func=_cmd_history)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    labels = sub.add_parser("labels", help="ground truth for the live metric")
    commands = labels.add_subparsers(dest="labels_command", required=True)
    upload = commands.add_parser("upload", help="upload late labels of MODEL's predictions")
    upload.add_argument("model")
    upload.add_argument("file", help="CSV inference_id,label or ground-truth JSON Lines")
    upload.add_argument("--env", default=DEFAULT_ENV)
    upload.set_defaults(func=_cmd_labels_upload)
