"""Deliver EventBridge events to Lambda and Step Functions targets on the local cloud.

moto matches rules (including S3's EventBridge notifications) but its rules cannot
target Lambda or Step Functions. This wraps ``Rule.send_to_targets``: for those two
target types it applies the target's Input / InputPath / InputTransformer and
delivers the event; other targets go to moto as before.

Delivery is asynchronous, as on AWS: events are queued and delivered in order by one
worker thread, after the API call that emitted them has returned. (moto emits an S3
"Object Created" event from inside PutObject, before the object's user metadata is
set; a synchronous delivery let the starter read an object without its metadata.)
Lambda targets are invoked as an asynchronous invoke is: retried on error up to the
function's ``MaximumRetryAttempts`` (default 2), then sent to its on-failure destination.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import boto3

from modelrail.local.iam.enforce import AccessDenied, MotoWorld
from modelrail.local.iam.requests import Check, PolicyRef, kms_checks

if TYPE_CHECKING:
    from modelrail.local.iam.enforce import Enforcer
    from modelrail.local.iam.principals import Principals

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    rule: str
    target_arn: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class _Pending:
    rule: str
    target: dict[str, Any]
    event: dict[str, Any]
    region: str
    rule_arn: str = ""


@dataclass
class EventsDelivery:
    # With these, deliveries are authorized as on AWS: Step Functions targets are started
    # with the target's role, Lambda targets need the function's resource policy to allow
    # events.amazonaws.com, a target's dead-letter queue needs its policy and key to, and
    # a function's on-failure destination is written with the function's role.
    principals: Principals | None = None
    enforcer: Enforcer | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _queue: queue.Queue[_Pending | None] = field(default_factory=queue.Queue)
    _worker: threading.Thread | None = None

    def submit(
        self,
        rule_name: str,
        target: dict[str, Any],
        event: dict[str, Any],
        region: str,
        rule_arn: str = "",
    ) -> None:
        """Queue one delivery; the worker delivers it after the emitting call returns."""
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run, name="local-eventbridge", daemon=True
                )
                self._worker.start()
        self._queue.put(_Pending(rule_name, dict(target), event, region, rule_arn))

    def _run(self) -> None:
        while True:
            pending = self._queue.get()
            try:
                if pending is None:
                    return
                try:
                    self.deliver(
                        pending.rule,
                        pending.target,
                        pending.event,
                        pending.region,
                        rule_arn=pending.rule_arn,
                    )
                except AccessDenied as exc:
                    logger.warning(
                        "EventBridge could not deliver to %s: %s", pending.target["Arn"], exc
                    )
                    self._record(Delivery(pending.rule, pending.target["Arn"], False, str(exc)))
                    self._dead_letter(pending, str(exc))
                except Exception as exc:  # one failed delivery must not stop the others
                    logger.exception("event delivery to %s failed", pending.target["Arn"])
                    self._record(Delivery(pending.rule, pending.target["Arn"], False, repr(exc)))
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        """Block until every queued event has been delivered."""
        self._queue.join()

    def stop(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(30)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    @staticmethod
    def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
        if "Input" in target:
            return json.loads(target["Input"])
        if "InputPath" in target:
            from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

            matches = [m.value for m in parse(target["InputPath"]).find(event)]
            return matches[0] if matches else None
        if "InputTransformer" in target:
            from moto.events.utils import EventTemplateParser

            transformer = target["InputTransformer"]
            return EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=cast(Any, event),
            )
        return event

    def _client(self, service: str, region: str, role: str | None, session: str) -> Any:
        if self.principals is None or not role:
            return boto3.client(service, region_name=region)  # type: ignore[call-overload]
        kwargs = self.principals.client_kwargs(role, session)
        return boto3.client(service, region_name=region, **kwargs)  # type: ignore[call-overload]

    def _as_events(self, check: Check) -> None:
        if self.enforcer is not None:
            self.enforcer.require_service("events.amazonaws.com", check)

    def _dead_letter(self, pending: _Pending, error: str) -> None:
        """EventBridge sends an event it could not deliver to the target's DLQ, as
        events.amazonaws.com: the queue's policy and key policy must allow it."""
        queue = (pending.target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            return
        world = MotoWorld(queue.split(":")[4], pending.region)
        context = {"aws:SourceArn": pending.rule_arn, "aws:SourceAccount": queue.split(":")[4]}
        checks = [
            Check("sqs:SendMessage", queue, context, PolicyRef("sqs", queue)),
            *kms_checks(
                world, world.queue_key(queue), ("kms:GenerateDataKey", "kms:Decrypt"), context
            ),
        ]
        try:
            for check in checks:
                self._as_events(check)
        except AccessDenied as exc:
            logger.warning("EventBridge dropped an event for %s: %s", pending.target["Arn"], exc)
            return
        sqs = boto3.client("sqs", region_name=pending.region)
        url = sqs.get_queue_url(QueueName=queue.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(pending.event),
            MessageAttributes={"ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:256]}},
        )

    def deliver(
        self,
        rule_name: str,
        target: dict[str, Any],
        event: dict[str, Any],
        region: str,
        *,
        rule_arn: str = "",
    ) -> None:
        arn: str = target["Arn"]
        payload = self.target_input(target, event)
        if ":lambda:" in arn:
            context = {"aws:SourceArn": rule_arn, "aws:SourceAccount": arn.split(":")[4]}
            self._as_events(Check("lambda:InvokeFunction", arn, context, PolicyRef("lambda", arn)))
            self._invoke_async(rule_name, arn, payload, region)
        elif ":states:" in arn:
            sfn = self._client("stepfunctions", region, target.get("RoleArn"), "EventBridge")
            execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))
            self._record(Delivery(rule_name, arn, True, execution["executionArn"]))

    def _invoke_async(self, rule_name: str, arn: str, payload: Any, region: str) -> None:
        client = boto3.client("lambda", region_name=region)
        retries = 2
        destination: str | None = None
        try:
            config = client.get_function_event_invoke_config(FunctionName=arn)
            retries = int(config.get("MaximumRetryAttempts", 2))
            destination = (
                config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            )
        except client.exceptions.ResourceNotFoundException:
            pass
        body = json.dumps(payload)
        response_text = ""
        for _attempt in range(retries + 1):
            response = client.invoke(
                FunctionName=arn, InvocationType="RequestResponse", Payload=body
            )
            response_text = response["Payload"].read().decode()
            if "FunctionError" not in response:
                self._record(Delivery(rule_name, arn, True, response_text))
                return
        logger.warning(
            "async invoke of %s failed after %d attempts: %s", arn, retries + 1, response_text
        )
        self._record(Delivery(rule_name, arn, False, response_text))
        if destination and ":sqs:" in destination:
            # Lambda sends to the destination with the function's execution role.
            role = client.get_function_configuration(FunctionName=arn)["Role"]
            sqs = self._client("sqs", region, role, "lambda-destination")
            account, name = destination.split(":")[4], destination.split(":")[5]
            url = boto3.client("sqs", region_name=region).get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"functionArn": arn, "condition": "RetriesExhausted"},
                        "requestPayload": payload,
                        "responsePayload": json.loads(response_text or "null"),
                    }
                ),
            )


def install(delivery: EventsDelivery) -> Callable[[], None]:
    from moto.events import models

    rule_class: Any = models.Rule
    original = rule_class.send_to_targets

    def send_to_targets(
        self: Any, original_event: dict[str, Any], transform_input: bool = True
    ) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if ":lambda:" in t["Arn"] or ":states:" in t["Arn"]]
        others = [t for t in self.targets if t not in ours]
        for target in ours:
            delivery.submit(self.name, target, original_event, self.region_name, self.arn)
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    rule_class.send_to_targets = send_to_targets

    def undo() -> None:
        rule_class.send_to_targets = original
        delivery.stop()

    return undo
