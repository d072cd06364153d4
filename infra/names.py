"""Names of CloudFormation-managed resources that policies refer to by name.

A policy that must not reference its resource (the key policy cannot name the rule whose
dead-letter queue the key encrypts without a dependency cycle) or that covers resources
made later (log groups, alarms) matches these names instead; one definition of each.
"""

from __future__ import annotations


def prefix(environment: str) -> str:
    return f"modelrail-{environment}-"


def state_machine_log_group(environment: str, machine: str) -> str:
    # /aws/vendedlogs/ keeps Step Functions' log delivery out of the account's CloudWatch
    # Logs resource policy size limit.
    return f"/aws/vendedlogs/states/{prefix(environment)}{machine}"


def function_log_group(environment: str, function: str) -> str:
    return f"/modelrail/{environment}/functions/{function}"


def log_group_patterns(environment: str) -> list[str]:
    """Every log group of the environment, and none of another."""
    return [f"/aws/vendedlogs/states/{prefix(environment)}*", f"/modelrail/{environment}/*"]


def upload_rule(environment: str) -> str:
    return f"{prefix(environment)}upload"


def alarm_pattern(environment: str) -> str:
    """The rollback alarms (modelrail.deploy.naming.alarm_names) and any other alarm of
    the environment."""
    return f"{prefix(environment)}*"
