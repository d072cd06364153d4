"""CloudWatch metric math for the local cloud's alarms: the subset the stack uses.

An alarm on an expression (``Metrics`` with one ``ReturnData`` expression over metric
queries) is evaluated period by period: each metric query gives one value per period
(its statistic) or none, and the expression is computed from those values. Supported:
numbers, metric ids, ``+ - * /``, comparisons (``< <= > >= == !=``, 1 when true, 0 when
false), parentheses, ``IF(condition, a, b)`` and ``FILL(x, value)``. Anything else is a
:class:`MetricMathError` naming it, so a stack that starts using more fails to provision
instead of being evaluated wrongly.

Missing data: a metric with no datapoint in a period is ``None``; arithmetic and
comparisons with ``None`` give ``None`` (no datapoint for the alarm); ``FILL`` replaces
it; ``IF`` with a ``None`` condition is ``None``. A division by zero gives no datapoint
either, as CloudWatch drops non-finite values.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FUNCTIONS = ("IF", "FILL")


class MetricMathError(ValueError):
    """An expression the local cloud cannot evaluate."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


Node = Number | Ref | Call | Binary | Negate

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|[-+*/<>(),]))"
)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _tokens(expression: str) -> list[str]:
    out: list[str] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise MetricMathError(
                f"cannot read {text[position:].lstrip()!r} in metric math expression {expression!r}"
            )
        out.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return out


class _Parser:
    """Precedence, loosest first: comparisons, ``+ -``, ``* /``, unary minus."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.at = 0

    def parse(self) -> Node:
        node = self._comparison()
        if self.at != len(self.tokens):
            self._fail(f"unexpected {self.tokens[self.at]!r}")
        return node

    def _fail(self, what: str) -> None:
        raise MetricMathError(f"{what} in metric math expression {self.expression!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            self._fail(f"expected {expected or 'more'}")
        self.at += 1
        return token  # type: ignore[return-value]

    def _binary(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        node = operand()
        while self._peek() in ops:
            op = self._take()
            node = Binary(op, node, operand())
        return node

    def _comparison(self) -> Node:
        return self._binary(tuple(_COMPARE), self._sum)

    def _sum(self) -> Node:
        return self._binary(("+", "-"), self._product)

    def _product(self) -> Node:
        return self._binary(("*", "/"), self._unary)

    def _unary(self) -> Node:
        if self._peek() == "-":
            self._take()
            return Negate(self._unary())
        return self._atom()

    def _atom(self) -> Node:
        token = self._take()
        if token == "(":
            node = self._comparison()
            self._take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            return Number(float(token))
        if token[0].isalpha() or token[0] == "_":
            if self._peek() != "(":
                return Ref(token)
            if token not in FUNCTIONS:
                self._fail(
                    f"unsupported function {token!r} (the local cloud evaluates "
                    f"{', '.join(FUNCTIONS)})"
                )
            self._take("(")
            args = [self._comparison()]
            while self._peek() == ",":
                self._take()
                args.append(self._comparison())
            self._take(")")
            wanted = {"IF": 3, "FILL": 2}[token]
            if len(args) != wanted:
                self._fail(f"{token} takes {wanted} arguments, got {len(args)}")
            return Call(token, tuple(args))
        self._fail(f"unexpected {token!r}")
        raise AssertionError  # unreachable: _fail raises


def parse(expression: str) -> Node:
    """The expression's syntax tree; :class:`MetricMathError` for what is unsupported."""
    return _Parser(expression).parse()


def references(node: Node) -> set[str]:
    """The metric ids an expression uses."""
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    if isinstance(node, Negate):
        return references(node.operand)
    if isinstance(node, Call):
        return set().union(*(references(a) for a in node.args))
    return set()


def evaluate(node: Node, values: Mapping[str, float | None]) -> float | None:
    """The expression's value for one period, given each metric id's value (or None)."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        if node.id not in values:
            raise MetricMathError(f"metric math refers to unknown id {node.id!r}")
        return values[node.id]
    if isinstance(node, Negate):
        inner = evaluate(node.operand, values)
        return None if inner is None else -inner
    if isinstance(node, Call):
        if node.name == "FILL":
            value = evaluate(node.args[0], values)
            return evaluate(node.args[1], values) if value is None else value
        condition = evaluate(node.args[0], values)  # IF: only the chosen branch
        if condition is None:
            return None
        return evaluate(node.args[1] if condition != 0 else node.args[2], values)
    left, right = evaluate(node.left, values), evaluate(node.right, values)
    if left is None or right is None:
        return None
    if node.op in _COMPARE:
        return 1.0 if _COMPARE[node.op](left, right) else 0.0
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return None if right == 0 else left / right
