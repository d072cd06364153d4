"""Metrics from handlers' log lines, as CloudWatch Logs extracts them (EMF, :mod:`.emf`).

A line reaches CloudWatch only through the function's log group, written with the
function's execution role: the role must be allowed ``logs:PutLogEvents`` on it (the
stack grants each function its own group). A line from a function whose role may not
write its group gives no metrics, as on AWS; an EMF line that breaks the format gives
none either, and the reason is logged here (CloudWatch drops it silently).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelrail.local import emf

if TYPE_CHECKING:
    from modelrail.local.cloudwatch import CloudWatchRuntime
    from modelrail.local.iam.enforce import Enforcer
    from modelrail.local.provision import DeployedStack, StackArtifact

logger = logging.getLogger(__name__)


def function_log_groups(artifact: StackArtifact, deployed: DeployedStack) -> dict[str, str]:
    """Function name -> the log group its ``LoggingConfig`` names (CloudWatch's default,
    ``/aws/lambda/<name>``, when it names none)."""
    groups: dict[str, str] = {}
    for logical, resource in artifact.template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or logical not in deployed.resources:
            continue
        name = deployed.physical(logical)
        ref = resource.get("Properties", {}).get("LoggingConfig", {}).get("LogGroup")
        if isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in deployed.resources:
            groups[name] = deployed.physical(ref["Ref"])
        else:
            groups[name] = f"/aws/lambda/{name}"
    return groups


@dataclass
class LogMetrics:
    cloudwatch: CloudWatchRuntime
    account_id: str
    region: str
    enforcer: Enforcer | None = None
    log_groups: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    """Why EMF lines gave no metrics (format errors, a role that may not write its group)."""

    def _role(self, function: str) -> str:
        from moto.awslambda.models import lambda_backends

        fn: Any = lambda_backends[self.account_id][self.region].get_function(function)
        return str(fn.role)

    def _may_write(self, function: str) -> bool:
        if self.enforcer is None:
            return True
        from modelrail.local.iam.enforce import AccessDenied
        from modelrail.local.iam.principals import Principal
        from modelrail.local.iam.requests import Check

        group = self.log_groups.get(function, f"/aws/lambda/{function}")
        stream = (
            f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}:log-stream:{function}"
        )
        try:
            self.enforcer.require(
                Principal(self._role(function), function), Check("logs:PutLogEvents", stream)
            )
        except AccessDenied as exc:
            self.rejected.append(f"{function}: {exc}")
            return False
        return True

    def deliver(self, function: str, line: str) -> None:
        found = emf.parse(line)
        if not found.is_emf:
            return
        if found.errors:
            self.rejected += [f"{function}: {e}" for e in found.errors]
            logger.warning("EMF line from %s gives no metrics: %s", function, found.errors[0])
            return
        if not found.data or not self._may_write(function):
            return
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for datum in found.data:
            by_namespace.setdefault(datum.namespace, []).append(datum.as_metric_data())
        for namespace, data in by_namespace.items():
            self.cloudwatch.put_metrics(namespace, data)
