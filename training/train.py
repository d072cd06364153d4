"""SageMaker script-mode training entry point for modelrail models.

Runs in the SageMaker scikit-learn container (framework 1.4-2, Python 3.10) with only the
standard library, numpy, pandas, scipy, scikit-learn and joblib. Paths come from the
SageMaker environment variables; ``/opt/ml/...`` are only their documented defaults.

Inputs:  the train channel (one CSV or Parquet file; several are concatenated in sorted
         name order), the runtime contract JSON (``contracts/<model>.json`` beside this
         file unless ``--contract`` says otherwise) and the optional champion channel
         (SM_CHANNEL_CHAMPION: the champion's ``model.tar.gz`` and ``champion.json``, or a
         ``NONE`` marker), scored on this run's holdout for the quality gate.
Outputs: ``model.joblib``, ``contract.json``, ``evaluation.json`` and ``drift_baseline.json``
         in SM_MODEL_DIR, and ``evaluation.json`` and ``drift_baseline.json`` in
         SM_OUTPUT_DATA_DIR (so in output.tar.gz). Besides the metrics, evaluation.json
         holds the split, per-slice metrics, calibration (classifiers), permutation
         importance, model size, latency and the champion's scores (modelrail_evaluation). On failure the reason goes to
         ``<SM_OUTPUT_DIR>/failure`` (SageMaker reports it as the job's FailureReason), the
         traceback to stderr, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import joblib
import modelrail_evaluation as me
import numpy as np
import pandas as pd
import sklearn

import modelrail_features as mf
from modelrail import drift_summary

HERE = Path(__file__).resolve().parent
SERVING_MODULES = ("inference.py", "modelrail_features.py")
DEFAULT_OUTPUT_DIR = "/opt/ml/output"
# Modules of the modelrail package the training code imports; the source archive ships
# them (infra/assets.py), and the model's code/ carries them to the endpoint.
CORE_MODULES = (
    "__init__.py",
    "canonical.py",
    "categories.py",
    "drift_summary.py",
    "metrics.py",
    "payloads.py",
)

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
# SageMaker truncates FailureReason; keep the message well inside its 1024 characters.
MAX_FAILURE_CHARS = 1000
# The training-row draw's generator: [seed, this] (no other draw uses this stream).
SAMPLING_STREAM = 7


class Phases:
    """Wall time and peak resident memory of each phase of a run, printed as it ends.

    One line a phase, ``modelrail-phase <name> seconds=<s> peak_rss_mb=<MB>``, in the
    job's log: the peak is VmHWM of this process, reset when a phase starts where the
    kernel allows it (``/proc/self/clear_refs``), so it is that phase's own peak; where
    it cannot be reset it is the peak so far, and where there is no /proc it is 0.
    """

    def __init__(self) -> None:
        self._name = ""
        self._started = 0.0

    def start(self, name: str) -> None:
        self.end()
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        self._name, self._started = name, time.monotonic()

    def end(self) -> None:
        if not self._name:
            return
        seconds = time.monotonic() - self._started
        peak = _peak_rss_mb()
        print(f"modelrail-phase {self._name} seconds={seconds:.2f} peak_rss_mb={peak:.0f}")
        self._name = ""


def _peak_rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class TrainingError(Exception):
    """A failure with a reason worth showing as-is (bad data, bad arguments)."""


def _unquote(value: str) -> str:
    """Hyperparameters may arrive JSON-encoded: '"demand"' means demand."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        try:
            decoded = json.loads(value) if value[0] == '"' else value[1:-1]
        except ValueError:
            decoded = value[1:-1]
        return str(decoded)
    return value


def _int_arg(value: str) -> int:
    text = _unquote(value)
    try:
        return int(text)
    except ValueError:
        number = float(text)  # "42.0" is fine, "4.5" is not
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}") from None
        return int(number)


def _float_arg(value: str) -> float:
    try:
        return float(_unquote(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None


def _bool_arg(value: str) -> bool:
    text = _unquote(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise TrainingError(f"invalid arguments: {message}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    # No abbreviations: a searched hyperparameter such as --c must not become --contract.
    parser = _Parser(
        description="Train a modelrail model (SageMaker script mode).", allow_abbrev=False
    )
    parser.add_argument("--model-name", "--model_name", dest="model_name", type=_unquote)
    parser.add_argument("--contract", type=_unquote, help="runtime contract JSON")
    parser.add_argument("--seed", type=_int_arg, help="overrides the contract's seed")
    parser.add_argument(
        "--holdout-fraction", "--holdout_fraction", dest="holdout_fraction", type=_float_arg
    )
    parser.add_argument(
        "--holdout-last-rows",
        "--holdout_last_rows",
        dest="holdout_last_rows",
        type=_int_arg,
        help="hold out the channel's last N rows (a retraining's recent window); 0: the split",
    )
    parser.add_argument("--n-estimators", "--n_estimators", dest="n_estimators", type=_int_arg)
    parser.add_argument("--max-depth", "--max_depth", dest="max_depth", type=_int_arg)
    parser.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=_float_arg)
    parser.add_argument(
        "--model-dir",
        "--model_dir",
        dest="model_dir",
        default=env.get("SM_MODEL_DIR", "/opt/ml/model"),
    )
    parser.add_argument("--train", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--output-data-dir",
        "--output_data_dir",
        dest="output_data_dir",
        default=env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"),
    )
    parser.add_argument(
        "--output-dir",
        "--output_dir",
        dest="output_dir",
        default=env.get("SM_OUTPUT_DIR", DEFAULT_OUTPUT_DIR),
    )
    parser.add_argument(
        "--champion",
        default=env.get("SM_CHANNEL_CHAMPION"),
        help="the optional champion channel: model.tar.gz (+ champion.json) or a NONE marker",
    )
    parser.add_argument(
        "--tuning-trial",
        "--tuning_trial",
        dest="tuning_trial",
        type=_bool_arg,
        default=False,
        help="a trial of a tuning job: report the objective on a validation split",
    )
    args, unknown = parser.parse_known_args(argv)
    args.overrides, ignored = _hyperparameter_overrides(unknown)
    if ignored:
        print(f"ignoring unknown arguments: {ignored}", file=sys.stderr)
    return args


def _scalar(text: str) -> int | float | str | bool:
    """A searched hyperparameter's value as SageMaker sends it (always a string)."""
    value = _unquote(text)
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _hyperparameter_overrides(
    unknown: list[str],
) -> tuple[dict[str, int | float | str | bool], list[str]]:
    """``--name value`` pairs that are not this script's own options.

    A tuning job passes each searched hyperparameter this way; the estimator rejects a
    name it does not know, so a typo in a contract fails the trial with its name.
    SageMaker's own ``sagemaker_*`` settings (and anything unpaired) are ignored.
    """
    overrides: dict[str, int | float | str | bool] = {}
    ignored: list[str] = []
    i = 0
    while i < len(unknown):
        token = unknown[i]
        paired = i + 1 < len(unknown) and not unknown[i + 1].startswith("--")
        name = token[2:].replace("-", "_") if token.startswith("--") else ""
        if not name or not paired or name.startswith("sagemaker_"):
            ignored += unknown[i : i + 2] if paired else [token]
            i += 2 if paired else 1
            continue
        overrides[name] = _scalar(unknown[i + 1])
        i += 2
    return overrides, ignored


def copy_core(code_dir: Path) -> None:
    """The modelrail modules the serving code imports, into the model's code/."""
    import modelrail

    source = Path(modelrail.__file__).resolve().parent
    target = code_dir / "modelrail"
    target.mkdir(exist_ok=True)
    for module in CORE_MODULES:
        shutil.copy2(source / module, target / module)


def resolve_contract_path(model_name: str | None, contract: str | None) -> Path:
    if contract:
        return Path(contract)
    if not model_name:
        raise TrainingError("pass --model-name (or --contract) to say which model to train")
    return HERE / "contracts" / f"{model_name}.json"


def read_channel(channel: Path, contract: dict[str, Any]) -> pd.DataFrame:
    """Every data file in the channel, concatenated in sorted name order."""
    if not channel.is_dir():
        raise TrainingError(f"train channel {channel} does not exist")
    files = sorted(p for p in channel.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise TrainingError(f"train channel {channel} has no data files")
    unsupported = [p.name for p in files if not p.name.endswith(DATA_SUFFIXES)]
    if unsupported:
        raise TrainingError(
            f"train channel {channel}: unsupported files {unsupported}; "
            f"expected {', '.join(DATA_SUFFIXES)}"
        )
    # Categorical columns stay text: store "007" must not become 7. Read as pandas
    # categories (whose categories are always parsed as strings): a code a row instead of
    # a string object a row, and a handful of distinct values to convert (D46).
    text_columns = {
        c["name"]: "category" for c in contract["columns"] if c["type"] == "categorical"
    }
    frames = []
    for path in files:
        if path.name.endswith(".parquet"):
            try:
                frames.append(pd.read_parquet(path))
            except ImportError as exc:
                raise TrainingError(f"cannot read {path.name}: {exc}") from exc
        else:
            frames.append(pd.read_csv(path, dtype=text_columns))
    return frames[0] if len(frames) == 1 else _concat(frames)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after another; a column read as categories in every file stays
    categories (over the union of the files' categories) instead of becoming objects."""
    for column in frames[0].columns:
        if all(isinstance(f[column].dtype, pd.CategoricalDtype) for f in frames if column in f):
            union = pd.api.types.union_categoricals([f[column] for f in frames if column in f])
            for f in frames:
                if column in f:
                    f[column] = f[column].cat.set_categories(union.categories)
    return pd.concat(frames, ignore_index=True)


def effective_contract(contract: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The contract with command-line overrides applied."""
    contract = json.loads(json.dumps(contract))  # deep copy
    if args.seed is not None:
        contract["seed"] = args.seed
    if args.holdout_fraction is not None:
        if not 0.0 < args.holdout_fraction < 0.5:
            raise TrainingError(
                f"--holdout-fraction must be between 0 and 0.5, got {args.holdout_fraction}"
            )
        contract["holdout_fraction"] = args.holdout_fraction
    if args.holdout_last_rows:
        if args.holdout_last_rows < 0:
            raise TrainingError(f"--holdout-last-rows must be >= 0, got {args.holdout_last_rows}")
        contract["holdout_last_rows"] = args.holdout_last_rows
    hyperparameters = dict(contract.get("hyperparameters") or {})
    for key in ("n_estimators", "max_depth", "learning_rate"):
        value = getattr(args, key)
        if value is not None:
            hyperparameters[key] = value
    hyperparameters.update(getattr(args, "overrides", {}))
    contract["hyperparameters"] = hyperparameters
    return contract


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def split_holdout(
    frame: pd.DataFrame,
    features: pd.DataFrame,
    target: pd.Series,
    contract: dict[str, Any],
    fraction: float,
    seed: int,
    *,
    recent: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series, dict[str, Any]]:
    """The train/holdout split and its description for evaluation.json.

    ``recent`` > 0 (a retraining): the last ``recent`` rows, the newest labelled traffic,
    are the holdout, so the champion (which never saw them) and the challenger are judged
    on the data the model now faces. Else with a ``time_column`` the holdout is the most
    recent rows (a model is judged on the future it will face); otherwise a seeded random
    draw, stratified for classifiers.
    """
    if recent:
        if recent >= len(features):
            raise TrainingError(
                f"holdout-last-rows {recent} leaves no training rows of {len(features)}"
            )
        cut = len(features) - recent
        split = {"kind": "recent", "column": None, "holdout_from": None, "rows": recent}
        return (
            features.iloc[:cut],
            features.iloc[cut:],
            target.iloc[:cut],
            target.iloc[cut:],
            split,
        )
    time_column = contract.get("time_column")
    if not time_column:
        x_train, x_holdout, y_train, y_holdout = mf.holdout_split(
            features, target, fraction, seed, stratify=mf.is_classifier(contract)
        )
        split = {"kind": "random", "column": None, "holdout_from": None}
        return x_train, x_holdout, y_train, y_holdout, split
    if time_column not in frame:
        raise TrainingError(f"time_column {time_column!r} is not in the data")
    times = mf.parse_times(frame[time_column], time_column)
    x_train, x_holdout, y_train, y_holdout = mf.time_split(features, target, times, fraction)
    first = times.loc[x_holdout.index].min()
    split = {
        "kind": "time",
        "column": time_column,
        "holdout_from": None if pd.isna(first) else first.isoformat(),
    }
    return x_train, x_holdout, y_train, y_holdout, split


def sample_training_rows(
    x_train: pd.DataFrame, y_train: pd.Series, contract: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.Series, dict[str, Any] | None]:
    """The contract's ``max_training_rows`` of the training split, drawn uniformly without
    replacement by a generator seeded from the contract's seed, kept in their order; the
    draw's description for evaluation.json (None when every row is fitted on)."""
    limit = contract.get("max_training_rows")
    available = len(x_train)
    if limit is None or available <= int(limit):
        return x_train, y_train, None
    rng = np.random.default_rng([seed, SAMPLING_STREAM])
    chosen = np.sort(rng.choice(available, size=int(limit), replace=False))
    sampling = {
        "method": "uniform_without_replacement",
        "max_training_rows": int(limit),
        "rows_available": available,
        "rows_used": int(limit),
        "seed": seed,
    }
    return x_train.iloc[chosen], y_train.iloc[chosen], sampling


def drift_columns(
    raw_holdout: pd.DataFrame, x_holdout: pd.DataFrame, contract: dict[str, Any]
) -> dict[str, tuple[str, Any]]:
    """The holdout's feature columns by drift kind, as a request carries them (D55):
    numbers as the model reads them, categories and booleans as they arrived (the drift
    reference keys them canonically); datetime features and features without a single
    value (an optional column left out) have no reference."""
    columns: dict[str, tuple[str, Any]] = {}
    for column in mf.feature_columns(contract):
        name, kind = column["name"], drift_summary.COLUMN_KINDS.get(column["type"])
        if kind is None:
            continue
        raw = kind != "numeric" and name in raw_holdout
        values = raw_holdout[name] if raw else x_holdout[name]
        if values.notna().any():
            columns[name] = (kind, values)
    return columns


def drift_prediction(scored: mf.Scored, contract: dict[str, Any]) -> tuple[str, Any]:
    """The model's served output on the holdout, as the drift check reads it from
    captured responses: a regression's prediction, a binary classifier's probability of
    its positive class (the second of ``classes``), a multiclass classifier's label."""
    if not mf.is_classifier(contract):
        return "numeric", scored.predictions
    assert scored.probabilities is not None and scored.classes is not None
    if contract["problem_type"] == mf.BINARY:
        return "numeric", scored.probabilities[:, 1]
    # counted per class, decoded once a class rather than once a row
    labels = pd.Categorical(scored.predictions, categories=scored.classes)
    return "categorical", labels.rename_categories(mf.decode_labels(scored.classes, contract))


def drift_baseline(
    raw_holdout: pd.DataFrame,
    x_holdout: pd.DataFrame,
    scored: mf.Scored,
    contract: dict[str, Any],
    evaluation: dict[str, Any],
) -> str:
    """The model's drift baseline (``DriftBaseline`` JSON) from its holdout: the feature
    references, its output's reference and its permutation importances."""
    importances = (evaluation.get("feature_importance") or {}).get("importances") or {}
    summary = drift_summary.baseline(
        drift_columns(raw_holdout, x_holdout, contract),
        prediction=drift_prediction(scored, contract),
        importances={name: value["mean"] for name, value in importances.items()},
    )
    return json.dumps(summary, allow_nan=False)


def run_contract(args: argparse.Namespace) -> dict[str, Any]:
    """The runtime contract this run trains with: the file's, overrides applied."""
    path = resolve_contract_path(args.model_name, args.contract)
    if not path.is_file():
        raise TrainingError(f"contract file {path} does not exist")
    runtime_contract = mf.load_runtime_contract(path)
    if args.model_name and runtime_contract["name"] != args.model_name:
        raise TrainingError(
            f"contract {path} is for model {runtime_contract['name']!r}, not {args.model_name!r}"
        )
    return effective_contract(runtime_contract, args)


def train(args: argparse.Namespace) -> dict[str, Any]:
    contract = run_contract(args)
    name = contract["name"]
    seed = int(contract.get("seed", 42))
    fraction = float(contract.get("holdout_fraction", 0.2))

    phases = Phases()
    phases.start("read")
    # A unique 0..n-1 index: the holdout's raw rows are looked up by it.
    frame = read_channel(Path(args.train), contract).reset_index(drop=True)
    min_rows = int(contract.get("min_rows", 10))
    if len(frame) < min_rows:
        raise TrainingError(
            f"train channel has {len(frame)} rows; the {name} contract needs at least {min_rows}"
        )
    phases.start("features")
    target = mf.build_target(frame, contract)
    features = mf.build_features(frame, contract)
    x_train, x_holdout, y_train, y_holdout, split = split_holdout(
        frame, features, target, contract, fraction, seed,
        recent=int(contract.get("holdout_last_rows") or 0),
    )  # fmt: skip
    if mf.is_classifier(contract) and y_train.nunique() < 2:
        raise TrainingError(
            f"target {contract['target']!r} has a single class in the training rows"
        )

    validation: dict[str, Any] | None = None
    x_valid = y_valid = None
    if args.tuning_trial:
        # A search ranks trials on rows carved from the training split, so the holdout
        # the quality gate judges (and compares with the champion on) stays unseen.
        vfraction = float((contract.get("tuning") or {}).get("validation_fraction", 0.2))
        x_train, x_valid, y_train, y_valid, vsplit = split_holdout(
            frame.loc[x_train.index], x_train, y_train, contract, vfraction, seed + 1
        )
        validation = {"rows": len(x_valid), "split": vsplit["kind"]}

    # Only the split's rows stay for the fit (the whole frame and its features are a
    # third of the memory on millions of rows); the holdout's raw rows serve the champion
    # and the latency probe.
    raw_holdout = frame.loc[x_holdout.index]
    del frame, features, target
    x_train, y_train, sampling = sample_training_rows(x_train, y_train, contract, seed)
    phases.start("fit")
    started = time.monotonic()
    pipeline = mf.build_pipeline(contract, seed)
    pipeline.fit(x_train, y_train)
    seconds = time.monotonic() - started
    phases.start("holdout")
    scored = mf.score(pipeline, x_holdout, contract)
    metrics = mf.metrics_of(scored, y_holdout, mf.metric_names(contract))
    if validation is not None:
        assert x_valid is not None and y_valid is not None
        validation["metrics"] = mf.metrics_of(
            mf.score(pipeline, x_valid, contract), y_valid, mf.metric_names(contract)
        )

    primary = contract["primary_metric"]["name"]
    evaluation: dict[str, Any] = {
        "model": name,
        "problem_type": contract["problem_type"],
        "primary_metric": {
            "name": primary,
            "value": metrics[primary],
            "threshold": float(contract["primary_metric"]["threshold"]),
            "greater_is_better": mf.GREATER_IS_BETTER[primary],
        },
        "metrics": metrics,
        "rows": {"train": len(x_train), "holdout": len(x_holdout)},
        "seed": seed,
        "hyperparameters": contract["hyperparameters"],
        "features": mf.feature_names(contract),
        "library_versions": library_versions(),
        "split": split,
    }
    if validation is not None:
        evaluation["validation"] = validation
    if sampling is not None:
        evaluation["sampling"] = sampling

    phases.start("write_model")
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_dir / "model.joblib")
    # The serving code travels inside model.tar.gz (code/, as the framework container
    # expects with SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code): the endpoint runs
    # network-isolated, so it cannot fetch a source archive, and a model is always served
    # by the code it was trained with.
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    for module in SERVING_MODULES:
        shutil.copy2(HERE / module, code_dir / module)
    copy_core(code_dir)

    # Diagnostics on the same holdout rows, for the quality gate and the model card.
    phases.start("slices")
    started = time.monotonic()
    groups = me.slice_groups(x_holdout, contract)
    evaluation["slices"] = me.slice_metrics(groups, scored, y_holdout, contract)
    if mf.is_classifier(contract):
        evaluation["calibration"] = me.calibration(scored, y_holdout, contract)
    phases.start("importance")
    evaluation["feature_importance"] = me.feature_importance(
        pipeline, x_holdout, y_holdout, contract, seed
    )
    evaluation["model_size_bytes"] = (model_dir / "model.joblib").stat().st_size
    phases.start("latency")
    evaluation["latency_ms"] = me.latency(
        pipeline, contract, me.serving_records(raw_holdout, contract)
    )
    phases.start("champion")
    evaluation["champion"] = me.champion(
        args.champion, raw_holdout, y_holdout, groups, contract, challenger=scored
    )
    diagnostics = time.monotonic() - started
    phases.start("drift_baseline")
    baseline = drift_baseline(raw_holdout, x_holdout, scored, contract, evaluation)
    phases.end()

    # The serving contract is the one trained with (overrides included).
    (model_dir / "contract.json").write_text(
        json.dumps(contract, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    body = json.dumps(evaluation, indent=2, sort_keys=True) + "\n"
    (model_dir / "evaluation.json").write_text(body, encoding="utf-8")
    output_data = Path(args.output_data_dir)
    output_data.mkdir(parents=True, exist_ok=True)
    (output_data / "evaluation.json").write_text(body, encoding="utf-8")
    # The monitoring check compares live traffic with this (the champion's output.tar.gz).
    for folder in (model_dir, output_data):
        (folder / drift_summary.BASELINE_FILE).write_text(baseline, encoding="utf-8")

    if sampling is not None:
        print(
            f"fitted on a seeded draw of {len(x_train)} of the {sampling['rows_available']} "
            f"training rows (max_training_rows); the holdout is whole"
        )
    print(f"trained {name} on {len(x_train)} rows in {seconds:.2f}s")
    print(f"evaluated slices, importance, latency and champion in {diagnostics:.2f}s")
    if isinstance(evaluation["champion"], dict) and "error" in evaluation["champion"]:
        print(f"champion not scored: {evaluation['champion']['error']}", file=sys.stderr)
    # One line per metric, for SageMaker metric definitions: "modelrail-metric (\S+)=(\S+)".
    for metric, value in metrics.items():
        print(f"modelrail-metric {metric}={value:.6g}")
    for metric, value in (validation or {}).get("metrics", {}).items():
        print(f"modelrail-metric validation:{metric}={value:.6g}")
    return evaluation


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, (TrainingError, mf.ContractDataError)):
        reason = str(exc)
    else:
        reason = f"{type(exc).__name__}: {exc}"
    reason = " ".join(reason.split())  # one paragraph
    if len(reason) > MAX_FAILURE_CHARS:
        reason = reason[: MAX_FAILURE_CHARS - 3] + "..."
    return reason


def write_failure(output_dir: str, reason: str) -> None:
    try:
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "failure").write_text(reason + "\n", encoding="utf-8")
    except OSError as exc:  # nothing else to do: the traceback still reaches the logs
        print(f"cannot write the failure file in {output_dir}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Train; on any error write the failure file and return 1 (the process exit code)."""
    output_dir = os.environ.get("SM_OUTPUT_DIR", DEFAULT_OUTPUT_DIR)
    try:
        args = parse_args(argv)
        output_dir = args.output_dir
        train(args)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        write_failure(output_dir, failure_reason(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
