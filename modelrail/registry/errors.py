"""Registry outcomes other than success: one exception type per outcome.

Every store raises these and nothing else (a DynamoDB ``ClientError`` is translated at
the store's edge), so callers such as the Lambda handlers and the CLI can catch a
specific outcome, for example :class:`StaleAlias` when a promotion lost a race.
"""

from __future__ import annotations

from collections.abc import Iterable


class RegistryError(Exception):
    """Base class of every registry error."""


class InvalidRequest(RegistryError, ValueError):
    """The arguments are unusable (a non-finite metric, an empty reason, a bad name...)."""


class ModelNotFound(RegistryError, LookupError):
    """No version of this model was ever registered."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"model {model!r} is not in the registry")


class VersionNotFound(RegistryError, LookupError):
    """The model exists but has no such version."""

    def __init__(self, model: str, version: int) -> None:
        self.model = model
        self.version = version
        super().__init__(f"model {model!r} has no version {version}")


class IllegalTransition(RegistryError):
    """The status lifecycle does not allow this move."""

    def __init__(
        self,
        model: str,
        version: int,
        from_status: str,
        to_status: str,
        allowed: Iterable[str],
    ) -> None:
        self.model = model
        self.version = version
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = tuple(sorted(allowed))
        allowed_text = ", ".join(self.allowed) if self.allowed else "none (terminal status)"
        super().__init__(
            f"cannot move {model!r} v{version} from {from_status} to {to_status}; "
            f"allowed from {from_status}: {allowed_text}"
        )


class StaleStatus(RegistryError):
    """A transition named the status it expected, and the version is in another one."""

    def __init__(self, model: str, version: int, expected: str, actual: str) -> None:
        self.model = model
        self.version = version
        self.expected = expected
        self.actual = actual
        super().__init__(f"{model!r} v{version} is {actual}, not {expected} as expected")


def _describe(version: int | None) -> str:
    return "unset" if version is None else f"v{version}"


class StaleAlias(RegistryError):
    """A compare-and-swap alias move lost: the alias is not where the caller expected.

    ``expected`` and ``actual`` are version numbers; ``None`` means "the alias is unset".
    """

    def __init__(self, model: str, alias: str, expected: int | None, actual: int | None) -> None:
        self.model = model
        self.alias = alias
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{alias} of {model!r} is {_describe(actual)}, not {_describe(expected)} as expected"
        )


class StaleRegistration(RegistryError):
    """A registration named the latest version it expected the model to have, and another
    version was registered meanwhile (the caller re-reads and decides again)."""

    def __init__(self, model: str, expected: int, actual: int) -> None:
        self.model = model
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{model!r} has {actual} version(s), not {expected} as expected: "
            "another version was registered meanwhile"
        )


class NotEligible(RegistryError):
    """The target version may not carry this alias (gates failed, or the wrong status)."""

    def __init__(self, model: str, version: int, alias: str, why: str) -> None:
        self.model = model
        self.version = version
        self.alias = alias
        self.why = why
        super().__init__(f"{model!r} v{version} cannot be {alias}: {why}")


class ConcurrencyConflict(RegistryError):
    """Concurrent writers kept winning and the bounded retries ran out."""

    def __init__(self, operation: str, model: str, attempts: int) -> None:
        self.operation = operation
        self.model = model
        self.attempts = attempts
        super().__init__(
            f"{operation} on {model!r} gave up after {attempts} attempt(s) lost to concurrent writers"
        )


class StoreError(RegistryError):
    """The backing store failed for a reason that is not a registry outcome
    (missing table, access denied, throttling after the SDK's own retries)."""
