"""Protocol behaviour of the OKEx v1 simulator, driven by a plain websockets client.

Signatures are computed here independently of the simulator's ``md5_sign``, and compressed
frames are inflated here with zlib directly, so a mistake on the simulator's side shows up.
Requests are sent exactly as the documentation writes them (``tests/fixtures/okex_v1``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import zlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bridge.sandbox.okex_v1 import (
    PATH,
    OkexV1Account,
    OkexV1Simulator,
    deflate,
    parse_lenient,
)
from bridge.sandbox.tls import client_ssl_context
from tests.fixtures import load_fixture

KEY, SECRET = "c821db84-6fbd-11e4-a9e3-c86000d26d7c", "12A3B4C5D6E7F8"
OTHER_KEY, OTHER_SECRET = "other-key", "other-secret"
QUIET = 0.2


def account(secret: str = SECRET) -> OkexV1Account:
    return OkexV1Account(secret=secret, free={"btc": Decimal("10"), "bch": Decimal("100")})


# -- helpers --------------------------------------------------------------------------------------


def fixture(name: str) -> str:
    return load_fixture("okex_v1", name)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


def signed(parameters: dict[str, str], secret: str = SECRET) -> dict[str, str]:
    text = "&".join(f"{k}={parameters[k]}" for k in sorted(parameters)) + f"&secret_key={secret}"
    return {**parameters, "sign": md5(text)}


def login(key: str = KEY, secret: str = SECRET) -> str:
    return json.dumps({"event": "login", "parameters": signed({"api_key": key}, secret)})


def add(channel: str, **extra: Any) -> str:
    return json.dumps({"event": "addChannel", "channel": channel, **extra})


def trade(channel: str, secret: str = SECRET, **parameters: str) -> str:
    return add(channel, parameters=signed({"api_key": KEY, **parameters}, secret))


def inflate(data: bytes) -> str:
    inflater = zlib.decompressobj(-15)
    return (inflater.decompress(data) + inflater.flush()).decode()


async def recv_raw(ws: ClientConnection, timeout: float = 2.0) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_text(ws: ClientConnection, timeout: float = 2.0) -> str:
    """The next frame's JSON text; a compressed frame is inflated (see recv_frame)."""
    return (await recv_frame(ws, timeout))[1]


async def recv_frame(ws: ClientConnection, timeout: float = 2.0) -> tuple[bool, str]:
    """(compressed, text) of the next frame."""
    message = await recv_raw(ws, timeout)
    if isinstance(message, bytes):
        return True, inflate(message)
    return False, message


async def recv_json(ws: ClientConnection, timeout: float = 2.0) -> Any:
    return json.loads(await recv_text(ws, timeout))


async def assert_quiet(ws: ClientConnection, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


def ack(op: str, channel: str, binary: int = 0) -> list[dict[str, Any]]:
    return [{"binary": binary, "channel": op, "data": {"result": True, "channel": channel}}]


def error(channel: str | None, code: int, msg: str) -> list[dict[str, Any]]:
    element: dict[str, Any] = {"binary": 0}
    if channel is not None:
        element["channel"] = channel
    element["data"] = {"result": False, "error_msg": msg, "error_code": code}
    return [element]


def bad_channel(channel: str) -> list[dict[str, Any]]:
    return error(channel, 20116, "param not match.")


def not_logged_in(channel: str) -> list[dict[str, Any]]:
    return error(channel, 10017, "websocket authorization error")


@pytest.fixture
async def sim() -> AsyncIterator[OkexV1Simulator]:
    accounts = {KEY: account(), OTHER_KEY: account(OTHER_SECRET)}
    async with OkexV1Simulator(accounts=accounts) as simulator:
        yield simulator


def client(sim: OkexV1Simulator, **kwargs: Any) -> Any:
    return connect(sim.url(), ping_interval=None, open_timeout=5, **kwargs)


BOOK_BIDS = [("0.05", "1"), ("0.049", "2"), ("0.048", "3")]
BOOK_ASKS = [("0.051", "1.5"), ("0.052", "2.5")]


# -- requests: lenient form, batches, acks --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("ticker-request.txt", "ok_sub_spot_bch_btc_ticker"),
        ("depth-request.txt", "ok_sub_spot_bch_btc_depth"),
        ("depth-5-request.txt", "ok_sub_spot_bch_btc_depth_5"),
        ("deals-request.txt", "ok_sub_spot_bch_btc_deals"),
        ("kline-1min-request.txt", "ok_sub_spot_bch_btc_kline_1min"),
    ],
)
async def test_documented_requests_are_acked(sim: OkexV1Simulator, name: str, channel: str) -> None:
    async with client(sim) as ws:
        await ws.send(fixture(name))
        assert await recv_json(ws) == ack("addChannel", channel)
        await sim.wait_for_subscribers(channel)
    assert sim.stats.lenient_requests == 1


async def test_the_ack_is_the_protocol_notes_example_byte_for_byte(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await ws.send(fixture("ticker-request.txt"))
        assert await recv_text(ws) == fixture("add-channel-ack.json")
        await ws.send(
            json.dumps({"event": "removeChannel", "channel": "ok_sub_spot_bch_btc_ticker"})
        )
        assert await recv_text(ws) == fixture("remove-channel-ack.json")
        await assert_quiet(ws)
        assert sim.connections[0].subscriptions == {}


async def test_a_batch_gets_one_answer_per_request(sim: OkexV1Simulator) -> None:
    batch = fixture("request-example-batch.txt").replace("_X_", "_bch_btc_")
    async with client(sim) as ws:
        await ws.send(batch)
        answers = [await recv_json(ws) for _ in range(4)]  # three acks, one depth snapshot
    assert answers[0] == ack("addChannel", "ok_sub_spot_bch_btc_ticker")
    assert answers[1] == ack("addChannel", "ok_sub_spot_bch_btc_depth")
    assert answers[2][0]["channel"] == "ok_sub_spot_bch_btc_depth"  # the full book
    assert answers[3] == ack("addChannel", "ok_sub_spot_bch_btc_deals")
    assert (sim.stats.batches, sim.stats.requests, sim.stats.acks_sent) == (1, 3, 3)


async def test_strict_json_batches_too(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await ws.send(
            json.dumps(
                [
                    {"event": "addChannel", "channel": "ok_sub_spot_ltc_btc_ticker"},
                    {"event": "addChannel", "channel": "ok_sub_spot_eth_btc_kline_week"},
                ]
            )
        )
        assert await recv_json(ws) == ack("addChannel", "ok_sub_spot_ltc_btc_ticker")
        assert await recv_json(ws) == ack("addChannel", "ok_sub_spot_eth_btc_kline_week")
    assert sim.stats.lenient_requests == 0


@pytest.mark.parametrize(
    "name",
    [
        "request-example-single.txt",
        "ticker-request-template.txt",
        "depth-request-template.txt",
        "depth-y-request-template.txt",
        "deals-request-template.txt",
        "kline-y-request-template.txt",
    ],
)
async def test_documented_templates_name_no_pair(sim: OkexV1Simulator, name: str) -> None:
    channel = parse_lenient(fixture(name))["channel"]
    async with client(sim) as ws:
        await ws.send(fixture(name))
        assert await recv_json(ws) == error(channel, 20116, "param not match.")


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("{not json", error(None, 20107, "JSON format error")),
        ("[]", error(None, 20107, "JSON format error")),
        ("[5]", error(None, 20107, "JSON format error")),
        (add("ok_sub_spot_xyz_btc_ticker"), bad_channel("ok_sub_spot_xyz_btc_ticker")),
        (add("ok_sub_spot_bch_btc_kline_2min"), bad_channel("ok_sub_spot_bch_btc_kline_2min")),
        (add("ok_sub_spot_bch_btc_depth_7"), bad_channel("ok_sub_spot_bch_btc_depth_7")),
        (add("tickers"), bad_channel("tickers")),
        ('{"event":"addChannel"}', error(None, 10000, "required parameter empty")),
        ('{"event":"subscribe","channel":"x"}', error("x", 20103, "event type error")),
        ('{"channel":"x"}', error("x", 20103, "event type error")),
        (add("ok_sub_spot_bch_btc_order"), not_logged_in("ok_sub_spot_bch_btc_order")),
        (add("ok_sub_spot_bch_btc_balance"), not_logged_in("ok_sub_spot_bch_btc_balance")),
        (
            json.dumps({"event": "removeChannel", "channel": "ok_spot_userinfo"}),
            bad_channel("ok_spot_userinfo"),
        ),
    ],
)
async def test_errors_keep_the_connection_open(
    sim: OkexV1Simulator, request_text: str, expected: Any
) -> None:
    async with client(sim) as ws:
        await ws.send(request_text)
        assert await recv_json(ws) == expected
        await ws.send(fixture("ticker-request.txt"))
        assert await recv_json(ws) == ack("addChannel", "ok_sub_spot_bch_btc_ticker")


async def test_error_frames_are_the_fixtures_byte_for_byte(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await ws.send("{'event':")
        assert await recv_text(ws) == fixture("error-20107.json")
        await ws.send(add("ok_sub_spot_xyz_btc_ticker"))
        assert await recv_text(ws) == fixture("bad-channel-error.json")
    assert sim.stats.errors_sent == {"20107": 1, "20116": 1}


async def test_ping_pong(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await ws.send(fixture("ping-request.txt"))  # the documentation's single-quoted form
        assert await recv_raw(ws) == fixture("pong.json")
        await ws.send(fixture("ping.json"))
        assert await recv_raw(ws) == '{"event":"pong"}'
        sim.answer_pings = False
        await ws.send(fixture("ping.json"))
        await assert_quiet(ws)
    assert sim.stats.pings == 3


# -- compression ----------------------------------------------------------------------------------


async def test_compression_on_request(sim: OkexV1Simulator) -> None:
    sim.set_book("bch_btc", BOOK_BIDS, BOOK_ASKS)
    async with client(sim) as ws:
        await ws.send(add("ok_sub_spot_bch_btc_depth", binary=1))
        compressed, text = await recv_frame(ws)
        assert compressed and json.loads(text) == ack("addChannel", "ok_sub_spot_bch_btc_depth", 1)
        compressed, text = await recv_frame(ws)  # the snapshot
        assert compressed and json.loads(text)[0]["binary"] == 1
        await ws.send(add("ok_sub_spot_bch_btc_ticker"))
        compressed, text = await recv_frame(ws)
        assert not compressed and json.loads(text)[0]["binary"] == 0
        await ws.send("{'event':'addChannel','channel':'ok_sub_spot_bch_btc_deals','binary':'1'}")
        assert (await recv_frame(ws))[0]
        await sim.push_deals("bch_btc", [["1", "2", "3", "10:00:00", "bid"]])
        await sim.push_ticker("bch_btc", {"last": "1"})
        assert (await recv_frame(ws))[0]  # deals asked for it
        assert not (await recv_frame(ws))[0]  # ticker did not
        # binary inside parameters counts too
        await ws.send(add("ok_sub_spot_ltc_btc_ticker", parameters={"binary": 1}))
        assert (await recv_frame(ws))[0]
        await ws.send(fixture("ping.json"))
        assert await recv_raw(ws) == '{"event":"pong"}'


async def test_compression_always_covers_every_frame() -> None:
    async with OkexV1Simulator(compression="always") as sim, client(sim) as ws:
        await ws.send(fixture("ticker-request.txt"))
        message = await recv_raw(ws)
        assert isinstance(message, bytes)
        assert json.loads(inflate(message)) == ack("addChannel", "ok_sub_spot_bch_btc_ticker", 1)
        await ws.send(fixture("ping.json"))
        message = await recv_raw(ws)
        assert isinstance(message, bytes) and inflate(message) == '{"event":"pong"}'
        await ws.send("{broken")
        message = await recv_raw(ws)
        assert isinstance(message, bytes) and json.loads(inflate(message))[0]["binary"] == 1
    assert sim.stats.text_frames == 0 and sim.stats.compressed_frames == 3


async def test_compression_off_ignores_binary() -> None:
    async with OkexV1Simulator(compression="off") as sim, client(sim) as ws:
        await ws.send(add("ok_sub_spot_bch_btc_ticker", binary=1))
        message = await recv_raw(ws)
        assert isinstance(message, str)
        assert json.loads(message) == ack("addChannel", "ok_sub_spot_bch_btc_ticker", 0)


def test_compression_switch_is_checked() -> None:
    with pytest.raises(ValueError, match="compression"):
        OkexV1Simulator(compression="sometimes")  # type: ignore[arg-type]


# -- login ----------------------------------------------------------------------------------------


async def test_login_ok_and_bad(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await ws.send(login(secret="wrong"))
        assert await recv_text(ws) == fixture("login-error-10005.json")
        await ws.send(login("nobody"))
        assert await recv_json(ws) == error("login", 10005, "api_key or sign invalid")
        await ws.send(json.dumps({"event": "login", "parameters": {"api_key": KEY}}))
        assert await recv_json(ws) == error("login", 10000, "required parameter empty")
        await ws.send(fixture("login-request.json"))  # the documentation's xxx placeholders
        assert await recv_json(ws) == error("login", 10005, "api_key or sign invalid")
        assert not sim.connections[0].logged_in
        await ws.send(login())
        assert await recv_json(ws) == json.loads(fixture("login-response.json"))
        assert sim.connections[0].logged_in and sim.connections[0].api_key == KEY
    assert (sim.stats.logins_ok, sim.stats.logins_failed) == (1, 4)


async def test_login_sign_is_upper_case_md5_of_key_and_secret(sim: OkexV1Simulator) -> None:
    by_hand = "AD5B81942EBA882DF437E3317BC7C5D8"  # printf 'api_key=…&secret_key=…' | md5sum
    async with client(sim) as ws:
        lower = {"event": "login", "parameters": {"api_key": KEY, "sign": by_hand.lower()}}
        await ws.send(json.dumps(lower))
        assert (await recv_json(ws))[0]["data"]["result"] is False
        await ws.send(
            json.dumps({"event": "login", "parameters": {"api_key": KEY, "sign": by_hand}})
        )
        assert (await recv_json(ws))[0]["data"] == {"result": True}


# -- market data ----------------------------------------------------------------------------------


def rebuild(book: dict[str, dict[Decimal, str]], data: dict[str, Any], snapshot: bool) -> None:
    """What a consumer of the incremental depth channel does (prices compared as numbers)."""
    if snapshot:
        book["bids"], book["asks"] = {}, {}
    for side in ("bids", "asks"):
        for price, amount in data[side]:
            if Decimal(amount) == 0:
                book[side].pop(Decimal(price), None)
            else:
                book[side][Decimal(price)] = amount


def as_numbers(levels: list[tuple[str, str]]) -> dict[Decimal, str]:
    return {Decimal(price): amount for price, amount in levels}


async def test_incremental_depth_adds_edits_and_deletes(sim: OkexV1Simulator) -> None:
    sim.set_book("bch_btc", BOOK_BIDS, BOOK_ASKS)
    book: dict[str, dict[Decimal, str]] = {}
    async with client(sim) as ws:
        await ws.send(add("ok_sub_spot_bch_btc_depth"))
        await recv_json(ws)
        snapshot = (await recv_json(ws))[0]
        assert snapshot["channel"] == "ok_sub_spot_bch_btc_depth"
        assert snapshot["data"]["bids"] == [list(x) for x in BOOK_BIDS]  # best first
        assert snapshot["data"]["asks"] == [list(x) for x in BOOK_ASKS]
        rebuild(book, snapshot["data"], snapshot=True)

        changes = [
            {"bids": [("0.0495", "4")]},  # add
            {"asks": [("0.051", "9")]},  # edit
            {"bids": [("0.05", "0")], "asks": [("0.053", "1")]},  # delete + add
            {"asks": [("0.0510", "0")]},  # delete, same price written differently
        ]
        for change in changes:
            await sim.update_book("bch_btc", timestamp=1504529236946, **change)
            update = (await recv_json(ws))[0]
            assert update["data"] == {
                "asks": [list(x) for x in change.get("asks", [])],
                "bids": [list(x) for x in change.get("bids", [])],
                "timestamp": 1504529236946,
            }
            rebuild(book, update["data"], snapshot=False)
    bids, asks = sim.book("bch_btc")
    assert bids == [("0.0495", "4"), ("0.049", "2"), ("0.048", "3")]
    assert asks == [("0.052", "2.5"), ("0.053", "1")]
    assert book["bids"] == as_numbers(bids)
    assert book["asks"] == as_numbers(asks)


async def test_full_depth_sends_the_top_of_the_book_each_time(sim: OkexV1Simulator) -> None:
    sim.set_book("bch_btc", [(f"0.0{50 - i}", "1") for i in range(8)], BOOK_ASKS)
    async with client(sim) as ws:
        await ws.send(add("ok_sub_spot_bch_btc_depth_5"))
        await recv_json(ws)
        first = (await recv_json(ws))[0]["data"]
        assert [p for p, _ in first["bids"]] == ["0.050", "0.049", "0.048", "0.047", "0.046"]
        await sim.update_book("bch_btc", bids=[("0.050", "0")])
        second = (await recv_json(ws))[0]
        assert second["channel"] == "ok_sub_spot_bch_btc_depth_5"
        assert [p for p, _ in second["data"]["bids"]] == [
            "0.049",
            "0.048",
            "0.047",
            "0.046",
            "0.045",
        ]
        assert second["data"]["asks"] == [list(x) for x in BOOK_ASKS]


async def test_ticker_deals_and_klines(sim: OkexV1Simulator) -> None:
    seed_ticker = json.loads(fixture("ticker-push.json"))[0]["data"]
    async with client(sim) as ws:
        await ws.send(
            "[{'event':'addChannel','channel':'ok_sub_spot_bch_btc_deals'},"
            "{'event':'addChannel','channel':'ok_sub_spot_bch_btc_kline_1min'},"
            "{'event':'addChannel','channel':'ok_sub_spot_bch_btc_ticker'}]"
        )
        for _ in range(3):
            await recv_json(ws)
        await sim.push_deals("bch_btc", [["1001", "2463.86", "0.052", "16:34:07", "ask"]])
        assert await recv_json(ws) == [
            {
                "binary": 0,
                "channel": "ok_sub_spot_bch_btc_deals",
                "data": [["1001", "2463.86", "0.052", "16:34:07", "ask"]],
            }
        ]
        rows = json.loads(fixture("kline-1min-push.json"))[0]["data"]
        await sim.push_kline("bch_btc", "1min", rows)
        assert (await recv_json(ws))[0]["data"] == rows
        await sim.push_ticker("bch_btc", seed_ticker)
        assert (await recv_json(ws))[0]["data"] == seed_ticker
        # synthetic data when nothing is given
        await sim.push_deals("bch_btc")
        [tid, price, amount, when, side] = (await recv_json(ws))[0]["data"][0]
        assert len(when) == 8 and when[2] == ":" and side in ("bid", "ask")
        await sim.push_kline("bch_btc", "1min")
        assert len((await recv_json(ws))[0]["data"][0]) == 6
        await sim.push_ticker("bch_btc")
        assert set((await recv_json(ws))[0]["data"]) == set(seed_ticker)
    # a new ticker subscriber gets the latest ticker at once
    async with client(sim) as ws:
        await ws.send(add("ok_sub_spot_bch_btc_ticker"))
        await recv_json(ws)
        assert (await recv_json(ws))[0]["channel"] == "ok_sub_spot_bch_btc_ticker"
    with pytest.raises(ValueError):
        await sim.push_kline("bch_btc", "2min")


async def test_synthetic_market_data() -> None:
    async with OkexV1Simulator(rate=50) as sim, client(sim) as ws:
        await ws.send(
            json.dumps(
                [
                    {"event": "addChannel", "channel": f"ok_sub_spot_bch_btc_{kind}"}
                    for kind in ("ticker", "depth", "depth_10", "deals", "kline_3min")
                ]
            )
        )
        seen: set[str] = set()
        async with asyncio.timeout(5):
            while len(seen) < 5:
                for element in await recv_json(ws):
                    if element["channel"] != "addChannel":
                        seen.add(element["channel"])
        assert sim.stats.pushes_total >= 5


# -- accounts and the trade API ------------------------------------------------------------------


async def test_place_order_pushes_order_and_balance_to_the_account(sim: OkexV1Simulator) -> None:
    async with client(sim) as mine, client(sim) as other, client(sim) as anonymous:
        for ws, key, secret in ((mine, KEY, SECRET), (other, OTHER_KEY, OTHER_SECRET)):
            await ws.send(login(key, secret))
            await recv_json(ws)
            await ws.send(
                "[{'event':'addChannel','channel':'ok_sub_spot_bch_btc_order'},"
                "{'event':'addChannel','channel':'ok_sub_spot_bch_btc_balance'}]"
            )
            assert (await recv_json(ws))[0]["data"]["channel"] == "ok_sub_spot_bch_btc_order"
            assert (await recv_json(ws))[0]["data"]["channel"] == "ok_sub_spot_bch_btc_balance"
        await anonymous.send(fixture("ticker-request.txt"))
        await recv_json(anonymous)

        order_id = await sim.place_order(KEY, "bch_btc", "buy", "0.05", "2")
        assert order_id == 6191
        order_text = await recv_text(mine)
        order = json.loads(order_text)
        assert order == [
            {
                "base": "bch",
                "binary": 0,
                "channel": "ok_sub_spot_bch_btc_order",
                "data": {
                    "symbol": "bch_btc",
                    "tradeAmount": "2.00000000",
                    "createdDate": order[0]["data"]["createdDate"],
                    "orderId": 6191,
                    "completedTradeAmount": "0.00000000",
                    "averagePrice": "0",
                    "tradePrice": "0.00000000",
                    "tradeType": "buy",
                    "status": 0,
                    "tradeUnitPrice": "0.05000000",
                },
                "product": "spot",
                "quote": "btc",
                "type": "balance",  # swapped, as the documentation prints it
            }
        ]
        assert order[0]["data"]["createdDate"].isdigit()
        # same key layout as the documentation's example
        seed = json.loads(fixture("order-push.json"))[0]
        assert list(order[0]) == list(seed) and list(order[0]["data"]) == list(seed["data"])
        balance_text = await recv_text(mine)
        assert balance_text == (
            '[{"base":"bch","binary":0,"channel":"ok_sub_spot_bch_btc_balance","data":{"info":'
            '{"free":{"btc":9.9},"freezed":{"btc":0.1}}},"product":"spot","quote":"btc",'
            '"type":"order"}]'
        )
        await assert_quiet(other)  # another account's connection
        await assert_quiet(anonymous)

        await sim.cancel_order(KEY, order_id)
        assert (await recv_json(mine))[0]["data"]["status"] == -1
        assert (await recv_json(mine))[0]["data"]["info"] == {
            "free": {"btc": 10},
            "freezed": {"btc": 0},
        }
    assert sim.orders[order_id].status == -1
    assert (sim.stats.orders_placed, sim.stats.orders_cancelled) == (1, 1)
    with pytest.raises(Exception, match="10010"):
        await sim.place_order(KEY, "bch_btc", "buy", "1", "1000")
    with pytest.raises(Exception, match="10009"):
        await sim.cancel_order(KEY, order_id)
    with pytest.raises(Exception, match="10005"):
        await sim.place_order("nobody", "bch_btc", "buy", "1", "1")


async def test_trade_api_over_the_socket(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        # the documentation's requests carry the placeholder key XXXX
        for name in (
            "order-request.txt",
            "cancel-order-request.txt",
            "userinfo-request.txt",
            "orderinfo-request.txt",
            "order-request-template.txt",
            "userinfo-request-template.txt",
        ):
            await ws.send(fixture(name))
            channel = parse_lenient(fixture(name))["channel"]
            assert await recv_json(ws) == error(channel, 10005, "api_key or sign invalid")

        # the documented order request, with a real key and sign
        order_request = parse_lenient(fixture("order-request.txt"))
        parameters = {k: v for k, v in order_request["parameters"].items() if k != "sign"}
        parameters["api_key"] = KEY
        await ws.send(add("ok_spot_order", parameters=signed(parameters)))
        answer = await recv_text(ws)
        assert (
            answer
            == '[{"binary":0,"channel":"ok_spot_order","data":{"result":true,"order_id":6191}}]'
        )

        await ws.send(trade("ok_spot_userinfo"))
        funds = (await recv_json(ws))[0]["data"]["info"]["funds"]
        assert funds == {
            "free": {"bch": "100.00000000", "btc": "9.00000000"},
            "freezed": {"bch": "0.00000000", "btc": "1.00000000"},
        }

        await ws.send(trade("ok_spot_orderinfo", symbol="bch_btc", order_id="-1"))
        [order] = (await recv_json(ws))[0]["data"]["orders"]
        assert order["order_id"] == 6191 and order["status"] == 0 and order["type"] == "buy"
        seed_order = json.loads(fixture("orderinfo-response.json"))[0]["data"]["orders"][0]
        assert set(order) == set(seed_order)
        await ws.send(trade("ok_spot_orderinfo", symbol="bch_btc", order_id="6191"))
        assert (await recv_json(ws))[0]["data"]["orders"][0]["order_id"] == 6191
        await ws.send(trade("ok_spot_orderinfo", symbol="bch_btc", order_id="1"))
        assert await recv_json(ws) == error("ok_spot_orderinfo", 10009, "order does not exist")
        await ws.send(trade("ok_spot_orderinfo", symbol="bch_btc"))
        assert await recv_json(ws) == error("ok_spot_orderinfo", 10000, "required parameter empty")

        await ws.send(trade("ok_spot_cancel_order", symbol="bch_btc", order_id="6191"))
        assert await recv_json(ws) == json.loads(
            '[{"binary":0,"channel":"ok_spot_cancel_order","data":{"result":true,"order_id":"6191"}}]'
        )
        await ws.send(trade("ok_spot_cancel_order", symbol="bch_btc", order_id="6191"))
        assert (await recv_json(ws))[0]["data"]["error_code"] == 10009
        await ws.send(trade("ok_spot_order", symbol="bch_btc", type="buy", price="1", amount="99"))
        assert (await recv_json(ws))[0]["data"]["error_code"] == 10010
        await ws.send(trade("ok_spot_order", symbol="bch_btc", type="fly", price="1", amount="1"))
        assert (await recv_json(ws))[0]["data"]["error_code"] == 10008
        await ws.send(trade("ok_spot_userinfo", secret="wrong"))
        assert (await recv_json(ws))[0]["data"]["error_code"] == 10005


# -- connections ----------------------------------------------------------------------------------


async def test_send_raw_text_binary_and_compressed(sim: OkexV1Simulator) -> None:
    async with client(sim) as ws:
        await sim.wait_for_connections(1)
        await sim.send_raw(fixture("ticker-push.json"))
        assert await recv_raw(ws) == fixture("ticker-push.json")
        await sim.send_raw(b"\x00\x01garbage")
        assert await recv_raw(ws) == b"\x00\x01garbage"
        await sim.send_raw(deflate(fixture("deals-push.json")))
        message = await recv_raw(ws)
        assert isinstance(message, bytes) and inflate(message) == fixture("deals-push.json")


async def test_idle_close_is_optional_and_pings_keep_alive() -> None:
    async with OkexV1Simulator(idle_timeout=0.3) as sim:
        async with client(sim) as quiet:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(quiet.recv(), 2)
        async with client(sim) as busy:
            for _ in range(4):
                await asyncio.sleep(0.15)
                await busy.send(fixture("ping.json"))
                assert await recv_raw(busy) == '{"event":"pong"}'
        assert sim.stats.idle_closes == 1


async def test_unknown_path_is_rejected_and_query_strings_ignored(sim: OkexV1Simulator) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(sim.url("/ws/v2")):
            pass
    assert caught.value.response.status_code == 404
    async with connect(sim.url() + "?compress=true") as ws:
        await ws.send(fixture("ping.json"))
        assert await recv_raw(ws) == '{"event":"pong"}'


async def test_wss_with_the_client_context() -> None:
    async with OkexV1Simulator(tls=True) as sim:
        assert sim.url().startswith("wss://127.0.0.1:") and sim.url().endswith(PATH)
        assert sim.ssl_context_for_clients is not None and sim.ca_file is not None
        async with client(sim, ssl=sim.ssl_context_for_clients) as ws:
            await ws.send(fixture("ping.json"))
            assert await recv_raw(ws) == '{"event":"pong"}'
        localhost_url = sim.url().replace("127.0.0.1", "localhost")
        async with connect(localhost_url, ssl=client_ssl_context(sim.ca_file)) as ws:
            await ws.send(fixture("ticker-request.txt"))
            assert (await recv_json(ws))[0]["channel"] == "addChannel"
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(sim.url(), ssl=ssl.create_default_context()):
                pass
    assert sim.ca_file is None  # cleaned up


async def test_url_before_start_is_an_error() -> None:
    with pytest.raises(Exception, match="not running"):
        OkexV1Simulator().url()
