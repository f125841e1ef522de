"""A refused login, on every exchange whose connections log in (OKX, OKEx v1): the refusal is a
record on the exchange's events topic, the connection backs off and tries again, nothing is
subscribed without a login, and no credential reaches the logs (at DEBUG) or the metrics.

Kraken has no login; its private channels take a token per subscription
(test_private_channels.py covers a refused token)."""

from __future__ import annotations

import logging

import pytest

from tests.integration.exchanges import SECRET, Exchange, exchanges_with
from tests.integration.harness import (
    bridge_log,
    bridge_settings,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

WRONG_SECRET = "Wr0ng-Secret-Value-123"


@exchanges_with("login")
async def test_a_refused_login_is_recorded_backs_off_and_never_logs_the_secret(
    exchange: Exchange, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    login = exchange.login
    assert login is not None
    caplog.set_level(logging.DEBUG)
    prefix = unique_prefix()
    async with exchange.simulator(accounts=login.accounts()) as sim:
        conn = exchange.connection(
            sim,
            login.subscriptions,
            path=login.path,
            name=login.name,
            credentials=login.credentials(WRONG_SECRET),
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            events = await read_topic(
                kafka_bootstrap,
                f"{prefix}{exchange.group}.events",
                lambda rs: sum(p["event"] == "error" for p in payloads(rs, "ConnectionEvent")) >= 2,
            )
            await wait_until(lambda: sim.stats.logins_failed >= 3, what="three login attempts")
            text = bridge.metrics.render().decode()
            attempts = sim.stats.connects_total
            subscribe_requests = sim.stats.subscribe_requests

    failures = [p for p in payloads(events, "ConnectionEvent") if p["event"] == "error"]
    assert {k: failures[0][k] for k in login.error} == login.error
    assert failures[0]["message"]
    # backoff 0.2 s doubling to 1 s: a tight loop would make dozens of attempts by now
    assert 3 <= attempts <= 8
    assert subscribe_requests == 0  # nothing is subscribed without a login
    labels = f'connection="{login.name}",exchange="{exchange.name}"'
    assert f'bridge_reconnects_total{{{labels},reason="login_failed"}}' in text
    assert (
        f'bridge_exchange_errors_total{{code="{login.error["code"]}",exchange="{exchange.name}"}}'
        in text
    )
    assert f'bridge_subscriptions{{{labels},state="subscribed"}} 0.0' in text
    # the bridge's own log lines, at DEBUG, including its WebSocket client's
    lines = bridge_log(caplog.records)
    assert "login" in lines and "> TEXT" in lines
    for secret in {SECRET, *login.credentials(WRONG_SECRET).values()}:
        assert secret not in lines
        assert secret not in text
