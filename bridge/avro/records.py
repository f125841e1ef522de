"""Adapter events into Kafka records: the envelope every topic shares (metadata + payload
union), not any exchange.

Every channel record carries the same metadata (exchange, channel, subscription arg, receive
and event time, connection, sequence, instance) around a payload union: the channel's own
record, or one of the bridge's (subscription acks and errors, session markers, connection
events). Frames are also kept whole on ``<group>.raw``, and frames that could not be handled go
to the dead-letter topic. Values are written in the wire format of the encoder
(:mod:`bridge.avro.formats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.avro.envelope import EnvelopeWriter
from bridge.avro.formats import SingleObjectEncoder, ValueEncoder
from bridge.avro.store import Schema, SchemaStore
from bridge.exchanges.events import (
    ChannelConnCount,
    Destination,
    Event,
    ExchangeError,
    LoginResult,
    Maintenance,
    Notice,
    Push,
    Subscribed,
    SubscribeFailed,
)
from bridge.frame import ConnectionInfo, Frame
from bridge.topics import (
    DEADLETTER_SCHEMA,
    DEADLETTER_TOPIC,
    RAW_SCHEMA,
    check_topic,
    events_schema,
    events_topic,
    raw_topic,
)

SUBSCRIPTION_EVENT = "exchange_bridge.SubscriptionEvent"
SESSION_MARKER = "exchange_bridge.SessionMarker"
CONNECTION_EVENT = "exchange_bridge.ConnectionEvent"


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record, ready to send (the topic prefix not yet applied)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


class Codec:
    """Turns frames and adapter events into encoded records, in the wire format of ``encoder``
    (default: single-object encoding)."""

    def __init__(
        self,
        store: SchemaStore | None = None,
        deadletter_topic: str = DEADLETTER_TOPIC,
        *,
        encoder: ValueEncoder | None = None,
    ) -> None:
        self.store = store or SchemaStore()
        self.deadletter_topic = deadletter_topic
        self.encoder: ValueEncoder = encoder or SingleObjectEncoder()
        self._raw = self.store.latest(RAW_SCHEMA)
        self._deadletter = self.store.latest(DEADLETTER_SCHEMA)
        # The parts of the envelope that do not change per destination and connection,
        # encoded once (bridge/avro/envelope.py); the same bytes as encoding it whole.
        self._envelope = EnvelopeWriter(self.encoder.prefix)

    # -- envelopes -----------------------------------------------------------------------------

    def channel_record(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        payload_type: str,
        payload: Mapping[str, Any],
        *,
        event_time_ms: int | None = None,
        exchange_conn_id: str | None = None,
    ) -> OutRecord:
        check_topic(destination.topic)
        schema = self.store.latest(destination.schema)
        try:
            data = self._envelope.channel(
                destination.topic,
                schema,
                conn.exchange,
                destination.channel,
                destination.arg,
                conn,
                conn.connection,
                conn.connection_id,
                conn.bridge_instance,
                frame.received_us,
                event_time_ms,
                exchange_conn_id,
                frame.sequence,
                payload_type,
                payload,
            )
        except Exception:  # noqa: BLE001 - encoded whole below: fastavro's error is raised there
            data = None
        if data is None:
            value = {
                "exchange": conn.exchange,
                "channel": destination.channel,
                "arg": dict(destination.arg),
                "receive_time": frame.received_us,
                "event_time": event_time_ms,
                "connection": conn.connection,
                "connection_id": conn.connection_id,
                "exchange_connection_id": exchange_conn_id,
                "sequence": frame.sequence,
                "bridge_instance": conn.bridge_instance,
                "payload": (payload_type, payload),
            }
            data = self.encoder.encode(destination.topic, schema, value)
        return OutRecord(
            destination.topic,
            destination.key.encode(),
            data,
            self._headers(schema, conn),
        )

    def records_for(self, conn: ConnectionInfo, frame: Frame, event: Event) -> list[OutRecord]:
        """The records one event produces; empty for events that are only counted."""
        match event:
            case Push():
                return [
                    self.channel_record(
                        conn,
                        frame,
                        event.destination,
                        event.payload_type,
                        event.payload,
                        event_time_ms=event.event_time_ms,
                        exchange_conn_id=event.exchange_conn_id,
                    )
                ]
            case Subscribed():
                payload = {
                    "event": event.op,
                    "request_id": event.request_id,
                    "code": None,
                    "message": None,
                }
                return [
                    self._subscription(
                        conn, frame, event.destination, payload, event.exchange_conn_id
                    )
                ]
            case SubscribeFailed():
                payload = {
                    "event": "error",
                    "request_id": event.request_id,
                    "code": event.code,
                    "message": event.message,
                }
                return [
                    self._subscription(
                        conn, frame, event.destination, payload, event.exchange_conn_id
                    )
                ]
            case LoginResult():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "login" if event.ok else "error",
                        event.code,
                        event.message,
                        None,
                        {"ok": str(event.ok).lower()},
                        event.exchange_conn_id,
                    )
                ]
            case ExchangeError():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "error",
                        event.code,
                        event.message,
                        event.request_id,
                        {},
                        event.exchange_conn_id,
                    )
                ]
            case Notice():
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "notice",
                        event.code,
                        event.message,
                        None,
                        {},
                        event.exchange_conn_id,
                    )
                ]
            case ChannelConnCount():
                name = "channel-conn-count-error" if event.error else "channel-conn-count"
                attributes = {
                    **event.attributes,
                    "channel": event.channel,
                    "connCount": event.conn_count,
                }
                return [
                    self.connection_event(
                        conn, frame, name, None, None, None, attributes, event.exchange_conn_id
                    )
                ]
            case Maintenance():
                attributes = {**event.attributes, "status": event.status}
                return [
                    self.connection_event(
                        conn,
                        frame,
                        "systemStatus",
                        None,
                        None,
                        None,
                        attributes,
                        event.exchange_conn_id,
                    )
                ]
        return []

    def _subscription(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        payload: Mapping[str, Any],
        exchange_conn_id: str | None,
    ) -> OutRecord:
        return self.channel_record(
            conn, frame, destination, SUBSCRIPTION_EVENT, payload, exchange_conn_id=exchange_conn_id
        )

    def events_destination(self, group: str) -> Destination:
        return Destination(
            topic=events_topic(group),
            schema=events_schema(group),
            key="events",
            channel="",
            arg={},
        )

    def connection_event(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        name: str,
        code: str | None,
        message: str | None,
        request_id: str | None,
        attributes: Mapping[str, str],
        exchange_conn_id: str | None,
    ) -> OutRecord:
        destination = self.events_destination(conn.topic_group)
        payload = {
            "event": name,
            "code": code,
            "message": message,
            "request_id": request_id,
            "attributes": dict(attributes),
        }
        return self.channel_record(
            conn, frame, destination, CONNECTION_EVENT, payload, exchange_conn_id=exchange_conn_id
        )

    def session_marker(
        self,
        conn: ConnectionInfo,
        frame: Frame,
        destination: Destination,
        kind: str,
        reason: str,
        detail: str | None = None,
    ) -> OutRecord:
        payload = {"kind": kind, "reason": reason, "detail": detail}
        return self.channel_record(conn, frame, destination, SESSION_MARKER, payload)

    # -- raw and dead letters --------------------------------------------------------------------

    def raw_record(self, conn: ConnectionInfo, frame: Frame) -> OutRecord:
        topic = raw_topic(conn.topic_group)
        try:
            data = self._envelope.raw(
                topic,
                self._raw,
                conn,
                conn.exchange,
                conn.connection,
                conn.connection_id,
                conn.bridge_instance,
                frame.received_us,
                frame.sequence,
                frame.data,
            )
        except Exception:  # noqa: BLE001 - encoded whole below: fastavro's error is raised there
            data = None
        if data is None:
            data = self.encoder.encode(topic, self._raw, self._frame_fields(conn, frame))
        return OutRecord(topic, conn.connection.encode(), data, self._headers(self._raw, conn))

    def deadletter_record(
        self, conn: ConnectionInfo, frame: Frame, stage: str, error: str
    ) -> OutRecord:
        # The error may quote the frame, lone surrogates from JSON escapes included: keep them
        # readable instead of failing to encode the very record that reports the failure.
        error = error.encode("utf-8", "backslashreplace").decode("utf-8")
        value = {**self._frame_fields(conn, frame), "stage": stage, "error": error}
        return OutRecord(
            self.deadletter_topic,
            conn.connection.encode(),
            self.encoder.encode(self.deadletter_topic, self._deadletter, value),
            self._headers(self._deadletter, conn),
        )

    @staticmethod
    def _frame_fields(conn: ConnectionInfo, frame: Frame) -> dict[str, Any]:
        is_text = isinstance(frame.data, str)
        return {
            "exchange": conn.exchange,
            "connection": conn.connection,
            "connection_id": conn.connection_id,
            "receive_time": frame.received_us,
            "sequence": frame.sequence,
            "bridge_instance": conn.bridge_instance,
            "frame_type": "text" if is_text else "binary",
            "data": frame.data.encode() if isinstance(frame.data, str) else frame.data,
        }

    @staticmethod
    def _headers(schema: Schema, conn: ConnectionInfo) -> list[tuple[str, bytes]]:
        return [*schema.headers, ("bridge.exchange", conn.exchange.encode())]
