"""Publish registry events to EventBridge so other systems can react.

Every registry change (``model_version.created``, ``model_version.status_changed``,
``alias.moved``) is already stored in the table's event log; this sink also puts it on
an event bus with source ``modelrail.registry`` and the event type as detail-type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelrail.registry.errors import StoreError
from modelrail.registry.models import RegistryEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "modelrail.registry"


class EventBridgeSink:
    def __init__(
        self, bus_name: str = "default", *, client: EventBridgeClient | None = None
    ) -> None:
        self.bus_name = bus_name
        self._client = client

    @property
    def client(self) -> EventBridgeClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    @staticmethod
    def entry(event: RegistryEvent, bus_name: str) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": str(event.type),
            "Detail": event.model_dump_json(),
            "EventBusName": bus_name,
            "Resources": [],
        }

    def __call__(self, event: RegistryEvent) -> None:
        response = self.client.put_events(Entries=[self.entry(event, self.bus_name)])  # type: ignore[list-item]
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            raise StoreError(
                f"EventBridge refused {event.type}: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
