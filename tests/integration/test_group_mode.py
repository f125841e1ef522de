"""Group mode (``cluster.mode: group``) with real processes: several ``bridge run`` instances in
one consumer group, over the OKX simulator and the sandbox broker.

* Steady state: every connection is held by exactly one instance, one WebSocket each; an
  instance that joins takes its share and nothing else moves, each move handed over without a
  gap (``handover`` markers, no ``disconnected``).
* SIGKILL: the dead instance's connections are held again by the others once the group's
  session timeout has passed, marked ``disconnected``/``resubscribed`` (``holder_lost``); no
  push is lost outside the dark window (from the last push the dead instance delivered to the
  taker's subscription).
* Rolling restart (a new instance started, then an old one stopped with SIGTERM, for each
  instance): every push the simulator sent is in Kafka, the simulator found a subscriber for
  every instrument in every round, and every move is marked by a pair of ``handover``
  markers.

The simulator pushes one ticker per connection (one instrument each) ten times a second. The
figures (kill to resubscribed, handover times) are printed: run with ``-s`` to see them; they
are in docs/RELIABILITY.md ("Group mode").
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from bridge.avro.decode import TailedRecord
from bridge.avro.formats import decode_single_object
from bridge.avro.store import SchemaStore
from bridge.sandbox.kafka import SandboxKafka
from tests.deploy.running import BridgeProcess, ThreadedSimulator, samples, wait_for
from tests.integration.harness import payload_kind

RATE = 10.0  # ticker rounds per second
STEADY_TIMEOUT = 120.0  # generous: several processes and a broker share two busy cores


def now_us() -> int:
    return time.time_ns() // 1000


def micros(value: Any) -> int:
    return round(value.timestamp() * 1_000_000)


def canonical(element: Any) -> str:
    return json.dumps(element, sort_keys=True)


@dataclass
class Pushes:
    """What the simulator generated: every ticker element (instrument, JSON, wall time, in
    order), and for every ticker round the instruments that had a subscriber. It wraps two
    methods of the simulator object (a test's view into it; nothing changes for the bridge)."""

    tickers: list[tuple[str, str, float]] = field(default_factory=list)
    rounds: list[tuple[float, frozenset[str]]] = field(default_factory=list)

    def watch(self, sim: ThreadedSimulator) -> None:
        market = sim.sim._market
        make_ticker = market.ticker
        find_args = sim.sim._subscribed_args

        def ticker(inst_id: str) -> dict[str, str]:
            element = make_ticker(inst_id)
            self.tickers.append((inst_id, canonical(element), time.time()))
            return element

        def subscribed_args(channels: Any) -> dict[Any, list[Any]]:
            found = find_args(channels)
            # the tickers generator asks with a test of the channel name, once per round
            if callable(channels) and channels("tickers"):
                inst_ids = (dict(key)["instId"] for key in found)
                self.rounds.append((time.time(), frozenset(inst_ids)))
            return found

        market.ticker = ticker
        sim.sim._subscribed_args = subscribed_args


class Group:
    """Bridge processes of one group over the simulator; ``connections`` connections, each
    subscribed to the tickers of an instrument of its own."""

    def __init__(self, kafka: SandboxKafka, workdir: Path, connections: int) -> None:
        self.kafka = kafka
        self.workdir = workdir
        self.instruments = {f"okx-{i}": f"I{i}-USDT" for i in range(connections)}
        self.sim = ThreadedSimulator(
            rates={"tickers": RATE},
            instruments=set(self.instruments.values()),
            idle_timeout=60.0,
            initial_status=None,
        )
        self.pushes = Pushes()
        self.pushes.watch(self.sim)
        self.prefix = f"g{uuid.uuid4().hex[:8]}."
        self.config: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": kafka.bootstrap_servers,
                "topic_prefix": self.prefix,
                "linger_ms": 1,
            },
            "cluster": {"mode": "group", "group_id": f"group-{uuid.uuid4().hex[:8]}"},
            "connections": [
                {
                    "name": name,
                    "exchange": "okx",
                    "url": self.sim.sim.url(),
                    "subscriptions": [{"channel": "tickers", "instId": inst}],
                    "reconnect": {"initial_seconds": 0.2, "max_seconds": 1.0},
                }
                for name, inst in self.instruments.items()
            ],
        }
        self.bridges: dict[str, BridgeProcess] = {}

    def start(self, name: str) -> BridgeProcess:
        bridge = BridgeProcess({**self.config, "instance": name}, self.workdir, name)
        self.bridges[name] = bridge
        bridge.wait_ready(STEADY_TIMEOUT)
        return bridge

    def live(self) -> dict[str, BridgeProcess]:
        return {n: b for n, b in self.bridges.items() if b.process.poll() is None}

    def holders(self) -> dict[str, str]:
        """Connection -> the instance whose connection to the simulator is up; fails when a
        connection is up on two instances."""
        held: dict[str, str] = {}
        for name, bridge in self.live().items():
            for labels, value in samples(bridge.metrics(), "bridge_connection_up"):
                if value == 1:
                    assert labels["connection"] not in held, f"{labels} held twice"
                    held[labels["connection"]] = name
        return held

    def steady(self) -> bool:
        """Every connection up on one live instance, nothing being handed over, and one
        WebSocket per connection at the simulator."""
        for bridge in self.live().values():
            releasing = samples(bridge.metrics(), "bridge_cluster_connections")
            if any(labels["state"] == "releasing" and v for labels, v in releasing):
                return False
        return set(self.holders()) == set(self.instruments) and len(
            self.sim.sim.connections
        ) == len(self.instruments)

    def wait_steady(self) -> dict[str, str]:
        wait_for("every connection held once", self.steady, STEADY_TIMEOUT, interval=0.5)
        return self.holders()

    def terminate(self, name: str) -> float:
        """SIGTERM: returns the seconds until it exited (with 0)."""
        bridge = self.bridges[name]
        sent = time.monotonic()
        bridge.process.send_signal(signal.SIGTERM)
        code = bridge.process.wait(STEADY_TIMEOUT)
        assert code == 0, f"{name} exited {code}:\n{bridge.log()}"
        return time.monotonic() - sent

    def finish(self) -> int:
        """Stop generating, give the last pushes time to arrive, stop every instance one by
        one (each hands over to the others, the last closes). Returns the time (µs) at which
        the stream was complete."""
        self.sim.run(self.sim.sim.pause_generators)
        time.sleep(1.0)
        done = now_us()
        for name in list(self.live()):
            self.terminate(name)
        return done

    def read(self, topic: str) -> list[TailedRecord]:
        """The whole topic (call after :meth:`finish`: every instance has flushed and exited)."""
        return asyncio.run(read_all(self.kafka.bootstrap_servers, self.prefix + topic))

    def raw_tickers(self) -> list[tuple[str, str, str, int]]:
        """Every ticker element in okx.raw: (instrument, JSON, instance, receive time µs)."""
        out = []
        for r in self.read("okx.raw"):
            frame = json.loads(r.value["data"])
            if frame.get("arg", {}).get("channel") == "tickers" and "data" in frame:
                for element in frame["data"]:
                    out.append(
                        (
                            element["instId"],
                            canonical(element),
                            r.value["bridge_instance"],
                            micros(r.value["receive_time"]),
                        )
                    )
        return out

    def markers(self) -> list[Marker]:
        records = self.read("okx.tickers")
        return [
            Marker(
                r.key or "",
                r.value["bridge_instance"],
                r.value["payload"][1]["kind"],
                r.value["payload"][1]["reason"],
                micros(r.value["receive_time"]),
            )
            for r in records
            if payload_kind(r) == "SessionMarker"
        ]

    def close(self) -> None:
        for bridge in self.bridges.values():
            bridge.stop()
        self.sim.stop()


async def read_all(bootstrap: str, topic: str) -> list[TailedRecord]:
    """Every record of ``topic`` up to its end offsets, decoded."""
    store = SchemaStore()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[TailedRecord] = []

    async def fetch() -> None:
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            for m in messages:
                schema, value = decode_single_object(store, m.value or b"")
                key = m.key.decode() if m.key else None
                name = f"{schema.id}.v{schema.version}"
                records.append(TailedRecord(m.topic, m.partition, m.offset, key, name, value))

    try:
        while not consumer.assignment():  # every partition, once the metadata is in
            await fetch()
        end = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            await fetch()
        return records
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Marker:
    instrument: str
    instance: str
    kind: str
    reason: str
    time_us: int


@pytest.fixture
def group(kafka: SandboxKafka, tmp_path: Path) -> Iterator[Callable[[int], Group]]:
    made: list[Group] = []

    def make(connections: int) -> Group:
        made.append(Group(kafka, tmp_path, connections))
        return made[-1]

    try:
        yield make
    finally:
        for g in made:
            g.close()


def assert_every_push_in_kafka(g: Group, found: list[tuple[str, str, str, int]]) -> None:
    generated = {element for _, element, _ in g.pushes.tickers}
    missing = generated - {element for _, element, _, _ in found}
    assert generated and not missing, f"{len(missing)} of {len(generated)} pushes not in Kafka"


def test_each_connection_is_held_once_and_a_joining_instance_takes_only_its_share(
    group: Callable[[int], Group],
) -> None:
    g = group(7)
    g.start("a")
    g.start("b")
    before = g.wait_steady()
    assert sorted(Counter(before.values()).values()) == [3, 4]
    joined_us = now_us()
    g.start("c")
    after = g.wait_steady()
    assert sorted(Counter(after.values()).values()) == [2, 2, 3]
    moved = {conn for conn in g.instruments if after[conn] != before[conn]}
    assert moved == {conn for conn, holder in after.items() if holder == "c"}, (before, after)
    # A connection that moved away is gone from its old holder's gauges (a 0 there would fire
    # BridgeConnectionDown for a connection that is up elsewhere).
    for conn in moved:
        series = samples(g.bridges[before[conn]].metrics(), "bridge_connection_up")
        assert conn not in {labels["connection"] for labels, _ in series}
    time.sleep(1.0)  # pushes after the move
    done_us = g.finish()

    assert_every_push_in_kafka(g, g.raw_tickers())
    markers = [m for m in g.markers() if joined_us <= m.time_us <= done_us]
    for conn in moved:
        inst = g.instruments[conn]
        mine = [(m.instance, m.kind, m.reason) for m in markers if m.instrument == inst]
        assert mine == [("c", "handover", "taken_over"), (before[conn], "handover", "released")]
    untouched = {g.instruments[c] for c in g.instruments if c not in moved}
    assert not [m for m in markers if m.instrument in untouched]


def test_a_killed_instance_is_replaced_after_the_session_timeout_losing_only_its_dark_window(
    group: Callable[[int], Group],
) -> None:
    g = group(6)
    for name in ("a", "b", "c"):
        g.start(name)
    holders = g.wait_steady()
    time.sleep(1.0)
    victim = holders["okx-0"]
    lost = {g.instruments[c] for c, h in holders.items() if h == victim}
    killed_us = now_us()
    g.bridges[victim].process.kill()
    g.bridges[victim].process.wait(10)
    after = g.wait_steady()
    held_again_s = (now_us() - killed_us) / 1e6
    assert victim not in after.values()
    time.sleep(1.0)
    g.finish()

    markers = [m for m in g.markers() if m.time_us >= killed_us and m.instrument in lost]
    resubscribed: dict[str, int] = {}
    for inst in lost:
        first_two = [m for m in markers if m.instrument == inst][:2]
        kinds = [(m.kind, m.reason) for m in first_two]
        assert kinds == [("disconnected", "holder_lost"), ("resubscribed", "holder_lost")], inst
        assert first_two[0].instance == first_two[1].instance != victim
        resubscribed[inst] = first_two[1].time_us

    found = g.raw_tickers()
    in_kafka = {element for _, element, _, _ in found}
    order = {element: i for i, (_, element, _) in enumerate(g.pushes.tickers)}
    last_delivered = {
        inst: max(order[e] for i, e, who, _ in found if i == inst and who == victim)
        for inst in lost
    }
    for inst, element, made in g.pushes.tickers:
        if element in in_kafka:
            continue
        # The dark window: generated after the last push the victim delivered and before the
        # taker subscribed. Nothing else may be missing.
        assert inst in lost, f"{inst}: a push of a connection nobody killed is missing"
        assert order[element] > last_delivered[inst], f"{inst}: a delivered stream has a hole"
        assert made * 1e6 < resubscribed[inst], f"{inst}: missing after the taker subscribed"
    dark = [
        (resubscribed[i] - max(t for j, _, who, t in found if j == i and who == victim)) / 1e6
        for i in sorted(lost)
    ]
    print(
        f"\nSIGKILL of {victim} ({len(lost)} connections): resubscribed "
        f"{', '.join(f'{(resubscribed[i] - killed_us) / 1e6:.2f}' for i in sorted(lost))} s "
        f"after the kill; every connection held once again {held_again_s:.1f} s after it; "
        f"dark window (last push delivered -> resubscribed) "
        f"{', '.join(f'{d:.2f}' for d in dark)} s"
    )


def test_a_rolling_restart_hands_every_connection_over_without_missing_a_push(
    group: Callable[[int], Group],
) -> None:
    g = group(6)
    for name in ("a", "b", "c"):
        g.start(name)
    g.wait_steady()
    started = time.time()
    handovers: list[str] = []
    for old in ("a", "b", "c"):
        g.start(f"{old}2")  # the new pod first (maxSurge), then the old one goes
        g.wait_steady()
        exited = g.terminate(old)
        g.wait_steady()
        handovers.append(f"{old}: exit {exited:.1f} s after SIGTERM")
    ended = time.time()
    time.sleep(1.0)
    done_us = g.finish()

    found = g.raw_tickers()
    assert_every_push_in_kafka(g, found)
    everything = frozenset(g.instruments.values())
    rounds = [subs for t, subs in g.pushes.rounds if started <= t <= ended]
    assert rounds and all(subs == everything for subs in rounds), (
        "a ticker round found an instrument nobody subscribed to: a gap"
    )
    # every marker up to the finish (the first instances' start hands connections over too)
    markers = [m for m in g.markers() if m.time_us <= done_us]
    window = [m for m in markers if m.time_us >= started * 1e6]
    assert not [m for m in window if m.kind == "disconnected"], "a gap was marked"
    taken = [m for m in markers if m.reason == "taken_over"]
    released = [m for m in markers if m.reason == "released"]
    assert taken and len(taken) == len(released)
    pairs: list[tuple[Marker, Marker]] = []
    for t in taken:  # each handover: the new holder's marker, then the old holder's
        ends = [r for r in released if r.instrument == t.instrument and r.time_us >= t.time_us]
        assert ends and ends[0].instance != t.instance, f"{t}: no overlap end after it"
        pairs.append((t, ends[0]))
    # Copies (pushes both holders received during an overlap) come only from the two instances
    # the markers of a handover of that instrument name.
    handed = {(t.instrument, frozenset({t.instance, r.instance})) for t, r in pairs}
    writers: dict[str, list[str]] = {}
    for _, element, instance, _ in found:
        writers.setdefault(element, []).append(instance)
    copies = {e: w for e, w in writers.items() if len(w) > 1}
    for element, who in copies.items():
        inst = json.loads(element)["instId"]
        assert len(who) == 2 and (inst, frozenset(who)) in handed, (inst, who)
    overlaps = [(r.time_us - t.time_us) / 1e6 for t, r in pairs if t.time_us >= started * 1e6]
    print(
        f"\nrolling restart of 3 instances, {len(overlaps)} handovers over {len(rounds)} ticker "
        f"rounds, none without a subscriber; {'; '.join(handovers)}; overlap (taken_over -> "
        f"released) {min(overlaps):.3f}-{max(overlaps):.3f} s; {len(copies)} push(es) written "
        f"by both holders of a handover, of {len(writers)}"
    )
