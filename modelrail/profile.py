"""Baseline profile: a compact statistical summary of the validated training data.

The profile is computed once, at training time, from the frame that passed validation
and stored as JSON next to the model. Drift checks later compare live traffic to it
without the raw training set, so it holds bins and counts, never rows. Pure: pandas
and numpy only, no AWS.

Per column (:class:`FeatureProfile`), by the contract's declared type:

* **numeric / integer** (``kind="numeric"``): ``min``, ``max``, ``mean``, ``std``
  (population, ``ddof=0``), ``quantiles`` (``p01`` ... ``p99``, linear interpolation as
  numpy's default), ``unique`` (distinct values, reported up to :data:`UNIQUE_CAP`) and
  a histogram: ``bin_edges`` and ``bin_counts``.
* **categorical / boolean**: ``categories``, the count per value. Values are keyed by
  their canonical string (see below); every declared category (both ``"false"`` and
  ``"true"`` for a boolean) is present, with a zero count when unseen.
* **datetime**: ``earliest``, ``latest`` (UTC) and ``months``, the count per observed
  ``"YYYY-MM"`` month (UTC); months without rows are left out.

Bins (numeric columns)
----------------------
Edges come from quantiles of the reference. The interior edges are the reference values
at ranks ``n * k // bins`` (``k = 1 .. bins-1``) of the sorted non-null values, with
repeats and any edge equal to the minimum removed; the outer edges are ``-inf`` and
``+inf``. So there are at most ``bins + 1`` edges, and

* bins are half-open, ``[edges[i], edges[i+1])``: a value ``x`` is in bin
  ``searchsorted(edges, x, side="right") - 1``, and *any* future finite value falls in
  exactly one bin, however far outside the reference range;
* every interior edge is a reference value, so no bin is empty in the reference (the
  first bin holds at least the minimum): a drift statistic such as PSI never divides by
  a zero reference share, and a discrete column (``day_of_week``) gets one bin per value
  rather than empty bins between integers;
* ties (a column with few distinct values) give fewer, uneven bins; a constant column
  has the single bin ``(-inf, +inf)``.

Canonical values
----------------
A categorical value is keyed as the model sees it (``training/modelrail_features.py``):
text stripped, an integral float ``3.0`` as ``"3"``, a boolean as ``"true"``/``"false"``;
empty text is null. Booleans accept true/t/yes/y/1 and false/f/no/n/0 (any case) as in
training. Live values must be canonicalised the same way; a live value that is not a key
of ``categories`` is counted in an ``"__other__"`` bucket (:data:`OTHER_CATEGORY`), which
the reference never needs for declared categories. An undeclared categorical column (no
``categories`` in the contract) keeps its :data:`MAX_CATEGORIES` most frequent values;
the rest of the reference is then summed under ``"__other__"`` too.

Fingerprint
-----------
``fingerprint`` identifies the *content* of the data, independent of its encoding and of
row order: it is the SHA-256 of a canonical JSON description holding the contract's
column names and types in contract order, the row count, a per-column content hash
(order-invariant: the sorted values, or the value counts) and the SHA-256 of the sorted
64-bit per-row hashes (each row hash mixes the canonical values of all contract columns
in contract order). So a reshuffled copy of the same rows has the same fingerprint, as
does the same data read from CSV or Parquet ("1" and ``True`` in a boolean column are
the same value); changing any value, moving a value to another row, adding, removing or
duplicating a row changes it. Numbers are compared as float64 (``3`` and ``3.0`` are one
value; ``-0.0`` is ``0.0``), datetimes as UTC microseconds. Columns outside the contract
are ignored. ``created_from`` is the uploaded file's own SHA-256, which does depend on
the encoding. The row hash is 64 bits: it detects accidental change, it is not meant to
withstand a crafted collision (the per-column hashes are full SHA-256).

Inputs
------
The frame is the validated training data (validation runs first). Problems validation
rejects reaching this step are bugs and raise ``ValueError`` naming the column: a
missing required column, ``±inf`` in a numeric column, a value that does not parse as
the declared type. A missing optional column (``required: false``) is profiled as all
null, as training treats it. ``NaN``/``None``/``NaT`` count as nulls.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    field_serializer,
    model_validator,
)

from modelrail.categories import Labels, as_objects, boolean_labels, categorical_labels
from modelrail.columns import Coded
from modelrail.contract import Column, ColumnType, ModelContract
from modelrail.hashing import fold64
from modelrail.ordered import SortedStats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.uint64]

Kind = Literal["numeric", "categorical", "boolean", "datetime"]

PROFILE_VERSION = 1
DEFAULT_BINS = 10
MAX_BINS = 1000
UNIQUE_CAP = 10_000
"""``unique`` reports the distinct count up to this; ``unique == UNIQUE_CAP`` means "at
least this many" (a continuous column), which is all a drift check needs to know."""
MAX_CATEGORIES = 1000
"""Undeclared categorical columns keep this many most frequent values (ties by value)."""
OTHER_CATEGORY = "__other__"
"""Bucket for values outside a profile's ``categories`` (unseen live values)."""
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}

_KIND: dict[ColumnType, Kind] = {
    ColumnType.NUMERIC: "numeric",
    ColumnType.INTEGER: "numeric",
    ColumnType.CATEGORICAL: "categorical",
    ColumnType.BOOLEAN: "boolean",
    ColumnType.DATETIME: "datetime",
}
_SHA256_HEX = r"^[0-9a-f]{64}$"
_NAN_TEXT = frozenset({"", "nan"})


# ---------------------------------------------------------------------------
# models


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeatureProfile(_Frozen):
    """One column of the reference data. Fields that do not apply to a kind are None."""

    name: str
    column_type: ColumnType
    """The contract's declared type (``kind`` merges numeric and integer)."""
    kind: Kind
    count: int = Field(ge=0)
    """Rows, nulls included."""
    nulls: int = Field(ge=0)
    content_sha256: str = Field(pattern=_SHA256_HEX)
    """Order-invariant hash of the column's canonical values (part of the fingerprint)."""
    # numeric / integer
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None
    bin_edges: tuple[float, ...] | None = None
    bin_counts: tuple[int, ...] | None = None
    unique: int | None = Field(default=None, ge=0)
    # categorical / boolean
    categories: dict[str, int] | None = None
    # datetime
    earliest: datetime | None = None
    latest: datetime | None = None
    months: dict[str, int] | None = None

    @property
    def present(self) -> int:
        """Non-null values."""
        return self.count - self.nulls

    @field_serializer("bin_edges")
    def _edges_json(
        self, edges: tuple[float, ...] | None, info: FieldSerializationInfo
    ) -> list[float | str] | None:
        # JSON has no infinity; the outer edges travel as "-Infinity"/"Infinity", which
        # pydantic parses back to floats.
        if edges is None:
            return None
        if info.mode != "json":
            return list(edges)
        return [e if math.isfinite(e) else ("Infinity" if e > 0 else "-Infinity") for e in edges]

    @model_validator(mode="after")
    def _check(self) -> Self:
        if _KIND[self.column_type] != self.kind:
            raise ValueError(f"{self.name}: kind {self.kind!r} does not fit {self.column_type}")
        if self.nulls > self.count:
            raise ValueError(f"{self.name}: more nulls than rows")
        if self.kind == "numeric":
            if self.bin_edges is None or self.bin_counts is None:
                raise ValueError(f"{self.name}: a numeric profile needs bin_edges and bin_counts")
            edges = self.bin_edges
            if len(edges) < 2 or edges[0] != -math.inf or edges[-1] != math.inf:
                raise ValueError(f"{self.name}: bin_edges must run from -inf to +inf")
            if any(not a < b for a, b in pairwise(edges)):
                raise ValueError(f"{self.name}: bin_edges must increase strictly")
            if len(self.bin_counts) != len(edges) - 1:
                raise ValueError(f"{self.name}: one bin count per pair of edges")
            if sum(self.bin_counts) != self.present:
                raise ValueError(f"{self.name}: bin counts do not add up to the non-null count")
        if self.categories is not None and sum(self.categories.values()) != self.present:
            raise ValueError(f"{self.name}: category counts do not add up to the non-null count")
        if self.months is not None and sum(self.months.values()) != self.present:
            raise ValueError(f"{self.name}: month counts do not add up to the non-null count")
        return self


class BaselineProfile(_Frozen):
    """The reference for drift checks: one :class:`FeatureProfile` per contract column."""

    version: int = PROFILE_VERSION
    model: str
    rows: int = Field(ge=1)
    bins: int = Field(ge=1, le=MAX_BINS)
    """Bins asked for; a column may have fewer (see the module doc)."""
    created_from: str | None = Field(default=None, pattern=_SHA256_HEX)
    """SHA-256 of the dataset file the frame was read from, when known."""
    fingerprint: str = Field(pattern=_SHA256_HEX)
    column_order: tuple[str, ...]
    """Every column in contract order, the target included (JSON keys are sorted, so the
    order is kept here: Model Monitor maps headerless CSV columns by position)."""
    features: dict[str, FeatureProfile]
    target: FeatureProfile

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.version != PROFILE_VERSION:
            raise ValueError(f"unsupported profile version {self.version}")
        for key, feature in self.features.items():
            if key != feature.name:
                raise ValueError(f"feature {key!r} holds the profile of {feature.name!r}")
        if self.target.name in self.features:
            raise ValueError(f"the target {self.target.name!r} is listed among the features")
        if sorted(self.column_order) != sorted([*self.features, self.target.name]):
            raise ValueError("column_order must list every feature and the target once")
        wrong = sorted(
            f.name for f in (*self.features.values(), self.target) if f.count != self.rows
        )
        if wrong:
            raise ValueError(f"columns {wrong} do not count {self.rows} rows")
        return self

    def ordered(self, *, include_target: bool = True) -> tuple[FeatureProfile, ...]:
        """Column profiles in contract order."""
        every = {**self.features, self.target.name: self.target}
        return tuple(every[n] for n in self.column_order if include_target or n != self.target.name)


# ---------------------------------------------------------------------------
# building


def build_profile(
    df: pd.DataFrame,
    contract: ModelContract,
    *,
    bins: int = DEFAULT_BINS,
    dataset_sha256: str | None = None,
) -> BaselineProfile:
    """Profile ``df`` (validated training data) against ``contract``.

    One pass per contract column; extra columns are ignored. Raises ``ValueError`` for
    an empty frame, missing required columns, non-finite or unparseable values.
    """
    _check_bins(bins)
    if len(df) == 0:
        raise ValueError(f"cannot profile an empty frame: no rows for model {contract.name!r}")
    missing = [c.name for c in contract.columns if c.required and c.name not in df.columns]
    if missing:
        raise ValueError(f"columns missing from the frame: {missing}")
    repeated = sorted({c.name for c in contract.columns if list(df.columns).count(c.name) > 1})
    if repeated:
        raise ValueError(f"columns appear more than once in the frame: {repeated}")

    def columns() -> Iterator[tuple[Column, pd.Series]]:
        for column in contract.columns:
            yield column, (df[column.name] if column.name in df.columns else _absent(len(df)))

    return _assemble(contract, len(df), columns(), bins=bins, dataset_sha256=dataset_sha256)


class ColumnSource(Protocol):
    """A dataset read batch by batch (see :mod:`modelrail.columns`)."""

    @property
    def names(self) -> list[str]: ...

    @property
    def infers_text(self) -> bool:
        """Text columns come as text that pandas would type from the whole column (CSV)."""
        ...

    def batches(self, columns: list[Column]) -> Iterator[pd.DataFrame]: ...


PROFILE_MEMORY = 256 * 1024 * 1024
"""The streamed profile sorts this many bytes of numbers at a time (32 M values; shared by
the columns profiled at once)."""


def build_profile_streamed(
    source: ColumnSource,
    contract: ModelContract,
    *,
    rows: int | None,
    bins: int = DEFAULT_BINS,
    dataset_sha256: str | None = None,
    memory: int = PROFILE_MEMORY,
    workdir: Path | None = None,
) -> BaselineProfile:
    """:func:`build_profile` over ``source``, read once, a batch at a time.

    The profile is the same as :func:`build_profile` of the whole frame (quantiles, bins,
    content hashes and fingerprint are exact): the batches go through
    :class:`modelrail.profile_stream.ProfileBuilder`, which spills the columns under
    ``workdir`` and sorts numbers ``memory`` bytes at a time. ``rows`` (from the
    validation report), when given, is checked against the rows read.
    """
    from modelrail.profile_stream import ProfileBuilder  # it builds on this module

    _check_bins(bins)
    missing = [c.name for c in contract.columns if c.required and c.name not in source.names]
    if missing:
        raise ValueError(f"columns missing from the frame: {missing}")
    present = [c for c in contract.columns if c.name in source.names]
    with ProfileBuilder(
        contract, infer_text=source.infers_text, bins=bins, memory=memory, workdir=workdir
    ) as builder:
        for frame in source.batches(present):
            builder.add(frame, len(frame))
        return builder.finish(rows=rows, dataset_sha256=dataset_sha256)


def _absent(rows: int) -> pd.Series:
    """An optional column left out of the file: all null, as training reads it."""
    return pd.Series(np.full(rows, np.nan), dtype=object)


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
        raise ValueError(f"bins must be an integer from 1 to {MAX_BINS}, got {bins!r}")


def _assemble(
    contract: ModelContract,
    rows: int,
    columns: Iterator[tuple[Column, pd.Series]],
    *,
    bins: int,
    dataset_sha256: str | None,
) -> BaselineProfile:
    profiles: dict[str, FeatureProfile] = {}
    row_hash = np.full(rows, ROW_SEED, dtype=np.uint64)
    for position, (column, series) in enumerate(columns):
        profile, value_hash = _profile_column(series, column, bins)
        profiles[column.name] = profile
        row_hash = fold_row_hash(row_hash, position, value_hash)
    multiset = hashlib.sha256(np.sort(row_hash).astype("<u8").tobytes()).hexdigest()
    return baseline(contract, rows, profiles, multiset, bins=bins, dataset_sha256=dataset_sha256)


ROW_SEED = np.uint64(0x6D6F64656C7261)  # "modelra": every row hash starts here


def fold_row_hash(row_hash: UIntArray, position: int, value_hash: UIntArray) -> UIntArray:
    """Mix the values of the column at ``position`` (in contract order) into the rows'
    hashes: ``mix64(row_hash ^ mix64(value_hash + salt))``, written into ``row_hash``."""
    salt = np.uint64(((position + 1) * _GOLDEN) & _MASK64)  # the column's place in the row
    return fold64(row_hash, np.asarray(value_hash, dtype=np.uint64), salt)


def baseline(
    contract: ModelContract,
    rows: int,
    profiles: dict[str, FeatureProfile],
    row_multiset: str,
    *,
    bins: int,
    dataset_sha256: str | None,
) -> BaselineProfile:
    """The profile of the columns' ``profiles`` and the SHA-256 of the sorted row hashes."""
    description = {
        "version": PROFILE_VERSION,
        "columns": [[c.name, c.type.value] for c in contract.columns],
        "rows": rows,
        "content": [profiles[c.name].content_sha256 for c in contract.columns],
        "row_multiset": row_multiset,
    }
    fingerprint = hashlib.sha256(_canonical(description)).hexdigest()
    features = dict(profiles)
    target = features.pop(contract.target)
    return BaselineProfile(
        model=contract.name,
        rows=rows,
        bins=bins,
        created_from=dataset_sha256,
        fingerprint=fingerprint,
        column_order=tuple(c.name for c in contract.columns),
        features=features,
        target=target,
    )


def _profile_column(
    series: pd.Series, column: Column, bins: int
) -> tuple[FeatureProfile, UIntArray]:
    """The column's profile and one 64-bit hash per row of its canonical value."""
    if column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
        return _profile_numeric(series, column, bins)
    if column.type is ColumnType.DATETIME:
        return _profile_datetime(series, column)
    if column.type is ColumnType.BOOLEAN:
        labels = boolean_labels(series, column.name)
        return _profile_labels(labels, column, ("false", "true"))
    labels = categorical_labels(series)
    return _profile_labels(labels, column, column.categories or ())


# --- numeric


def _numbers(series: pd.Series | FloatArray | Coded, name: str) -> FloatArray:
    """float64 values, NaN for nulls; ValueError for anything else that is not finite."""
    if isinstance(series, Coded):
        series = series.series()
    dtype = series.dtype
    values: FloatArray
    if isinstance(series, np.ndarray):
        values = series.astype(np.float64, copy=False)
    elif dtype.kind in "iuf" and not isinstance(dtype, pd.CategoricalDtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif dtype.kind == "b" or dtype.kind in "mM" or isinstance(dtype, pd.DatetimeTZDtype):
        raise ValueError(f"column {name!r} is numeric but holds {dtype} values")
    else:  # text or objects: parse; blank text and "nan" are nulls
        raw = series.astype(object)
        parsed = pd.to_numeric(raw, errors="coerce")
        values = pd.Series(parsed).to_numpy(dtype=np.float64, na_value=np.nan)
        unparsed = np.isnan(values) & ~raw.isna().to_numpy(dtype=np.bool_)
        if unparsed.any():
            texts = [str(v).strip().lower() for v in raw[unparsed]]
            bad = [str(v) for v, t in zip(raw[unparsed], texts, strict=True) if t not in _NAN_TEXT]
            if bad:
                raise ValueError(
                    f"column {name!r}: {len(bad)} values are not numbers, e.g. {bad[:3]}"
                )
    infinite = np.isinf(values)
    if infinite.any():
        raise ValueError(
            f"column {name!r} has {int(infinite.sum())} infinite values; validation rejects "
            "non-finite numbers, so reaching the profile with them is a bug"
        )
    return values


def _profile_numeric(
    series: pd.Series, column: Column, bins: int
) -> tuple[FeatureProfile, UIntArray]:
    values = _numbers(series, column.name) + 0.0  # -0.0 -> 0.0: one canonical zero
    null = np.isnan(values)
    nulls = int(null.sum())
    present = np.sort(values[~null]) if nulls else np.sort(values)
    bits = values.view(np.uint64).copy()
    bits[null] = _NULL_NUMBER
    magnitude = max(abs(float(present[0])), abs(float(present[-1]))) if len(present) else 0.0
    profile = numeric_profile(column, bins, len(values), nulls, [present], magnitude)
    return profile, bits


def numeric_profile(
    column: Column,
    bins: int,
    rows: int,
    nulls: int,
    ascending: Iterable[FloatArray],
    magnitude: float,
) -> FeatureProfile:
    """A numeric column's profile from its non-null values in ascending order, in runs
    (:mod:`modelrail.ordered`): one sorted array, or runs of a column sorted on disk."""
    n = rows - nulls
    digest = hashlib.sha256(b"numeric\0")
    digest.update(nulls.to_bytes(8, "little"))
    fields: dict[str, Any] = {"bin_edges": (-math.inf, math.inf), "bin_counts": (0,), "unique": 0}
    edge_ranks = ((n * np.arange(1, bins, dtype=np.int64)) // bins).tolist() if n else []
    spots = {key: _quantile_ranks(n, q) for key, q in QUANTILES.items()} if n else {}
    ranks = [*edge_ranks, *(r for below, above, _ in spots.values() for r in (below, above))]
    stats = SortedStats(n, ranks, magnitude, digest) if n else None
    for run in ascending:
        if stats is not None:
            stats.feed(run)
    if stats is not None:
        lo, hi = stats.at(0), stats.at(n - 1)
        mean, std = stats.mean_std()
        interior = sorted({stats.at(r) for r in edge_ranks if stats.at(r) > lo})
        first = {stats.at(r): stats.first_rank(r) for r in edge_ranks}
        below = [first[e] for e in interior]
        fields = {
            "min": lo,
            "max": hi,
            "mean": mean,
            "std": std,
            "quantiles": {
                key: _interpolate(stats.at(a), stats.at(b), t) for key, (a, b, t) in spots.items()
            },
            "bin_edges": (-math.inf, *interior, math.inf),
            "bin_counts": tuple(int(c) for c in np.diff([0, *below, n])),
            "unique": min(stats.distinct, UNIQUE_CAP),
        }
    return FeatureProfile(
        name=column.name,
        column_type=column.type,
        kind="numeric",
        count=rows,
        nulls=nulls,
        content_sha256=digest.hexdigest(),
        **fields,
    )


def _quantile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """The ranks either side of quantile ``q`` of ``n`` values and the weight between
    them: linear interpolation between closest ranks (numpy's default method)."""
    h = (n - 1) * q
    below = math.floor(h)
    return below, min(below + 1, n - 1), h - below


def _interpolate(a: float, b: float, t: float) -> float:
    if a == b:
        return a
    span = b - a
    value = a + t * span if math.isfinite(span) else (1.0 - t) * a + t * b  # no overflow
    return min(max(value, a), b)


# --- categorical and boolean


def _profile_labels(
    labels: Labels, column: Column, declared: tuple[str, ...]
) -> tuple[FeatureProfile, UIntArray]:
    null = labels.codes < 0
    counts = np.bincount(labels.codes[~null], minlength=len(labels.labels))
    value_hash: UIntArray = label_hashes(labels.labels)[labels.codes]
    profile = labels_profile(column, len(labels.codes), labels.labels, counts, declared)
    return profile, value_hash


def label_hashes(labels: tuple[str, ...]) -> UIntArray:
    """Each label's 64-bit hash, and the null label's last (code -1 indexes it)."""
    hashed = np.array([_hash_text(label) for label in labels] + [_NULL_LABEL])
    return hashed.astype(np.uint64)


def labels_profile(
    column: Column,
    rows: int,
    labels: tuple[str, ...],
    counts: IntArray,
    declared: tuple[str, ...],
) -> FeatureProfile:
    """A categorical or boolean column's profile from its count per label."""
    observed = {label: int(c) for label, c in zip(labels, counts, strict=True) if c}
    nulls = rows - sum(observed.values())
    digest = hashlib.sha256(b"labels\0")
    digest.update(_canonical({"nulls": nulls, "counts": observed}))
    # declared values first (zero when unseen), then the others by count: tolerated
    # unknown values of a declared column, or every value of an undeclared one
    categories = {label: observed.get(label, 0) for label in declared}
    extra = sorted((k for k in observed if k not in categories), key=lambda k: (-observed[k], k))
    categories.update({k: observed[k] for k in extra[:MAX_CATEGORIES]})
    if len(extra) > MAX_CATEGORIES:
        categories[OTHER_CATEGORY] = sum(observed[k] for k in extra[MAX_CATEGORIES:])
    return FeatureProfile(
        name=column.name,
        column_type=column.type,
        kind=_KIND[column.type],
        count=rows,
        nulls=nulls,
        content_sha256=digest.hexdigest(),
        categories=categories,
    )


# --- datetime


def _timestamps(series: pd.Series, name: str) -> IntArray:
    """UTC microseconds since 1970, ``_NAT`` for nulls. Naive values are taken as UTC."""
    dtype = series.dtype
    if dtype.kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return _micros(pd.DatetimeIndex(series))
    codes, uniques = pd.factorize(as_objects(series))
    values = [(u.strip() or None) if isinstance(u, str) else u for u in uniques]
    try:
        parsed = _parse_datetimes(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"column {name!r}: values that are not dates/times: {exc}") from None
    return np.append(_micros(parsed), np.int64(_NAT))[codes]


def _micros(stamps: pd.DatetimeIndex) -> IntArray:
    if stamps.tz is None:
        stamps = stamps.tz_localize("UTC")
    naive = stamps.tz_convert("UTC").tz_localize(None)
    micros: IntArray = naive.to_numpy().astype("datetime64[us]").view(np.int64)
    return micros


def _parse_datetimes(values: list[Any]) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
        try:
            return pd.DatetimeIndex(pd.to_datetime(values, utc=True, errors="raise"))
        except (TypeError, ValueError):  # formats differ from value to value
            return pd.DatetimeIndex(
                pd.to_datetime(values, utc=True, errors="raise", format="mixed")
            )


def _profile_datetime(series: pd.Series, column: Column) -> tuple[FeatureProfile, UIntArray]:
    micros = _timestamps(series, column.name)
    null = micros == _NAT
    distinct, counts = np.unique(micros[~null], return_counts=True)
    profile = datetime_profile(column, len(micros), distinct, counts)
    return profile, micros.view(np.uint64).copy()


def datetime_profile(
    column: Column, rows: int, distinct: IntArray, counts: IntArray
) -> FeatureProfile:
    """A datetime column's profile from its distinct UTC microseconds (ascending) and
    the count of each."""
    nulls = rows - int(counts.sum())
    digest = hashlib.sha256(b"datetime\0")
    digest.update(nulls.to_bytes(8, "little"))
    for piece in _repeated(distinct, counts):  # the sorted values, a slice at a time
        digest.update(piece.astype("<i8").tobytes())
    fields: dict[str, Any] = {"months": {}}
    if len(distinct):
        month_index = distinct.view("datetime64[us]").astype("datetime64[M]").view(np.int64)
        first = int(month_index[0])
        per_month = np.bincount(month_index - first, weights=counts).astype(np.int64)
        fields = {
            "earliest": _to_datetime(int(distinct[0])),
            "latest": _to_datetime(int(distinct[-1])),
            "months": {
                str(np.datetime64(first + i, "M")): int(c) for i, c in enumerate(per_month) if c
            },
        }
    return FeatureProfile(
        name=column.name,
        column_type=column.type,
        kind="datetime",
        count=rows,
        nulls=nulls,
        content_sha256=digest.hexdigest(),
        **fields,
    )


def _repeated(values: IntArray, counts: IntArray, size: int = 1 << 20) -> Iterator[IntArray]:
    """``np.repeat(values, counts)`` in pieces of about ``size`` values."""
    ends = np.cumsum(counts)
    for start in range(0, int(ends[-1]) if len(ends) else 0, size):
        lo, hi = np.searchsorted(ends, [start, start + size], side="right")
        hi = min(int(hi), len(values) - 1)
        stop = np.minimum(ends[lo : hi + 1], start + size)
        begin = np.maximum(np.concatenate(([0], ends))[lo : hi + 1], start)
        yield np.repeat(values[lo : hi + 1], stop - begin)


def _to_datetime(micros: int) -> datetime:
    return pd.Timestamp(micros, unit="us", tz="UTC").to_pydatetime()


# --- hashing


_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_NULL_NUMBER = np.uint64(0x7FF8000000000000)  # the canonical NaN: no finite value has it
_NULL_LABEL = np.uint64(0x6E756C6C6E756C6C)  # "nullnull"
_NAT = np.iinfo(np.int64).min  # pandas' NaT, outside any real timestamp


def _hash_text(text: str) -> np.uint64:
    digest = hashlib.sha256(b"label\0" + text.encode("utf-8")).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def _canonical(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# ---------------------------------------------------------------------------
# serialisation


def profile_json(profile: BaselineProfile) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): equal profiles give equal bytes.

    Standard JSON: the outer bin edges are written ``"-Infinity"`` and ``"Infinity"``.
    """
    return _canonical(profile.model_dump(mode="json"))


def load_profile(data: bytes) -> BaselineProfile:
    """Parse :func:`profile_json` output; ``ValueError`` when it is not a valid profile."""
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a profile: invalid JSON: {exc}") from None
    return BaselineProfile.model_validate(parsed)  # pydantic's ValidationError is a ValueError


# ---------------------------------------------------------------------------
# SageMaker Model Monitor interchange
#
# The shapes of Model Monitor's data-quality ``statistics.json`` and ``constraints.json``
# as publicly documented, from memory; fields marked "uncertain" may differ in detail
# from what the Model Monitor container writes. Booleans and categoricals are String
# features; datetimes are String features without a distribution (Model Monitor has no
# datetime type). Model Monitor reads headerless captured CSV as columns _c0, _c1...:
# rename the features to match when handing these files to it.


def _inferred_type(feature: FeatureProfile) -> str:
    if feature.column_type is ColumnType.INTEGER:
        return "Integral"
    if feature.column_type is ColumnType.NUMERIC:
        return "Fractional"
    return "String"


def to_statistics_json(profile: BaselineProfile, *, include_target: bool = False) -> dict[str, Any]:
    """The profile as Model Monitor's ``statistics.json``.

    Live captures hold features only, so the target is left out unless asked for.
    """
    features: list[dict[str, Any]] = []
    for f in profile.ordered(include_target=include_target):
        common = {"num_present": f.present, "num_missing": f.nulls}
        entry: dict[str, Any] = {"name": f.name, "inferred_type": _inferred_type(f)}
        if f.kind == "numeric":
            stats: dict[str, Any] = {"common": common}
            if f.present:
                assert f.mean is not None and f.bin_edges is not None and f.bin_counts is not None
                stats.update(
                    mean=f.mean, sum=f.mean * f.present, std_dev=f.std, min=f.min, max=f.max
                )
                # Model Monitor's buckets span [min, max] (KLL sketch): the infinite outer
                # edges become the reference min and max. The "sketch" member Model
                # Monitor also writes is left out (uncertain: we keep no KLL sketch).
                bounds = (f.min, *f.bin_edges[1:-1], f.max)
                stats["distribution"] = {
                    "kll": {
                        "buckets": [
                            {"lower_bound": lo, "upper_bound": hi, "count": float(c)}
                            for (lo, hi), c in zip(pairwise(bounds), f.bin_counts, strict=True)
                        ]
                    }
                }
            entry["numerical_statistics"] = stats
        else:
            stats = {"common": common}
            if f.categories is not None:
                stats["distinct_count"] = float(sum(1 for c in f.categories.values() if c))
                stats["distribution"] = {
                    "categorical": {
                        "buckets": [
                            {"value": value, "count": count}
                            for value, count in sorted(f.categories.items())
                            if count and value != OTHER_CATEGORY
                        ]
                    }
                }
            # datetime: only the counts; months are no Model Monitor distribution and the
            # profile keeps no distinct count (uncertain: Model Monitor may expect one)
            entry["string_statistics"] = stats
        features.append(entry)
    return {"version": 0.0, "dataset": {"item_count": profile.rows}, "features": features}


def to_constraints_json(
    profile: BaselineProfile, *, include_target: bool = False
) -> dict[str, Any]:
    """Suggested constraints as Model Monitor's ``constraints.json``: completeness per
    feature, non-negativity for numbers, the domain for categoricals and booleans."""
    features: list[dict[str, Any]] = []
    for f in profile.ordered(include_target=include_target):
        entry: dict[str, Any] = {
            "name": f.name,
            "inferred_type": _inferred_type(f),
            "completeness": f.present / f.count,
        }
        if f.kind == "numeric" and f.min is not None:
            entry["num_constraints"] = {"is_non_negative": f.min >= 0}
        if f.categories is not None:
            entry["string_constraints"] = {
                "domains": sorted(v for v in f.categories if v != OTHER_CATEGORY)
            }
        features.append(entry)
    return {
        "version": 0.0,
        "features": features,
        # Model Monitor's defaults as documented (uncertain: thresholds and method names).
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": 0.1,
                "comparison_method": "Robust",
            },
        },
    }
