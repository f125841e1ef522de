"""Bad input end to end, for every exchange: simulator → bridge → a real Kafka broker.

* A burst of mutated real frames mid-stream: every Unrecognized event the adapter makes of
  them is one record in ``bridge.deadletter`` holding the frame's original bytes (and every
  event that cannot be encoded, one of stage ``encode``), ``bridge_deadletter_total`` counts
  exactly those, the connection stays up, and a push sent after the burst still arrives.
* An oversized frame (above ``max_frame_bytes``) closes the connection (1009), is counted as
  ``bridge_reconnects_total{reason="frame_too_large"}``, leaves a ``disconnected`` session
  marker with that reason on the channel topic, and the bridge reconnects and resubscribes.

What the adapter makes of each burst frame is computed beforehand by an adapter of the same
configuration (classification of data frames does not depend on connection state). The burst
keeps to frames whose meaning is data: a mutation that turns a push into, say, a login failure
or a reconnect notice is a valid message with its own effect, not bad input. Frames that hit
the open adapter bugs pinned in ``tests/unit/exchanges/test_adapter_properties.py`` (they would
cost the connection) are left out, as are pushes to channels the connection is not configured
for (each would create a topic).
"""

from __future__ import annotations

import copy
import json
import random
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.avro.decode import TailedRecord
from bridge.avro.records import Codec
from bridge.errors import SchemaError
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.exchanges.events import Event, ExchangeError, Heartbeat, Pong, Push, Unrecognized
from bridge.frame import ConnectionInfo, Frame
from bridge.runtime.app import Bridge
from bridge.sandbox.kraken import KrakenSimulator
from bridge.sandbox.okex_v1 import OkexV1Simulator
from bridge.sandbox.okx import PUBLIC_PATH, OkxSimulator
from tests.fixtures import load_fixture
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    payloads,
    read_topic,
    running_bridge,
    unique_prefix,
    wait_until,
)

MAX_FRAME_BYTES = 64 * 1024
BURST_MUTATIONS = 40
DATA_EVENTS = (Push, Unrecognized, ExchangeError, Heartbeat, Pong)
"""Events a burst frame may make: data, bad data, and nothing the session acts on."""


# --- the exchanges ------------------------------------------------------------------------------


def deflate(text: str) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(text.encode()) + compressor.flush()


@dataclass(frozen=True)
class Exchange:
    name: str
    simulator: Callable[[], AbstractAsyncContextManager[Any]]
    connection: Callable[[Any], dict[str, Any]]
    base_frames: tuple[str, ...]
    """Fixture frames (data pushes of the configured subscriptions) to mutate."""
    encode_failures: tuple[str, ...]
    """Frames the adapter accepts and the codec cannot encode (unpaired surrogate escapes)."""
    topic: str
    """A channel topic of the connection (before the prefix)."""
    after: Callable[[str], str]
    """A valid push carrying a marker text, sent after the burst."""
    marked: Callable[[TailedRecord, str], bool]
    oversized: str
    """A frame above MAX_FRAME_BYTES."""
    binary_is_deflate: bool = False

    def __str__(self) -> str:
        return self.name


def okx_connection(sim: OkxSimulator) -> dict[str, Any]:
    return {
        "name": "okx-bad-input",
        "exchange": "okx",
        "url": sim.url(PUBLIC_PATH),
        "subscriptions": [{"channel": "status"}, {"channel": "tickers", "instId": "BTC-USDT"}],
    }


def okx_after(marker: str) -> str:
    frame = json.loads(load_fixture("okx", "tickers-push.json"))
    frame["data"][0]["last"] = marker
    return json.dumps(frame)


def okx_oversized() -> str:
    frame = json.loads(load_fixture("okx", "tickers-push.json"))
    frame["data"][0]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


OKX = Exchange(
    name="okx",
    simulator=lambda: OkxSimulator(),
    connection=okx_connection,
    base_frames=(
        load_fixture("okx", "tickers-push.json"),
        load_fixture("okx", "status-push.json"),
    ),
    encode_failures=(r'{"event":"error","code":"60012","msg":"Illegal request \ud800"}',),
    topic="okx.tickers",
    after=okx_after,
    marked=lambda r, marker: (
        r.value["payload"][0].endswith("ChannelData")
        and json.loads(r.value["payload"][1]["data"]).get("last") == marker
    ),
    oversized=okx_oversized(),
)


def okex_connection(sim: OkexV1Simulator) -> dict[str, Any]:
    return {
        "name": "okex-bad-input",
        "exchange": "okex_v1",
        "url": sim.url(),
        "subscriptions": [
            {"channel": "ok_sub_spot_bch_btc_ticker"},
            {"channel": "ok_sub_spot_bch_btc_depth_5"},
            {"channel": "ok_sub_spot_bch_btc_deals"},
            {"channel": "ok_sub_spot_bch_btc_kline_1min"},
        ],
    }


def okex_after(marker: str) -> str:
    frame = json.loads(load_fixture("okex_v1", "ticker-push.json"))
    frame[0]["data"]["last"] = marker
    return json.dumps(frame)


def okex_oversized() -> str:
    frame = json.loads(load_fixture("okex_v1", "ticker-push.json"))
    frame[0]["data"]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


OKEX = Exchange(
    name="okex_v1",
    simulator=lambda: OkexV1Simulator(),
    connection=okex_connection,
    base_frames=tuple(
        load_fixture("okex_v1", name)
        for name in (
            "ticker-push.json",
            "depth-5-push.json",
            "deals-push.json",
            "kline-1min-push.json",
        )
    ),
    encode_failures=(
        r'[{"channel":"ok_sub_spot_bch_btc_ticker","data":{"last":"\ud800","timestamp":"1"}}]',
    ),
    topic="okex.spot.ticker",
    after=okex_after,
    marked=lambda r, marker: (
        r.value["payload"][0].endswith("SpotTicker") and r.value["payload"][1]["last"] == marker
    ),
    oversized=okex_oversized(),
    binary_is_deflate=True,
)


def kraken_connection(sim: KrakenSimulator) -> dict[str, Any]:
    return {
        "name": "kraken-bad-input",
        "exchange": "kraken",
        "url": sim.url(),
        "subscriptions": [
            {"name": "ticker", "pair": ["XBT/USD"]},
            {"name": "trade", "pair": ["XBT/USD"]},
            {"name": "spread", "pair": ["XBT/USD"]},
            {"name": "ohlc", "pair": ["XBT/USD"], "interval": 5},
        ],
    }


def kraken_after(marker: str) -> str:
    frame = json.loads(load_fixture("kraken", "ticker.json"))
    frame[1]["c"] = [marker, "1.0"]
    return json.dumps(frame)


def kraken_oversized() -> str:
    frame = json.loads(load_fixture("kraken", "ticker.json"))
    frame[1]["pad"] = "x" * (MAX_FRAME_BYTES + 1)
    return json.dumps(frame)


KRAKEN = Exchange(
    name="kraken",
    simulator=lambda: KrakenSimulator(),
    connection=kraken_connection,
    base_frames=tuple(
        load_fixture("kraken", name) for name in ("ticker.json", "trade.json", "spread.json")
    )
    + (load_fixture("kraken", "ohlc.json"),),
    encode_failures=(r'[0,{"c":["5525.1","0.1"],"x":"\udc00"},"ticker","XBT/USD"]',),
    topic="kraken.ticker",
    after=kraken_after,
    marked=lambda r, marker: (
        r.value["payload"][0].endswith("Ticker") and r.value["payload"][1]["close_price"] == marker
    ),
    oversized=kraken_oversized(),
)

each_exchange = pytest.mark.parametrize("exchange", [OKX, OKEX, KRAKEN], ids=str)


# --- mutations, seeded --------------------------------------------------------------------------

GARBAGE: list[str | bytes] = [
    "",
    " ",
    "not json",
    "{",
    "[",
    "null",
    "[]",
    "{}",
    "[NaN]",
    '{"a":Infinity}',
    "9" * 5000,
    "[" * 20_000,
    "\ufeff[]",
    b"\xff\xfe\x00\x01",
    bytes(range(256)),
]
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    1.5e300,
    "",
    "x",
    "9" * 40,
    [],
    {},
    "é中😀\u202e",
    "\x00",
]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _mutate_json(value: Any, rng: random.Random) -> Any:
    value = copy.deepcopy(value)
    path = rng.choice(_paths(value)[1:] or [()])
    if not path:
        return rng.choice(ODD_VALUES)
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    op = rng.choice(["delete", "replace", "replace", "nest"])
    if op == "delete":
        del parent[path[-1]]
    elif op == "replace":
        parent[path[-1]] = rng.choice(ODD_VALUES)
    else:
        nested = parent[path[-1]]
        for _ in range(rng.randrange(1, 60)):
            nested = [nested]
        parent[path[-1]] = nested
    return value


def mutate(text: str, rng: random.Random) -> str | bytes:
    """One seeded mutation of a frame: bytes flipped, cut, inserted or removed, or a JSON key
    deleted, a value's type swapped, a value nested deeply."""
    op = rng.choice(["flip", "truncate", "insert", "delete", "json", "json", "json"])
    data = text.encode()
    i = rng.randrange(len(data))
    if op == "flip":
        data = data[:i] + bytes([data[i] ^ rng.randrange(1, 256)]) + data[i + 1 :]
    elif op == "truncate":
        data = data[:i]
    elif op == "insert":
        data = (
            data[:i] + rng.choice(['"', "{", "]", ",", ":", "\\", "é", "\x00"]).encode() + data[i:]
        )
    elif op == "delete":
        data = data[:i] + data[i + rng.randrange(1, 20) :]
    else:
        mutated = _mutate_json(json.loads(text), rng)
        return json.dumps(mutated, ensure_ascii=rng.random() < 0.5)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # sent as a binary frame


# --- what the bridge is expected to make of a frame ---------------------------------------------


@dataclass
class Expected:
    classify: int = 0
    encode: int = 0


def offline_adapter(exchange: Exchange, connection: dict[str, Any]) -> Adapter:
    adapter = adapter_class(exchange.name)(connection["subscriptions"], None)
    adapter.connection_made(0.0)
    adapter.data_to_send()
    return adapter


def expected_dead_letters(
    adapter: Adapter, codec: Codec, conn: ConnectionInfo, data: str | bytes
) -> Expected | None:
    """How many dead letters of each stage the bridge writes for ``data``; None when the frame
    is not bad input for this test (see the module docstring)."""
    configured = {(d.topic, d.key) for d in adapter.destinations()}
    events: list[Event] = adapter.receive(data, 1_504_526_400_000_000)
    if not all(isinstance(e, DATA_EVENTS) for e in events):
        return None
    expected = Expected()
    frame = Frame(data, 1, 1)
    for event in events:
        if isinstance(event, Push) and (event.destination.topic, event.destination.key) not in (
            configured
        ):
            return None
        try:
            if isinstance(event, Unrecognized):
                codec.deadletter_record(conn, frame, "classify", event.reason)
                expected.classify += 1
            else:
                codec.records_for(conn, frame, event)
        except (SchemaError, ValueError, TypeError, KeyError):
            if isinstance(event, Unrecognized):
                return None  # an open bug: the dead letter itself cannot be encoded
            expected.encode += 1  # what the pipeline dead-letters at stage "encode"
        except Exception:  # noqa: BLE001 - any other error is an open bug (costs the connection)
            return None
    return expected


def burst_for(
    exchange: Exchange, connection: dict[str, Any]
) -> tuple[list[str | bytes], Counter[tuple[bytes, str]]]:
    """The burst (garbage, seeded mutations of real frames, frames that cannot be encoded) and
    the dead letters it must produce: (frame bytes, stage) -> count."""
    rng = random.Random(f"bad-input-{exchange.name}")
    adapter = offline_adapter(exchange, connection)
    codec = Codec()
    conn = ConnectionInfo(exchange.name, adapter.topic_prefix, "offline", "offline#1", "test")
    candidates: list[str | bytes] = [*GARBAGE, *exchange.encode_failures]
    if exchange.binary_is_deflate:
        candidates += [deflate(text) for text in exchange.base_frames] + [b"\x00garbage"]
    mutations = 0
    for _ in range(1000):
        if mutations == BURST_MUTATIONS:
            break
        data = mutate(rng.choice(exchange.base_frames), rng)
        if exchange.binary_is_deflate and isinstance(data, str) and rng.random() < 0.3:
            data = deflate(data)
        if data in candidates or data in exchange.base_frames:
            continue
        if expected_dead_letters(copy.deepcopy(adapter), codec, conn, data) is not None:
            candidates.append(data)
            mutations += 1
    assert mutations == BURST_MUTATIONS

    burst: list[str | bytes] = []
    dead_letters: Counter[tuple[bytes, str]] = Counter()
    for data in candidates:
        expected = expected_dead_letters(adapter, codec, conn, data)
        if expected is None:
            continue
        burst.append(data)
        raw = data.encode() if isinstance(data, str) else data
        dead_letters[(raw, "classify")] += expected.classify
        dead_letters[(raw, "encode")] += expected.encode
    rng.shuffle(burst)
    return burst, +dead_letters


# --- helpers ------------------------------------------------------------------------------------


def sample(bridge: Bridge, name: str, **labels: str) -> float:
    """One sample of the bridge's metrics (0 when the series does not exist yet)."""
    return bridge.metrics.registry.get_sample_value(name, labels) or 0.0


async def send(sim: Any, data: str | bytes) -> None:
    await sim.send_raw(data)


def reconnect_reasons(bridge: Bridge) -> dict[str, float]:
    """bridge_reconnects_total by reason, the reasons counted at least once."""
    return {
        sample.labels["reason"]: sample.value
        for metric in bridge.metrics.reconnects.collect()
        for sample in metric.samples
        if sample.name == "bridge_reconnects_total" and sample.value
    }


# --- the tests ----------------------------------------------------------------------------------


@each_exchange
async def test_a_burst_of_mutated_frames_is_dead_lettered_and_the_connection_stays_up(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    prefix = unique_prefix()
    async with exchange.simulator() as sim:
        connection = {**exchange.connection(sim), **fast_reconnect()}
        burst, expected = burst_for(exchange, connection)
        name = connection["name"]
        settings = bridge_settings(kafka_bootstrap, prefix, [connection])
        async with running_bridge(settings) as bridge:
            [session] = bridge.sessions
            await wait_until(lambda: session.subscribed, what="subscriptions")
            connects = sim.stats.connects_total
            frames = sample(
                bridge, "bridge_frames_received_total", exchange=exchange.name, connection=name
            )
            before = {
                stage: sample(bridge, "bridge_deadletter_total", reason=stage)
                for stage in ("classify", "encode")
            }
            unrecognized = sample(
                bridge,
                "bridge_events_total",
                exchange=exchange.name,
                connection=name,
                type="Unrecognized",
            )

            for data in burst:
                await send(sim, data)
            await wait_until(
                lambda: (
                    sample(
                        bridge,
                        "bridge_frames_received_total",
                        exchange=exchange.name,
                        connection=name,
                    )
                    >= frames + len(burst)
                ),
                what="the burst to be read",
            )
            await send(sim, exchange.after("424242.5"))
            after = await read_topic(
                kafka_bootstrap,
                prefix + exchange.topic,
                lambda rs: any(exchange.marked(r, "424242.5") for r in rs),
            )
            counted = {
                stage: sample(bridge, "bridge_deadletter_total", reason=stage) - before[stage]
                for stage in ("classify", "encode")
            }
            unrecognized = (
                sample(
                    bridge,
                    "bridge_events_total",
                    exchange=exchange.name,
                    connection=name,
                    type="Unrecognized",
                )
                - unrecognized
            )
            dead = await read_topic(
                kafka_bootstrap,
                prefix + "bridge.deadletter",
                lambda rs: len(rs) >= sum(counted.values()),
            )
            reconnects = reconnect_reasons(bridge)
            assert session.subscribed
            assert sim.stats.connects_total == connects

    # the connection stayed up: no reconnect, on either side
    assert reconnects == {}
    # every frame the adapter could not classify is a dead letter with its bytes, and only those
    got = Counter((r.value["data"], r.value["stage"]) for r in dead)
    assert got == expected
    assert {r.value["connection"] for r in dead} == {name}
    assert counted == {
        "classify": sum(n for (_, stage), n in expected.items() if stage == "classify"),
        "encode": sum(n for (_, stage), n in expected.items() if stage == "encode"),
    }
    assert unrecognized == counted["classify"]
    assert counted["classify"] > len(GARBAGE) and counted["encode"] >= 1
    # the push sent after the burst arrived, after the burst's frames
    [marked] = [r for r in after if exchange.marked(r, "424242.5")]
    assert marked.value["sequence"] > max(r.value["sequence"] for r in dead)


@each_exchange
async def test_an_oversized_frame_closes_the_connection_which_comes_back(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    prefix = unique_prefix()
    async with exchange.simulator() as sim:
        connection = {
            **exchange.connection(sim),
            **fast_reconnect(max_frame_bytes=MAX_FRAME_BYTES),
        }
        name = connection["name"]
        settings = bridge_settings(kafka_bootstrap, prefix, [connection])
        async with running_bridge(settings) as bridge:
            [session] = bridge.sessions
            await wait_until(lambda: session.subscribed, what="subscriptions")
            connects = sim.stats.connects_total
            assert len(exchange.oversized.encode()) > MAX_FRAME_BYTES

            await send(sim, exchange.oversized)
            await wait_until(
                lambda: (
                    sample(
                        bridge,
                        "bridge_reconnects_total",
                        exchange=exchange.name,
                        connection=name,
                        reason="frame_too_large",
                    )
                    == 1
                ),
                what="the frame_too_large reconnect",
            )
            await wait_until(
                lambda: sim.stats.connects_total == connects + 1 and session.subscribed,
                timeout=15,
                what="the reconnect and resubscription",
            )
            await send(sim, exchange.after("515151.5"))
            records = await read_topic(
                kafka_bootstrap,
                prefix + exchange.topic,
                lambda rs: any(exchange.marked(r, "515151.5") for r in rs),
            )
            reasons = reconnect_reasons(bridge)

    assert reasons == {"frame_too_large": 1.0}
    markers = payloads(records, "SessionMarker")
    assert [(m["kind"], m["reason"]) for m in markers] == [
        ("resubscribed", "started"),
        ("disconnected", "frame_too_large"),
        ("resubscribed", "reconnected"),
    ]
    # pushes flow again on the new connection, after the markers
    ids = [r.value["connection_id"] for r in records if exchange.marked(r, "515151.5")]
    assert ids == [f"{name}#2"]
