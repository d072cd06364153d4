"""The permission report's arithmetic (modelrail/local/iam/report.py)."""

from __future__ import annotations

from modelrail.local.iam.report import permission_report, permissions, role_label

TEMPLATE = {
    "Resources": {
        "FnRoleAB12CD34": {"Type": "AWS::IAM::Role", "Properties": {}},
        "FnRoleDefaultPolicy99887766": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "FnRoleAB12CD34"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject*", "s3:List*"],
                            "Resource": "*",
                        },
                        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
                    ]
                },
            },
        },
    }
}


def test_a_role_is_named_by_its_logical_id_without_cdks_hash() -> None:
    assert role_label("FnRoleAB12CD34") == "FnRole"
    assert (
        role_label("arn:aws:iam::123456789012:role/modelrail-dev-FnRoleAB12CD34-Q1W2E3R4T5Y6")
        == "FnRole"
    )


def test_used_actions_are_matched_against_granted_patterns() -> None:
    used = {
        ("arn:aws:iam::1:role/modelrail-dev-FnRoleAB12CD34-XYZ", "s3:GetObjectVersion"),
        ("arn:aws:iam::1:role/modelrail-dev-FnRoleAB12CD34-XYZ", "sqs:SendMessage"),
    }
    [role] = permissions([TEMPLATE], used)
    assert role.granted == ("s3:GetObject*", "s3:List*")  # a Deny grants nothing
    assert role.unused == ("s3:List*",)
    assert role.ungranted == ("sqs:SendMessage",)
    report = permission_report([role], environments=["dev"])
    assert "| FnRole | `s3:GetObjectVersion`, `sqs:SendMessage` | `s3:List*` |" in report
