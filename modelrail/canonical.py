"""One canonical form for values: what a boolean and a category are, everywhere.

Validation, the baseline profile, the drift engine, training and the serving code all
read values through these functions, so a value the data gate accepts is one the model
understands, and a live value is counted in the same profile bucket as the training
value it equals:

* a **category** is its text stripped (empty text is missing); a boolean is ``"true"`` /
  ``"false"``; an integral float ``3.0`` is ``"3"`` (a CSV column with gaps reads ``3``
  as ``3.0``); ``None``, NaN and pandas' NA / NaT are missing;
* a **boolean** is ``True``/``False``, or a category whose lower case is one of
  :data:`TRUE_WORDS` / :data:`FALSE_WORDS`; anything else is not a boolean.

The training job ships this file beside its own code (infra/assets.py), so it keeps to
the SageMaker container's Python (3.10) and the standard library.
"""

from __future__ import annotations

import math
from typing import Any

TRUE = "true"
FALSE = "false"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})
_MISSING_TYPES = frozenset({"NAType", "NaTType"})  # pandas' NA and NaT, without pandas


class NotABoolean(ValueError):
    """A value that is neither a true word nor a false word."""


def is_missing(value: Any) -> bool:
    if value is None or type(value).__name__ in _MISSING_TYPES:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_bool(value: Any) -> bool:
    """Python's bool or numpy's (``numpy.bool`` in numpy 2, ``bool_`` before)."""
    return isinstance(value, bool) or type(value).__name__ in ("bool", "bool_")


def category(value: Any) -> str | None:
    """A value as the category it is, or None when missing."""
    if is_missing(value):
        return None
    if _is_bool(value):
        return TRUE if value else FALSE
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return None
        if number.is_integer():
            return str(int(number))
    text = str(value).strip()
    return text or None


def boolean(value: Any) -> bool | None:
    """A value as the boolean it is, None when missing; NotABoolean otherwise."""
    if _is_bool(value):
        return bool(value)
    label = category(value)
    if label is None:
        return None
    low = label.lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise NotABoolean(
        f"{value!r} is not a boolean (true: {sorted(TRUE_WORDS)}, false: {sorted(FALSE_WORDS)})"
    )


def boolean_label(value: Any) -> str | None:
    """A boolean value as its category, ``"true"`` / ``"false"`` (None when missing)."""
    flag = boolean(value)
    return None if flag is None else (TRUE if flag else FALSE)
