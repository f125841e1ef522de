"""OKX typed channels end to end: the simulator's candles, public data and private channels
through the bridge and Kafka, decoded, every field equal to what the frame on ``okx.raw``
carried (prices and sizes as the same text, timestamps as the same instant), nothing left over
in ``extra``, and ``event_time`` the documented time of each record."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from bridge.avro.decode import TailedRecord
from bridge.sandbox.okx import BUSINESS_PATH, PRIVATE_PATH, PUBLIC_PATH, OkxAccount, OkxSimulator
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    ms,
    payload_kind,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

KEY, SECRET, PASSPHRASE = "typed-key", "typed-Secret-3", "typed-Pass-5"
INSTRUMENTS = {"BTC-USDT", "BTC-USDT-SWAP", "BTC-USD"}
PUBLIC = [
    {"channel": "tickers", "instId": "BTC-USDT"},
    {"channel": "trades", "instId": "BTC-USDT"},
    {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
    {"channel": "index-tickers", "instId": "BTC-USD"},
    {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
    {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
    {"channel": "price-limit", "instId": "BTC-USDT-SWAP"},
    {"channel": "opt-summary", "instFamily": "BTC-USD"},
    {"channel": "estimated-price", "instType": "FUTURES", "instFamily": "BTC-USD"},
    {"channel": "liquidation-orders", "instType": "SWAP"},
    {"channel": "instruments", "instType": "SPOT"},
]
BUSINESS = [
    {"channel": "trades-all", "instId": "BTC-USDT"},
    {"channel": "candle1m", "instId": "BTC-USDT"},
    {"channel": "candle1s", "instId": "BTC-USDT"},
    {"channel": "mark-price-candle1m", "instId": "BTC-USDT-SWAP"},
    {"channel": "index-candle1m", "instId": "BTC-USD"},
    {"channel": "orders-algo", "instType": "ANY"},
]
PRIVATE = [
    {"channel": "account"},
    {"channel": "positions", "instType": "ANY"},
    {"channel": "balance_and_position"},
    {"channel": "orders", "instType": "ANY"},
    {"channel": "fills"},
]
CANDLE_COLUMNS = {
    "candle": ["ts", "o", "h", "l", "c", "vol", "volCcy", "volCcyQuote", "confirm"],
    "mark-price-candle": ["ts", "o", "h", "l", "c", "confirm"],
    "index-candle": ["ts", "o", "h", "l", "c", "confirm"],
}
# The documented time of each record (event_time); instruments have none.
EVENT_TIME = {"account": "uTime", "orders": "uTime", "orders-algo": "uTime", "positions": "pTime"}
EVENT_TIME |= {"balance_and_position": "pTime"}


def connection(name: str, url: str, args: list[dict[str, str]], login: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if login:
        extra["credentials"] = {"api_key": KEY, "secret_key": SECRET, "passphrase": PASSPHRASE}
    return {
        "name": name,
        "exchange": "okx",
        "url": url,
        "subscriptions": args,
        **extra,
        **fast_reconnect(),
    }


def same(decoded: Any, sent: Any, where: str) -> None:
    """A decoded value is what was sent: the same text, the same instant, the same nesting."""
    if isinstance(decoded, tuple):  # a record in a union, decoded with its name
        decoded = decoded[1]
    if isinstance(decoded, dt.datetime):
        assert isinstance(sent, str) and ms(decoded) == int(sent), where
    elif decoded is None:
        assert sent in (None, ""), (where, sent)  # "" is null for a timestamp
    elif isinstance(decoded, dict):
        assert isinstance(sent, dict), where
        record(decoded, sent, where)
    elif isinstance(decoded, list):
        assert isinstance(sent, list) and len(decoded) == len(sent), where
        for index, (d, s) in enumerate(zip(decoded, sent, strict=True)):
            same(d, s, f"{where}[{index}]")
    else:
        assert decoded == sent and type(decoded) is type(sent), (where, decoded, sent)


def record(payload: dict[str, Any], element: dict[str, Any], where: str) -> None:
    """Every field sent is typed, with its value; nothing is left in extra."""
    assert payload["extra"] == {}, (where, payload["extra"])
    assert set(element) <= set(payload), (where, set(element) - set(payload))
    for name, sent in element.items():
        same(payload[name], sent, f"{where}.{name}")


def raw_frames(raw: list[TailedRecord]) -> dict[tuple[str, int], Any]:
    return {
        (r.value["connection_id"], r.value["sequence"]): json.loads(r.value["data"]) for r in raw
    }


def check_topic(records: list[TailedRecord], frames: dict[tuple[str, int], Any]) -> int:
    """Each typed record against the element of the raw frame it came from; how many."""
    checked = 0
    position: dict[tuple[str, int], int] = {}
    for rec in records:
        kind = payload_kind(rec)
        if kind in ("SubscriptionEvent", "SessionMarker"):
            continue
        origin = (rec.value["connection_id"], rec.value["sequence"])
        frame = frames[origin]
        index = position[origin] = position.get(origin, -1) + 1
        element = frame["data"][index]
        payload = dict(rec.value["payload"][1])
        channel = frame["arg"]["channel"]
        assert rec.value["channel"] == channel and rec.value["arg"] == frame["arg"]
        family = next((f for f in CANDLE_COLUMNS if channel.startswith(f)), None)
        if family and channel.removeprefix(family)[:1].isdigit():
            assert payload.pop("extra") == []
            columns = CANDLE_COLUMNS[family]
            assert list(payload) == columns
            for name, sent in zip(columns, element, strict=True):
                same(payload[name], sent, f"{channel}.{name}")
            assert rec.value["event_time"] == payload["ts"]  # the candle's start
            checked += 1
            continue
        for name in ("eventType", "curPage", "lastPage"):  # account and positions: the push's
            if name in payload and channel in ("account", "positions"):
                same(payload[name], frame.get(name), f"{channel}.{name}")
                del payload[name]
        record(payload, element, channel)
        if channel == "instruments":
            assert rec.value["event_time"] is None
        elif channel == "liquidation-orders":
            assert rec.value["event_time"] == max(d["ts"] for d in payload["details"])
        else:
            assert rec.value["event_time"] == payload[EVENT_TIME.get(channel, "ts")], channel
        checked += 1
    return checked


async def test_candles_public_data_and_private_channels_arrive_with_every_field(
    kafka_bootstrap: str,
) -> None:
    prefix = unique_prefix()
    accounts = {KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=4)}
    rates = {name: 8.0 for name in ("tickers", "trades", "candles", "market", "private")}
    async with OkxSimulator(
        accounts=accounts, instruments=INSTRUMENTS, rates=rates, initial_status=None
    ) as sim:
        settings = bridge_settings(
            kafka_bootstrap,
            prefix,
            [
                connection("okx-public", sim.url(PUBLIC_PATH), PUBLIC, login=False),
                connection("okx-business", sim.url(BUSINESS_PATH), BUSINESS, login=True),
                connection("okx-private", sim.url(PRIVATE_PATH), PRIVATE, login=True),
            ],
        )
        async with running_bridge(settings) as bridge:
            await wait_until(
                lambda: all(s.subscribed for s in bridge.sessions), what="subscriptions"
            )
            channels = [a["channel"] for a in PUBLIC + BUSINESS + PRIVATE]
            await wait_until(
                lambda: all(sim.stats.pushes_sent[c] >= 2 for c in channels),
                timeout=30,
                what="pushes on every channel",
            )
            await sim.pause_generators()
            sent = sum(sim.stats.pushes_sent.values())
            await wait_until(
                lambda: sum(s.frames for s in bridge.sessions) >= sent, what="every frame read"
            )

    raw = await read_topic(kafka_bootstrap, prefix + "okx.raw", lambda rs: len(rs) >= sent)
    frames = raw_frames(raw)
    totals: dict[str, int] = {}
    for channel in dict.fromkeys(channels):
        records = await read_topic(
            kafka_bootstrap,
            prefix + f"okx.{channel}",
            lambda rs, c=channel: (
                sum(payload_kind(r) not in ("SubscriptionEvent", "SessionMarker") for r in rs)
                >= sum(
                    len(f["data"])
                    for f in frames.values()
                    if f.get("arg", {}).get("channel") == c and "data" in f
                )
            ),
        )
        totals[channel] = check_topic(records, frames)
    assert all(count >= 2 for count in totals.values()), totals
