"""Bad input end to end, for every exchange: simulator → bridge → a real Kafka broker.

* Malformed frames (the exchange table's ``malformed``: a push that does not parse or type, a
  binary frame that is not what the exchange sends) are dead letters in the order sent, with
  their bytes, frame type and the reason, and the connection stays up.
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
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bridge.avro.records import Codec
from bridge.errors import SchemaError
from bridge.exchanges import adapter_class
from bridge.exchanges.base import Adapter
from bridge.exchanges.events import Event, ExchangeError, Heartbeat, Pong, Push, Unrecognized
from bridge.frame import ConnectionInfo, Frame
from bridge.sandbox.okex_v1 import deflate
from tests.integration.exchanges import MAX_FRAME_BYTES, OKX, Exchange, each_exchange
from tests.integration.harness import (
    bridge_settings,
    markers,
    read_topic,
    read_topics,
    reconnect_reasons,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)

BURST_MUTATIONS = 40
DATA_EVENTS = (Push, Unrecognized, ExchangeError, Heartbeat, Pong)
"""Events a burst frame may make: data, bad data, and nothing the session acts on."""


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


def offline_adapter(exchange: Exchange) -> Adapter:
    adapter = adapter_class(exchange.name)(exchange.bad_input_subscriptions, None)
    adapter.connection_made(0.0)
    adapter.data_to_send()
    return adapter


def expected_dead_letters(
    adapter: Adapter, codec: Codec, conn: ConnectionInfo, data: str | bytes
) -> Expected | None:
    """How many dead letters of each stage the bridge writes for ``data``; None when the frame
    is not bad input for this test (see the module docstring)."""
    configured = {(d.topic, d.key) for d in adapter.destinations(adapter.subscriptions)}
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


def burst_for(exchange: Exchange) -> tuple[list[str | bytes], Counter[tuple[bytes, str]]]:
    """The burst (garbage, seeded mutations of real frames, frames that cannot be encoded) and
    the dead letters it must produce: (frame bytes, stage) -> count."""
    rng = random.Random(f"bad-input-{exchange.name}")
    adapter = offline_adapter(exchange)
    codec = Codec()
    conn = ConnectionInfo(exchange.name, adapter.topic_group, "offline", "offline#1", "test")
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


# --- the tests ----------------------------------------------------------------------------------


@each_exchange
async def test_malformed_frames_go_to_dead_letters_and_the_connection_stays_up(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    prefix = unique_prefix()
    async with exchange.simulator() as sim:
        conn = exchange.connection(sim, exchange.bad_input_subscriptions)
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            for bad in exchange.malformed:
                await sim.send_raw(bad.data)
            await sim.send_raw(exchange.marked_push("42.5"))
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                ["bridge.deadletter", exchange.topic],
                lambda f: (
                    len(f["bridge.deadletter"]) == len(exchange.malformed)
                    and any(exchange.is_marked(r, "42.5") for r in f[exchange.topic])
                ),
            )
            assert sim.stats.connects_total == 1
    dead = [r.value for r in found["bridge.deadletter"]]
    expected = [
        bad.data.encode() if isinstance(bad.data, str) else bad.data for bad in exchange.malformed
    ]
    assert [d["data"] for d in dead] == expected
    assert [d["frame_type"] for d in dead] == [bad.frame_type for bad in exchange.malformed]
    assert {d["stage"] for d in dead} == {"classify"}
    for d, bad in zip(dead, exchange.malformed, strict=True):
        assert (d["exchange"], d["connection"]) == (exchange.name, conn["name"])
        assert d["error"] and bad.error in d["error"], d["error"]


@each_exchange
async def test_a_burst_of_mutated_frames_is_dead_lettered_and_the_connection_stays_up(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    prefix = unique_prefix()
    burst, expected = burst_for(exchange)
    async with exchange.simulator() as sim:
        connection = exchange.connection(sim, exchange.bad_input_subscriptions)
        name = connection["name"]
        settings = bridge_settings(kafka_bootstrap, prefix, [connection])
        async with running_bridge(settings) as bridge:
            [session] = bridge.sessions
            await wait_until(lambda: session.subscribed, what="subscriptions")
            connects = sim.stats.connects_total
            labels = {"exchange": exchange.name, "connection": name}
            frames = sample(bridge, "bridge_frames_received_total", **labels)
            before = {
                stage: sample(bridge, "bridge_deadletter_total", reason=stage)
                for stage in ("classify", "encode")
            }
            unrecognized = sample(bridge, "bridge_events_total", **labels, type="Unrecognized")

            for data in burst:
                await sim.send_raw(data)
            await wait_until(
                lambda: (
                    sample(bridge, "bridge_frames_received_total", **labels) >= frames + len(burst)
                ),
                what="the burst to be read",
            )
            after = await exchange.push_marked(sim, kafka_bootstrap, prefix, "424242.5")
            counted = {
                stage: sample(bridge, "bridge_deadletter_total", reason=stage) - before[stage]
                for stage in ("classify", "encode")
            }
            unrecognized = (
                sample(bridge, "bridge_events_total", **labels, type="Unrecognized") - unrecognized
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
    [marked] = [r for r in after if exchange.is_marked(r, "424242.5")]
    assert marked.value["sequence"] > max(r.value["sequence"] for r in dead)


@each_exchange
async def test_an_oversized_frame_closes_the_connection_which_comes_back(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    prefix = unique_prefix()
    async with exchange.simulator() as sim:
        connection = exchange.connection(
            sim, exchange.bad_input_subscriptions, max_frame_bytes=MAX_FRAME_BYTES
        )
        name = connection["name"]
        settings = bridge_settings(kafka_bootstrap, prefix, [connection])
        async with running_bridge(settings) as bridge:
            [session] = bridge.sessions
            await wait_until(lambda: session.subscribed, what="subscriptions")
            connects = sim.stats.connects_total
            assert len(exchange.oversized.encode()) > MAX_FRAME_BYTES

            await sim.send_raw(exchange.oversized)
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
            records = await exchange.push_marked(sim, kafka_bootstrap, prefix, "515151.5")
            reasons = reconnect_reasons(bridge)

    assert reasons == {"frame_too_large": 1.0}
    assert markers(records) == [
        ("resubscribed", "started"),
        ("disconnected", "frame_too_large"),
        ("resubscribed", "reconnected"),
    ]
    # pushes flow again on the new connection, after the markers
    ids = [r.value["connection_id"] for r in records if exchange.is_marked(r, "515151.5")]
    assert ids == [f"{name}#2"]


async def test_a_text_frame_that_is_not_utf8_is_counted_as_such(kafka_bootstrap: str) -> None:
    """RFC 6455 has the client close with 1007; the reconnect says why (not
    ``connection_lost``), and the connection comes back."""
    prefix = unique_prefix()
    async with OKX.simulator(initial_status=None) as sim:
        settings = bridge_settings(kafka_bootstrap, prefix, [OKX.connection(sim)])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            [conn] = sim.connections
            await conn.websocket.send(b'{"arg":"\xff\xfe"}', text=True)
            await wait_until(
                lambda: bridge.sessions[0].connects == 2 and bridge.sessions[0].subscribed,
                timeout=20,
                what="the connection to come back",
            )
            reasons = reconnect_reasons(bridge)
    assert reasons == {"invalid_utf8": 1.0}
