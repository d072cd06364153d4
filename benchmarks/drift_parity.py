"""Verdict parity with the ``evidently`` package (D48): a seeded matrix of cases across
the 1000-row switch (numeric, categorical, binary, numeric 0/1, low-cardinality numeric;
drift and none), Evidently 0.7's DataDriftPreset run on each in its own environment, and
the per-column verdicts, test names and scores recorded in tests/data/drift_parity.json.
tests/unit/test_drift_parity.py regenerates the cases (this module needs numpy and pandas
only) and checks the engine against the record.

    python -m benchmarks.drift_parity --evidently-python /path/to/venv/bin/python

(``make drift-parity`` builds that environment and runs this.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

RECORD = Path(__file__).resolve().parents[1] / "tests" / "data" / "drift_parity.json"
RUNNER = Path(__file__).with_name("evidently_runner.py")
REFERENCE_SIZES = (200, 1000, 1001, 5000)
CURRENT_SIZES = (300, 5000, 20000)
KINDS = {
    "num": "numeric",
    "skew": "numeric",
    "flag": "numeric",
    "low": "numeric",
    "cat": "categorical",
    "bin": "categorical",
}
EVIDENTLY_VERSION = "0.7.23"


def frame(rows: int, seed: int, drift: bool) -> pd.DataFrame:
    """One data set of every column kind; ``drift`` moves each column's distribution."""
    rng = np.random.default_rng(seed)
    shift = 0.5 if drift else 0.0
    cats = ["red", "green", "blue", "grey"]
    probs = [0.2, 0.2, 0.3, 0.3] if drift else [0.4, 0.3, 0.2, 0.1]
    return pd.DataFrame(
        {
            "num": rng.normal(10 + shift * 2, 2, rows),
            "skew": rng.lognormal(shift, 0.8, rows),
            "flag": (rng.random(rows) < (0.45 if drift else 0.2)).astype(np.int64),
            "low": rng.choice(
                [1, 2, 3, 4], rows, p=[0.1, 0.2, 0.3, 0.4] if drift else [0.4, 0.3, 0.2, 0.1]
            ),
            "cat": rng.choice(cats, rows, p=probs),
            "bin": rng.choice(["yes", "no"], rows, p=[0.6, 0.4] if drift else [0.3, 0.7]),
        }
    )


def cases() -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(case id, reference, current), seeds fixed per case."""
    seed = 1000
    for n_ref in REFERENCE_SIZES:
        for n_cur in CURRENT_SIZES:
            for drift in (False, True):
                seed += 2
                case = f"ref{n_ref}-cur{n_cur}-{'drift' if drift else 'same'}"
                yield case, frame(n_ref, seed, False), frame(n_cur, seed + 1, drift)


def write_cases(directory: Path) -> list[str]:
    names = []
    for case, ref, cur in cases():
        ref.to_csv(directory / f"{case}.reference.csv", index=False, float_format="%.17g")
        cur.to_csv(directory / f"{case}.current.csv", index=False, float_format="%.17g")
        names.append(case)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--evidently-python", required=True, help="a Python with evidently installed"
    )
    parser.add_argument("--out", default=str(RECORD))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        names = write_cases(Path(tmp))
        spec = {"directory": tmp, "cases": names, "kinds": KINDS}
        done = subprocess.run(
            [args.evidently_python, str(RUNNER)],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            check=True,
        )
    results = json.loads(done.stdout)
    record = {"evidently": results.pop("version"), "kinds": KINDS, "cases": results["cases"]}
    Path(args.out).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(record['cases'])} cases to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
