"""A pure evaluator of AWS IAM policies: may this principal do this action on this resource?

The local cloud authorizes every AWS call with it: the caller's identity-based policies
and, where the resource has one, its resource-based policy (S3 bucket, SNS topic and SQS
queue policies) or its KMS key policy. The inputs are policy documents as synthesized into
the CloudFormation templates, with every intrinsic already resolved to a string. No AWS
call and no moto here.

Semantics, after the IAM User Guide ("Policy evaluation logic", "Principal", "Condition
operators") and the KMS Developer Guide ("Key policies"):

* An explicit deny in any policy wins; without a matching allow the request is denied.
* Most resources: an allow in an identity-based policy is enough, and so is a
  resource-policy allow that names the caller: its ARN, its role (for an assumed-role
  session), its service principal, or everyone (``"*"``, ``{"AWS": "*"}``).
* A resource-policy statement naming the *account* (``123456789012`` or
  ``arn:aws:iam::123456789012:root``) matches every principal of that account, but an
  allow there only delegates to IAM: an identity-based policy must allow as well. Within
  one account that adds nothing for most resources; for a KMS key it is how identity
  policies take effect at all, because IAM allows have no effect unless the key policy
  permits them. A key policy with only that statement therefore never lets a service
  principal such as ``logs.us-east-1.amazonaws.com`` use the key.
* Conditions: operators ANDed, keys ANDed, values of one key ORed (for negated operators
  "matches none of them"). Condition keys are case-insensitive. A key absent from the
  request makes a condition false, except negated operators (true), ``...IfExists``
  (true), ``ForAllValues:`` (true) and ``Null``.

Out of scope, refused with :class:`PolicyError` rather than guessed: cross-account
requests, policy variables (``${...}``), Binary operators, a multivalued context key under
an operator without ``ForAnyValue:``/``ForAllValues:``, unresolved intrinsics, unknown
policy elements. Not modelled: permissions boundaries, session policies, SCPs/RCPs, KMS
grants, the root user's implicit full access. Principals named ``Federated`` or
``CanonicalUser`` are accepted but never match the callers this evaluator sees.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, Literal

__all__ = [
    "ContextValue",
    "Decision",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "Request",
    "authorize",
    "parse_policy",
    "wildcard_match",
]

ContextValue = str | bool | int | Sequence[str]
PolicyKind = Literal["identity", "resource"]
PolicyType = Literal["identity-based", "resource-based"]
_POLICY_TYPE: dict[PolicyKind, PolicyType] = {
    "identity": "identity-based",
    "resource": "resource-based",
}


class PolicyError(ValueError):
    """A policy or request the evaluator cannot decide faithfully, so it refuses to."""


@dataclass(frozen=True)
class Request:
    """One AWS call: who, what, on which resource, with which condition keys."""

    principal: str  # a role, assumed-role session or user ARN, or a service principal
    action: str  # "s3:GetObject"
    resource: str  # one ARN, or "*" for actions that take no resource
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The verdict, why, and what AWS would say when it denies."""

    allowed: bool
    principal: str
    action: str
    resource: str
    reason: str
    # The policy type that allowed, denied explicitly, or is missing the allow.
    policy_type: PolicyType
    explicit_deny: bool = False

    def message(self) -> str:
        verdict = "is" if self.allowed else "is not"
        text = (
            f"User: {self.principal} {verdict} authorized to perform: {self.action}"
            f" on resource: {self.resource}"
        )
        if self.allowed:
            return text
        if self.explicit_deny:
            article = "an" if self.policy_type == "identity-based" else "a"
            return f"{text} with an explicit deny in {article} {self.policy_type} policy"
        return f"{text} because no {self.policy_type} policy allows the {self.action} action"


# --- wildcards -------------------------------------------------------------------------


def _glob_source(pattern: str, any_char: str) -> str:
    # Runs of '*' collapse: they mean the same and would only make the regex backtrack.
    collapsed = re.sub(r"\*+", "*", pattern)
    return "".join(
        any_char + "*" if c == "*" else any_char if c == "?" else re.escape(c) for c in collapsed
    )


@functools.lru_cache(maxsize=8192)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(_glob_source(pattern, "."), flags)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches ``pattern``: ``*`` is any run of characters, ``?`` one."""
    return pattern == "*" or _glob(pattern, ignore_case).fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _arn_glob(pattern: str) -> re.Pattern[str] | None:
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return None
    # ArnLike compares the six parts one by one: a wildcard never spans a colon before the
    # resource part (which itself may contain colons, as in log-group:name).
    head = [_glob_source(part, "[^:]") for part in parts[:5]]
    return re.compile(":".join([*head, _glob_source(parts[5], ".")]), re.DOTALL)


# --- policy values ---------------------------------------------------------------------


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) == 1 and next(iter(value)) in ("Ref", "Condition"):
        return True
    return any(str(key).startswith("Fn::") for key in value)


def _reject_intrinsic(value: object, where: str) -> None:
    if isinstance(value, Mapping) and _is_intrinsic(value):
        raise PolicyError(f"{where} is an unresolved CloudFormation intrinsic: {dict(value)!r}")


def _strings(value: object, where: str) -> tuple[str, ...]:
    strings: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Mapping):
            raise PolicyError(f"{where} is an unresolved CloudFormation intrinsic: {item!r}")
        if not isinstance(item, str):
            raise PolicyError(f"{where} must be a string or a list of strings, got {item!r}")
        strings.append(item)
    return tuple(strings)


def _scalar(value: object, where: str) -> str:
    if isinstance(value, Mapping):
        raise PolicyError(f"{where} is an unresolved CloudFormation intrinsic: {value!r}")
    if isinstance(value, bool):  # JSON true/false in a condition means "true"/"false"
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PolicyError(f"{where} must be a string, number or boolean, got {value!r}")


def _no_variables(values: Sequence[str], where: str) -> None:
    for value in values:
        if "${" in value:
            raise PolicyError(f"{where}: policy variables are not supported: {value!r}")


def _pick(raw: Mapping[str, Any], element: str, where: str) -> tuple[object, bool] | None:
    """The element or its Not-form, as (value, negated)."""
    positive, negative = raw.get(element), raw.get("Not" + element)
    if positive is not None and negative is not None:
        raise PolicyError(f"{where} has both {element} and Not{element}")
    if positive is None and negative is None:
        return None
    return (positive, False) if positive is not None else (negative, True)


# --- actions and resources -------------------------------------------------------------


@dataclass(frozen=True)
class _Patterns:
    patterns: tuple[str, ...]
    negated: bool
    ignore_case: bool

    def matches(self, value: str) -> bool:
        hit = any(wildcard_match(p, value, ignore_case=self.ignore_case) for p in self.patterns)
        return hit != self.negated


def _patterns(
    raw: Mapping[str, Any], element: str, where: str, *, required: bool, variables: bool
) -> _Patterns | None:
    picked = _pick(raw, element, where)
    if picked is None:
        if required:
            raise PolicyError(f"{where} has neither {element} nor Not{element}")
        return None
    value, negated = picked
    at = f"{where}.{'Not' if negated else ''}{element}"
    patterns = _strings(value, at)
    if variables:
        _no_variables(patterns, at)
    # Action names are case-insensitive in IAM, resource ARNs are not.
    return _Patterns(patterns, negated, ignore_case=element == "Action")


# --- principals ------------------------------------------------------------------------


class _Grant(IntEnum):
    NONE = 0
    ACCOUNT = 1  # names the caller's account: an allow delegates to identity-based policies
    DIRECT = 2  # names the caller itself, its role, its service, or everyone


_ACCOUNT_ID = re.compile(r"\d{12}")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")


def _split_arn(value: str) -> list[str] | None:
    parts = value.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _role_name(service: str, resource: str) -> str | None:
    kind, _, rest = resource.partition("/")
    if service == "iam" and kind == "role" and rest:
        return rest.rsplit("/", 1)[-1]  # role names are unique in an account, paths aside
    if service == "sts" and kind == "assumed-role" and "/" in rest:
        return rest.split("/", 1)[0]
    return None


@dataclass(frozen=True)
class _Caller:
    arn: str
    account: str | None = None
    role: str | None = None
    service: str | None = None


def _caller(principal: str) -> _Caller:
    if _SERVICE_PRINCIPAL.fullmatch(principal):
        return _Caller(principal, service=principal)
    arn = _split_arn(principal)
    if arn is None or arn[2] not in ("iam", "sts") or not _ACCOUNT_ID.fullmatch(arn[4]):
        raise PolicyError(
            f"principal {principal!r} is neither an IAM/STS ARN nor a service principal"
        )
    return _Caller(principal, account=arn[4], role=_role_name(arn[2], arn[5]))


@dataclass(frozen=True)
class _Principals:
    negated: bool
    everyone: bool = False
    accounts: frozenset[str] = frozenset()
    roles: frozenset[tuple[str, str]] = frozenset()  # (account, role name)
    arns: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()

    def grant(self, caller: _Caller) -> _Grant:
        named = self._names(caller)
        if self.negated:
            return _Grant.NONE if named else _Grant.DIRECT
        return named

    def _names(self, caller: _Caller) -> _Grant:
        if (
            self.everyone
            or caller.arn in self.arns
            or caller.service in self.services
            or (caller.account, caller.role) in self.roles
        ):
            return _Grant.DIRECT
        return _Grant.ACCOUNT if caller.account in self.accounts else _Grant.NONE


_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


def _principals(value: object, negated: bool, where: str) -> _Principals:
    if value == "*":
        return _Principals(negated, everyone=True)
    if not isinstance(value, Mapping):
        raise PolicyError(f'{where} must be "*" or an object such as {{"AWS": ...}}: {value!r}')
    _reject_intrinsic(value, where)
    unknown = set(value) - _PRINCIPAL_TYPES
    if unknown:
        raise PolicyError(f"{where} has unknown principal type(s) {sorted(unknown)}")
    for kind in ("Federated", "CanonicalUser"):
        _strings(value.get(kind, []), f"{where}.{kind}")
    services = frozenset(_strings(value.get("Service", []), f"{where}.Service"))
    return _aws_principals(_strings(value.get("AWS", []), f"{where}.AWS"), negated, services, where)


def _aws_principals(
    entries: Sequence[str], negated: bool, services: frozenset[str], where: str
) -> _Principals:
    accounts: set[str] = set()
    roles: set[tuple[str, str]] = set()
    arns: set[str] = set()
    for entry in entries:
        if entry != "*" and ("*" in entry or "?" in entry):
            raise PolicyError(
                f"{where}.AWS: {entry!r}: a principal takes no wildcard but a bare '*'"
                " (match ARNs with a condition on aws:PrincipalArn)"
            )
        arn = _split_arn(entry)
        if _ACCOUNT_ID.fullmatch(entry):
            accounts.add(entry)
        elif arn is not None and arn[2] == "iam" and arn[5] == "root":
            accounts.add(arn[4])
        else:
            arns.add(entry)
            role = _role_name(arn[2], arn[5]) if arn is not None and arn[2] == "iam" else None
            if arn is not None and role is not None:
                roles.add((arn[4], role))
    return _Principals(
        negated,
        everyone="*" in entries,
        accounts=frozenset(accounts),
        roles=frozenset(roles),
        arns=frozenset(arns),
        services=services,
    )


# --- conditions ------------------------------------------------------------------------

_Matcher = Callable[[str], bool]  # does one context value match any of the policy values?
_Builder = Callable[[tuple[str, ...], str], _Matcher]


def _string_equals(values: tuple[str, ...], where: str) -> _Matcher:
    return frozenset(values).__contains__


def _string_equals_ignore_case(values: tuple[str, ...], where: str) -> _Matcher:
    wanted = frozenset(v.lower() for v in values)
    return lambda value: value.lower() in wanted


def _string_like(values: tuple[str, ...], where: str) -> _Matcher:
    patterns = [_glob(v, False) for v in values]
    return lambda value: any(p.fullmatch(value) for p in patterns)


def _arn_like(values: tuple[str, ...], where: str) -> _Matcher:
    patterns = [_arn_glob(v) for v in values]
    if None in patterns:
        bad = [v for v, p in zip(values, patterns, strict=True) if p is None]
        raise PolicyError(f"{where}: {bad[0]!r} is not an ARN (six colon-separated parts)")
    compiled = [p for p in patterns if p is not None]
    return lambda value: any(p.fullmatch(value) for p in compiled)


def _bool(values: tuple[str, ...], where: str) -> _Matcher:
    wanted = frozenset(v.lower() for v in values)
    if not wanted <= {"true", "false"}:
        raise PolicyError(f"{where}: Bool takes true or false, got {list(values)!r}")
    return lambda value: value.lower() in wanted


def _ip_address(values: tuple[str, ...], where: str) -> _Matcher:
    try:
        networks = [ipaddress.ip_network(v, strict=False) for v in values]
    except ValueError as error:
        raise PolicyError(f"{where}: {error}") from None

    def matches(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return any(address in network for network in networks)

    return matches


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _epoch(text: str) -> Decimal | None:
    """A date as epoch seconds: IAM takes both ISO 8601 and epoch numbers."""
    number = _number(text)
    if number is not None:
        return number
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Decimal(str(moment.timestamp()))


def _ordered(
    parse: Callable[[str], Decimal | None], compare: Callable[[Decimal, Decimal], bool]
) -> _Builder:
    def build(values: tuple[str, ...], where: str) -> _Matcher:
        bounds = [parse(v) for v in values]
        if None in bounds:
            raise PolicyError(f"{where}: not a number or date: {list(values)!r}")
        limits = [b for b in bounds if b is not None]

        def matches(value: str) -> bool:
            number = parse(value)
            return number is not None and any(compare(number, limit) for limit in limits)

        return matches

    return build


# Operator name -> (how to match one value, negated). IfExists and the set qualifiers are
# parsed off the name; Null is separate (it tests presence, not values).
_OPERATORS: dict[str, tuple[_Builder, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    # ArnEquals takes wildcards just like ArnLike (IAM documents them together).
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "IpAddress": (_ip_address, False),
    "NotIpAddress": (_ip_address, True),
}
_ORDERINGS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}
for _family, _parse in (("Numeric", _number), ("Date", _epoch)):
    for _suffix, _compare in _ORDERINGS.items():
        _OPERATORS[_family + _suffix] = (_ordered(_parse, _compare), False)
    _OPERATORS[_family + "NotEquals"] = (_ordered(_parse, operator.eq), True)

_Context = Mapping[str, tuple[str, ...]]
_QUALIFIERS = ("", "ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class _Test:
    where: str
    key: str  # lower-cased: condition keys are case-insensitive
    matches: _Matcher
    negated: bool
    if_exists: bool
    qualifier: str

    def holds(self, context: _Context) -> bool:
        values = context.get(self.key, ())
        if not values:
            return self._absent()
        if self.qualifier == "ForAnyValue":
            return any(self._one(v) for v in values)
        if self.qualifier == "ForAllValues":
            return all(self._one(v) for v in values)
        if len(values) > 1:
            raise PolicyError(
                f"{self.where}: the request has {len(values)} values for this key;"
                " a multivalued key needs ForAnyValue: or ForAllValues:"
            )
        return self._one(values[0])

    def _absent(self) -> bool:
        # As documented: IfExists passes, ForAllValues over nothing is vacuously true,
        # ForAnyValue finds nothing, and a negated operator's "is not" holds.
        if self.if_exists or self.qualifier == "ForAllValues":
            return True
        return self.qualifier == "" and self.negated

    def _one(self, value: str) -> bool:
        return self.matches(value) != self.negated


@dataclass(frozen=True)
class _NullTest:
    key: str
    absent: frozenset[bool]  # "Null": "true" wants the key absent, "false" present

    def holds(self, context: _Context) -> bool:
        return (not context.get(self.key)) in self.absent


_Condition = _Test | _NullTest


def _split_operator(name: str, where: str) -> tuple[str, str, bool]:
    qualifier, _, base = name.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    known = base in _OPERATORS or (base == "Null" and not if_exists and not qualifier)
    if qualifier not in _QUALIFIERS or not known:
        raise PolicyError(f"{where}: unknown or unsupported condition operator {name!r}")
    return qualifier, base, if_exists


def _condition(name: str, key: str, raw: object, where: str, variables: bool) -> _Condition:
    qualifier, base, if_exists = _split_operator(name, where)
    at = f"{where}.{name}.{key}"
    values = tuple(_scalar(v, at) for v in (raw if isinstance(raw, list) else [raw]))
    if variables:
        _no_variables(values, at)
    if base == "Null":
        if not {v.lower() for v in values} <= {"true", "false"}:
            raise PolicyError(f"{at}: Null takes true or false, got {list(values)!r}")
        return _NullTest(key.lower(), frozenset(v.lower() == "true" for v in values))
    build, negated = _OPERATORS[base]
    return _Test(at, key.lower(), build(values, at), negated, if_exists, qualifier)


def _conditions(block: object, where: str, variables: bool) -> tuple[_Condition, ...]:
    at = f"{where}.Condition"
    if not isinstance(block, Mapping):
        raise PolicyError(f"{at} must be an object, got {block!r}")
    _reject_intrinsic(block, at)
    tests: list[_Condition] = []
    for name, keys in block.items():
        if not isinstance(keys, Mapping) or _is_intrinsic(keys):
            raise PolicyError(f"{at}.{name} must map condition keys to values, got {keys!r}")
        tests.extend(_condition(name, k, v, at, variables) for k, v in keys.items())
    return tuple(tests)


# --- statements and policies -----------------------------------------------------------

_STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"}
    | {"Principal", "NotPrincipal", "Condition"}
)
_VERSIONS = ("2012-10-17", "2008-10-17")


@dataclass(frozen=True)
class _Statement:
    label: str  # the Sid, else the index: what a reason names
    allow: bool
    actions: _Patterns
    resources: _Patterns | None  # None: the resource the policy is attached to
    principals: _Principals | None  # None in identity-based policies
    conditions: tuple[_Condition, ...]

    def grant(self, caller: _Caller, request: Request, context: _Context) -> _Grant:
        if not self.actions.matches(request.action):
            return _Grant.NONE
        if self.resources is not None and not self.resources.matches(request.resource):
            return _Grant.NONE
        grant = _Grant.DIRECT if self.principals is None else self.principals.grant(caller)
        if grant is _Grant.NONE or not all(c.holds(context) for c in self.conditions):
            return _Grant.NONE
        return grant


@dataclass(frozen=True)
class Policy:
    """A parsed policy document: parse once with :func:`parse_policy`, authorize often."""

    kind: PolicyKind
    name: str  # how reasons and errors refer to it
    statements: tuple[_Statement, ...]


def _statement_principals(
    raw: Mapping[str, Any], kind: PolicyKind, where: str
) -> _Principals | None:
    picked = _pick(raw, "Principal", where)
    if kind == "identity":
        if picked is not None:
            raise PolicyError(f"{where}: an identity-based policy takes no Principal")
        return None
    if picked is None:
        raise PolicyError(f"{where}: a resource-based policy statement needs a Principal")
    value, negated = picked
    return _principals(value, negated, f"{where}.{'Not' if negated else ''}Principal")


def _statement(raw: object, index: int, kind: PolicyKind, name: str, variables: bool) -> _Statement:
    where = f"{name} Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object, got {raw!r}")
    _reject_intrinsic(raw, where)
    unknown = set(raw) - _STATEMENT_ELEMENTS
    if unknown:
        raise PolicyError(f"{where} has unknown element(s) {sorted(unknown)}")
    sid, effect = raw.get("Sid"), raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f'{where}.Effect must be "Allow" or "Deny", got {effect!r}')
    actions = _patterns(raw, "Action", where, required=True, variables=False)
    assert actions is not None  # required=True
    return _Statement(
        label=f"statement {sid!r}" if isinstance(sid, str) and sid else f"Statement[{index}]",
        allow=effect == "Allow",
        actions=actions,
        resources=_patterns(
            raw, "Resource", where, required=kind == "identity", variables=variables
        ),
        principals=_statement_principals(raw, kind, where),
        conditions=_conditions(raw.get("Condition", {}), where, variables),
    )


def parse_policy(
    document: Mapping[str, Any], *, kind: PolicyKind, name: str | None = None
) -> Policy:
    """Parse and check a policy document; raises :class:`PolicyError` on what it can't decide."""
    name = name or f"{_POLICY_TYPE[kind]} policy"
    if not isinstance(document, Mapping):
        raise PolicyError(f"{name} must be an object, got {document!r}")
    _reject_intrinsic(document, name)
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"{name} has unknown element(s) {sorted(unknown)}")
    version = document.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise PolicyError(f"{name} has an unknown Version {version!r}")
    if "Statement" not in document:
        raise PolicyError(f"{name} has no Statement")
    raw = document["Statement"]
    _reject_intrinsic(raw, f"{name} Statement")
    statements = raw if isinstance(raw, list) else [raw]
    # Policy variables exist only in version 2012-10-17; in 2008-10-17 "${" is literal.
    variables = version == "2012-10-17"
    return Policy(
        kind, name, tuple(_statement(s, i, kind, name, variables) for i, s in enumerate(statements))
    )


# --- the decision ----------------------------------------------------------------------


def _as_policy(policy: Mapping[str, Any] | Policy, kind: PolicyKind, name: str) -> Policy:
    if not isinstance(policy, Policy):
        return parse_policy(policy, kind=kind, name=name)
    if policy.kind != kind:
        raise PolicyError(f"{policy.name} was parsed as {policy.kind}-based, used as {kind}-based")
    return policy


def _context(raw: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    context: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        folded = key.lower()
        if folded in context:
            raise PolicyError(f"request context names {key!r} twice (keys are case-insensitive)")
        if isinstance(value, bool):
            context[folded] = ("true" if value else "false",)
        elif isinstance(value, str | int):
            context[folded] = (str(value),)
        elif all(isinstance(v, str) for v in value):
            context[folded] = tuple(value)
        else:
            raise PolicyError(f"request context key {key!r} has an unsupported value {value!r}")
    return context


@dataclass(frozen=True)
class _Hit:
    policy: Policy
    statement: _Statement
    grant: _Grant

    @property
    def where(self) -> str:
        return f"{self.statement.label} in the {self.policy.name}"


def _hits(policies: Sequence[Policy], caller: _Caller, request: Request) -> list[_Hit]:
    context = _context(request.context)
    hits = []
    for policy in policies:
        for statement in policy.statements:
            grant = statement.grant(caller, request, context)
            if grant is not _Grant.NONE:
                hits.append(_Hit(policy, statement, grant))
    return hits


def _first(hits: Sequence[_Hit], kind: PolicyKind, grant: _Grant | None = None) -> _Hit | None:
    return next(
        (h for h in hits if h.policy.kind == kind and (grant is None or h.grant is grant)), None
    )


def _implicit_deny(
    caller: _Caller, delegated: _Hit | None, key_policy: bool, account: str
) -> tuple[str, PolicyType]:
    if key_policy and delegated is None:
        return (
            "no statement allows: the key policy neither allows this principal nor enables"
            f" IAM policies for the account (arn:aws:iam::{account}:root)",
            "resource-based",
        )
    if caller.service is not None:
        return (
            "no statement allows: a service principal has no identity-based policies and"
            " no resource-based policy statement names it",
            "resource-based",
        )
    return "no statement allows", "identity-based"


def _decide(
    request: Request, caller: _Caller, hits: list[_Hit], *, key_policy: bool, account: str
) -> Decision:
    def decision(allowed: bool, reason: str, kind: PolicyType, explicit: bool = False) -> Decision:
        return Decision(
            allowed, request.principal, request.action, request.resource, reason, kind, explicit
        )

    deny = next((h for h in hits if not h.statement.allow), None)
    if deny is not None:
        kind = _POLICY_TYPE[deny.policy.kind]
        return decision(False, f"explicit deny by {deny.where}", kind, explicit=True)
    direct = _first(hits, "resource", _Grant.DIRECT)
    if direct is not None:
        return decision(True, f"allowed by {direct.where}", "resource-based")
    identity = _first(hits, "identity")
    delegated = _first(hits, "resource", _Grant.ACCOUNT)
    if identity is not None and (delegated is not None or not key_policy):
        enabled = f", enabled by {delegated.where}" if key_policy and delegated else ""
        return decision(True, f"allowed by {identity.where}{enabled}", "identity-based")
    return decision(False, *_implicit_deny(caller, delegated, key_policy, account))


def authorize(
    request: Request,
    *,
    identity_policies: Sequence[Mapping[str, Any] | Policy],
    resource_policy: Mapping[str, Any] | Policy | None = None,
    resource_account: str,
    key_policy: bool = False,
) -> Decision:
    """Decide ``request`` within one account (cross-account raises :class:`PolicyError`).

    ``identity_policies`` are the caller's (none for a service principal);
    ``resource_policy`` is the resource's policy, or with ``key_policy=True`` the KMS key
    policy, which is then required. Documents may be passed parsed (:func:`parse_policy`)
    to save re-parsing them on every call.
    """
    caller = _caller(request.principal)
    if caller.account is not None and caller.account != resource_account:
        raise PolicyError(
            f"cross-account request ({caller.account} -> {resource_account}) is not supported"
        )
    if caller.service is not None and identity_policies:
        raise PolicyError(f"service principal {caller.service} has no identity-based policies")
    if key_policy and resource_policy is None:
        raise PolicyError("a KMS key always has a key policy: pass it as resource_policy")
    policies = [
        _as_policy(p, "identity", f"identity-based policy #{i}")
        for i, p in enumerate(identity_policies)
    ]
    if resource_policy is not None:
        name = "key policy" if key_policy else "resource-based policy"
        policies.append(_as_policy(resource_policy, "resource", name))
    hits = _hits(policies, caller, request)
    return _decide(request, caller, hits, key_policy=key_policy, account=resource_account)
