"""``modelrail deploy`` and ``modelrail predict``: the deployment state machine and the
endpoint, from a terminal.

Both work against AWS (standard configuration, ``AWS_ENDPOINT_URL`` honoured) and against
``modelrail local up``. ``deploy`` starts the environment's deployment state machine (the
one the training pipeline starts; :mod:`modelrail.deploy.client`) and, unless
``--no-wait``, waits and reports: exit 0 when the version is in production, 3 when the
canary rolled back, 1 when it failed.
"""

from __future__ import annotations

import argparse
import json
import sys

from modelrail.deploy.client import (
    DeploymentRun,
    PredictInputError,
    feature_rows,
    new_inference_id,
    start_deployment,
    wait_for,
)

DEFAULT_ENV = "dev"
EXIT_ROLLED_BACK = 3


def report(run: DeploymentRun, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(run.to_json(), indent=2))
    else:
        name = run.execution_arn.rsplit(":", 1)[-1]
        print(f"deployment {name}: {run.outcome}")
        message = (run.result or {}).get("message") or run.cause
        if message:
            print(f"  {message}")
        alarms = (run.result or {}).get("trippedAlarms")
        if alarms:
            print(f"  alarms: {', '.join(alarms)}")
    if run.outcome == "PRODUCTION":
        return 0
    return EXIT_ROLLED_BACK if run.outcome == "ROLLED_BACK" else 1


def _cmd_deploy(args: argparse.Namespace) -> int:
    fault = None
    if args.inject_errors is not None or args.inject_latency_ms is not None:
        fault = {
            "errorRate": args.inject_errors or 0.0,
            "latencyMs": args.inject_latency_ms or 0.0,
        }
    from modelrail.cli.registry import resolve_actor

    arn = start_deployment(
        args.model,
        args.version,
        env=args.env,
        reason=args.reason,
        requested_by=resolve_actor(args),
        fault=fault,
    )
    if args.no_wait:
        print(json.dumps({"execution": arn}) if args.json else f"started {arn}")
        return 0
    return report(wait_for(arn), as_json=args.json)


def _cmd_predict(args: argparse.Namespace) -> int:
    import boto3

    from modelrail.contract import load_contract
    from modelrail.deploy.naming import endpoint_name

    if args.data:
        with open(args.data, "rb") as handle:
            body = handle.read()
        content_type = "application/json" if args.data.endswith(".json") else "text/csv"
        if content_type == "text/csv":
            try:
                body = feature_rows(body.decode("utf-8"), load_contract(args.model))
            except PredictInputError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    else:
        body, content_type = args.json_body.encode(), "application/json"
    inference_id = args.inference_id or new_inference_id()
    runtime = boto3.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint_name(args.env, args.model),
        Body=body,
        ContentType=content_type,
        Accept="application/json",
        InferenceId=inference_id,
    )
    sys.stdout.write(answer["Body"].read().decode() + "\n")
    print(
        f"served by variant {answer.get('InvokedProductionVariant', '?')}; inference id "
        f"{inference_id} (labels name rows {inference_id}, or {inference_id}:0, :1, ... "
        "for several rows)",
        file=sys.stderr,
    )
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser(
        "deploy",
        help="deploy a registered version to its endpoint (canary, automatic rollback)",
    )
    deploy.add_argument("model")
    deploy.add_argument("version", type=int)
    deploy.add_argument("--env", default=DEFAULT_ENV)
    deploy.add_argument("--reason", default="deployed from the command line")
    deploy.add_argument("--by", help="who asks (default: $MODELRAIL_ACTOR, else the login name)")
    deploy.add_argument(
        "--inject-errors",
        type=float,
        metavar="RATE",
        help="make this version answer RATE (0..1) of requests with errors (dev only)",
    )
    deploy.add_argument(
        "--inject-latency-ms",
        type=float,
        metavar="MS",
        help="add MS milliseconds to every prediction of this version (dev only)",
    )
    deploy.add_argument("--no-wait", action="store_true", help="start and return")
    deploy.add_argument("--json", action="store_true")
    deploy.set_defaults(func=_cmd_deploy)

    predict = sub.add_parser("predict", help="send rows to a model's endpoint")
    predict.add_argument("model")
    predict.add_argument("--env", default=DEFAULT_ENV)
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a CSV file (feature columns, header optional) or .json")
    source.add_argument("--json", dest="json_body", help='a JSON body, e.g. {"instances": [...]}')
    predict.add_argument(
        "--inference-id",
        help="the request's InferenceId, kept in data capture to join later labels "
        "(default: a new one, printed)",
    )
    predict.set_defaults(func=_cmd_predict)
