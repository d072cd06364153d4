"""The customer-managed key lets each AWS service that encrypts with it do so, and only
for this environment's resources (RELIABILITY 3, 22, 33, 34; ARCHITECTURE §7)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

ACCOUNT = "123456789012"
REGION = "us-east-1"
_PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION}


def render(value: Any) -> Any:
    """An intrinsic as the string CloudFormation would make (pseudo parameters filled)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in _PSEUDO:
        return _PSEUDO[value["Ref"]]
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(str(render(p)) for p in parts)
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"]
        for name, real in _PSEUDO.items():
            text = text.replace("${" + name + "}", real)
        return text
    return value


def _service(statement: dict[str, Any]) -> Any:
    principal = statement.get("Principal")
    return render(principal.get("Service")) if isinstance(principal, dict) else None


def _key_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def _for_service(template: dict[str, Any], service: str) -> dict[str, Any]:
    found = [s for s in _key_statements(template) if _service(s) == service]
    assert len(found) == 1, f"expected one key policy statement for {service}, got {found}"
    return found[0]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _values(condition: Any) -> list[str]:
    rendered = render(condition)
    return rendered if isinstance(rendered, list) else [rendered]


@pytest.fixture(params=["dev", "prod"])
def env_template(
    request: pytest.FixtureRequest, dev_template: dict[str, Any], prod_template: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    return request.param, dev_template if request.param == "dev" else prod_template


def test_cloudwatch_logs_may_use_the_key_for_this_environments_log_groups_only(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    statement = _for_service(template, f"logs.{REGION}.amazonaws.com")
    assert statement["Effect"] == "Allow"
    assert _actions(statement) == {
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    }
    patterns = _values(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    prefix = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
    assert patterns and all(p.startswith(prefix) for p in patterns)
    assert all(f"modelrail-{env}-" in p or f"/modelrail/{env}/" in p for p in patterns)
    assert not any(p.endswith(":log-group:*") for p in patterns)
    # every encrypted log group of the stack is covered, none of another environment
    other = "prod" if env == "dev" else "dev"
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Logs::LogGroup":
            continue
        props = resource["Properties"]
        assert "KmsKeyId" in props, logical
        name = props.get("LogGroupName")
        assert isinstance(name, str), f"{logical} needs a name the key policy can match"
        arn = prefix + name
        assert any(fnmatch.fnmatchcase(arn, p) for p in patterns), (logical, name)
        foreign = arn.replace(f"modelrail-{env}-", f"modelrail-{other}-").replace(
            f"/modelrail/{env}/", f"/modelrail/{other}/"
        )
        assert not any(fnmatch.fnmatchcase(foreign, p) for p in patterns), foreign


def test_cloudwatch_alarms_may_publish_to_the_encrypted_topic_for_this_environment(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    statement = _for_service(template, "cloudwatch.amazonaws.com")
    assert _actions(statement) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    condition = statement["Condition"]
    assert _values(condition["StringEquals"]["aws:SourceAccount"]) == [ACCOUNT]
    assert _values(condition["ArnLike"]["aws:SourceArn"]) == [
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:modelrail-{env}-*"
    ]
    # and the topic policy lets the alarms publish (a topic policy replaces the default one)
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::TopicPolicy"
    ]
    (publish,) = [s for s in policy if _service(s) == "cloudwatch.amazonaws.com"]
    assert publish["Effect"] == "Allow" and _actions(publish) == {"sns:Publish"}
    assert _values(publish["Condition"]["ArnLike"]["aws:SourceArn"]) == [
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:modelrail-{env}-*"
    ]
    assert _values(publish["Condition"]["StringEquals"]["aws:SourceAccount"]) == [ACCOUNT]


def test_eventbridge_may_deliver_to_the_encrypted_dead_letter_queue_from_the_upload_rule(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    statement = _for_service(template, "events.amazonaws.com")
    assert _actions(statement) == {"kms:Decrypt", "kms:GenerateDataKey"}
    condition = statement["Condition"]
    assert _values(condition["StringEquals"]["aws:SourceAccount"]) == [ACCOUNT]
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    name = rule["Properties"]["Name"]
    assert name == f"modelrail-{env}-upload"
    assert _values(condition["ArnEquals"]["aws:SourceArn"]) == [
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    ]


def test_no_service_may_use_the_key_without_a_condition(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    _, template = env_template
    for statement in _key_statements(template):
        if _service(statement) is not None:
            assert statement.get("Condition"), statement
