"""OKX v5 end to end: simulator → bridge → Avro on a real Kafka broker → decoded back."""

from __future__ import annotations

import json
import logging

import pytest

from bridge.sandbox.okx import (
    BUSINESS_PATH,
    PUBLIC_PATH,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    OkxAccount,
    OkxSimulator,
)
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    ms,
    payload_kind,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

KEY, SECRET, PASSPHRASE = "test-api-key", "s3cr3t-Value-XYZ", "pa55-Phrase-QRS"
SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]
SEED_CALENDAR = json.loads(SEED_CALENDAR_FRAME)["data"][0]


def public(sim: OkxSimulator, *subscriptions: dict[str, str], **extra: object) -> dict[str, object]:
    return {
        "name": "okx-public",
        "exchange": "okx",
        "url": sim.url(PUBLIC_PATH),
        "subscriptions": list(subscriptions) or [{"channel": "status"}],
        **fast_reconnect(**extra),
    }


def business(sim: OkxSimulator, secret: str = SECRET, **extra: object) -> dict[str, object]:
    return {
        "name": "okx-business",
        "exchange": "okx",
        "url": sim.url(BUSINESS_PATH),
        "tls": {"ca_file": sim.ca_file} if sim.ca_file else {},
        "credentials": {"api_key": KEY, "secret_key": secret, "passphrase": PASSPHRASE},
        "subscriptions": [{"channel": "economic-calendar"}],
        **fast_reconnect(**extra),
    }


def accounts() -> dict[str, OkxAccount]:
    return {KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1)}


async def test_status_and_economic_calendar_arrive_with_every_field(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(tls=True, accounts=accounts()) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [{**public(sim), "tls": {"ca_file": sim.ca_file}}, business(sim)],
        )
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: all(s.subscribed for s in bridge.sessions), what="subscriptions"
            )
            assert bridge.readiness_problems() == []
            assert "bridge_ready 1.0" in bridge.metrics.render().decode()
            await sim.push_calendar(SEED_CALENDAR)

            status = await read_topic(
                kafka_bootstrap, prefix + "okx.status", lambda rs: bool(payloads(rs, "Status"))
            )
            calendar = await read_topic(
                kafka_bootstrap,
                prefix + "okx.economic-calendar",
                lambda rs: bool(payloads(rs, "EconomicCalendar")),
            )
            events = await read_topic(
                kafka_bootstrap,
                prefix + "okx.events",
                lambda rs: bool(payloads(rs, "ConnectionEvent")),
            )
            raw = await read_topic(
                kafka_bootstrap,
                prefix + "okx.raw",
                lambda rs: (
                    {SEED_STATUS_FRAME.encode(), SEED_CALENDAR_FRAME.encode()}
                    <= {r.value["data"] for r in rs}
                ),
            )

    # subscription acks, one per arg, on the channel's topic
    [ack] = payloads(status, "SubscriptionEvent")
    assert ack["event"] == "subscribe" and ack["request_id"] and ack["code"] is None
    [calendar_ack] = payloads(calendar, "SubscriptionEvent")
    assert calendar_ack["event"] == "subscribe"

    # the seed's status push, every field with its type and value
    [push_record] = [r for r in status if payload_kind(r) == "Status"]
    meta = push_record.value
    assert (meta["exchange"], meta["channel"], meta["arg"]) == (
        "okx",
        "status",
        {"channel": "status"},
    )
    assert meta["connection"] == "okx-public" and meta["connection_id"].startswith("okx-public#")
    assert meta["exchange_connection_id"] is None  # pushes carry no connId; acks do
    assert meta["sequence"] >= 2 and meta["bridge_instance"] == "test"
    assert ms(meta["event_time"]) == 1672826038470
    assert push_record.key == "status"
    s = payloads(status, "Status")[0]
    assert ms(s["begin"]) == 1672823400000 and ms(s["end"]) == 1672825980000
    assert s["preOpenBegin"] is None and ms(s["ts"]) == 1672826038470
    for field in (
        "href",
        "scheDesc",
        "serviceType",
        "state",
        "system",
        "maintType",
        "env",
        "title",
    ):
        assert s[field] == SEED_STATUS[field], field
    assert s["extra"] == {}

    c = payloads(calendar, "EconomicCalendar")[0]
    for field in ("date", "refDate", "ts"):
        assert ms(c[field]) == int(SEED_CALENDAR[field]), field
    for field in (
        "calendarId",
        "region",
        "category",
        "event",
        "actual",
        "previous",
        "forecast",
        "importance",
        "prevInitial",
        "ccy",
        "unit",
    ):
        assert c[field] == SEED_CALENDAR[field], field

    # the login result is a connection event; raw frames are kept byte for byte
    login = payloads(events, "ConnectionEvent")[0]
    assert (login["event"], login["code"]) == ("login", "0")
    assert all(r.value["frame_type"] == "text" for r in raw)


async def test_bad_login_is_recorded_backs_off_and_never_logs_the_secret(
    kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prefix = unique_prefix()
    async with OkxSimulator(accounts=accounts()) as sim:
        wrong_secret = "Wr0ng-Secret-Value-123"
        settings = bridge_settings(kafka_bootstrap, prefix, [business(sim, secret=wrong_secret)])
        async with running_bridge(settings) as bridge:
            events = await read_topic(
                kafka_bootstrap,
                prefix + "okx.events",
                lambda rs: sum(p["event"] == "error" for p in payloads(rs, "ConnectionEvent")) >= 2,
            )
            await wait_until(lambda: sim.stats.logins_failed >= 3, what="three login attempts")
            text = bridge.metrics.render().decode()
            attempts = sim.stats.connects_total
            failures = [p for p in payloads(events, "ConnectionEvent") if p["event"] == "error"]
    assert failures[0]["code"] == "60007" and failures[0]["message"]
    # backoff 0.2 s doubling to 1 s: a tight loop would make dozens of attempts by now
    assert 3 <= attempts <= 8
    assert (
        'bridge_reconnects_total{connection="okx-business",exchange="okx",reason="login_failed"}'
        in text
    )
    assert 'bridge_exchange_errors_total{code="60007",exchange="okx"}' in text
    assert (
        'bridge_subscriptions{connection="okx-business",exchange="okx",state="subscribed"} 0.0'
        in text
    )
    # the bridge's own log lines, at DEBUG, including its WebSocket client's (the simulator
    # plays the exchange and is allowed to see what the exchange sees)
    bridge_lines = "\n".join(
        r.getMessage()
        for r in caplog.records
        if not r.name.startswith(("bridge.sandbox", "websockets.server"))
    )
    assert "login" in bridge_lines and "> TEXT" in bridge_lines
    for secret in (wrong_secret, PASSPHRASE, KEY):
        assert secret not in bridge_lines
        assert secret not in text


async def test_malformed_frame_goes_to_dead_letters_and_the_connection_stays_up(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    bad = '{"arg":{"channel":"status"},"data":[{"begin":"not-a-time"'
    async with OkxSimulator() as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [public(sim)])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.send_raw(bad)
            await sim.send_raw(b"\x00\x01binary-garbage")
            await sim.push_status({**SEED_STATUS, "state": "ongoing", "ts": "1672826099999"})
            dead = await read_topic(
                kafka_bootstrap, prefix + "bridge.deadletter", lambda rs: len(rs) >= 2
            )
            status = await read_topic(
                kafka_bootstrap,
                prefix + "okx.status",
                lambda rs: any(p["state"] == "ongoing" for p in payloads(rs, "Status")),
            )
            assert sim.stats.connects_total == 1
    assert [r.value["data"] for r in dead] == [bad.encode(), b"\x00\x01binary-garbage"]
    assert {r.value["stage"] for r in dead} == {"classify"}
    assert all(r.value["connection"] == "okx-public" and r.value["error"] for r in dead)
    assert [r.value["frame_type"] for r in dead] == ["text", "binary"]
    assert status


async def test_disconnect_and_notice_resubscribe_with_markers_and_no_duplicates(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    changes = [
        {**SEED_STATUS, "state": state, "ts": str(1700000000000 + n)}
        for n, state in enumerate(["scheduled", "ongoing", "pre_open", "completed"])
    ]
    async with OkxSimulator(notice_close_delay=1.5) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [public(sim)])
        async with running_bridge(settings) as bridge:
            session = bridge.sessions[0]
            await wait_until(lambda: session.subscribed, what="subscription")
            await sim.push_status(changes[0])
            await sim.drop_connections()  # abrupt: no close frame
            await wait_until(
                lambda: sim.stats.connects_total == 2 and session.subscribed, what="resubscribe"
            )
            await sim.push_status(changes[1])
            await sim.send_notice()  # 64008, then the server closes after 1.5 s
            await wait_until(lambda: sim.stats.connects_total == 3, what="replacement connection")
            await sim.push_status(changes[2])  # both connections are subscribed now
            await wait_until(lambda: len(sim.connections) == 1, what="old connection closed")
            await sim.push_status(changes[3])
            records = await read_topic(
                kafka_bootstrap,
                prefix + "okx.status",
                lambda rs: any(
                    p["state"] == "completed" and ms(p["ts"]) == 1700000000003
                    for p in payloads(rs, "Status")
                ),
            )
    pushed = [(p["state"], ms(p["ts"])) for p in payloads(records, "Status")]
    expected = [(SEED_STATUS["state"], int(SEED_STATUS["ts"]))] + [
        (c["state"], int(c["ts"])) for c in changes
    ]
    assert pushed == expected  # every change once, in order, none duplicated by the overlap
    markers = [(m["kind"], m["reason"]) for m in payloads(records, "SessionMarker")]
    assert markers[:2] == [("resubscribed", "started"), ("disconnected", "connection_lost")]
    assert ("resubscribed", "reconnected") in markers
    assert ("handover", "replacement_subscribed") in markers
    acks = payloads(records, "SubscriptionEvent")
    assert len(acks) == 3  # one per connection
    assert (
        len({r.value["connection_id"] for r in records if payload_kind(r) == "SubscriptionEvent"})
        == 3
    )


async def test_keepalive_pings_prevent_the_idle_close(kafka_bootstrap: str) -> None:
    async with OkxSimulator(idle_timeout=1.0, initial_status=None) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            unique_prefix(),
            [public(sim, keepalive_seconds=0.3, idle_timeout_seconds=5)],
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await wait_until(lambda: sim.stats.pings >= 5, timeout=10, what="pings")
            assert sim.stats.idle_closes == 0 and sim.stats.connects_total == 1


async def test_silence_without_pongs_triggers_a_reconnect(kafka_bootstrap: str) -> None:
    """A connection whose server stops answering (half-open) is replaced after idle_timeout."""
    async with OkxSimulator(initial_status=None) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            unique_prefix(),
            [public(sim, keepalive_seconds=0.2, idle_timeout_seconds=0.8)],
        )
        sim.answer_pings = False
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: sim.stats.connects_total >= 2, timeout=10, what="reconnect")
            text = bridge.metrics.render().decode()
    assert 'reason="silence"' in text
