"""``modelrail demo``: the whole loop on the local cloud, narrated (modelrail.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelrail.cli.quiet import quiet


def _cmd_demo(args: argparse.Namespace) -> int:
    from modelrail.demo import run_demo

    quiet()
    return run_demo(Path(args.workdir), rows=args.rows)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="the whole loop on the local cloud, narrated")
    demo.add_argument("--workdir", default="out/demo")
    demo.add_argument("--rows", type=int, default=2000)
    demo.set_defaults(func=_cmd_demo)
