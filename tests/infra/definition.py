"""Read the state machine definition out of a synthesized template."""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = "__INTRINSIC__"


def definition_parts(template: dict[str, Any], name_suffix: str = "training") -> list[Any]:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine" and resource["Properties"].get(
            "StateMachineName", ""
        ).endswith(name_suffix):
            body = resource["Properties"]["DefinitionString"]
            if isinstance(body, str):
                return [body]
            parts: list[Any] = body["Fn::Join"][1]
            return parts
    raise AssertionError(f"no state machine named *{name_suffix} in the template")


_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def _render(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and part.get("Ref") in _PSEUDO:
        return _PSEUDO[part["Ref"]]
    return PLACEHOLDER


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The definition as JSON: partition filled in, every other intrinsic a placeholder."""
    text = "".join(_render(p) for p in definition_parts(template))
    data: dict[str, Any] = json.loads(text)
    return data


def definition_pattern(template: dict[str, Any]) -> re.Pattern[str]:
    """A regex that the deployed definition must match: literal text, references resolved."""
    return re.compile(
        "".join(
            re.escape(p) if isinstance(p, str) else r"[^\"]+?" for p in definition_parts(template)
        ),
        re.DOTALL,
    )
