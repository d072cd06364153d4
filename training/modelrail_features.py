"""Features, pipeline and metrics shared by training (train.py) and serving (inference.py).

This file runs inside the SageMaker scikit-learn container (framework 1.4-2: Python 3.10,
scikit-learn 1.4.2). It may import only the standard library, numpy, pandas, scipy,
scikit-learn and joblib: no pydantic, no PyYAML, no modelrail package. The contract
arrives as the plain JSON dict rendered by ``ModelContract.to_runtime_json()``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from modelrail import canonical, metrics

REGRESSION = "regression"
BINARY = "binary"
MULTICLASS = "multiclass"

NUMERIC_TYPES = ("numeric", "integer", "boolean", "datetime")

# metric name -> greater is better (modelrail.contract.METRICS, kept in sync by a test)
GREATER_IS_BETTER = metrics.GREATER_IS_BETTER

# Contract hyperparameter names that differ from the estimator's own.
HYPERPARAMETER_ALIASES = {"n_estimators": "max_iter"}

_MISSING_CATEGORY = "__missing__"


class ContractDataError(ValueError):
    """Input data does not fit the contract (missing columns, unparseable values)."""


# ---------------------------------------------------------------------------
# contract


def load_runtime_contract(path: Path) -> dict[str, Any]:
    """Read a runtime contract (JSON) and check the fields this code relies on."""
    try:
        contract = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read contract {path}: {exc}") from exc
    if not isinstance(contract, dict):
        raise ValueError(f"contract {path} is not a JSON object")
    missing = [
        key
        for key in ("name", "problem_type", "target", "columns", "primary_metric")
        if key not in contract
    ]
    if missing:
        raise ValueError(f"contract {path} lacks {missing}")
    if contract["problem_type"] not in (REGRESSION, BINARY, MULTICLASS):
        raise ValueError(f"contract {path}: unknown problem_type {contract['problem_type']!r}")
    return contract


def feature_columns(contract: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in contract["columns"] if c["name"] != contract["target"]]


def feature_names(contract: dict[str, Any]) -> list[str]:
    return [c["name"] for c in feature_columns(contract)]


def target_column(contract: dict[str, Any]) -> dict[str, Any]:
    columns: list[dict[str, Any]] = contract["columns"]
    for column in columns:
        if column["name"] == contract["target"]:
            return column
    raise ValueError(f"contract {contract.get('name')!r}: target is not a declared column")


def is_classifier(contract: dict[str, Any]) -> bool:
    return bool(contract["problem_type"] != REGRESSION)


def metric_names(contract: dict[str, Any]) -> list[str]:
    """The primary metric first, then the secondary ones (no repeats)."""
    names = [contract["primary_metric"]["name"]]
    for name in contract.get("secondary_metrics") or []:
        if name not in names:
            names.append(name)
    return names


# ---------------------------------------------------------------------------
# features


def _to_bool(series: pd.Series, name: str) -> pd.Series:
    if series.dtype == bool:
        return series.astype("float64")

    def convert(value: Any) -> float:
        try:
            flag = canonical.boolean(value)
        except canonical.NotABoolean:
            raise ContractDataError(f"column {name!r}: {value!r} is not a boolean") from None
        return np.nan if flag is None else (1.0 if flag else 0.0)

    # Distinct values that compare equal (True, 1, 1.0) convert alike, so they may share
    # one entry; the first bad value found is the first in row order.
    values = _by_distinct_value(series, convert)
    return pd.Series(values, index=series.index, dtype="float64")


def _by_distinct_value(series: pd.Series, convert: Any) -> np.ndarray:
    """``convert`` applied once per distinct value (in order of first appearance), the
    results spread back over the rows; missing values (None, NaN, NA) become NaN.

    A column of millions of rows has a handful of distinct values: a Python call per
    value, not per row, and every row shares its value's one result object.
    """
    codes, uniques = pd.factorize(series)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [convert(v) for v in uniques.tolist()] if len(uniques) else []
    table[-1] = np.nan  # code -1: missing
    out: np.ndarray = table[codes]
    return out


def _to_number(series: pd.Series, name: str) -> pd.Series:
    if series.dtype == bool:
        return series.astype("float64")
    values = series
    if isinstance(values.dtype, pd.CategoricalDtype):  # text read as categories
        values = values.astype(object)
    if values.dtype == object:
        values = values.map(lambda v: v.strip() if isinstance(v, str) else v)
        values = values.replace("", np.nan)
    try:
        return pd.to_numeric(values, errors="raise").astype("float64")
    except (TypeError, ValueError):
        bad = [v for v in values.dropna().tolist() if not _is_number(v)][:3]
        raise ContractDataError(f"column {name!r}: expected numbers, got {bad}") from None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _to_days(series: pd.Series, name: str) -> pd.Series:
    stamps = parse_times(series, name)
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((stamps - epoch) / pd.Timedelta(days=1)).astype("float64")


def _to_category(series: pd.Series) -> pd.Series:
    def convert(value: Any) -> Any:
        label = canonical.category(value)  # 3.0 read from a CSV with gaps means "3"
        return np.nan if label is None else label

    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) not in (
        "string",
        "empty",
    ):
        # Mixed Python objects: True, 1 and 1.0 are one distinct value to a hash table
        # but three categories ("true", "1", "1"), so each row is converted on its own.
        return pd.Series([convert(v) for v in series.tolist()], index=series.index, dtype=object)
    return pd.Series(_by_distinct_value(series, convert), index=series.index, dtype=object)


def build_features(frame: pd.DataFrame, contract: dict[str, Any]) -> pd.DataFrame:
    """The model's input frame: contract features in declared order, model-ready dtypes.

    Booleans become 0/1, integers and numbers float, datetimes days since 1970, and
    categoricals strings (NaN when missing). Extra columns are dropped; a missing
    required feature is an error, a missing optional one becomes all-missing.
    """
    columns = feature_columns(contract)
    missing = [c["name"] for c in columns if c.get("required", True) and c["name"] not in frame]
    if missing:
        raise ContractDataError(f"missing required feature columns: {missing}")
    out = {}
    for column in columns:
        name = column["name"]
        if name in frame:
            series = frame[name]
        else:
            series = pd.Series([np.nan] * len(frame), index=frame.index, dtype=object)
        kind = column["type"]
        if kind == "boolean":
            out[name] = _to_bool(series, name)
        elif kind in ("numeric", "integer"):
            out[name] = _to_number(series, name)
        elif kind == "datetime":
            out[name] = _to_days(series, name)
        else:
            out[name] = _to_category(series)
    return pd.DataFrame(out, index=frame.index, columns=[c["name"] for c in columns])


def build_target(frame: pd.DataFrame, contract: dict[str, Any]) -> pd.Series:
    """Target values: floats for regression, labels (0/1, int or str) for classifiers."""
    column = target_column(contract)
    name = column["name"]
    if name not in frame:
        raise ContractDataError(f"target column {name!r} is missing from the data")
    series = frame[name]
    if column["type"] == "boolean":
        values = _to_bool(series, name)
    elif column["type"] in ("numeric", "integer"):
        values = _to_number(series, name)
    else:
        values = _to_category(series)
    if values.isna().any():
        raise ContractDataError(
            f"target column {name!r} has {int(values.isna().sum())} missing values"
        )
    if is_classifier(contract) and column["type"] in ("boolean", "integer"):
        values = values.astype("int64")
    return values


def decode_labels(labels: Sequence[Any], contract: dict[str, Any]) -> list[Any]:
    """Model labels back to the contract's type (JSON-safe Python values)."""
    kind = target_column(contract)["type"]
    out: list[Any] = []
    for label in labels:
        if kind == "boolean":
            out.append(bool(label))
        elif kind == "integer":
            out.append(int(label))
        elif isinstance(label, (np.floating, float)):
            out.append(float(label))
        elif isinstance(label, np.integer):
            out.append(int(label))
        else:
            out.append(label)
    return out


# ---------------------------------------------------------------------------
# pipeline


def estimator_params(contract: dict[str, Any], seed: int) -> dict[str, Any]:
    """Contract hyperparameters as estimator keyword arguments (unknown names are errors)."""
    estimator_cls = (
        HistGradientBoostingClassifier if is_classifier(contract) else HistGradientBoostingRegressor
    )
    accepted = set(estimator_cls().get_params())
    params: dict[str, Any] = {}
    unknown = []
    for key, value in sorted((contract.get("hyperparameters") or {}).items()):
        name = HYPERPARAMETER_ALIASES.get(key, key)
        if name not in accepted or name == "random_state":
            unknown.append(key)
        else:
            params[name] = value
    if unknown:
        raise ValueError(
            f"unknown hyperparameters {unknown} for {estimator_cls.__name__}; "
            f"known: {sorted(set(HYPERPARAMETER_ALIASES) | accepted - {'random_state'})}"
        )
    params["random_state"] = seed
    return params


def build_pipeline(contract: dict[str, Any], seed: int) -> Pipeline:
    """Imputation and one-hot encoding, then histogram gradient boosting."""
    numeric = [c["name"] for c in feature_columns(contract) if c["type"] in NUMERIC_TYPES]
    categorical = [c["name"] for c in feature_columns(contract) if c["type"] not in NUMERIC_TYPES]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", SimpleImputer(strategy="median"), numeric))
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="constant", fill_value=_MISSING_CATEGORY),
                        ),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                        ),
                    ]
                ),
                categorical,
            )
        )
    preprocess = ColumnTransformer(transformers, remainder="drop")
    params = estimator_params(contract, seed)
    estimator: Any
    if is_classifier(contract):
        estimator = HistGradientBoostingClassifier(**params)
    else:
        estimator = HistGradientBoostingRegressor(**params)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def predict(pipeline: Pipeline, features: pd.DataFrame, contract: dict[str, Any]) -> np.ndarray:
    """Predictions as served: regression outputs clipped to the target's declared range."""
    predictions: np.ndarray = pipeline.predict(features)
    if not is_classifier(contract):
        column = target_column(contract)
        low = column.get("min")
        high = column.get("max")
        predictions = np.clip(
            predictions.astype("float64"),
            -np.inf if low is None else low,
            np.inf if high is None else high,
        )
    return predictions


# ---------------------------------------------------------------------------
# evaluation


def holdout_split(
    features: pd.DataFrame,
    target: pd.Series,
    fraction: float,
    seed: int,
    stratify: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """A seeded train/holdout split, stratified by label when asked and possible."""
    labels = None
    if stratify:
        counts = target.value_counts()
        n_holdout = math.ceil(len(target) * fraction)
        # Stratification needs two rows per class and room for every class in the holdout.
        if counts.min() >= 2 and n_holdout >= len(counts):
            labels = target
    x_train, x_holdout, y_train, y_holdout = train_test_split(
        features, target, test_size=fraction, random_state=seed, stratify=labels
    )
    return x_train, x_holdout, y_train, y_holdout


def holdout_size(rows: int, fraction: float) -> int:
    """Holdout rows for a fraction, rounded up as train_test_split does."""
    return min(rows - 1, max(1, math.ceil(rows * fraction)))


def parse_times(series: pd.Series, name: str) -> pd.Series:
    """A datetime column as UTC timestamps (NaT when missing)."""
    try:
        return pd.to_datetime(series, errors="raise", utc=True)
    except (TypeError, ValueError) as exc:
        raise ContractDataError(f"column {name!r}: expected dates: {exc}") from None


def time_split(
    features: pd.DataFrame,
    target: pd.Series,
    times: pd.Series,
    fraction: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """The most recent ``fraction`` of rows (by ``times``) as the holdout.

    Rows are ordered by time with a stable sort, so equal timestamps keep their order in
    the data and the later rows of a tie go to the holdout; rows without a time count as
    the oldest (they train, never judge).
    """
    order = times.sort_values(kind="mergesort", na_position="first").index
    n_holdout = holdout_size(len(order), fraction)
    train_index, holdout_index = order[:-n_holdout], order[-n_holdout:]
    return (
        features.loc[train_index],
        features.loc[holdout_index],
        target.loc[train_index],
        target.loc[holdout_index],
    )


def compute_metric(
    name: str,
    y_true: Any,
    y_pred: Any,
    probabilities: np.ndarray | None = None,
    classes: Sequence[Any] | None = None,
) -> float:
    """One metric by its contract name (see modelrail.contract.METRICS): the numpy
    definition the bootstrap and the live metric use too (modelrail.metrics)."""
    return metrics.value(name, y_true, y_pred, probabilities, classes)


class Scored:
    """A model's predictions on some rows, as served (plus probabilities for classifiers)."""

    def __init__(
        self,
        predictions: np.ndarray,
        probabilities: np.ndarray | None = None,
        classes: list[Any] | None = None,
    ) -> None:
        self.predictions = predictions
        self.probabilities = probabilities
        self.classes = classes

    def subset(self, mask: np.ndarray) -> Scored:
        probabilities = None if self.probabilities is None else self.probabilities[mask]
        return Scored(self.predictions[mask], probabilities, self.classes)


def score(pipeline: Pipeline, features: pd.DataFrame, contract: dict[str, Any]) -> Scored:
    """Predict once; metrics, slices and calibration are all computed from the result."""
    predictions = np.asarray(predict(pipeline, features, contract))
    if not is_classifier(contract):
        return Scored(predictions)
    return Scored(
        predictions, np.asarray(pipeline.predict_proba(features)), list(pipeline.classes_)
    )


def metrics_of(
    scored: Scored, target: Any, names: Sequence[str], *, strict: bool = True
) -> dict[str, float]:
    """The named metrics of scored rows against their true values.

    ``strict=False`` (slices) leaves out a metric that cannot be computed on the rows
    (one class for roc_auc, r2 on fewer than two rows) or is not finite, instead of
    raising: a small slice may not support every metric.
    """
    y_true = np.asarray(target)
    out: dict[str, float] = {}
    for name in names:
        if strict:
            out[name] = compute_metric(
                name, y_true, scored.predictions, scored.probabilities, scored.classes
            )
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = compute_metric(
                    name, y_true, scored.predictions, scored.probabilities, scored.classes
                )
        except (ValueError, ZeroDivisionError):
            continue
        if math.isfinite(value):
            out[name] = value
    return out


def evaluate(
    pipeline: Pipeline,
    features: pd.DataFrame,
    target: pd.Series,
    contract: dict[str, Any],
) -> dict[str, float]:
    """Every contract metric (primary and secondary) on the given rows."""
    return metrics_of(score(pipeline, features, contract), target, metric_names(contract))
