"""Write seeded sample data for a model contract.

    python scripts/generate_sample.py --model demand --rows 2000 --seed 7 --out data/demand.csv

Same arguments, same bytes. ``--variant drifted`` moves the input distributions while
staying inside the contract. A ``.parquet`` output name needs pyarrow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelrail.sample import VARIANTS, sample_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--model", default="demand", help="contract name (default: demand)")
    parser.add_argument("--rows", type=int, default=2000, help="number of rows (default: 2000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--variant", choices=VARIANTS, default="good")
    parser.add_argument("--out", type=Path, required=True, help="output .csv or .parquet file")
    args = parser.parse_args(argv)
    try:
        path = sample_command(args.model, args.rows, args.seed, args.out, variant=args.variant)
    except (ValueError, RuntimeError) as exc:  # ContractError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.rows} {args.variant} rows for {args.model} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
