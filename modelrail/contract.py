"""Model contracts: what a model is trained on and judged by.

A contract is a YAML (or JSON) file in ``contracts/<name>.yaml``. It is validated
here with a frozen pydantic model at every boundary: at synth (a bad contract fails
``cdk synth``), in the Lambda handlers and in the CLI. The training container has
neither pydantic nor PyYAML, so the contract reaches it as plain JSON rendered by
:meth:`ModelContract.to_runtime_json`.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelrail.drift_options import DriftOptions
from modelrail.limits import ValidationLimits
from modelrail.monitoring.policy import RetrainPolicy

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
_HYPERPARAMETER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


class ContractError(ValueError):
    """A contract file is missing, unreadable or invalid."""


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


class ProblemType(StrEnum):
    REGRESSION = "regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"


# metric name -> (problem types it applies to, greater is better)
METRICS: dict[str, tuple[frozenset[ProblemType], bool]] = {
    "rmse": (frozenset({ProblemType.REGRESSION}), False),
    "mae": (frozenset({ProblemType.REGRESSION}), False),
    "mape": (frozenset({ProblemType.REGRESSION}), False),
    "r2": (frozenset({ProblemType.REGRESSION}), True),
    "accuracy": (frozenset({ProblemType.BINARY, ProblemType.MULTICLASS}), True),
    "f1": (frozenset({ProblemType.BINARY, ProblemType.MULTICLASS}), True),
    "roc_auc": (frozenset({ProblemType.BINARY}), True),
    "log_loss": (frozenset({ProblemType.BINARY, ProblemType.MULTICLASS}), False),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    name: str = Field(min_length=1, max_length=128)
    type: ColumnType
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Self:
        numeric = self.type in (ColumnType.NUMERIC, ColumnType.INTEGER)
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"column {self.name!r}: min/max only apply to numeric columns")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"column {self.name!r}: min {self.min} is greater than max {self.max}")
        if self.categories is not None:
            if self.type != ColumnType.CATEGORICAL:
                raise ValueError(
                    f"column {self.name!r}: categories only apply to categorical columns"
                )
            if len(set(self.categories)) != len(self.categories) or not self.categories:
                raise ValueError(
                    f"column {self.name!r}: categories must be a non-empty list without repeats"
                )
        return self


class MetricThreshold(_Frozen):
    name: str
    threshold: float

    @property
    def greater_is_better(self) -> bool:
        return METRICS[self.name][1]

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.greater_is_better else value <= self.threshold


# The bounds of improvement_confidence: with the training job's 1000 resamples, 0.99
# leaves 5 in each tail of the interval; below 0.5 an "interval" says nothing.
MIN_CONFIDENCE = 0.5
MAX_CONFIDENCE = 0.99


class QualityPolicy(_Frozen):
    """The bar beyond the primary metric's threshold (the quality gate reads it)."""

    min_improvement: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Relative margin the challenger must beat the champion by on the primary metric
    (0.02: by 2% of the champion's value; 0.0: by anything at all). It must be beaten
    with confidence: the lower bound of the paired bootstrap interval of the difference
    must exceed it, so a tie or a lead within the holdout's noise is rejected (D39)."""
    improvement_confidence: float = 0.95
    """Coverage of that two-sided interval, from 0.5 to 0.99: 0.95 makes a truly equal
    challenger pass about one time in forty (the upper 2.5% tail)."""
    max_slice_regression: float = Field(default=0.10, ge=0.0)
    """A slice's primary metric may be at most this much (relative) worse than the
    champion's; a regression counts only when significant: the slice interval's upper
    bound is below minus this tolerance (D39)."""
    min_slice_rows: int = Field(default=20, ge=1)
    """Slices with fewer holdout rows than this are reported, not judged."""
    max_latency_ms: float | None = Field(default=None, gt=0)
    """Budget for the p95 single-row prediction latency measured in the training job."""
    max_model_mb: float | None = Field(default=None, gt=0)
    """Budget for the serialized model's size."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        confidence = self.improvement_confidence
        if not (MIN_CONFIDENCE <= confidence <= MAX_CONFIDENCE):
            raise ValueError(
                f"improvement_confidence {confidence!r} must be between {MIN_CONFIDENCE} and "
                f"{MAX_CONFIDENCE}: it is the coverage of a two-sided interval, and above "
                f"{MAX_CONFIDENCE} its tails rest on fewer than 5 of the training job's "
                "1000 bootstrap resamples"
            )
        return self


class ParameterType(StrEnum):
    INTEGER = "integer"
    CONTINUOUS = "continuous"
    CATEGORICAL = "categorical"


class ParameterRange(_Frozen):
    """One searched hyperparameter, as SageMaker's ParameterRanges describe it."""

    type: ParameterType
    min: float | None = None
    max: float | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic"] = "Auto"
    values: tuple[str | int | float | bool, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.type is ParameterType.CATEGORICAL:
            if not self.values or self.min is not None or self.max is not None:
                raise ValueError("a categorical range lists its values (and no min/max)")
            if len(set(map(str, self.values))) != len(self.values):
                raise ValueError("a categorical range lists a value twice")
            return self
        if self.min is None or self.max is None or self.values:
            raise ValueError(f"an {self.type.value} range needs min and max (and no values)")
        if self.min >= self.max:
            raise ValueError(f"range min {self.min} must be below max {self.max}")
        if self.type is ParameterType.INTEGER and not (
            float(self.min).is_integer() and float(self.max).is_integer()
        ):
            raise ValueError("an integer range needs whole-number bounds")
        if self.scaling == "Logarithmic" and self.min <= 0:
            raise ValueError("logarithmic scaling needs min > 0")
        return self


class TuningPolicy(_Frozen):
    """Hyperparameter search: a SageMaker tuning job in place of the single training job.

    Trials are ranked on a validation split carved from the training rows, so the
    holdout that the quality gate judges (and compares with the champion on) stays
    unseen by the search.
    """

    strategy: Literal["Bayesian", "Random"] = "Bayesian"
    max_jobs: int = Field(default=6, ge=1, le=100)
    max_parallel_jobs: int = Field(default=2, ge=1, le=10)
    validation_fraction: float = Field(default=0.2, gt=0.0, lt=0.5)
    parameters: dict[str, ParameterRange] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError("max_parallel_jobs cannot exceed max_jobs")
        for name in self.parameters:
            if not _HYPERPARAMETER.match(name):
                raise ValueError(f"hyperparameter name {name!r} must be a Python identifier")
        return self


_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")


class MonitoringConfig(_Frozen):
    """How the live model is watched and when it is retrained (``monitoring:``)."""

    enabled: bool = True
    schedule: str = "rate(1 day)"
    """An EventBridge Scheduler expression, ``rate(N unit)`` or ``cron(6 fields)``."""
    window_hours: float = Field(default=24.0, gt=0)
    """A check compares the captured traffic of the last ``window_hours`` with the baseline."""
    min_rows: int = Field(default=200, ge=1)
    """A window with fewer rows is reported as insufficient data, never as drift."""
    drift: DriftOptions = DriftOptions()
    """The drift tests' thresholds (Evidently's defaults; ``drift_share``: the share of
    drifted features that makes the window drifted)."""
    retrain: RetrainPolicy = RetrainPolicy()

    @model_validator(mode="after")
    def _check(self) -> Self:
        rate = _RATE.match(self.schedule)
        if rate is None and not _CRON.match(self.schedule):
            raise ValueError(
                f"monitoring.schedule {self.schedule!r} must be rate(N minutes|hours|days) or "
                "cron(minutes hours day-of-month month day-of-week year)"
            )
        if rate is not None:
            n, unit = int(rate["n"]), rate["unit"]
            if (n == 1) != (not unit.endswith("s")):
                raise ValueError(
                    f"monitoring.schedule {self.schedule!r}: write rate(1 {unit.rstrip('s')}) "
                    f"or rate({max(n, 2)} {unit.rstrip('s')}s)"
                )
        return self


class ModelContract(_Frozen):
    name: str
    description: str = ""
    problem_type: ProblemType
    target: str
    columns: tuple[Column, ...] = Field(min_length=2)
    primary_metric: MetricThreshold
    secondary_metrics: tuple[str, ...] = ()
    min_rows: int = Field(default=200, ge=10)
    # A guard, not a ceiling of the machinery: validation and the profile stream (D43), an
    # upload above the environment's processing_threshold_bytes is checked by a Processing
    # job (D42), and training, which loads the data whole, is sized from it. 10 GiB by
    # default; set it to what this model's data can reasonably be.
    max_bytes: int = Field(default=10 * 1024**3, gt=0)
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.5)
    max_training_rows: int | None = Field(default=None, ge=10)
    """At most this many rows are fitted on: a larger training split is drawn down to it
    (seeded, uniform; the holdout stays whole and every row is still validated),
    recorded in evaluation.json's ``sampling`` (D46). None: every row."""
    seed: int = 42
    hyperparameters: dict[str, int | float | str | bool] = Field(default_factory=dict)
    slices: tuple[str, ...] = ()
    """Categorical or boolean feature columns whose values are evaluated (and gated) apart."""
    time_column: str | None = None
    """A datetime column: when set, the holdout is the most recent rows, not a random draw."""
    tolerances: dict[str, Any] = Field(default_factory=dict)
    """Data-gate tolerances (modelrail.limits.ValidationLimits fields)."""
    quality: QualityPolicy = QualityPolicy()
    monitoring: MonitoringConfig = MonitoringConfig()
    tuning: TuningPolicy | None = None
    """When set, the pipeline searches hyperparameters instead of training once; searched
    values override ``hyperparameters`` of the same name in each trial."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _NAME.match(self.name):
            raise ValueError(
                f"model name {self.name!r} must be 3-32 characters of a-z, 0-9 and '-', "
                "starting with a letter (it becomes part of S3 keys and job names)"
            )
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns declared more than once: {dupes}")
        if self.target not in names:
            raise ValueError(f"target {self.target!r} is not one of the declared columns")
        target = self.target_column
        if not target.required or target.nullable:
            raise ValueError(f"target {self.target!r} must be required and not nullable")
        if self.problem_type is ProblemType.REGRESSION and target.type not in (
            ColumnType.NUMERIC,
            ColumnType.INTEGER,
        ):
            raise ValueError("a regression target must be numeric or integer")
        if self.problem_type is not ProblemType.REGRESSION and target.type not in (
            ColumnType.CATEGORICAL,
            ColumnType.BOOLEAN,
            ColumnType.INTEGER,
        ):
            raise ValueError("a classification target must be categorical, boolean or integer")
        if not self.features:
            raise ValueError("a contract needs at least one feature column besides the target")
        for name in self.slices:
            if name not in names or name == self.target:
                raise ValueError(f"slice column {name!r} is not a declared feature")
            if self.column(name).type not in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN):
                raise ValueError(f"slice column {name!r} must be categorical or boolean")
        if self.time_column is not None and (
            self.time_column not in names
            or self.column(self.time_column).type is not ColumnType.DATETIME
        ):
            raise ValueError(f"time_column {self.time_column!r} must be a declared datetime column")
        self.validation_limits()  # a bad tolerance fails here, at synth

        for metric in (self.primary_metric.name, *self.secondary_metrics):
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
            if self.problem_type not in METRICS[metric][0]:
                raise ValueError(f"metric {metric!r} does not apply to {self.problem_type.value}")
        return self

    @property
    def target_column(self) -> Column:
        return next(c for c in self.columns if c.name == self.target)

    @property
    def features(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.name != self.target)

    def validation_limits(self) -> ValidationLimits:
        """The tolerances as :class:`modelrail.limits.ValidationLimits`."""
        try:
            limits = ValidationLimits.model_validate(self.tolerances)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"tolerances: {problems}") from None
        unknown = sorted(set(limits.column_max_null_fraction) - {c.name for c in self.columns})
        if unknown:
            raise ValueError(f"tolerances name undeclared columns: {unknown}")
        return limits

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_runtime_json(self) -> dict[str, Any]:
        """The plain-JSON form read by the training container and inference code."""
        return self.model_dump(mode="json")


def parse_contract(data: Any, *, source: str = "<contract>") -> ModelContract:
    try:
        return ModelContract.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ContractError(f"{source}: invalid contract: {problems}") from exc


def load_contract_file(path: Path) -> ModelContract:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read contract: {exc}") from exc
    data = _parse_json(text, path) if path.suffix == ".json" else _parse_yaml(text, path)
    contract = parse_contract(data, source=str(path))
    if contract.name != path.stem:
        raise ContractError(f"{path}: contract name {contract.name!r} must match the file name")
    return contract


def _parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: cannot read contract: {exc}") from exc


def _parse_yaml(text: str, path: Path) -> Any:
    # PyYAML is imported only for YAML files: Lambda reads the contracts rendered to
    # JSON, and neither managed layer ships PyYAML.
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: cannot read contract: {exc}") from exc


def load_contracts(directory: Path = CONTRACTS_DIR) -> dict[str, ModelContract]:
    """Every contract in a folder, by name. An empty or missing folder is an error."""
    files = sorted(
        p for p in directory.glob("*") if p.suffix in {".yaml", ".yml", ".json"} and p.is_file()
    )
    if not files:
        raise ContractError(f"no contracts found in {directory}")
    contracts = [load_contract_file(p) for p in files]
    return {c.name: c for c in contracts}


def load_contract(name: str, directory: Path = CONTRACTS_DIR) -> ModelContract:
    contracts = load_contracts(directory)
    try:
        return contracts[name]
    except KeyError:
        raise ContractError(
            f"no contract named {name!r} in {directory}; known: {sorted(contracts)}"
        ) from None
