"""Seeded sample data, driven by a model contract.

``generate(contract, rows=..., seed=..., variant=...)`` returns a DataFrame with exactly
the contract's columns, in declared order, every value inside the declared ranges and
categories. The same ``(contract, rows, seed, variant)`` always gives the same frame and,
through :func:`write_sample`, the same bytes.

Models with a hand-written generator are listed in :data:`GENERATORS` (by model name).
Any other contract falls back to :func:`generic_generator`, which samples each column from
its declaration and derives a simple learnable target, so a new contract gets sample data
without code.

Variants: ``"good"`` is data the model is meant for; ``"drifted"`` keeps the contract but
moves the input distributions (what the drift monitor should notice).
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modelrail.contract import Column, ColumnType, ModelContract, ProblemType, load_contract

VARIANTS: tuple[str, ...] = ("good", "drifted")

# (contract, rows, rng, variant) -> frame with the contract's columns
Generator = Callable[[ModelContract, int, np.random.Generator, str], pd.DataFrame]

GENERATORS: dict[str, Generator] = {}

# Share of missing values in a nullable column.
NULL_RATE = 0.05


def register_generator(name: str) -> Callable[[Generator], Generator]:
    """Decorator: use ``fn`` to generate sample data for the model called ``name``."""

    def decorate(fn: Generator) -> Generator:
        GENERATORS[name] = fn
        return fn

    return decorate


def generate(
    contract: ModelContract, *, rows: int, seed: int, variant: str = "good"
) -> pd.DataFrame:
    """Sample rows for ``contract``; pure and deterministic in its arguments."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {list(VARIANTS)}")
    generator = GENERATORS.get(contract.name, generic_generator)
    frame = generator(contract, rows, np.random.default_rng(seed), variant)
    declared = [c.name for c in contract.columns]
    missing = sorted(set(declared) - set(frame.columns))
    extra = sorted(set(frame.columns) - set(declared))
    if missing or extra:
        raise ValueError(
            f"sample generator for {contract.name!r} does not match its contract: "
            f"missing columns {missing}, undeclared columns {extra}"
        )
    if len(frame) != rows:
        raise ValueError(
            f"sample generator for {contract.name!r} made {len(frame)} rows, not {rows}"
        )
    return frame[declared].reset_index(drop=True)


def write_sample(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV (any suffix but ``.parquet``; ``.gz`` is gzipped) or Parquet.

    The bytes depend only on the frame: no index, fixed line endings, gzip without a
    timestamp. Parquet needs pyarrow.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise RuntimeError(
                f"cannot write {path}: Parquet output needs pyarrow, which is not installed "
                "(pip install pyarrow), or use a .csv file name"
            ) from None
        df.to_parquet(path, index=False, engine="pyarrow")
        return path
    text = df.to_csv(index=False, lineterminator="\n")
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buffer.getvalue()
    path.write_bytes(data)
    return path


def sample_command(model: str, rows: int, seed: int, out: Path, variant: str = "good") -> Path:
    """Load the contract called ``model``, generate sample rows and write them to ``out``."""
    contract = load_contract(model)
    return write_sample(generate(contract, rows=rows, seed=seed, variant=variant), out)


# ---------------------------------------------------------------------------
# helpers


def _bounds(column: Column, default_low: float, default_high: float) -> tuple[float, float]:
    low = column.min if column.min is not None else None
    high = column.max if column.max is not None else None
    if low is None and high is None:
        return default_low, default_high
    if low is None:
        assert high is not None
        return high - (default_high - default_low), high
    if high is None:
        return low, low + (default_high - default_low)
    return low, high


def _clip(contract: ModelContract, name: str, values: np.ndarray) -> np.ndarray:
    column = contract.column(name)
    low = -np.inf if column.min is None else column.min
    high = np.inf if column.max is None else column.max
    clipped: np.ndarray = np.clip(values, low, high)
    return clipped


def _with_nulls(values: pd.Series, rng: np.random.Generator, rate: float = NULL_RATE) -> pd.Series:
    mask = rng.random(len(values)) < rate
    return values.mask(mask)


def _categories(column: Column) -> tuple[str, ...]:
    if column.categories:
        return column.categories
    return tuple(f"{column.name}_{i}" for i in range(4))


def _category_weights(count: int, variant: str) -> np.ndarray:
    """Uneven but fixed shares; the drifted variant reverses them."""
    weights = np.array([1.0 / (i + 1) for i in range(count)])
    if variant == "drifted":
        weights = weights[::-1]
    shares: np.ndarray = weights / weights.sum()
    return shares


# ---------------------------------------------------------------------------
# demand: daily units sold per store and product category


class _Category:
    """How one product category sells: volume, price level and sensitivities."""

    def __init__(
        self,
        base_units: float,
        ref_price: float,
        elasticity: float,
        december_lift: float,
        warm_lift: float,
        good_share: float,
        drifted_share: float,
    ) -> None:
        self.base_units = base_units  # daily units in an average store at the reference price
        self.ref_price = ref_price
        self.elasticity = elasticity  # demand ~ (price / ref_price) ** -elasticity
        self.december_lift = december_lift
        self.warm_lift = warm_lift  # extra demand per degree above 18 C
        self.good_share = good_share
        self.drifted_share = drifted_share


_DEMAND_CATEGORIES: dict[str, _Category] = {
    "grocery": _Category(70.0, 4.0, 1.1, 1.15, 0.012, 0.35, 0.12),
    "electronics": _Category(5.0, 250.0, 1.9, 1.9, 0.0, 0.10, 0.32),
    "apparel": _Category(16.0, 35.0, 1.6, 1.3, -0.010, 0.20, 0.10),
    "home": _Category(10.0, 45.0, 1.3, 1.2, 0.004, 0.15, 0.16),
    "toys": _Category(11.0, 20.0, 1.5, 2.2, 0.0, 0.20, 0.30),
}
# A category added to the contract but not described above sells like this.
_DEFAULT_CATEGORY = _Category(10.0, 25.0, 1.4, 1.2, 0.0, 0.15, 0.15)


@register_generator("demand")
def demand_generator(
    contract: ModelContract, rows: int, rng: np.random.Generator, variant: str
) -> pd.DataFrame:
    """Retail demand with price elasticity, promotions, calendar, weather and store size.

    The world (elasticities, lifts, store sizes) is fixed; ``variant`` only moves the
    inputs: drifted data has higher prices, warmer weather and a different category mix.
    """
    drifted = variant == "drifted"
    stores = _categories(contract.column("store_id"))
    categories = _categories(contract.column("product_category"))
    profiles = [_DEMAND_CATEGORIES.get(c, _DEFAULT_CATEGORY) for c in categories]

    # Store size: a fixed spread from 0.6x to 1.5x of an average store.
    n_stores = len(stores)
    size = np.array(
        [0.6 + 0.9 * ((i * 7) % n_stores) / max(n_stores - 1, 1) for i in range(n_stores)]
    )

    shares = np.array([p.drifted_share if drifted else p.good_share for p in profiles])
    cat_idx = rng.choice(len(categories), size=rows, p=shares / shares.sum())
    store_idx = rng.integers(0, n_stores, size=rows)
    month = rng.integers(1, 13, size=rows)
    day_of_week = rng.integers(0, 7, size=rows)
    holiday = rng.random(rows) < np.where(month == 12, 0.12, 0.03)
    promotion = rng.random(rows) < np.where(holiday, 0.4, 0.15)

    base_units = np.array([p.base_units for p in profiles])[cat_idx]
    ref_price = np.array([p.ref_price for p in profiles])[cat_idx]
    elasticity = np.array([p.elasticity for p in profiles])[cat_idx]
    december_lift = np.array([p.december_lift for p in profiles])[cat_idx]
    warm_lift = np.array([p.warm_lift for p in profiles])[cat_idx]

    # Shelf price scatters around the category's reference; promotions cut it by 20%.
    price_level, price_sigma = (1.8, 0.35) if drifted else (1.0, 0.25)
    regular_price = ref_price * price_level * rng.lognormal(0.0, price_sigma, size=rows)
    price = regular_price * np.where(promotion, 0.8, 1.0)
    price = _clip(contract, "price", np.round(price, 2))
    competitor_price = _clip(
        contract, "competitor_price", np.round(regular_price * rng.lognormal(0.0, 0.12, rows), 2)
    )

    # Temperature follows the season (coldest in January, warmest in July).
    seasonal_temp = 11.0 + 12.0 * np.sin(2.0 * np.pi * (month - 4) / 12.0)
    temperature = seasonal_temp + rng.normal(0.0, 4.0, size=rows) + (6.0 if drifted else 0.0)
    temperature = _clip(contract, "temperature", np.round(temperature, 1))

    price_effect = (price / ref_price) ** (-elasticity)
    promo_effect = np.where(promotion, 1.25, 1.0)  # visibility on top of the price cut
    weekday_effect = np.select([day_of_week >= 5, day_of_week == 4], [1.35, 1.1], 1.0)
    season_effect = (1.0 + 0.08 * np.cos(2.0 * np.pi * (month - 7) / 12.0)) * np.where(
        month == 12, december_lift, np.where(month == 11, 1.0 + (december_lift - 1.0) / 3.0, 1.0)
    )
    comfort = np.maximum(0.55, 1.0 - 0.0006 * (temperature - 19.0) ** 2)
    weather_effect = comfort * np.clip(1.0 + warm_lift * (temperature - 18.0), 0.5, 1.5)
    holiday_effect = np.where(holiday, 1.5, 1.0)
    # Shoppers compare shelf prices; the promotion's own pull is counted above.
    competition_effect = np.clip(competitor_price / regular_price, 0.5, 2.0) ** 0.7

    mean_units = (
        base_units
        * size[store_idx]
        * price_effect
        * promo_effect
        * weekday_effect
        * season_effect
        * weather_effect
        * holiday_effect
        * competition_effect
    )
    # Count noise plus day-to-day variation the features do not explain.
    units = rng.poisson(mean_units * rng.lognormal(0.0, 0.12, size=rows)).astype(np.int64)
    units = _clip(contract, "units_sold", units).astype(np.int64)

    competitor = _with_nulls(pd.Series(competitor_price, dtype="float64"), rng)
    return pd.DataFrame(
        {
            "store_id": pd.Series(np.array(stores, dtype=object)[store_idx], dtype=object),
            "product_category": pd.Series(
                np.array(categories, dtype=object)[cat_idx], dtype=object
            ),
            "price": price,
            "promotion": promotion,
            "day_of_week": day_of_week.astype(np.int64),
            "month": month.astype(np.int64),
            "temperature": temperature,
            "holiday": holiday,
            "competitor_price": competitor,
            "units_sold": units,
        }
    )


@register_generator("churn")
def churn_generator(
    contract: ModelContract, rows: int, rng: np.random.Generator, variant: str
) -> pd.DataFrame:
    """Subscribers whose cancellation risk follows contract terms, price and friction.

    Month-to-month contracts, high charges, support tickets and late payments raise the
    risk; tenure and the mobile app lower it; the premium plan buffers price. Drifted
    data has more month-to-month customers and higher charges.
    """
    drifted = variant == "drifted"
    plans = _categories(contract.column("plan"))
    terms = _categories(contract.column("contract_type"))
    regions = _categories(contract.column("region"))
    plan_idx = rng.choice(len(plans), size=rows, p=_category_weights(len(plans), variant))
    term_shares = np.array([0.7, 0.2, 0.1] if drifted else [0.5, 0.3, 0.2])[: len(terms)]
    term_idx = rng.choice(len(terms), size=rows, p=term_shares / term_shares.sum())
    region_idx = rng.integers(0, len(regions), size=rows)
    tenure = np.clip(np.round(rng.exponential(30.0, size=rows)), 0, 120).astype(np.int64)
    plan_price = np.array([25.0, 55.0, 95.0, 70.0, 70.0])[plan_idx]
    charges = plan_price * rng.lognormal(0.25 if drifted else 0.0, 0.2, size=rows)
    charges = _clip(contract, "monthly_charges", np.round(charges, 2))
    tickets = np.clip(rng.poisson(1.2, size=rows), 0, 50).astype(np.int64)
    late = np.clip(rng.poisson(0.6, size=rows), 0, 24).astype(np.int64)
    app = rng.random(rows) < 0.55

    premium = np.array([p == "premium" for p in plans])[plan_idx]
    term_effect = np.array([1.4, -0.4, -1.3, 0.0, 0.0])[term_idx]
    logit = (
        -1.6
        + term_effect
        - 0.035 * tenure
        + np.where(premium, 0.004, 0.015) * (charges - 50.0)
        + 0.45 * tickets
        + 0.6 * late
        - 0.5 * app
        + 0.3 * np.sin(1.7 * tickets) * (late > 0)  # an interaction trees can find
    )
    churned = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(
        {
            "plan": pd.Series(np.array(plans, dtype=object)[plan_idx], dtype=object),
            "contract_type": pd.Series(np.array(terms, dtype=object)[term_idx], dtype=object),
            "region": pd.Series(np.array(regions, dtype=object)[region_idx], dtype=object),
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_tickets": tickets,
            "late_payments": late,
            "uses_mobile_app": app,
            "churned": churned,
        }
    )


# ---------------------------------------------------------------------------
# generic fallback: any contract


def _sample_feature(
    column: Column, rows: int, rng: np.random.Generator, variant: str
) -> tuple[pd.Series, np.ndarray]:
    """A column of values plus its numeric signal (standardised, 0 where missing)."""
    drifted = variant == "drifted"
    if column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
        low, high = _bounds(column, 0.0, 100.0)
        if column.type is ColumnType.INTEGER:
            low, high = float(math.ceil(low)), float(math.floor(high))
        span = high - low
        # A hump in the first half of the range; drifted moves it a quarter-range up.
        centre = low + span * (0.65 if drifted else 0.4)
        raw = np.clip(rng.normal(centre, span / 5.0 if span > 0 else 0.0, size=rows), low, high)
        if column.type is ColumnType.INTEGER:
            values: pd.Series = pd.Series(np.round(raw).astype(np.int64), dtype="Int64")
        else:
            values = pd.Series(np.clip(np.round(raw, 3), low, high), dtype="float64")
        signal = (raw - (low + span * 0.4)) / (span / 5.0) if span > 0 else np.zeros(rows)
    elif column.type is ColumnType.CATEGORICAL:
        cats = _categories(column)
        idx = rng.choice(len(cats), size=rows, p=_category_weights(len(cats), variant))
        values = pd.Series(np.array(cats, dtype=object)[idx], dtype=object)
        effects = rng.normal(0.0, 1.0, size=len(cats))
        signal = effects[idx]
    elif column.type is ColumnType.BOOLEAN:
        flags = rng.random(rows) < (0.7 if drifted else 0.4)
        values = pd.Series(flags, dtype="boolean")
        signal = np.where(flags, 1.0, -1.0)
    else:  # DATETIME: days of 2024 (drifted: 2025), as dates
        start = np.datetime64("2025-01-01" if drifted else "2024-01-01")
        days = rng.integers(0, 365, size=rows)
        values = pd.Series((start + days.astype("timedelta64[D]")).astype("datetime64[ns]"))
        signal = np.sin(2.0 * np.pi * days / 365.0)
    if column.nullable:
        mask = rng.random(rows) < NULL_RATE
        values = values.mask(mask)
        signal = np.where(mask, 0.0, signal)
    if not column.nullable and values.dtype.name in ("Int64", "boolean"):
        values = values.astype(np.int64 if values.dtype.name == "Int64" else bool)
    return values, signal


def _target_labels(contract: ModelContract) -> Sequence[object]:
    column = contract.target_column
    binary = contract.problem_type is ProblemType.BINARY
    if column.type is ColumnType.BOOLEAN:
        return [False, True]
    if column.type is ColumnType.CATEGORICAL:
        if column.categories:
            declared = list(column.categories)
            return declared[:2] if binary else declared
        return ["no", "yes"] if binary else list(_categories(column))
    low, high = _bounds(column, 0.0, 1.0 if binary else 2.0)
    first, last = math.ceil(low), math.floor(high)
    count = 2 if binary else max(2, min(last - first + 1, 10))
    return [min(first + i, last) for i in range(count)]


def generic_generator(
    contract: ModelContract, rows: int, rng: np.random.Generator, variant: str
) -> pd.DataFrame:
    """Sample every declared column, then a target that depends on the features."""
    data: dict[str, pd.Series] = {}
    signals: list[np.ndarray] = []
    for column in contract.features:
        values, signal = _sample_feature(column, rows, rng, variant)
        data[column.name] = values
        signals.append(signal)
    features = np.column_stack(signals)
    noise = rng.normal(0.0, 0.3, size=rows)
    target = contract.target_column

    if contract.problem_type is ProblemType.REGRESSION:
        weights: np.ndarray = rng.normal(0.0, 1.0, size=(features.shape[1],))
        score = features @ weights / math.sqrt(features.shape[1]) + noise
        low, high = _bounds(target, 0.0, 100.0)
        # Squash into the declared range so every value is valid.
        raw = low + (high - low) / (1.0 + np.exp(-score))
        if target.type is ColumnType.INTEGER:
            y: pd.Series = pd.Series(
                np.clip(np.round(raw), math.ceil(low), math.floor(high)).astype(np.int64)
            )
        else:
            y = pd.Series(np.clip(np.round(raw, 3), low, high), dtype="float64")
    else:
        labels = _target_labels(contract)
        class_weights: np.ndarray = rng.normal(0.0, 1.0, size=(features.shape[1], len(labels)))
        scores = features @ class_weights / math.sqrt(features.shape[1]) * 2.0
        scores = scores + rng.gumbel(0.0, 0.5, size=scores.shape)
        chosen = np.argmax(scores, axis=1)
        y = pd.Series(np.array(labels, dtype=object)[chosen], dtype=object)
        if target.type is ColumnType.BOOLEAN:
            y = y.astype(bool)
        elif target.type is ColumnType.INTEGER:
            y = y.astype(np.int64)
    data[target.name] = y
    return pd.DataFrame(data)
