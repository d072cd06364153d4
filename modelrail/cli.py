"""The ``modelrail`` command."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path


def _quiet() -> None:
    """Keep library chatter (moto's CloudFormation warnings) out of the user's terminal."""
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    for name in ("moto", "botocore", "aws_lambda_powertools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # moto's interpreter logs every failed state at ERROR; the run report says it better.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


def _cmd_sample(args: argparse.Namespace) -> int:
    from modelrail.sample import sample_command

    path = sample_command(args.model, args.rows, args.seed, Path(args.out), variant=args.variant)
    print(f"wrote {args.rows} {args.variant} rows for {args.model!r} to {path}")
    return 0


def _cmd_local_run(args: argparse.Namespace) -> int:
    from modelrail.local.runner import dump_json, print_report, run_uploads

    _quiet()
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

    _quiet()
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from modelrail.demo import run_demo

    _quiet()
    return run_demo(Path(args.workdir), rows=args.rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelrail", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sample = sub.add_parser("sample", help="write seeded sample data for a model")
    sample.add_argument("--model", required=True)
    sample.add_argument("--rows", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--variant", default="good", help="good | drifted")
    sample.add_argument("--out", required=True)
    sample.set_defaults(func=_cmd_sample)

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

    from modelrail.registry_cli import add_registry_parser

    add_registry_parser(sub)

    from modelrail.deploy_cli import add_parsers as add_deploy_parsers

    add_deploy_parsers(sub)

    from modelrail.destroy_cli import add_parser as add_destroy_parser

    add_destroy_parser(sub)

    demo = sub.add_parser("demo", help="the whole loop on the local cloud, narrated")
    demo.add_argument("--workdir", default="out/demo")
    demo.add_argument("--rows", type=int, default=2000)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except FileNotFoundError as exc:
        print(f"modelrail: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
