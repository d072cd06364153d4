"""``modelrail drift compare``: any two CSV/Parquet files through the drift engine.

Kinds come from a contract (``--model NAME`` or ``--contract FILE``: numeric and integer
columns numeric, categorical categorical, boolean boolean; datetime columns and the
target are left out), else they are inferred from the reference file: a column that
pandas reads as numbers (int or float, not bool) is numeric, a bool column boolean,
anything else categorical. The reference is built from REF in memory, as the training
job builds it, and the window from CUR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_EXIT_USAGE = 2


class DriftInputError(ValueError):
    """A file or column that the comparison cannot use."""


def _read(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise DriftInputError(f"no such file: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DriftInputError(f"{path} is empty") from exc
    except (ValueError, OSError) as exc:
        raise DriftInputError(f"cannot read {path}: {exc}") from exc
    if frame.empty:
        raise DriftInputError(f"{path} has no rows")
    return frame


def _contract_kinds(args: argparse.Namespace) -> dict[str, str] | None:
    from modelrail.contract import load_contract, load_contract_file
    from modelrail.drift_summary import COLUMN_KINDS

    if args.contract:
        contract = load_contract_file(Path(args.contract))
    elif args.model:
        contract = load_contract(args.model)
    else:
        return None
    return {
        c.name: COLUMN_KINDS[c.type]
        for c in contract.columns
        if c.name != contract.target and c.type in COLUMN_KINDS
    }


def _inferred_kinds(frame: Any) -> dict[str, str]:
    kinds = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        kinds[str(name)] = (
            "boolean" if dtype.kind == "b" else "numeric" if dtype.kind in "iuf" else "categorical"
        )
    return kinds


def _column(frame: Any, name: str, kind: str) -> Any:
    import pandas as pd

    series = frame[name]
    if kind != "numeric":
        return series
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        raise DriftInputError(f"column {name!r} is numeric but holds {series[bad].iloc[0]!r}")
    return values.to_numpy(dtype="float64", na_value=float("nan"))


def _run(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from modelrail.drift import DriftOptions, compare
    from modelrail.drift.build import build_baseline, build_window

    ref_frame, cur_frame = _read(Path(args.reference)), _read(Path(args.current))
    kinds = _contract_kinds(args) or _inferred_kinds(ref_frame)
    for label, frame in (("reference", ref_frame), ("current", cur_frame)):
        unknown = [n for n in kinds if n not in frame.columns]
        if unknown:
            raise DriftInputError(f"the {label} file has no column {', '.join(map(repr, unknown))}")
    baseline = build_baseline({n: (k, _column(ref_frame, n, k)) for n, k in kinds.items()})  # type: ignore[misc]
    window = build_window(baseline, {n: _column(cur_frame, n, k) for n, k in kinds.items()})
    return baseline, window, compare(baseline, window, options=DriftOptions())


def _json(report: Any) -> str:
    data = json.loads(report.to_json())
    return json.dumps({"dataset": data["dataset"], "features": data["features"]}, indent=2)


def _table(report: Any) -> str:
    head = f"{'feature':<24} {'kind':<11} {'test':<13} {'score':>10} {'thresh':>7} {'drift':>5} {'psi':>8} {'ks':>7}"
    lines = [head]
    for f in report.features:
        score = "-" if f.score is None else f"{f.score:.4g}"
        psi = "-" if f.psi is None else f"{f.psi:.3f}"
        ks = "-" if f.ks is None else f"{f.ks:.3f}"
        flag = "yes" if f.drifted else ("n/a" if f.status != "ok" else "no")
        lines.append(
            f"{f.name[:24]:<24} {f.kind:<11} {f.test:<13} {score:>10} {f.threshold:>7g} {flag:>5} {psi:>8} {ks:>7}"
        )
    d = report.dataset
    verdict = "DRIFT" if d.drifted else "no drift"
    lines.append(
        f"dataset: {verdict}: {d.n_drifted}/{d.n_features - d.n_insufficient} features drifted"
    )
    return "\n".join(lines)


def _cmd_compare(args: argparse.Namespace) -> int:
    from modelrail.contract import ContractError

    try:
        baseline, window, report = _run(args)
    except (ContractError, ValueError, OSError) as exc:
        print(f"modelrail drift: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    print(_json(report) if args.json else _table(report))
    if args.html:
        from modelrail.drift.html import render

        Path(args.html).write_text(render(report, baseline, window), encoding="utf-8")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drift = sub.add_parser("drift", help="drift: compare files, check the live model, history")
    commands = drift.add_subparsers(dest="drift_command", required=True)
    cmp = commands.add_parser("compare", help="drift of CUR against REF, per column and overall")
    cmp.add_argument("--reference", required=True, metavar="REF", help="CSV or Parquet file")
    cmp.add_argument("--current", required=True, metavar="CUR", help="CSV or Parquet file")
    source = cmp.add_mutually_exclusive_group()
    source.add_argument("--model", help="take column kinds from contracts/NAME.yaml")
    source.add_argument("--contract", help="take column kinds from this contract file")
    cmp.add_argument("--json", action="store_true", help="print the report as JSON")
    cmp.add_argument("--html", metavar="OUT", help="also write a self-contained HTML report")
    cmp.set_defaults(func=_cmd_compare)
    from modelrail.cli.monitor import add_check_parsers

    add_check_parsers(commands)
