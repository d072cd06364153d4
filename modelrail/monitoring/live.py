"""The live metric: the contract's primary metric on a window's late labels. Pure.

The monitoring check joins the labels uploaded under the ground-truth prefix with the
window's captured rows (:func:`modelrail.monitoring.labels.join`) and hands
:func:`live_metric` each joined row's label text and what the endpoint answered for it
(:class:`RowOutput`; :func:`answer_rows` splits one JSON answer into rows). The metric
is :mod:`modelrail.metrics`, the definition the training job reports and gates with.

Values are read as the training job reads its target (``build_target``, through
:mod:`modelrail.canonical`): a boolean target's labels are the true and false words, an
integer target's integral numbers, a numeric target's finite numbers, a categorical
target's text stripped. The endpoint's answers are decoded model labels (JSON booleans,
integers or text) and are read the same way, so the label ``yes`` meets the class
``true``. Nothing is fatal; every row left out is counted (:class:`LabelCounts`):

* ``unfit``: a label that is not a value of the target's type (``maybe`` for a boolean
  target, ``2.5`` for an integer one, empty text);
* ``unusable_output``: an answer without what the metric needs (probabilities and
  classes for roc_auc and log_loss, the classes for a binary f1), one that does not fit
  the target either, or one from a model with other classes than the window's (the most
  common class list; a canary can serve two models);
* ``unknown_class``: a label the model has no class for. Such a row is scored by
  accuracy and f1 (the model cannot be right on it) and left out of roc_auc and
  log_loss, which need its probability.

A label beyond the target's declared ``min``/``max`` or ``categories`` is a real label
and is scored: a model whose world moved past its contract is what the metric is for.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from modelrail import canonical, metrics
from modelrail.contract import ColumnType, ModelContract, ProblemType
from modelrail.monitoring.policy import LiveMetric

MAX_EXAMPLES = 5
_UNFIT = object()  # a value that does not fit the target's type


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelCounts(_Frozen):
    """What happened to the window's joined labels (see the module docstring). Each row
    is counted once: ``joined = scored + unfit + unusable_output``, plus ``unknown_class``
    for roc_auc and log_loss, which leave those rows out (accuracy and f1 score them)."""

    joined: int = Field(ge=0)
    scored: int = Field(ge=0)
    unfit: int = Field(default=0, ge=0)
    unusable_output: int = Field(default=0, ge=0)
    unknown_class: int = Field(default=0, ge=0)
    unfit_examples: tuple[str, ...] = ()
    """A few distinct unfit label texts, sorted, for the report."""


class LiveMeasurement(LiveMetric):
    """The live metric (``labelled_rows``: the rows it is computed on) and its counts."""

    counts: LabelCounts


class Unavailable(StrEnum):
    NO_LABELLED_ROWS = "no_labelled_rows"
    NO_SCORABLE_ROWS = "no_scorable_rows"
    SINGLE_CLASS = "single_class"
    TOO_FEW_ROWS = "too_few_rows"


class LiveMetricUnavailable(_Frozen):
    """No live metric for the window, and why: no label joined, none scorable, one class
    for roc_auc, r2 on one row."""

    name: str
    reason: Unavailable
    message: str
    window_end: datetime
    counts: LabelCounts


@dataclass(frozen=True)
class RowOutput:
    """What the endpoint answered for one row (``training/inference.py`` ``output_fn``)."""

    prediction: Any
    probabilities: Sequence[float] | None = None
    classes: Sequence[Any] | None = None


class BadAnswer(ValueError):
    """A captured answer that is not the endpoint's JSON shape."""


def answer_rows(body: Mapping[str, Any]) -> list[RowOutput]:
    """The rows of one JSON answer ``{"predictions": [...], "probabilities": [[...]],
    "classes": [...]}`` (the last two for classifiers)."""
    predictions = body.get("predictions")
    probabilities = body.get("probabilities")
    classes = body.get("classes")
    if not isinstance(predictions, list):
        raise BadAnswer("an answer needs a list of predictions")
    if probabilities is None:
        return [RowOutput(p) for p in predictions]
    if not isinstance(probabilities, list) or len(probabilities) != len(predictions):
        raise BadAnswer(f"{len(predictions)} predictions but not as many probability rows")
    if not isinstance(classes, list):
        raise BadAnswer("an answer with probabilities needs its classes")
    return [RowOutput(p, q, classes) for p, q in zip(predictions, probabilities, strict=True)]


# -- values as the training job reads its target -------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        text = value.strip()
        if not text or "_" in text:  # float() reads "1_0"; training's pandas does not
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    elif isinstance(value, numbers.Real):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _boolean(value: Any) -> Any:
    try:
        flag = canonical.boolean(value)
    except canonical.NotABoolean:
        return _UNFIT
    return _UNFIT if flag is None else flag


def _integer(value: Any, classifier: bool) -> Any:
    number = _number(value)
    if number is None or not number.is_integer():
        return _UNFIT
    return int(number) if classifier else number


def _reader(contract: ModelContract) -> Any:
    """value -> the target value it is (bool, int, float or str), or ``_UNFIT``; one
    conversion per distinct (type, value)."""
    kind = contract.target_column.type
    classifier = contract.problem_type is not ProblemType.REGRESSION
    seen: dict[tuple[type, Any], Any] = {}

    def convert(value: Any) -> Any:
        if kind is ColumnType.BOOLEAN:
            return _boolean(value)
        if kind is ColumnType.INTEGER:
            return _integer(value, classifier)
        if kind is ColumnType.NUMERIC:
            number = _number(value)
            return _UNFIT if number is None else number
        label = canonical.category(value)
        return _UNFIT if label is None else label

    def read(value: Any) -> Any:
        try:
            key = (type(value), value)
            if key not in seen:
                seen[key] = convert(value)
            return seen[key]
        except TypeError:  # unhashable: not a value of any target
            return _UNFIT

    return read


# -- the metric ------------------------------------------------------------------------------


def _class_lists(outputs: Sequence[RowOutput], read: Any) -> list[tuple[Any, ...] | None]:
    """Each row's classes read as target values (None: none given, or one does not fit)."""
    memo: dict[int, tuple[Any, ...] | None] = {}  # rows of one answer share one list
    out: list[tuple[Any, ...] | None] = []
    for output in outputs:
        classes = output.classes
        if classes is None:
            out.append(None)
            continue
        if id(classes) not in memo:
            values = tuple(read(c) for c in classes)
            fits = len(values) >= 2 and all(v is not _UNFIT for v in values)
            memo[id(classes)] = values if fits and len(set(values)) == len(values) else None
        out.append(memo[id(classes)])
    return out


def _reference(keys: Sequence[tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    """The window's class list: the most common one (ties broken by their text, so the
    choice does not depend on the rows' order)."""
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None
    return max(counts, key=lambda k: (counts[k], [repr(v) for v in k]))


def _permutation(key: tuple[Any, ...] | None, order: Mapping[Any, int]) -> list[int] | None:
    """Where each of a row's probability columns goes in the window's class order (None:
    no classes, or other classes than the window's)."""
    if key is None or len(key) != len(order) or set(key) != set(order):
        return None
    return [order[label] for label in key]


@dataclass
class _Scorable:
    truth: list[Any]
    predictions: list[Any]
    probabilities: np.ndarray | None = None
    unusable: int = 0
    unknown_class: int = 0


def _answered(
    contract: ModelContract, truth: Sequence[Any], outputs: Sequence[RowOutput], read: Any
) -> tuple[list[int], list[Any], list[tuple[Any, ...] | None], tuple[Any, ...] | None]:
    """The rows with a fitting label and a usable prediction (their positions and
    predictions), each row's classes, and the window's class list."""
    regression = contract.problem_type is ProblemType.REGRESSION
    keys: list[tuple[Any, ...] | None] = (
        [None] * len(outputs) if regression else _class_lists(outputs, read)
    )
    reference = _reference(keys)
    needs_classes = contract.primary_metric.name in metrics.PROBABILITY_METRICS or (
        contract.primary_metric.name == "f1" and contract.problem_type is ProblemType.BINARY
    )
    at: list[int] = []
    said: list[Any] = []
    if needs_classes and reference is None:
        return at, said, keys, reference
    for i, (label, output) in enumerate(zip(truth, outputs, strict=True)):
        if label is _UNFIT:
            continue
        value = _number(output.prediction) if regression else read(output.prediction)
        if value is not None and value is not _UNFIT:
            at.append(i)
            said.append(value)
    return at, said, keys, reference


def _with_probabilities(
    at: list[int],
    outputs: Sequence[RowOutput],
    keys: Sequence[tuple[Any, ...] | None],
    order: Mapping[Any, int],
) -> tuple[list[int], np.ndarray]:
    """Of the rows ``at``, those whose answer has finite probabilities of the window's
    classes, and those probabilities in the window's class order."""
    plans: dict[tuple[Any, ...] | None, list[int] | None] = {}
    kept, raw, moves = [], [], []
    for i in at:
        key, row = keys[i], outputs[i].probabilities
        if key not in plans:
            plans[key] = _permutation(key, order)
        plan = plans[key]
        if plan is None or row is None or len(row) != len(order):
            continue
        kept.append(i)
        raw.append(row)
        moves.append(plan)
    try:
        matrix = np.asarray(raw, dtype="float64").reshape(len(raw), len(order))
    except (TypeError, ValueError):  # a value that is not a number: row by row
        good = [_floats(row) for row in raw]
        kept = [i for i, row in zip(kept, good, strict=True) if row is not None]
        moves = [m for m, row in zip(moves, good, strict=True) if row is not None]
        matrix = np.asarray([row for row in good if row is not None], dtype="float64")
        matrix = matrix.reshape(len(kept), len(order))
    reordered = np.empty_like(matrix)
    columns = np.asarray(moves, dtype=np.int64).reshape(len(kept), len(order))
    np.put_along_axis(reordered, columns, matrix, axis=1)
    finite = np.asarray(np.isfinite(reordered).all(axis=1))
    usable = [i for i, ok in zip(kept, finite.tolist(), strict=True) if ok]
    return usable, reordered[finite]


def _floats(row: Sequence[Any]) -> list[float] | None:
    try:
        return [float(p) for p in row]
    except (TypeError, ValueError):
        return None


def _scorable(
    contract: ModelContract, truth: Sequence[Any], outputs: Sequence[RowOutput], read: Any
) -> tuple[_Scorable, tuple[Any, ...] | None]:
    """The rows the metric can be computed on, and the class list it uses."""
    at, said, keys, reference = _answered(contract, truth, outputs, read)
    fitting = sum(value is not _UNFIT for value in truth)
    order = {} if reference is None else {label: i for i, label in enumerate(reference)}
    predicted = dict(zip(at, said, strict=True))
    probabilities = None
    if contract.primary_metric.name in metrics.PROBABILITY_METRICS and reference is not None:
        at, probabilities = _with_probabilities(at, outputs, keys, order)
    rows = _Scorable([], [], unusable=fitting - len(at))
    known = np.ones(len(at), dtype=bool)
    for n, i in enumerate(at):
        if reference is not None and truth[i] not in order:
            known[n] = False
            rows.unknown_class += 1
            if probabilities is not None:
                continue
        rows.truth.append(truth[i])
        rows.predictions.append(predicted[i])
    if probabilities is not None:
        rows.probabilities = probabilities[known]
    return rows, reference


def live_metric(
    contract: ModelContract,
    labels: Sequence[str],
    outputs: Sequence[RowOutput],
    *,
    window_end: datetime,
) -> LiveMeasurement | LiveMetricUnavailable:
    """The contract's primary metric on the window's labelled rows: ``labels[i]`` (the
    label text, as :class:`modelrail.monitoring.labels.Joined` holds it) is the truth of
    the row the endpoint answered with ``outputs[i]``."""
    if len(labels) != len(outputs):
        raise ValueError(f"{len(labels)} labels for {len(outputs)} outputs: one each")
    read = _reader(contract)
    truth = [read(text) for text in labels]
    unfit = sorted({text for text, value in zip(labels, truth, strict=True) if value is _UNFIT})
    rows, reference = _scorable(contract, truth, outputs, read)
    counts = LabelCounts(
        joined=len(labels),
        scored=len(rows.truth),
        unfit=sum(value is _UNFIT for value in truth),
        unusable_output=rows.unusable,
        unknown_class=rows.unknown_class,
        unfit_examples=tuple(unfit[:MAX_EXAMPLES]),
    )
    name = contract.primary_metric.name

    def unavailable(reason: Unavailable, message: str) -> LiveMetricUnavailable:
        return LiveMetricUnavailable(
            name=name, reason=reason, message=message, window_end=window_end, counts=counts
        )

    if not labels:
        return unavailable(Unavailable.NO_LABELLED_ROWS, "no label joined a captured row")
    if not rows.truth:
        return unavailable(
            Unavailable.NO_SCORABLE_ROWS,
            f"none of the {len(labels)} labelled rows can be scored by {name} "
            f"({counts.unfit} unfit labels, {counts.unusable_output} unusable answers, "
            f"{counts.unknown_class} labels of unknown classes)",
        )
    try:
        value = metrics.value(name, rows.truth, rows.predictions, rows.probabilities, reference)
    except metrics.MetricUndefined as exc:  # rows there are: one class for roc_auc
        assert exc.reason == metrics.SINGLE_CLASS, exc.reason
        return unavailable(Unavailable.SINGLE_CLASS, f"{exc} ({len(rows.truth)} scored rows)")
    if not math.isfinite(value):
        return unavailable(Unavailable.TOO_FEW_ROWS, f"{name} is not defined on one row")
    return LiveMeasurement(
        name=name,
        value=value,
        threshold=contract.primary_metric.threshold,
        greater_is_better=contract.primary_metric.greater_is_better,
        labelled_rows=len(rows.truth),
        window_end=window_end,
        counts=counts,
    )
