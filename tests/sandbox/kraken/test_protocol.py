"""Protocol behaviour of the Kraken v1 WebSocket simulator, driven by a plain websockets client.

Book checksums are recomputed here from the book the client rebuilds, independently of both
the simulator's and the adapter's code.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bridge.sandbox.kraken import AUTH_PATH, KrakenSimulator

TOKEN = "sim-token-123"
QUIET = 0.2  # how long "nothing arrives" is watched for


# -- helpers ---------------------------------------------------------------------------------


def request(event: str, reqid: int | None = None, **fields: Any) -> str:
    message: dict[str, Any] = {"event": event}
    if reqid is not None:
        message["reqid"] = reqid
    message.update(fields)
    return json.dumps(message)


def subscribe(name: str, *pairs: str, reqid: int | None = 1, **options: Any) -> str:
    fields: dict[str, Any] = {"subscription": {"name": name, **options}}
    if pairs:
        fields["pair"] = list(pairs)
    return request("subscribe", reqid, **fields)


async def recv_text(ws: ClientConnection, timeout: float = 2.0) -> str:
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, str)
    return message


async def recv_json(ws: ClientConnection, timeout: float = 2.0) -> Any:
    return json.loads(await recv_text(ws, timeout))


async def recv_event(ws: ClientConnection, timeout: float = 2.0) -> dict[str, Any]:
    """The next object message, skipping heartbeats and data arrays."""
    while True:
        message = await recv_json(ws, timeout)
        if isinstance(message, dict) and message.get("event") != "heartbeat":
            return message


async def assert_quiet(ws: ClientConnection, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


def checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> str:
    text = "".join(
        p.replace(".", "").lstrip("0") + v.replace(".", "").lstrip("0")
        for p, v in asks[:10] + bids[:10]
    )
    return str(zlib.crc32(text.encode()))


class ClientBook:
    """A book rebuilt the way a Kraken client must: apply levels in order, drop volume 0,
    truncate to the subscribed depth."""

    def __init__(self, depth: int, snapshot: dict[str, Any]) -> None:
        self.depth = depth
        self.asks = {Decimal(p): (p, v) for p, v, _ in snapshot["as"]}
        self.bids = {Decimal(p): (p, v) for p, v, _ in snapshot["bs"]}

    def apply(self, parts: list[dict[str, Any]]) -> str | None:
        """Apply an update; return its checksum field."""
        c = None
        for part in parts:
            for side, book in (("a", self.asks), ("b", self.bids)):
                for row in part.get(side, []):
                    assert len(row) in (3, 4) and row[3:] in ([], ["r"])
                    if Decimal(row[1]) == 0:
                        book.pop(Decimal(row[0]), None)
                    else:
                        book[Decimal(row[0])] = (row[0], row[1])
            c = part.get("c", c)
        for key in sorted(self.asks)[self.depth :]:
            del self.asks[key]
        for key in sorted(self.bids, reverse=True)[self.depth :]:
            del self.bids[key]
        return c

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return (
            [self.asks[k] for k in sorted(self.asks)],
            [self.bids[k] for k in sorted(self.bids, reverse=True)],
        )


@pytest.fixture
async def sim() -> AsyncIterator[KrakenSimulator]:
    async with KrakenSimulator(tokens={TOKEN}, heartbeat_interval=0.2) as simulator:
        yield simulator


@pytest.fixture
async def ws(sim: KrakenSimulator) -> AsyncIterator[ClientConnection]:
    async with connect(sim.url()) as client:
        status = await recv_json(client)
        assert status["event"] == "systemStatus"
        yield client


# -- connection ------------------------------------------------------------------------------


async def test_system_status_on_connect_with_a_connection_id_beyond_2_63() -> None:
    async with KrakenSimulator(first_connection_id=14859574189081089471) as sim:
        async with connect(sim.url()) as ws:
            # exactly PROTOCOLS.md's example
            assert await recv_text(ws) == (
                '{"connectionID":14859574189081089471,"event":"systemStatus",'
                '"status":"online","version":"1.9.0"}'
            )
        async with connect(sim.url(AUTH_PATH)) as ws:
            assert (await recv_json(ws))["connectionID"] == 14859574189081089472
    async with KrakenSimulator() as sim, connect(sim.url()) as ws:
        assert 2**63 <= (await recv_json(ws))["connectionID"] < 2**64


async def test_status_changes_reach_every_connection(sim: KrakenSimulator) -> None:
    async with connect(sim.url()) as a, connect(sim.url(AUTH_PATH)) as b:
        ids = [(await recv_json(a))["connectionID"], (await recv_json(b))["connectionID"]]
        for status in ("maintenance", "cancel_only", "post_only", "limit_only", "online"):
            await sim.set_status(status)
            for client, connection_id in zip((a, b), ids, strict=True):
                assert await recv_json(client) == {
                    "connectionID": connection_id,
                    "event": "systemStatus",
                    "status": status,
                    "version": "1.9.0",
                }
        async with connect(sim.url()) as c:
            assert (await recv_json(c))["status"] == "online"
    assert sim.stats.status_changes == 5


async def test_unknown_path_is_404(sim: KrakenSimulator) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(sim.url("/v2")):
            pass
    assert info.value.response.status_code == 404


async def test_ping_pong_with_and_without_reqid(ws: ClientConnection, sim: KrakenSimulator) -> None:
    await ws.send('{"event":"ping","reqid":42}')
    assert await recv_text(ws) == '{"event":"pong","reqid":42}'
    await ws.send('{"event":"ping"}')
    assert await recv_text(ws) == '{"event":"pong"}'
    assert sim.stats.pings == 2


async def test_tls(sim: KrakenSimulator) -> None:
    async with KrakenSimulator(tls=True) as tls_sim:
        assert tls_sim.url().startswith("wss://") and tls_sim.ca_file
        async with connect(tls_sim.url(), ssl=tls_sim.ssl_context_for_clients) as ws:
            assert (await recv_json(ws))["event"] == "systemStatus"
    assert sim.ssl_context_for_clients is None and sim.ca_file is None


# -- subscriptions ---------------------------------------------------------------------------


async def test_one_ack_per_pair_and_btc_echoed_as_xbt(
    ws: ClientConnection, sim: KrakenSimulator
) -> None:
    await ws.send(subscribe("ticker", "BTC/USD", "ETH/USD", "XBT/EUR", reqid=7))
    acks = [await recv_event(ws) for _ in range(3)]
    assert [a["pair"] for a in acks] == ["XBT/USD", "ETH/USD", "XBT/EUR"]
    assert len({a["channelID"] for a in acks}) == 3
    for ack in acks:
        assert ack == {
            "channelID": ack["channelID"],
            "channelName": "ticker",
            "event": "subscriptionStatus",
            "pair": ack["pair"],
            "reqid": 7,
            "status": "subscribed",
            "subscription": {"name": "ticker"},
        }
    assert sim.stats.acks_sent == 3
    assert sim.connections[0].is_subscribed("ticker", pair="BTC/USD")


async def test_book_and_ohlc_channel_names_carry_their_parameter(ws: ClientConnection) -> None:
    await ws.send(subscribe("book", "XBT/USD", depth=25))
    ack = await recv_event(ws)
    assert (ack["channelName"], ack["subscription"]) == ("book-25", {"depth": 25, "name": "book"})
    await ws.send(subscribe("book", "XBT/EUR"))
    assert (await recv_event(ws))["channelName"] == "book-10"
    await ws.send(subscribe("ohlc", "XBT/USD", interval=5, reqid=None))
    ack = await recv_event(ws)
    assert (ack["channelName"], ack["subscription"]) == ("ohlc-5", {"interval": 5, "name": "ohlc"})
    assert "reqid" not in ack


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            subscribe("book", "XBT/USD", depth=42, reqid=None),
            # the seed's Error example, compact
            '{"errorMessage":"Subscription depth not supported","event":"subscriptionStatus",'
            '"pair":"XBT/USD","status":"error","subscription":{"depth":42,"name":"book"}}',
        ),
        (
            subscribe("ohlc", "XBT/EUR", interval=7, reqid=3),
            '{"errorMessage":"Subscription ohlc interval not supported",'
            '"event":"subscriptionStatus","pair":"XBT/EUR","reqid":3,"status":"error",'
            '"subscription":{"interval":7,"name":"ohlc"}}',
        ),
        (
            subscribe("ticker", "XBTUSD"),
            '{"errorMessage":"Currency pair not in ISO 4217-A3 format XBTUSD",'
            '"event":"subscriptionStatus","pair":"XBTUSD","reqid":1,"status":"error",'
            '"subscription":{"name":"ticker"}}',
        ),
        (
            subscribe("ticker", "FOO/BAR"),
            '{"errorMessage":"Currency pair not supported FOO/BAR","event":"subscriptionStatus",'
            '"pair":"FOO/BAR","reqid":1,"status":"error","subscription":{"name":"ticker"}}',
        ),
        (
            subscribe("tickers", "XBT/USD"),
            '{"errorMessage":"Subscription name invalid","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":1,"status":"error","subscription":{"name":"tickers"}}',
        ),
        ('{"event":"subscribe",', '{"errorMessage":"Malformed request","event":"error"}'),
        (
            request("subscribe", 4, pair="XBT/USD", subscription={"name": "ticker"}),
            '{"errorMessage":"Malformed request","event":"error","reqid":4}',
        ),
        (request("subscribe", 5), '{"errorMessage":"Malformed request","event":"error","reqid":5}'),
        (request("trade", 6), '{"errorMessage":"Event(s) not found","event":"error","reqid":6}'),
        ('{"event":"ping","reqid":"x"}', '{"errorMessage":"Malformed request","event":"error"}'),
        (
            request("unsubscribe", 8, pair=["XBT/USD"], subscription={"name": "spread"}),
            '{"errorMessage":"Subscription Not Found","event":"subscriptionStatus",'
            '"pair":"XBT/USD","reqid":8,"status":"error","subscription":{"name":"spread"}}',
        ),
    ],
)
async def test_errors_keep_the_connection_open(
    ws: ClientConnection, frame: str, expected: str
) -> None:
    await ws.send(frame)
    assert await recv_text(ws) == expected
    await ws.send('{"event":"ping","reqid":1}')
    assert await recv_json(ws) == {"event": "pong", "reqid": 1}


async def test_already_subscribed_per_pair(ws: ClientConnection, sim: KrakenSimulator) -> None:
    await ws.send(subscribe("spread", "XBT/USD"))
    assert (await recv_event(ws))["status"] == "subscribed"
    await ws.send(subscribe("spread", "BTC/USD", "ETH/USD", reqid=2))
    first, second = await recv_event(ws), await recv_event(ws)
    assert (first["status"], first["errorMessage"], first["pair"]) == (
        "error",
        "Already subscribed",
        "XBT/USD",
    )
    assert (second["status"], second["pair"]) == ("subscribed", "ETH/USD")
    assert sim.stats.errors_sent == {"Already subscribed": 1}


async def test_unsubscribe_acks_with_the_channel_id(ws: ClientConnection) -> None:
    await ws.send(subscribe("trade", "XBT/USD", "ETH/USD"))
    acks = [await recv_event(ws), await recv_event(ws)]
    await ws.send(request("unsubscribe", 9, pair=["BTC/USD"], subscription={"name": "trade"}))
    assert await recv_event(ws) == {
        "channelID": acks[0]["channelID"],
        "channelName": "trade",
        "event": "subscriptionStatus",
        "pair": "XBT/USD",
        "reqid": 9,
        "status": "unsubscribed",
        "subscription": {"name": "trade"},
    }


async def test_heartbeats_only_while_subscribed(ws: ClientConnection) -> None:
    await assert_quiet(ws, 0.5)  # no subscription yet: no heartbeat
    await ws.send(subscribe("spread", "XBT/USD"))
    assert (await recv_event(ws))["status"] == "subscribed"
    assert await recv_text(ws, 1.0) == '{"event":"heartbeat"}'
    assert await recv_text(ws, 1.0) == '{"event":"heartbeat"}'
    await ws.send(request("unsubscribe", 2, pair=["XBT/USD"], subscription={"name": "spread"}))
    assert (await recv_event(ws))["status"] == "unsubscribed"
    await asyncio.sleep(0.1)
    while True:  # a heartbeat may have been under way
        try:
            assert await recv_text(ws, 0.5) == '{"event":"heartbeat"}'
        except TimeoutError:
            break


async def test_message_rate_errors(sim: KrakenSimulator, ws: ClientConnection) -> None:
    sim.max_messages_per_second = 3
    for n in range(5):
        await ws.send(request("ping", n))
    answers = [await recv_text(ws) for _ in range(5)]
    assert answers[:3] == [f'{{"event":"pong","reqid":{n}}}' for n in range(3)]
    assert answers[3:] == ['{"Error":"Exceeded msg rate"}'] * 2
    assert sim.stats.rate_errors == 2


# -- public data -----------------------------------------------------------------------------


async def test_every_public_channel_at_its_rate() -> None:
    async with (
        KrakenSimulator(rate=40, heartbeat_interval=0) as sim,
        connect(sim.url()) as ws,
    ):
        await recv_json(ws)
        for n, (name, options) in enumerate(
            [("ticker", {}), ("ohlc", {"interval": 5}), ("trade", {}), ("spread", {})]
        ):
            await ws.send(subscribe(name, "XBT/USD", reqid=n, **options))
        seen: dict[str, list[Any]] = {}
        while len(seen) < 4 or min(len(v) for v in seen.values()) < 3:
            message = await recv_json(ws)
            if isinstance(message, list):
                channel_id, payload, channel, pair = message
                assert isinstance(channel_id, int) and pair == "XBT/USD"
                seen.setdefault(channel, []).append(payload)
    ticker = seen["ticker"][0]
    assert set(ticker) == {"a", "b", "c", "v", "p", "t", "l", "h", "o"}
    assert [type(v) for v in ticker["a"]] == [str, int, str]
    assert all(isinstance(v, int) for v in ticker["t"])
    ohlc = seen["ohlc-5"][0]
    assert len(ohlc) == 9 and isinstance(ohlc[8], int)
    assert ohlc[1].endswith(".000000") and int(Decimal(ohlc[1])) % 300 == 0
    for row in seen["trade"][0]:
        assert len(row) == 6 and row[3] in ("b", "s") and row[4] in ("l", "m")
        assert Decimal(row[2]) > 1.7e9
    bid, ask, when, bid_volume, ask_volume = seen["spread"][0]
    assert Decimal(bid) < Decimal(ask) and Decimal(bid_volume) > 0 and Decimal(ask_volume) > 0
    assert len(when.split(".")[1]) == 6


async def book_updates(
    ws: ClientConnection, books: dict[str, ClientBook], n: int, depth: int
) -> tuple[int, list[tuple[str, str, str]]]:
    """Read ``n`` book updates into ``books``; return (updates with both sides, failures)."""
    both, failures = 0, []
    updates = 0
    while updates < n:
        message = await recv_json(ws)
        if not isinstance(message, list):
            continue
        pair = message[-1]
        if "as" in message[1]:
            books[pair] = ClientBook(depth, message[1])
            continue
        parts = message[1:-2]
        both += len(parts) == 2
        c = books[pair].apply(parts)
        mine = checksum(*books[pair].levels())
        if mine != c:
            failures.append((pair, mine, str(c)))
        updates += 1
    return both, failures


async def test_books_snapshot_updates_and_checksums_a_client_can_verify() -> None:
    async with (
        KrakenSimulator(rates={"book": 200}, heartbeat_interval=0) as sim,
        connect(sim.url()) as ws,
    ):
        await recv_json(ws)
        await ws.send(subscribe("book", "XBT/USD", "ETH/XBT", depth=10))
        books: dict[str, ClientBook] = {}
        both, failures = await book_updates(ws, books, 150, 10)
        assert failures == [] and both > 10
        await sim.pause_generators()
        while True:  # drain what is under way
            try:
                message = await recv_json(ws, 0.2)
            except TimeoutError:
                break
            books[message[-1]].apply(message[1:-2])
        for pair in ("XBT/USD", "ETH/XBT"):
            expected = sim.book(pair, 10)
            assert books[pair].levels() == (expected.asks, expected.bids)
            assert checksum(*books[pair].levels()) == sim.checksum(pair)


async def test_a_deeper_book_gets_its_own_updates() -> None:
    async with (
        KrakenSimulator(rates={"book": 200}, heartbeat_interval=0) as sim,
        connect(sim.url()) as ws,
    ):
        await recv_json(ws)
        await ws.send(subscribe("book", "XBT/EUR", depth=25))
        ack = await recv_event(ws)
        snapshot = await recv_json(ws)
        assert snapshot[2] == "book-25" and len(snapshot[1]["as"]) == 25
        books = {"XBT/EUR": ClientBook(25, snapshot[1])}
        _, failures = await book_updates(ws, books, 100, 25)
        assert failures == [] and ack["channelID"] == snapshot[0]


async def test_corrupted_checksum_once_for_one_pair() -> None:
    async with (
        KrakenSimulator(heartbeat_interval=0) as sim,
        connect(sim.url()) as ws,
    ):
        await recv_json(ws)
        await ws.send(subscribe("book", "XBT/USD", "ETH/USD"))
        books: dict[str, ClientBook] = {}
        while len(books) < 2:
            message = await recv_json(ws)
            if isinstance(message, list):
                books[message[-1]] = ClientBook(10, message[1])
        sim.corrupt_next_checksum("BTC/USD")
        for _ in range(30):
            await sim.tick("book")
        failures, updates = [], 0
        while True:
            try:
                message = await recv_json(ws, 0.3)
            except TimeoutError:
                break
            c = books[message[-1]].apply(message[1:-2])
            updates += 1
            if checksum(*books[message[-1]].levels()) != c:
                failures.append(message[-1])
    assert failures == ["XBT/USD"] and updates > 30
    assert sim.stats.checksums_corrupted == 1


async def test_maintenance_pauses_public_data(sim: KrakenSimulator) -> None:
    sim.rates["spread"] = 50
    # max_queue=None: the pushes this test leaves unread must not hold up the closing handshake
    async with connect(sim.url(), max_queue=None) as ws:
        await recv_json(ws)
        await ws.send(subscribe("spread", "XBT/USD"))
        await recv_event(ws)
        while not isinstance(await recv_json(ws), list):
            pass  # heartbeats until the first spread
        await sim.set_status("maintenance")
        await asyncio.sleep(0.1)
        before = sim.stats.pushes_sent["spread"]
        await asyncio.sleep(0.3)
        assert sim.stats.pushes_sent["spread"] == before
        await sim.set_status("online")
        await asyncio.sleep(0.3)
        assert sim.stats.pushes_sent["spread"] > before


# -- private data ----------------------------------------------------------------------------


async def test_private_channels_need_the_auth_endpoint_and_a_valid_token(
    sim: KrakenSimulator, ws: ClientConnection
) -> None:
    await ws.send(subscribe("ownTrades", token=TOKEN))
    answer = await recv_event(ws)
    assert answer["errorMessage"] == sim.PRIVATE_ON_PUBLIC_ERROR and "pair" not in answer
    async with connect(sim.url(AUTH_PATH)) as auth:
        await recv_json(auth)
        await auth.send(subscribe("ownTrades", token="wrong"))
        assert await recv_text(auth) == (
            '{"errorMessage":"ESession:Invalid session","event":"subscriptionStatus",'
            '"reqid":1,"status":"error","subscription":{"name":"ownTrades"}}'
        )
        await auth.send(subscribe("ownTrades"))
        assert (await recv_event(auth))["errorMessage"] == "ESession:Invalid session"


async def test_private_snapshots_and_updates_with_sequence(sim: KrakenSimulator) -> None:
    sim.new_order_and_fill()
    sim.new_order_and_fill()
    sim.new_order_and_fill()  # fills the first order: one trade
    async with connect(sim.url(AUTH_PATH)) as ws:
        await recv_json(ws)
        await ws.send(subscribe("openOrders", token=TOKEN, ratecounter=True, reqid=1))
        # the token is never echoed
        assert await recv_text(ws) == (
            '{"channelName":"openOrders","event":"subscriptionStatus","reqid":1,'
            '"status":"subscribed","subscription":{"maxratecount":125,"name":"openOrders"}}'
        )
        orders, channel, sequence = await recv_json(ws)
        assert (channel, sequence) == ("openOrders", {"sequence": 1})
        assert len(orders) == 2 and all(len(entry) == 1 for entry in orders)
        await ws.send(subscribe("ownTrades", token=TOKEN, reqid=2))
        ack = await recv_event(ws)
        assert "channelID" not in ack and "pair" not in ack
        trades, channel, sequence = await recv_json(ws)
        assert (channel, sequence, len(trades)) == ("ownTrades", {"sequence": 1}, 1)
        (trade_id, trade), *_ = trades[0].items()
        assert trade_id.startswith("T") and trade["time"].count(".") == 1

        sim.new_order_and_fill()
        updates, _, sequence = await recv_json(ws)
        assert sequence == {"sequence": 2}
        assert [next(iter(e.values())).get("status") for e in updates] == ["open", "closed"]
        _, _, sequence = await recv_json(ws)
        assert sequence == {"sequence": 2}  # ownTrades counts on its own

        await sim.push_private("ownTrades", [{"TX": {"price": "1.0"}}])
        assert await recv_json(ws) == [[{"TX": {"price": "1.0"}}], "ownTrades", {"sequence": 3}]


async def test_own_trades_without_snapshot(sim: KrakenSimulator) -> None:
    for _ in range(3):
        sim.new_order_and_fill()
    async with connect(sim.url(AUTH_PATH)) as ws:
        await recv_json(ws)
        await ws.send(subscribe("ownTrades", token=TOKEN, snapshot=False))
        assert (await recv_event(ws))["status"] == "subscribed"
        await assert_quiet(ws, 0.1)


# -- scripting -------------------------------------------------------------------------------


async def test_send_raw_and_drop_connections(sim: KrakenSimulator) -> None:
    async with connect(sim.url()) as a, connect(sim.url(AUTH_PATH)) as b:
        await recv_json(a)
        await recv_json(b)
        await sim.send_raw('{"Error":"Exceeded msg rate"}', path=AUTH_PATH)
        assert await recv_text(b) == '{"Error":"Exceeded msg rate"}'
        await assert_quiet(a, 0.1)
        await sim.send_raw(b"\x00\x01")
        assert await asyncio.wait_for(a.recv(), 2) == b"\x00\x01"
        await sim.drop_connections()
        assert sim.connections == []
        for client in (a, b):
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(client.recv(), 2)
            assert client.close_code == 1006  # no close frame: an abrupt loss
    assert (sim.stats.connects_total, sim.stats.disconnects_total) == (2, 2)


async def test_wait_for_subscribers(sim: KrakenSimulator, ws: ClientConnection) -> None:
    waiter = asyncio.ensure_future(sim.wait_for_subscribers("book", pair="BTC/USD"))
    await ws.send(subscribe("book", "XBT/USD"))
    await asyncio.wait_for(waiter, 2)
    with pytest.raises(TimeoutError, match="subscriber"):
        await sim.wait_for_subscribers("trade", timeout=0.1)
