"""Embedded metric format: the metrics CloudWatch Logs extracts from a log line. Pure.

On AWS a Lambda function's log lines reach its log group, and CloudWatch turns each line
that is an EMF document into metric datapoints (no ``cloudwatch:PutMetricData`` needed:
the permission that matters is writing the log group). Powertools Metrics emits such
lines. The local cloud feeds every handler's log line through :func:`parse` and records
the datapoints in its CloudWatch (:mod:`.cloudwatch`), so dashboards and alarms on
custom metrics have data locally too.

The rules follow the EMF specification: the root is a JSON object with an ``_aws``
member holding a numeric ``Timestamp`` (epoch milliseconds) and ``CloudWatchMetrics``, a
list of directives, each with a ``Namespace``, ``Dimensions`` (a list of dimension sets,
each a list of at most 30 member names whose values are strings) and ``Metrics`` (at
most 100 definitions, each a ``Name`` whose member is a number or a list of at most 100
numbers, an optional ``Unit`` and ``StorageResolution``). Each dimension set gives one
datum per value; a directive without dimension sets gives datapoints without
dimensions. A line that is not JSON or has no ``_aws`` is a plain log line; a line that
claims to be EMF but breaks a rule gives no metrics, and :attr:`Extracted.errors` says
why (CloudWatch just drops it, which is hard to debug; the local cloud logs the reason).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_DIMENSIONS = 30
MAX_METRICS = 100
MAX_VALUES = 100
UNITS = frozenset(
    {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
        "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
        "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
        "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
        "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    value: float
    unit: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp: datetime

    def as_metric_data(self) -> dict[str, Any]:
        """The datum as moto's ``put_metric_data`` takes it."""
        return {
            "MetricName": self.name,
            "Value": self.value,
            "Unit": self.unit,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Timestamp": self.timestamp,
        }


@dataclass
class Extracted:
    data: list[Datum] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    is_emf: bool = False


class _Invalid(ValueError):
    pass


def _values(root: dict[str, Any], name: str) -> list[float]:
    if name not in root:
        raise _Invalid(f"metric {name!r} has no member in the document")
    raw = root[name]
    values = raw if isinstance(raw, list) else [raw]
    if len(values) > MAX_VALUES:
        raise _Invalid(f"metric {name!r} has {len(values)} values (at most {MAX_VALUES})")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _Invalid(f"metric {name!r} value {value!r} is not a finite number")
    return [float(v) for v in values]


def _dimension_sets(
    root: dict[str, Any], directive: dict[str, Any]
) -> list[tuple[tuple[str, str], ...]]:
    sets = directive.get("Dimensions")
    if not isinstance(sets, list):
        raise _Invalid("a directive's Dimensions must be a list of dimension sets")
    if not sets:
        return [()]
    out = []
    for dimension_set in sets:
        if not isinstance(dimension_set, list) or not all(
            isinstance(k, str) for k in dimension_set
        ):
            raise _Invalid("a dimension set must be a list of member names")
        if len(dimension_set) > MAX_DIMENSIONS:
            raise _Invalid(
                f"a dimension set has {len(dimension_set)} keys (at most {MAX_DIMENSIONS})"
            )
        pairs = []
        for key in dimension_set:
            value = root.get(key)
            if not isinstance(value, str):
                raise _Invalid(f"dimension {key!r} needs a string member, got {value!r}")
            pairs.append((key, value))
        out.append(tuple(pairs))
    return out


def _directive(root: dict[str, Any], directive: Any, at: datetime) -> list[Datum]:
    if not isinstance(directive, dict):
        raise _Invalid("each CloudWatchMetrics entry must be an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace or namespace.startswith("AWS/"):
        raise _Invalid(f"Namespace {namespace!r} must be a non-empty string outside AWS/")
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
        raise _Invalid(f"Metrics must be a list of at most {MAX_METRICS} definitions")
    dimension_sets = _dimension_sets(root, directive)
    data = []
    for definition in metrics:
        if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str):
            raise _Invalid("each metric definition needs a Name")
        name = definition["Name"]
        unit = definition.get("Unit", "None")
        if unit not in UNITS:
            raise _Invalid(f"metric {name!r} has unknown unit {unit!r}")
        if definition.get("StorageResolution", 60) not in (1, 60):
            raise _Invalid(f"metric {name!r}: StorageResolution must be 1 or 60")
        for value in _values(root, name):
            data += [Datum(namespace, name, value, unit, dims, at) for dims in dimension_sets]
    return data


def parse(line: str) -> Extracted:
    """The datapoints CloudWatch would extract from one log line."""
    text = line.strip()
    if not text.startswith("{"):
        return Extracted()
    try:
        root = json.loads(text)
    except ValueError:
        return Extracted()
    if not isinstance(root, dict) or "_aws" not in root:
        return Extracted()
    found = Extracted(is_emf=True)
    try:
        meta = root["_aws"]
        if not isinstance(meta, dict):
            raise _Invalid("_aws must be an object")
        stamp = meta.get("Timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise _Invalid(f"_aws.Timestamp {stamp!r} must be epoch milliseconds")
        directives = meta.get("CloudWatchMetrics")
        if not isinstance(directives, list):
            raise _Invalid("_aws.CloudWatchMetrics must be a list")
        at = datetime.fromtimestamp(stamp / 1000, UTC)
        for directive in directives:
            found.data += _directive(root, directive, at)
    except _Invalid as exc:
        found.data, found.errors = [], [str(exc)]
    return found
