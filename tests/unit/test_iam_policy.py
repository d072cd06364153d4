"""The IAM policy evaluator (modelrail.local.iam.policy): operators, matching, KMS, properties."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelrail.local.iam.policy import (
    Decision,
    PolicyError,
    Request,
    authorize,
    parse_policy,
    wildcard_match,
)

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/trainer"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer/botocore-session-1"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scorer"
OTHER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/scorer/botocore-session-2"
LOGS = "logs.us-east-1.amazonaws.com"
BUCKET = "arn:aws:s3:::modelrail-data"
OBJECT = f"{BUCKET}/datasets/demand.csv"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/modelrail/train"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    principal: str = ROLE,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    context: dict[str, Any] | None = None,
    *,
    identity: tuple[dict[str, Any], ...] = (),
    resource_policy: dict[str, Any] | None = None,
    key_policy: bool = False,
) -> Decision:
    return authorize(
        Request(principal, action, resource, context or {}),
        identity_policies=identity,
        resource_policy=resource_policy,
        resource_account=ACCOUNT,
        key_policy=key_policy,
    )


def condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Whether an Allow */* statement with ``condition`` allows a request with ``context``."""
    return decide(context=context, identity=(doc(allow(Condition=condition)),)).allowed


# --- condition operators: known answers --------------------------------------------------

SRC = "aws:SourceAccount"
ARN = "aws:SourceArn"
CONDITION_CASES = [
    # StringEquals: exact, case-sensitive, values ORed, missing key false
    ({"StringEquals": {SRC: ACCOUNT}}, {SRC: ACCOUNT}, True),
    ({"StringEquals": {SRC: ["111111111111", ACCOUNT]}}, {SRC: ACCOUNT}, True),
    ({"StringEquals": {"aws:PrincipalTag/team": "ml"}}, {"aws:PrincipalTag/team": "ML"}, False),
    ({"StringEquals": {SRC: ACCOUNT}}, {}, False),
    # StringNotEquals: "none of the values"; a missing key makes it true
    ({"StringNotEquals": {SRC: ["111111111111", "222222222222"]}}, {SRC: ACCOUNT}, True),
    ({"StringNotEquals": {SRC: ["111111111111", ACCOUNT]}}, {SRC: ACCOUNT}, False),
    ({"StringNotEquals": {SRC: ACCOUNT}}, {}, True),
    ({"StringEqualsIgnoreCase": {"s3:prefix": "Data/"}}, {"s3:prefix": "dATA/"}, True),
    ({"StringEqualsIgnoreCase": {"s3:prefix": "data/"}}, {"s3:prefix": "logs/"}, False),
    ({"StringEqualsIgnoreCase": {"s3:prefix": "data/"}}, {}, False),
    ({"StringNotEqualsIgnoreCase": {"s3:prefix": "Data/"}}, {"s3:prefix": "data/"}, False),
    ({"StringNotEqualsIgnoreCase": {"s3:prefix": "Data/"}}, {"s3:prefix": "logs/"}, True),
    ({"StringNotEqualsIgnoreCase": {"s3:prefix": "Data/"}}, {}, True),
    # StringLike: * and ?, case-sensitive
    ({"StringLike": {"s3:prefix": "home/*/in?"}}, {"s3:prefix": "home/ana/inx"}, True),
    ({"StringLike": {"s3:prefix": "home/*/in?"}}, {"s3:prefix": "home/ana/in"}, False),
    ({"StringLike": {"s3:prefix": "Home/*"}}, {"s3:prefix": "home/ana"}, False),
    ({"StringLike": {"s3:prefix": "*"}}, {}, False),
    ({"StringNotLike": {"s3:prefix": "tmp/*"}}, {"s3:prefix": "data/x"}, True),
    ({"StringNotLike": {"s3:prefix": ["tmp/*", "data/*"]}}, {"s3:prefix": "data/x"}, False),
    ({"StringNotLike": {"s3:prefix": "tmp/*"}}, {}, True),
    # ARN operators: wildcards per colon-separated part, ArnEquals like ArnLike
    ({"ArnLike": {ARN: f"arn:aws:logs:*:{ACCOUNT}:*"}}, {ARN: LOG_GROUP}, True),
    ({"ArnEquals": {ARN: f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}}, {ARN: LOG_GROUP}, True),
    ({"ArnEquals": {ARN: LOG_GROUP}}, {ARN: LOG_GROUP + "x"}, False),
    # a '*' in the service part does not swallow the next colon
    (
        {"ArnLike": {ARN: f"arn:aws:*:us-east-1:{ACCOUNT}:x"}},
        {ARN: f"arn:aws:logs:extra:us-east-1:{ACCOUNT}:x"},
        False,
    ),
    ({"ArnLike": {ARN: "arn:aws:s3:::Bucket"}}, {ARN: "arn:aws:s3:::bucket"}, False),
    ({"ArnLike": {ARN: "arn:aws:s3:::*"}}, {ARN: "not-an-arn"}, False),
    ({"ArnLike": {ARN: "arn:aws:s3:::*"}}, {}, False),
    ({"ArnNotLike": {ARN: "arn:aws:s3:::tmp-*"}}, {ARN: "arn:aws:s3:::data"}, True),
    ({"ArnNotLike": {ARN: "arn:aws:s3:::tmp-*"}}, {ARN: "arn:aws:s3:::tmp-1"}, False),
    ({"ArnNotLike": {ARN: "arn:aws:s3:::tmp-*"}}, {}, True),
    ({"ArnNotEquals": {ARN: "arn:aws:s3:::data"}}, {ARN: "arn:aws:s3:::data"}, False),
    ({"ArnNotEquals": {ARN: "arn:aws:s3:::data"}}, {}, True),
    # Bool: strings or JSON booleans in the policy, booleans or strings in the request
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "TRUE"}, True),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),
    # Numeric: all six, non-numbers never match, missing key false (NotEquals: true)
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True),
    ({"NumericEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10.0"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    ({"NumericNotEquals": {"s3:max-keys": ["10", "20"]}}, {"s3:max-keys": 30}, True),
    ({"NumericNotEquals": {"s3:max-keys": ["10", "20"]}}, {"s3:max-keys": 20}, False),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 9}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 11}, False),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 11}, True),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, False),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 10}, True),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": 9}, False),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {}, False),
    # Date: ISO 8601 or epoch seconds
    (
        {"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
        {"aws:CurrentTime": "2026-05-31T23:59:59Z"},
        True,
    ),
    (
        {"DateGreaterThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
        {"aws:CurrentTime": "1780272000"},  # 2026-06-01T00:00:00Z as epoch: not greater
        False,
    ),
    (
        {"DateEquals": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
        {"aws:CurrentTime": "1780272000"},
        True,
    ),
    ({"DateNotEquals": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}}, {}, True),
    # IP addresses
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.2.3"}, True),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "192.168.0.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "::1"}, False),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "192.168.0.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    # Null: true = the key is absent, false = present
    ({"Null": {"aws:SourceVpce": "true"}}, {}, True),
    ({"Null": {"aws:SourceVpce": "true"}}, {"aws:SourceVpce": "vpce-1"}, False),
    ({"Null": {"aws:SourceVpce": False}}, {"aws:SourceVpce": "vpce-1"}, True),
    ({"Null": {"aws:SourceVpce": "false"}}, {}, False),
    ({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}, True),
    # IfExists: a missing key passes, a present one is checked
    ({"StringEqualsIfExists": {SRC: ACCOUNT}}, {}, True),
    ({"StringEqualsIfExists": {SRC: ACCOUNT}}, {SRC: "111111111111"}, False),
    ({"StringNotEqualsIfExists": {SRC: ACCOUNT}}, {SRC: ACCOUNT}, False),
    ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
    ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {"s3:max-keys": 11}, False),
    ({"ArnLikeIfExists": {ARN: "arn:aws:s3:::*"}}, {}, True),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    # set qualifiers
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["x", "b"]}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["x", "y"]}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}, {}, False),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "a"}}, {}, False),
    ({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "a"}}, {}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "team-*"}}, {"aws:TagKeys": ["team-a"]}, True),
    (
        {"ForAllValues:StringLike": {"aws:TagKeys": "team-*"}},
        {"aws:TagKeys": ["team-a", "x"]},
        False,
    ),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "team-*"}}, {}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "team-*"}}, {"aws:TagKeys": []}, True),
    # the IAM guide's ForAllValues:StringNotLike example
    (
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key1:legal"]},
        False,
    ),
    (
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:TagKeys": ["key2:audit"]},
        True,
    ),
    ({"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}, {}, True),
    (
        {"ForAnyValue:StringEquals": {SRC: ACCOUNT}},
        {SRC: ACCOUNT},
        True,
    ),  # a scalar is a set of one
    # several keys in one operator, several operators: all must hold
    ({"StringEquals": {SRC: ACCOUNT, ARN: LOG_GROUP}}, {SRC: ACCOUNT, ARN: LOG_GROUP}, True),
    ({"StringEquals": {SRC: ACCOUNT, ARN: LOG_GROUP}}, {SRC: ACCOUNT}, False),
    (
        {"StringEquals": {SRC: ACCOUNT}, "Bool": {"aws:SecureTransport": "true"}},
        {SRC: ACCOUNT, "aws:SecureTransport": False},
        False,
    ),
    (
        {"StringEquals": {SRC: ACCOUNT}, "Bool": {"aws:SecureTransport": "true"}},
        {SRC: ACCOUNT, "aws:SecureTransport": True},
        True,
    ),
    # condition keys are case-insensitive on both sides; values are not
    ({"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, {"aws:sourceaccount": ACCOUNT}, True),
    ({"StringEquals": {"aws:PrincipalTag/Team": "ml"}}, {"AWS:PRINCIPALTAG/team": "ml"}, True),
]


@pytest.mark.parametrize(("condition", "context", "expected"), CONDITION_CASES)
def test_condition_operator(
    condition: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert condition_holds(condition, context) is expected


def test_every_documented_operator_has_a_known_answer() -> None:
    used = {
        name.split(":")[-1].removesuffix("IfExists") for c, _, _ in CONDITION_CASES for name in c
    }
    assert used >= {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
        "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
        "Bool", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals", "Null", "IpAddress", "NotIpAddress",
        "DateLessThan", "DateGreaterThan", "DateEquals", "DateNotEquals",
    }  # fmt: skip


def test_a_condition_on_an_allow_that_does_not_hold_is_an_implicit_deny_not_an_explicit_one() -> (
    None
):
    decision = decide(
        context={SRC: "111111111111"},
        identity=(doc(allow(Condition={"StringEquals": {SRC: ACCOUNT}})),),
    )
    assert not decision.allowed
    assert not decision.explicit_deny
    assert decision.reason == "no statement allows"


# --- condition errors ------------------------------------------------------------------

CONDITION_ERRORS = [
    (
        {"StringEqualz": {SRC: ACCOUNT}},
        {},
        "identity-based policy #0 Statement[0].Condition: unknown or unsupported condition"
        " operator 'StringEqualz'",
    ),
    ({"ForEveryValue:StringEquals": {SRC: ACCOUNT}}, {}, "operator 'ForEveryValue:StringEquals'"),
    ({"NullIfExists": {SRC: "true"}}, {}, "operator 'NullIfExists'"),
    ({"ForAnyValue:Null": {SRC: "true"}}, {}, "operator 'ForAnyValue:Null'"),
    ({"BinaryEquals": {"k": "QmluYXJ5"}}, {}, "operator 'BinaryEquals'"),
    ({"Bool": {"aws:SecureTransport": "yes"}}, {}, "Bool takes true or false, got ['yes']"),
    ({"Null": {"aws:SourceVpce": "maybe"}}, {}, "Null takes true or false, got ['maybe']"),
    ({"NumericLessThan": {"s3:max-keys": "ten"}}, {}, "not a number or date: ['ten']"),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}, {}, "does not appear to be an IPv4 or IPv6"),
    (
        {"ArnLike": {ARN: "arn:aws:logs:*"}},
        {},
        "Condition.ArnLike.aws:SourceArn: 'arn:aws:logs:*' is not an ARN (six colon-separated parts)",
    ),
    ({"StringEquals": SRC}, {}, "Condition.StringEquals must map condition keys to values"),
    (
        {"StringEquals": {"aws:TagKeys": "a"}},
        {"aws:TagKeys": ["a", "b"]},
        "Condition.StringEquals.aws:TagKeys: the request has 2 values for this key; a multivalued"
        " key needs ForAnyValue: or ForAllValues:",
    ),
    (
        {"StringEquals": {SRC: {"Ref": "AWS::AccountId"}}},
        {},
        "Condition.StringEquals.aws:SourceAccount is an unresolved CloudFormation intrinsic:"
        " {'Ref': 'AWS::AccountId'}",
    ),
    (
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}},
        {},
        "policy variables are not supported: '${aws:username}'",
    ),
]


@pytest.mark.parametrize(("condition", "context", "message"), CONDITION_ERRORS)
def test_condition_errors_name_the_problem(
    condition: dict[str, Any], context: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        condition_holds(condition, context)
    assert message in str(raised.value)


# --- actions and resources -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("S3:getobject", "s3:GetObject", True),  # actions are case-insensitive
        ("s3:Get*", "s3:GetObjectTagging", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:?etObject", "s3:GetObject", True),
        ("s3:?etObject", "s3:GettObject", False),
        ("kms:ReEncrypt*", "kms:ReEncryptFrom", True),
        ("kms:ReEncrypt*", "kms:ReEncrypt", True),
        ("*", "sagemaker:CreateTrainingJob", True),
        ("s3:*", "s3express:CreateSession", False),
    ],
)
def test_action_matching(pattern: str, action: str, expected: bool) -> None:
    decision = decide(action=action, identity=(doc(allow(pattern)),))
    assert decision.allowed is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (f"{BUCKET}/*", OBJECT, True),
        (f"{BUCKET}/*", BUCKET, False),
        ("arn:aws:s3:::Modelrail-data/*", OBJECT, False),  # resources are case-sensitive
        (f"{BUCKET}/datasets/demand.cs?", OBJECT, True),
        (f"{BUCKET}/datasets/?.csv", OBJECT, False),
        ("arn:aws:s3:::*-data/datasets/*", OBJECT, True),
        ("*", OBJECT, True),
        (f"{BUCKET}/*", "*", False),  # a resource-less action matches only "*"
    ],
)
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    decision = decide(resource=resource, identity=(doc(allow("s3:*", pattern)),))
    assert decision.allowed is expected


def test_not_action_allows_everything_but_the_listed_actions() -> None:
    policy = doc({"Effect": "Allow", "NotAction": ["iam:*", "kms:*"], "Resource": "*"})
    assert decide(action="s3:GetObject", identity=(policy,)).allowed
    assert not decide(action="IAM:CreateRole", resource="*", identity=(policy,)).allowed


def test_not_resource_in_a_deny_fences_off_everything_else() -> None:
    fence = {"Sid": "OnlyData", "Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/*"}
    policies = (doc(allow("s3:*"), fence),)
    assert decide(resource=OBJECT, identity=policies).allowed
    outside = decide(resource="arn:aws:s3:::elsewhere/x", identity=policies)
    assert not outside.allowed
    assert outside.reason == "explicit deny by statement 'OnlyData' in the identity-based policy #0"


def test_a_single_statement_object_and_string_values_are_accepted() -> None:
    policy = {"Version": "2012-10-17", "Statement": allow("s3:GetObject", OBJECT)}
    assert decide(identity=(policy,)).allowed


def test_no_policy_is_an_implicit_deny_with_the_aws_message() -> None:
    decision = decide(identity=())
    assert not decision.allowed
    assert decision.message() == (
        f"User: {ROLE} is not authorized to perform: s3:GetObject on resource: {OBJECT}"
        " because no identity-based policy allows the s3:GetObject action"
    )


def test_deny_overrides_allow_across_identity_policies() -> None:
    decision = decide(identity=(doc(allow()), doc(allow(), deny("s3:Get*", f"{BUCKET}/*"))))
    assert not decision.allowed
    assert decision.explicit_deny
    assert decision.reason == "explicit deny by Statement[1] in the identity-based policy #1"
    assert decision.message() == (
        f"User: {ROLE} is not authorized to perform: s3:GetObject on resource: {OBJECT}"
        " with an explicit deny in an identity-based policy"
    )


def test_a_resource_policy_deny_overrides_an_identity_allow() -> None:
    bucket = doc(deny(Sid="NoReads", Principal={"AWS": ROLE}))
    decision = decide(identity=(doc(allow()),), resource_policy=bucket)
    assert not decision.allowed
    assert decision.reason == "explicit deny by statement 'NoReads' in the resource-based policy"
    assert decision.message().endswith("with an explicit deny in a resource-based policy")


def test_an_allowed_decision_says_which_statement_allowed() -> None:
    decision = decide(identity=(doc(allow(Sid="ReadData")),))
    assert decision.allowed
    assert decision.reason == "allowed by statement 'ReadData' in the identity-based policy #0"
    assert decision.message() == (
        f"User: {ROLE} is authorized to perform: s3:GetObject on resource: {OBJECT}"
    )


# --- resource-based policies -------------------------------------------------------------


def bucket_policy(principal: Any, **extra: Any) -> dict[str, Any]:
    return doc(allow("s3:GetObject", f"{BUCKET}/*", Principal=principal, **extra))


def test_an_assumed_role_session_matches_its_role_arn_in_a_bucket_policy() -> None:
    assert decide(SESSION, resource_policy=bucket_policy({"AWS": ROLE})).allowed
    assert decide(ROLE, resource_policy=bucket_policy({"AWS": [OTHER_ROLE, ROLE]})).allowed
    assert not decide(OTHER_SESSION, resource_policy=bucket_policy({"AWS": ROLE})).allowed


def test_a_role_with_a_path_matches_its_sessions() -> None:
    policy = bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/service-role/trainer"})
    assert decide(SESSION, resource_policy=policy).allowed


def test_a_session_arn_principal_matches_only_that_session() -> None:
    policy = bucket_policy({"AWS": SESSION})
    assert decide(SESSION, resource_policy=policy).allowed
    assert not decide(ROLE, resource_policy=policy).allowed


def test_everyone_principals_match_roles_sessions_and_services() -> None:
    for principal in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        for caller in (ROLE, SESSION, LOGS):
            assert decide(caller, resource_policy=bucket_policy(principal)).allowed


def test_an_account_principal_delegates_to_identity_policies() -> None:
    # IAM guide, "AWS account principals": naming the account delegates authority to it;
    # its identities still need an identity-based allow.
    for account in (ROOT, ACCOUNT):
        policy = bucket_policy({"AWS": account})
        alone = decide(SESSION, resource_policy=policy)
        assert not alone.allowed
        assert alone.message().endswith(
            "because no identity-based policy allows the s3:GetObject action"
        )
        assert decide(
            SESSION, identity=(doc(allow("s3:GetObject")),), resource_policy=policy
        ).allowed


def test_an_account_principal_in_a_deny_applies_to_every_principal_of_the_account() -> None:
    policy = doc(deny(Principal={"AWS": ROOT}))
    assert not decide(SESSION, identity=(doc(allow()),), resource_policy=policy).allowed


def test_another_accounts_principals_do_not_match() -> None:
    other = "210987654321"
    for principal in ({"AWS": other}, {"AWS": f"arn:aws:iam::{other}:role/trainer"}):
        assert not decide(SESSION, resource_policy=bucket_policy(principal)).allowed


def test_service_principals_need_the_resource_policy() -> None:
    policy = bucket_policy(
        {"Service": ["delivery.logs.amazonaws.com", LOGS]},
        Condition={"StringEquals": {SRC: ACCOUNT}},
    )
    assert decide(LOGS, context={SRC: ACCOUNT}, resource_policy=policy).allowed
    assert not decide(LOGS, context={SRC: "210987654321"}, resource_policy=policy).allowed
    refused = decide(LOGS, resource_policy=bucket_policy({"Service": "sns.amazonaws.com"}))
    assert refused.message().endswith(
        "because no resource-based policy allows the s3:GetObject action"
    )
    assert not decide(LOGS, resource_policy=bucket_policy({"AWS": ROLE})).allowed


def test_not_principal_in_a_deny_spares_only_the_named_principals() -> None:
    policy = doc(
        allow(Principal="*"),
        {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"},
    )
    assert decide(SESSION, resource_policy=policy).allowed
    assert not decide(OTHER_SESSION, resource_policy=policy).allowed


def test_a_bucket_policy_denies_insecure_transport() -> None:
    policy = doc(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    identity = (doc(allow("s3:GetObject", f"{BUCKET}/*")),)
    insecure = decide(
        SESSION, context={"aws:SecureTransport": False}, identity=identity, resource_policy=policy
    )
    assert not insecure.allowed
    assert insecure.reason == (
        "explicit deny by statement 'DenyInsecureTransport' in the resource-based policy"
    )
    assert insecure.message() == (
        f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: {OBJECT}"
        " with an explicit deny in a resource-based policy"
    )
    secure = decide(
        SESSION, context={"aws:SecureTransport": True}, identity=identity, resource_policy=policy
    )
    assert secure.allowed


# --- KMS key policies ------------------------------------------------------------------

ROOT_ONLY_KEY_POLICY = doc(
    {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}
)
USE_KEY = doc(allow(["kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"], KEY))


def kms(
    principal: str,
    action: str,
    key_policy: dict[str, Any],
    *identity: dict[str, Any],
    **context: Any,
) -> Decision:
    return decide(
        principal, action, KEY, context, identity=identity, resource_policy=key_policy, key_policy=True
    )  # fmt: skip


def test_a_root_only_key_policy_enables_identity_policies() -> None:
    for caller in (ROLE, SESSION):
        decision = kms(caller, "kms:Decrypt", ROOT_ONLY_KEY_POLICY, USE_KEY)
        assert decision.allowed
        assert decision.reason == (
            "allowed by Statement[0] in the identity-based policy #0,"
            " enabled by Statement[0] in the key policy"
        )
    assert kms(SESSION, "kms:ReEncryptFrom", ROOT_ONLY_KEY_POLICY, USE_KEY).allowed
    bare_account = doc(allow("kms:*", Principal={"AWS": ACCOUNT}))
    assert kms(SESSION, "kms:Decrypt", bare_account, USE_KEY).allowed


def test_a_root_only_key_policy_without_an_identity_allow_denies() -> None:
    decision = kms(SESSION, "kms:Decrypt", ROOT_ONLY_KEY_POLICY)
    assert not decision.allowed
    assert decision.message().endswith(
        "because no identity-based policy allows the kms:Decrypt action"
    )


def test_a_root_only_key_policy_never_allows_cloudwatch_logs() -> None:
    decision = kms(
        LOGS,
        "kms:Encrypt",
        ROOT_ONLY_KEY_POLICY,
        **{"kms:EncryptionContext:aws:logs:arn": LOG_GROUP},
    )
    assert not decision.allowed
    assert decision.message() == (
        f"User: {LOGS} is not authorized to perform: kms:Encrypt on resource: {KEY}"
        " because no resource-based policy allows the kms:Encrypt action"
    )
    assert decision.reason == (
        "no statement allows: the key policy neither allows this principal nor enables"
        f" IAM policies for the account (arn:aws:iam::{ACCOUNT}:root)"
    )


def test_identity_policies_alone_never_open_a_key() -> None:
    only_scorer = doc(allow("kms:*", Principal={"AWS": OTHER_ROLE}))
    decision = kms(SESSION, "kms:Decrypt", only_scorer, USE_KEY)
    assert not decision.allowed
    assert decision.message().endswith(
        "because no resource-based policy allows the kms:Decrypt action"
    )


def test_a_key_policy_naming_the_role_allows_without_an_identity_policy() -> None:
    policy = doc(allow("kms:Decrypt", Sid="Trainer", Principal={"AWS": ROLE}))
    decision = kms(SESSION, "kms:Decrypt", policy)
    assert decision.allowed
    assert decision.reason == "allowed by statement 'Trainer' in the key policy"
    assert not kms(SESSION, "kms:Encrypt", policy).allowed


def test_an_identity_deny_closes_a_key_the_key_policy_opens() -> None:
    policy = doc(allow("kms:*", Principal={"AWS": ROLE}))
    decision = kms(SESSION, "kms:Decrypt", policy, doc(deny("kms:*")))
    assert not decision.allowed
    assert decision.message().endswith("with an explicit deny in an identity-based policy")


def test_a_logs_statement_allows_only_matching_log_groups() -> None:
    policy = doc(
        ROOT_ONLY_KEY_POLICY["Statement"][0],
        {
            "Sid": "CloudWatchLogs",
            "Effect": "Allow",
            "Principal": {"Service": LOGS},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/modelrail/*"
                    )
                }
            },
        },
    )
    ctx = "kms:EncryptionContext:aws:logs:arn"
    assert kms(LOGS, "kms:Encrypt", policy, **{ctx: LOG_GROUP}).allowed
    assert kms(LOGS, "kms:GenerateDataKeyWithoutPlaintext", policy, **{ctx: LOG_GROUP}).allowed
    other_group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/x"
    assert not kms(LOGS, "kms:Encrypt", policy, **{ctx: other_group}).allowed
    other_account = "arn:aws:logs:us-east-1:210987654321:log-group:/modelrail/train"
    assert not kms(LOGS, "kms:Encrypt", policy, **{ctx: other_account}).allowed
    assert not kms(LOGS, "kms:Encrypt", policy).allowed
    assert not kms(
        "logs.eu-west-1.amazonaws.com", "kms:Encrypt", policy, **{ctx: LOG_GROUP}
    ).allowed


# --- refusals ----------------------------------------------------------------------------

REFUSALS = [
    (
        {"identity": (doc(allow("s3:GetObject", {"Fn::GetAtt": ["Bucket", "Arn"]})),)},
        "identity-based policy #0 Statement[0].Resource is an unresolved CloudFormation"
        " intrinsic: {'Fn::GetAtt': ['Bucket', 'Arn']}",
    ),
    (
        {"resource_policy": bucket_policy({"AWS": {"Fn::GetAtt": ["Role", "Arn"]}})},
        "resource-based policy Statement[0].Principal.AWS is an unresolved CloudFormation"
        " intrinsic",
    ),
    (
        {"identity": ({"Version": "2012-10-17", "Statement": [{"Fn::If": ["C", {}, {}]}]},)},
        "identity-based policy #0 Statement[0] is an unresolved CloudFormation intrinsic",
    ),
    (
        {"identity": (doc({"Effect": "Allow", "Action": "s3:*", "Resources": "*"}),)},
        "identity-based policy #0 Statement[0] has unknown element(s) ['Resources']",
    ),
    (
        {"identity": (doc({"Effect": "Allow", "Action": "s3:*"}),)},
        "identity-based policy #0 Statement[0] has neither Resource nor NotResource",
    ),
    (
        {
            "identity": (
                doc({"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}),
            )
        },
        "Statement[0] has both Action and NotAction",
    ),
    (
        {"identity": (doc(allow(Effect="allow")),)},
        'Statement[0].Effect must be "Allow" or "Deny", got \'allow\'',
    ),
    ({"identity": (doc(allow(Principal="*")),)}, "an identity-based policy takes no Principal"),
    ({"resource_policy": doc(allow())}, "a resource-based policy statement needs a Principal"),
    (
        {"resource_policy": bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"})},
        "a principal takes no wildcard but a bare '*'",
    ),
    ({"resource_policy": bucket_policy({"Users": "x"})}, "unknown principal type(s) ['Users']"),
    (
        {"identity": (doc(allow(resource="arn:aws:s3:::home/${aws:username}/*")),)},
        "policy variables are not supported",
    ),
    ({"identity": ({"Version": "2012-10-18", "Statement": []},)}, "unknown Version '2012-10-18'"),
    ({"identity": ({"Version": "2012-10-17"},)}, "identity-based policy #0 has no Statement"),
]


@pytest.mark.parametrize(("policies", "message"), REFUSALS)
def test_policies_the_evaluator_cannot_decide_are_refused(
    policies: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        decide(SESSION, **policies)
    assert message in str(raised.value)


def test_version_2008_takes_dollar_braces_literally() -> None:
    policy = {"Version": "2008-10-17", "Statement": [allow(resource="arn:aws:s3:::a/${x}")]}
    assert decide(resource="arn:aws:s3:::a/${x}", identity=(policy,)).allowed


REQUEST_REFUSALS = [
    (
        {"principal": "arn:aws:iam::210987654321:role/x", "identity": (doc(allow()),)},
        "cross-account request (210987654321 -> 123456789012) is not supported",
    ),
    (
        {"principal": LOGS, "identity": (doc(allow()),)},
        "service principal logs.us-east-1.amazonaws.com has no identity-based policies",
    ),
    (
        {"principal": SESSION, "identity": (USE_KEY,), "key_policy": True},
        "a KMS key always has a key policy: pass it as resource_policy",
    ),
    (
        {"principal": "trainer"},
        "principal 'trainer' is neither an IAM/STS ARN nor a service principal",
    ),
    (
        {
            "context": {"aws:SourceAccount": ACCOUNT, "AWS:SourceAccount": ACCOUNT},
            "identity": (doc(allow()),),
        },
        "request context names 'AWS:SourceAccount' twice (keys are case-insensitive)",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), REQUEST_REFUSALS)
def test_requests_the_evaluator_cannot_decide_are_refused(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        decide(**arguments)
    assert str(raised.value) == message


def test_parsed_policies_are_reusable_and_keep_their_kind() -> None:
    parsed = parse_policy(doc(allow()), kind="identity")
    assert decide(identity=(parsed,)).allowed  # type: ignore[arg-type]
    with pytest.raises(PolicyError) as raised:
        decide(resource_policy=parsed)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "identity-based policy was parsed as identity-based, used as resource-based"
    )


# --- properties --------------------------------------------------------------------------

ACTIONS = ["s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:ReEncryptFrom", "sqs:SendMessage"]
RESOURCES = [OBJECT, f"{BUCKET}/b.csv", KEY, "*"]
CALLERS = [ROLE, SESSION, OTHER_SESSION, LOGS]
action_patterns = st.sampled_from(
    [
        "*",
        "s3:*",
        "s3:Get*",
        "S3:GETOBJECT",
        "s3:?utObject",
        "kms:*",
        "kms:ReEncrypt*",
        "sqs:Send*",
        "iam:*",
    ]
)
resource_patterns = st.sampled_from(["*", f"{BUCKET}/*", f"{BUCKET}/?.csv", KEY, "arn:aws:kms:*"])
conditions = st.sampled_from(
    [
        {"Bool": {"aws:SecureTransport": "false"}},
        {"StringEquals": {SRC: ACCOUNT}},
        {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1"}},
        {"ForAnyValue:StringLike": {"aws:TagKeys": "team-*"}},
        {"Null": {"aws:SourceVpce": "true"}},
    ]
)
principals = st.sampled_from(
    ["*", {"AWS": ROOT}, {"AWS": ACCOUNT}, {"AWS": ROLE}, {"Service": LOGS}, {"AWS": OTHER_ROLE}]
)
contexts = st.fixed_dictionaries(
    {},
    optional={
        "aws:SecureTransport": st.booleans(),
        SRC: st.sampled_from([ACCOUNT, "210987654321"]),
        "aws:SourceVpce": st.sampled_from(["vpce-1", "vpce-2"]),
        "aws:TagKeys": st.lists(st.sampled_from(["team-a", "cost", "team-b"]), max_size=3),
    },
)


@st.composite
def statements(
    draw: st.DrawFn, *, resource_policy: bool, effect: str | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "NotAction"])): draw(
            st.lists(action_patterns, min_size=1, max_size=2)
        ),
        draw(st.sampled_from(["Resource", "NotResource"])): draw(resource_patterns),
    }
    if resource_policy:
        statement[draw(st.sampled_from(["Principal", "Principal", "NotPrincipal"]))] = draw(
            principals
        )
    if draw(st.booleans()):
        statement["Condition"] = draw(conditions)
    return statement


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    caller = draw(st.sampled_from(CALLERS))
    key_policy = draw(st.booleans())
    identity = (
        []
        if caller == LOGS
        else draw(st.lists(st.lists(statements(resource_policy=False), max_size=3), max_size=2))
    )
    resource = (
        draw(st.lists(statements(resource_policy=True), max_size=3))
        if key_policy or draw(st.booleans())
        else None
    )
    return {
        "request": Request(caller, draw(st.sampled_from(ACTIONS)), draw(st.sampled_from(RESOURCES)), draw(contexts)),
        "identity": identity,
        "resource": resource,
        "key_policy": key_policy,
    }  # fmt: skip


def evaluate(scenario: dict[str, Any]) -> Decision:
    resource = scenario["resource"]
    return authorize(
        scenario["request"],
        identity_policies=[doc(*statements) for statements in scenario["identity"]],
        resource_policy=None if resource is None else doc(*resource),
        resource_account=ACCOUNT,
        key_policy=scenario["key_policy"],
    )


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_adding_a_deny_never_turns_a_deny_into_an_allow(
    scenario: dict[str, Any], data: st.DataObject
) -> None:
    before = evaluate(scenario)
    targets = [
        *scenario["identity"],
        *([scenario["resource"]] if scenario["resource"] is not None else []),
    ]
    if not targets:
        return
    target = data.draw(st.sampled_from(targets))
    is_resource = target is scenario["resource"]
    target.insert(
        data.draw(st.integers(0, len(target))),
        data.draw(statements(resource_policy=is_resource, effect="Deny")),
    )
    after = evaluate(scenario)
    assert after.allowed <= before.allowed


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_statement_order_never_changes_the_decision(
    scenario: dict[str, Any], data: st.DataObject
) -> None:
    shuffled = {
        **scenario,
        "identity": [data.draw(st.permutations(p)) for p in scenario["identity"]],
        "resource": None
        if scenario["resource"] is None
        else data.draw(st.permutations(scenario["resource"])),
    }
    assert evaluate(shuffled).allowed == evaluate(scenario).allowed


@PROPERTY_SETTINGS
@given(
    st.sampled_from([ROLE, SESSION, OTHER_SESSION]),
    st.text(alphabet="abcXYZ:*", min_size=1, max_size=12),
    st.text(alphabet="abc:/*-", min_size=1, max_size=20),
    contexts,
    st.lists(statements(resource_policy=True, effect="Allow"), max_size=3),
)
def test_an_allow_all_policy_allows_every_request_without_a_deny(
    caller: str, action: str, resource: str, context: dict[str, Any], bucket: list[dict[str, Any]]
) -> None:
    decision = authorize(
        Request(caller, action, resource, context),
        identity_policies=[doc(allow("*", "*"))],
        resource_policy=doc(*bucket) if bucket else None,
        resource_account=ACCOUNT,
    )
    assert decision.allowed


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abAB*?", max_size=8), st.text(alphabet="abAB:/", max_size=10))
def test_wildcard_matching_agrees_with_fnmatchcase(pattern: str, value: str) -> None:
    assert wildcard_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)
    assert wildcard_match(pattern, value, ignore_case=True) == fnmatch.fnmatchcase(
        value.lower(), pattern.lower()
    )
