"""The ``modelrail`` command: one module per command group.

``sample``, ``local run|up``, ``registry ...``, ``deploy``, ``predict``, ``destroy``,
``demo``, ``drift compare|check|history`` and ``labels upload``; each module has ``add_parser(sub)`` and keeps to parsing and printing: the
rules they apply live in the core (modelrail.registry, modelrail.deploy, ...).
"""

from __future__ import annotations

import argparse
import sys

from modelrail.cli import demo, deploy, destroy, drift, local, monitor, registry, sample

GROUPS = (sample, local, registry, deploy, destroy, demo, drift, monitor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelrail", description="Tabular models from data upload to a monitored endpoint."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except FileNotFoundError as exc:
        print(f"modelrail: {exc}", file=sys.stderr)
        return 2
    return code
