"""The control API every simulator shares (bridge.sandbox.server), the same test for each.

Each simulator is driven through a small table of what differs between the protocols: its
paths, its ping, a subscription to one of its market-data generators.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from bridge.errors import SandboxError
from bridge.sandbox.kraken import AUTH_PATH, KrakenSimulator
from bridge.sandbox.okex_v1 import PATH as OKEX_PATH
from bridge.sandbox.okex_v1 import OkexV1Simulator
from bridge.sandbox.okx import PRIVATE_PATH, PUBLIC_PATH, OkxSimulator
from bridge.sandbox.server import SimulatorServer, SimulatorStats

QUIET = 0.3


@dataclass(frozen=True)
class Protocol:
    name: str
    make: Callable[..., SimulatorServer[Any, Any]]
    paths: tuple[str, str]
    """Two paths to open connections on (the same twice where there is only one)."""
    greeting: int
    """Frames a new connection receives before it asks anything."""
    ping: str
    pong: str
    subscribe: str
    """Subscribes to ``channel``, fed by the generator ``generator``; answered by one ack."""
    generator: str
    channel: str
    selector: dict[str, str]
    """An arg field that selects the subscription in subscribers(); empty: none exists."""

    def __str__(self) -> str:
        return self.name


PROTOCOLS = [
    Protocol(
        name="okx",
        make=lambda **options: OkxSimulator(initial_status=None, **options),
        paths=(PUBLIC_PATH, PRIVATE_PATH),
        greeting=0,
        ping="ping",
        pong="pong",
        subscribe='{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]}',
        generator="tickers",
        channel="tickers",
        selector={"instId": "BTC-USDT"},
    ),
    Protocol(
        name="kraken",
        make=lambda **options: KrakenSimulator(heartbeat_interval=0, **options),
        paths=("/", AUTH_PATH),
        greeting=1,  # systemStatus
        ping='{"event":"ping"}',
        pong='{"event":"pong"}',
        subscribe='{"event":"subscribe","pair":["BTC/USD"],"subscription":{"name":"spread"}}',
        generator="spread",
        channel="spread",
        selector={"pair": "XBT/USD"},
    ),
    Protocol(
        name="okex_v1",
        make=lambda **options: OkexV1Simulator(compression="off", **options),
        paths=(OKEX_PATH, OKEX_PATH),
        greeting=0,
        ping='{"event":"ping"}',
        pong='{"event":"pong"}',
        subscribe='{"event":"addChannel","channel":"ok_sub_spot_bch_btc_ticker"}',
        generator="ticker",
        channel="ok_sub_spot_bch_btc_ticker",
        selector={},
    ),
]
each_protocol = pytest.mark.parametrize("protocol", PROTOCOLS, ids=str)


async def recv(ws: ClientConnection, timeout: float = 2.0) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), timeout)


async def assert_quiet(ws: ClientConnection, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def opened(sim: SimulatorServer[Any, Any], protocol: Protocol, path: str) -> Any:
    """A client on ``path``, its greeting read."""
    ws = await connect(sim.url(path), ping_interval=None, open_timeout=5)
    for _ in range(protocol.greeting):
        await recv(ws)
    return ws


async def subscribed(sim: SimulatorServer[Any, Any], protocol: Protocol) -> ClientConnection:
    ws: ClientConnection = await opened(sim, protocol, protocol.paths[0])
    await ws.send(protocol.subscribe)
    await recv(ws)  # the ack
    await sim.wait_for_subscribers(protocol.channel)
    return ws


# -- construction and lifecycle ------------------------------------------------------------------


@each_protocol
def test_an_unknown_generator_is_refused(protocol: Protocol) -> None:
    with pytest.raises(ValueError, match=f"has no generator nope; it has .*{protocol.generator}"):
        protocol.make(rates={"nope": 1.0})


@each_protocol
def test_rate_sets_every_market_generator_and_rates_one(protocol: Protocol) -> None:
    sim = protocol.make(rate=3.0, rates={protocol.generator: 7.0})
    assert sim.rates[protocol.generator] == 7.0
    assert {sim.rates[name] for name in sim.market_generators if name != protocol.generator} <= {
        3.0
    }
    assert set(sim.rates) == set(sim.generators)


@each_protocol
async def test_url_before_start_is_an_error_and_a_second_start_too(protocol: Protocol) -> None:
    sim = protocol.make()
    with pytest.raises(SandboxError, match="not running"):
        sim.url()
    async with sim:
        with pytest.raises(SandboxError, match="already running"):
            await sim.start()
    with pytest.raises(SandboxError, match="not running"):
        sim.url()


@each_protocol
async def test_an_unknown_path_is_refused_during_the_handshake(protocol: Protocol) -> None:
    async with protocol.make() as sim:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(sim.url("/nowhere")):
                pass
    assert caught.value.response.status_code == 404


@each_protocol
async def test_tls_with_the_client_context(protocol: Protocol) -> None:
    async with protocol.make(tls=True) as sim:
        assert sim.url().startswith("wss://") and sim.ca_file is not None
        ws = await connect(sim.url(), ssl=sim.ssl_context_for_clients, ping_interval=None)
        async with ws:
            for _ in range(protocol.greeting):
                await recv(ws)
            await ws.send(protocol.ping)
            assert await recv(ws) == protocol.pong
    assert sim.ca_file is None and sim.ssl_context_for_clients is None  # cleaned up


# -- connections ----------------------------------------------------------------------------------


@each_protocol
async def test_send_raw_close_and_drop_select_connections(protocol: Protocol) -> None:
    async with protocol.make() as sim:
        first = await opened(sim, protocol, protocol.paths[0])
        second = await opened(sim, protocol, protocol.paths[1])
        await sim.wait_for_connections(2)
        one, other = sim.connections
        assert (one.path, other.path) == protocol.paths

        await sim.send_raw("to the second", conn_id=other.conn_id)
        assert await recv(second) == "to the second"
        await assert_quiet(first, 0.1)
        await sim.send_raw(b"\x00\x01")  # everyone, as a binary frame
        assert await recv(first) == b"\x00\x01" and await recv(second) == b"\x00\x01"

        await sim.close_connections(4321, "bye", conn_id=other.conn_id)
        with pytest.raises(ConnectionClosed):
            await recv(second)
        assert (second.close_code, second.close_reason) == (4321, "bye")
        await sim.wait_for_connections(1)
        await first.send(protocol.ping)
        assert await recv(first) == protocol.pong

        await sim.drop_connections(path=protocol.paths[0])
        with pytest.raises(ConnectionClosedError) as caught:
            await recv(first)
        assert caught.value.rcvd is None  # no close frame: an abrupt loss
        assert sim.connections == []
    stats = sim.stats
    assert isinstance(stats, SimulatorStats)
    assert (stats.connects_total, stats.disconnects_total) == (2, 2)
    assert stats.frames_received == 1 and stats.pings == 1


@each_protocol
async def test_waits_time_out_naming_what_was_awaited(protocol: Protocol) -> None:
    async with protocol.make() as sim:
        with pytest.raises(TimeoutError, match=r"2 connection\(s\); have 0"):
            await sim.wait_for_connections(2, timeout=0.1)
        with pytest.raises(TimeoutError, match=f"subscriber\\(s\\) to '{protocol.channel}'"):
            await sim.wait_for_subscribers(protocol.channel, timeout=0.1)


@each_protocol
async def test_answer_pings_false_plays_a_half_open_line(protocol: Protocol) -> None:
    async with protocol.make() as sim, await opened(sim, protocol, protocol.paths[0]) as ws:
        sim.answer_pings = False
        await ws.send(protocol.ping)
        await assert_quiet(ws)
        sim.answer_pings = True
        await ws.send(protocol.ping)
        assert await recv(ws) == protocol.pong
    assert sim.stats.pings == 2


@each_protocol
async def test_subscribers_by_channel_and_arg(protocol: Protocol) -> None:
    async with protocol.make() as sim, await subscribed(sim, protocol):
        assert len(sim.subscribers(protocol.channel)) == 1
        assert sim.subscribers("no-such-channel") == []
        if protocol.selector:
            assert len(sim.subscribers(protocol.channel, **protocol.selector)) == 1
            other = {k: "OTHER/PAIR" for k in protocol.selector}
            assert sim.subscribers(protocol.channel, **other) == []
            await sim.wait_for_subscribers(protocol.channel, **protocol.selector)
        else:
            with pytest.raises(TypeError):
                sim.subscribers(protocol.channel, pair="X")


# -- generators -----------------------------------------------------------------------------------


@each_protocol
async def test_tick_runs_one_round_whatever_the_rates(protocol: Protocol) -> None:
    async with protocol.make() as sim, await subscribed(sim, protocol) as ws:
        await assert_quiet(ws)  # every rate is 0
        await sim.tick(protocol.generator)
        assert await recv(ws)
        await assert_quiet(ws, 0.1)
        with pytest.raises(ValueError, match="no generator"):
            await sim.tick("nope")
    assert sim.stats.pushes_total == 1
    assert sim.stats.pushes_sent[protocol.channel] == 1


@each_protocol
async def test_pause_stops_the_generators_until_resumed(protocol: Protocol) -> None:
    async with (
        protocol.make(rates={protocol.generator: 50.0}) as sim,
        await subscribed(sim, protocol) as ws,
    ):
        for _ in range(3):
            await recv(ws)
        await sim.pause_generators()
        assert sim.paused
        sent = sim.stats.pushes_total
        await asyncio.sleep(QUIET)
        assert sim.stats.pushes_total == sent  # nothing after pause_generators() returned
        sim.resume_generators()
        assert not sim.paused
        await asyncio.sleep(QUIET)
        assert sim.stats.pushes_total > sent


@each_protocol
async def test_a_rate_can_change_at_run_time(protocol: Protocol) -> None:
    async with protocol.make() as sim, await subscribed(sim, protocol) as ws:
        await assert_quiet(ws)
        sim.rates[protocol.generator] = 50.0
        assert await recv(ws, 1.0)
        sim.rates[protocol.generator] = 0.0


# -- idle close -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "code", "reason"),
    [(PROTOCOLS[0], 4004, "No data received in 30s."), (PROTOCOLS[2], 1000, "idle")],
    ids=["okx", "okex_v1"],
)
async def test_idle_timeout_closes_with_the_protocols_code(
    protocol: Protocol, code: int, reason: str
) -> None:
    async with (
        protocol.make(idle_timeout=0.3) as sim,
        await opened(sim, protocol, protocol.paths[0]) as ws,
    ):
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert (ws.close_code, ws.close_reason) == (code, reason)
    assert sim.stats.idle_closes == 1
