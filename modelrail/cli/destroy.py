"""``modelrail destroy --env ENV``: empty a disposable environment's buckets, then delete
its stack.

CloudFormation cannot delete a bucket that holds objects, and the data, artifacts and
access-log buckets are versioned, so every object version and delete marker must go
first. CDK's ``auto_delete_objects`` would do that with a custom resource backed by a
Lambda, which the local cloud cannot run (docs/decisions.md D3); this command does it from
the operator's side instead. An environment whose buckets are retained
(``retain_data: true``: staging, prod) is refused before anything is touched: its buckets
outlive ``cdk destroy`` by design, and emptying them would destroy what is meant to stay.
SageMaker endpoints, models and endpoint configs are made by deployments, not by the
stack, and are not deleted here (their names start with ``modelrail-<env>-``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelrail.naming import ENVIRONMENTS

BUCKET = "AWS::S3::Bucket"
_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class DestroyRefused(Exception):
    """The environment may not be destroyed this way; nothing was changed."""


class StackNotFound(DestroyRefused):
    """There is no stack to destroy."""


@dataclass
class DestroyReport:
    stack: str
    emptied: list[str] = field(default_factory=list)
    deleted_objects: int = 0


def _stack_buckets(cloudformation: Any, stack: str) -> dict[str, str]:
    """{logical id: bucket name} of the stack's buckets."""
    from botocore.exceptions import ClientError

    try:
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ValidationError":
            raise StackNotFound(
                f"cannot find stack {stack!r} ({error.get('Message', exc)}); check --env and "
                "your AWS credentials and region"
            ) from exc
        raise
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == BUCKET and r.get("PhysicalResourceId")
    }


def _retained(cloudformation: Any, stack: str, logical_ids: Sequence[str]) -> list[str]:
    body = cloudformation.get_template(StackName=stack)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    resources = template.get("Resources", {})
    return sorted(
        logical
        for logical in logical_ids
        if resources.get(logical, {}).get("DeletionPolicy", "Delete") != "Delete"
    )


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; the number deleted. Lists the first
    page again after each deletion rather than paginating over a listing that shrinks."""
    deleted = 0
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=_BATCH)
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ][:_BATCH]
        if not keys:
            return deleted
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"could not delete {len(errors)} object version(s) in {bucket}, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )
        deleted += len(keys)


def destroy_stack(
    environment: str, *, cloudformation: Any, s3: Any, wait: bool = True
) -> DestroyReport:
    """Refuse a retained environment; else empty its buckets and delete its stack."""
    if environment not in ENVIRONMENTS:
        raise DestroyRefused(f"unknown environment {environment!r}; expected one of {ENVIRONMENTS}")
    stack = f"modelrail-{environment}"
    buckets = _stack_buckets(cloudformation, stack)
    retained = _retained(cloudformation, stack, list(buckets))
    if retained:
        raise DestroyRefused(
            f"{stack} retains its data (retain_data: true; buckets {', '.join(retained)} have "
            "DeletionPolicy Retain): they outlive `cdk destroy` by design and are not emptied "
            "here; nothing was changed"
        )
    report = DestroyReport(stack)
    for name in sorted(buckets.values()):
        report.deleted_objects += empty_bucket(s3, name)
        report.emptied.append(name)
    cloudformation.delete_stack(StackName=stack)
    if wait:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
    return report


def _confirm(prompt: str) -> str:
    return input(prompt)


def main(argv: Sequence[str] | None = None, *, confirm: Callable[[str], str] = _confirm) -> int:
    parser = argparse.ArgumentParser(
        prog="modelrail destroy",
        description="Empty a disposable environment's buckets, then delete its stack.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv), confirm=confirm)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="the environment (refused if it retains data)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the deletion")


def run(args: argparse.Namespace, *, confirm: Callable[[str], str] = _confirm) -> int:
    import boto3

    stack = f"modelrail-{args.env}"
    if not args.yes:
        answer = confirm(f"delete every object version in {stack}'s buckets and the stack? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print(f"modelrail destroy: nothing was deleted ({stack})", file=sys.stderr)
            return 1
    try:
        report = destroy_stack(
            args.env,
            cloudformation=boto3.client("cloudformation"),
            s3=boto3.client("s3"),
            wait=not args.no_wait,
        )
    except DestroyRefused as exc:
        print(f"modelrail destroy: {exc}", file=sys.stderr)
        return 2
    for bucket in report.emptied:
        print(f"emptied {bucket}")
    print(f"deleted {report.deleted_objects} object version(s); stack {report.stack} deleted")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    destroy = sub.add_parser(
        "destroy", help="empty a disposable environment's buckets, then delete its stack"
    )
    add_arguments(destroy)
    destroy.set_defaults(func=run)
