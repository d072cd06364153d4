"""``modelrail sample``: seeded sample data for a model (good or drifted)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_sample(args: argparse.Namespace) -> int:
    from modelrail.sample import sample_command

    path = sample_command(args.model, args.rows, args.seed, Path(args.out), variant=args.variant)
    print(f"wrote {args.rows} {args.variant} rows for {args.model!r} to {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sample = sub.add_parser("sample", help="write seeded sample data for a model")
    sample.add_argument("--model", required=True)
    sample.add_argument("--rows", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--variant", default="good", help="good | drifted")
    sample.add_argument("--out", required=True)
    sample.set_defaults(func=_cmd_sample)
