"""``modelrail local run|up``: the embedded local cloud."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelrail.cli.quiet import quiet


def _cmd_local_run(args: argparse.Namespace) -> int:
    from modelrail.local.runner import dump_json, print_report, run_uploads

    quiet()
    report = run_uploads(args.model, [Path(p) for p in args.data])
    if args.json:
        dump_json(report, sys.stdout)
    else:
        print_report(report, sys.stdout)
    return 0


def _cmd_local_up(args: argparse.Namespace) -> int:
    import signal
    import threading

    from modelrail.local.cloud import LocalCloud

    quiet()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalCloud(environment=args.env) as cloud:
        endpoint = cloud.serve(args.port)
        assert cloud.stack is not None
        for name, value in sorted(cloud.stack.outputs.items()):
            print(f"{name}={value}")
        print(f"export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
              f"AWS_DEFAULT_REGION={cloud.region}")  # fmt: skip
        print("local cloud ready; Ctrl-C to stop", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = sub.add_parser("local", help="the embedded local cloud")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    run = local_sub.add_parser(
        "run", help="deploy locally, upload files in order, report each pipeline run"
    )
    run.add_argument("--model", required=True)
    run.add_argument(
        "--data", action="append", required=True, help="a CSV or Parquet file (repeatable)"
    )
    run.add_argument("--json", action="store_true", help="machine-readable report")
    run.set_defaults(func=_cmd_local_run)

    up = local_sub.add_parser(
        "up", help="deploy locally and serve the AWS APIs on loopback until stopped"
    )
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--env", default="dev")
    up.set_defaults(func=_cmd_local_up)
