"""Every channel the OKX simulator serves, over a plain websockets client: where each may be
subscribed (endpoint, arguments, login, fee tier), what it sends first and on each generator
round, the private channels after a login, and the book faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from bridge.sandbox.okx import BUSINESS_PATH, PRIVATE_PATH, PUBLIC_PATH, OkxAccount, OkxSimulator
from tests.sandbox.okx.test_books import Client
from tests.sandbox.okx.test_protocol import (
    API_KEY,
    PASSPHRASE,
    SECRET,
    assert_quiet,
    client,
    login,
    recv_json,
    subscribe,
)

VIP4_KEY, VIP4_SECRET, VIP4_PASS = "vip4-key", "vip4-secret", "vip4-pass"
ACCOUNTS = {
    API_KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1),
    VIP4_KEY: OkxAccount(secret=VIP4_SECRET, passphrase=VIP4_PASS, vip_level=4),
}
INSTRUMENTS = {"BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "BTC-USD"}


@pytest.fixture
async def sim() -> AsyncIterator[OkxSimulator]:
    async with OkxSimulator(
        accounts=ACCOUNTS, instruments=INSTRUMENTS, initial_status=None
    ) as simulator:
        yield simulator


async def vip4(ws: ClientConnection) -> None:
    assert (await login(ws, api_key=VIP4_KEY, secret=VIP4_SECRET, passphrase=VIP4_PASS))[
        "code"
    ] == "0"


async def answer(ws: ClientConnection, arg: dict[str, str]) -> dict[str, Any]:
    await ws.send(subscribe(arg))
    return await recv_json(ws)


# --- where each channel may be subscribed --------------------------------------------------------

PUBLIC = [
    {"channel": c, "instId": "BTC-USDT-SWAP"}
    for c in (
        "tickers",
        "trades",
        "books",
        "books5",
        "bbo-tbt",
        "books-elp",
        "mark-price",
        "funding-rate",
        "open-interest",
        "price-limit",
    )
] + [
    {"channel": "index-tickers", "instId": "BTC-USD"},
    {"channel": "instruments", "instType": "SPOT"},
    {"channel": "liquidation-orders", "instType": "SWAP"},
    {"channel": "estimated-price", "instType": "FUTURES", "instFamily": "BTC-USD"},
    {"channel": "opt-summary", "instFamily": "BTC-USD"},
]
BUSINESS = [
    {"channel": "trades-all", "instId": "BTC-USDT"},
    {"channel": "candle1m", "instId": "BTC-USDT"},
    {"channel": "candle1Dutc", "instId": "BTC-USDT"},
    {"channel": "mark-price-candle1H", "instId": "BTC-USDT-SWAP"},
    {"channel": "index-candle30m", "instId": "BTC-USD"},
]


@pytest.mark.parametrize("arg", PUBLIC, ids=lambda a: a["channel"])
async def test_public_channels_on_public(sim: OkxSimulator, arg: dict[str, str]) -> None:
    async with client(sim) as ws:
        assert (await answer(ws, arg))["event"] == "subscribe"
    async with client(sim, BUSINESS_PATH) as ws:
        assert (await answer(ws, arg))["code"] == "64002"


@pytest.mark.parametrize("arg", BUSINESS, ids=lambda a: a["channel"])
async def test_business_channels_on_business_without_login(
    sim: OkxSimulator, arg: dict[str, str]
) -> None:
    async with client(sim, BUSINESS_PATH) as ws:
        assert (await answer(ws, arg))["event"] == "subscribe"
    async with client(sim) as ws:
        assert (await answer(ws, arg))["code"] == "64001"


@pytest.mark.parametrize(
    ("arg", "code"),
    [
        ({"channel": "opt-summary"}, "60013"),
        ({"channel": "opt-summary", "uly": "BTC-USD"}, "60013"),  # no longer accepted
        ({"channel": "estimated-price", "instType": "FUTURES"}, "60013"),
        ({"channel": "instruments"}, "60013"),
        ({"channel": "trades", "instId": "DOGE-USDT"}, "60018"),
        ({"channel": "candle7x", "instId": "BTC-USDT"}, "60018"),
    ],
)
async def test_missing_or_unknown_arguments(
    sim: OkxSimulator, arg: dict[str, str], code: str
) -> None:
    path = BUSINESS_PATH if arg["channel"].startswith("candle") else PUBLIC_PATH
    async with client(sim, path) as ws:
        assert (await answer(ws, arg))["code"] == code


@pytest.mark.parametrize("channel", ["books-l2-tbt", "books50-l2-tbt"])
async def test_tick_by_tick_books_need_a_login_at_vip4(sim: OkxSimulator, channel: str) -> None:
    arg = {"channel": channel, "instId": "BTC-USDT"}
    async with client(sim) as ws:
        assert (await answer(ws, arg))["code"] == "60011"
        assert (await login(ws))["code"] == "0"  # VIP1
        assert (await answer(ws, arg))["code"] == "64003"
    async with client(sim) as ws:
        await vip4(ws)
        assert (await answer(ws, arg))["event"] == "subscribe"
        snapshot = await recv_json(ws)
        assert snapshot["action"] == "snapshot"
        depth = 50 if channel == "books50-l2-tbt" else 60
        assert len(snapshot["data"][0]["bids"]) == depth


async def test_fills_need_vip4_and_orders_algo_is_on_business(sim: OkxSimulator) -> None:
    async with client(sim, PRIVATE_PATH) as ws:
        assert (await login(ws))["code"] == "0"
        assert (await answer(ws, {"channel": "fills"}))["code"] == "64003"
        assert (await answer(ws, {"channel": "orders-algo", "instType": "ANY"}))["code"] == (
            "60018"
        )
    async with client(sim, BUSINESS_PATH) as ws:
        algo = {"channel": "orders-algo", "instType": "ANY"}
        assert (await answer(ws, algo))["code"] == "60011"
        assert (await login(ws))["code"] == "0"
        assert (await answer(ws, algo))["event"] == "subscribe"
        await assert_quiet(ws)  # no push until an algo order changes


# --- what each channel sends ---------------------------------------------------------------------


async def test_every_market_channel_pushes_on_its_round(sim: OkxSimulator) -> None:
    async with client(sim) as public, client(sim, BUSINESS_PATH) as business:
        for ws, args in ((public, PUBLIC), (business, BUSINESS)):
            await ws.send(subscribe(*args))
        await sim.wait_for_subscribers("opt-summary")
        await sim.wait_for_subscribers("index-candle30m")
        await asyncio.sleep(0.1)
        for _ in range(3):
            await sim.tick()
        seen: dict[str, list[dict[str, Any]]] = {}
        for ws in (public, business):
            while True:
                try:
                    frame = await recv_json(ws, timeout=0.3)
                except TimeoutError:
                    break
                if "data" in frame:
                    seen.setdefault(frame["arg"]["channel"], []).append(frame)
    assert set(seen) == {a["channel"] for a in PUBLIC + BUSINESS}
    for arg in PUBLIC + BUSINESS:
        frames = seen[arg["channel"]]
        assert all(f["arg"] == arg for f in frames)
    candle = seen["candle1m"][-1]["data"][-1]
    assert len(candle) == 9 and all(isinstance(v, str) for v in candle)
    assert len(seen["mark-price-candle1H"][-1]["data"][-1]) == 6
    assert all(len(f["data"]) == 1 for f in seen["trades-all"])
    assert seen["price-limit"][0]["data"][0]["enabled"] is True
    (instruments, *_) = seen["instruments"]
    assert [i["instId"] for i in instruments["data"]] == ["BTC-USD", "BTC-USDT", "ETH-USDT"]
    assert {o["instType"] for o in seen["opt-summary"][0]["data"]} == {"OPTION"}


async def test_private_channels_after_login(sim: OkxSimulator) -> None:
    channels = [
        {"channel": "account"},
        {"channel": "positions", "instType": "ANY"},
        {"channel": "balance_and_position"},
        {"channel": "orders", "instType": "SWAP"},
        {"channel": "fills"},
    ]
    async with client(sim, PRIVATE_PATH) as ws:
        await vip4(ws)
        await ws.send(subscribe(*channels))
        first: dict[str, dict[str, Any]] = {}
        for _ in range(len(channels) + 3):  # five acks, three snapshots
            frame = await recv_json(ws)
            if "data" in frame:
                first[frame["arg"]["channel"]] = frame
        assert set(first) == {"account", "positions", "balance_and_position"}
        account = first["account"]
        assert account["arg"] == {"channel": "account", "uid": "77982378738415879"}
        assert list(account)[:4] == ["arg", "eventType", "curPage", "lastPage"]
        assert (account["eventType"], account["curPage"], account["lastPage"]) == (
            "snapshot",
            1,
            True,
        )
        assert {d["ccy"] for d in account["data"][0]["details"]} == {"BTC", "USDT"}
        assert first["balance_and_position"]["data"][0]["eventType"] == "snapshot"

        await sim.tick("private")
        live = await recv_json(ws)
        assert live["arg"]["channel"] == "orders" and live["data"][0]["state"] == "live"
        await sim.tick("private")
        frames = [await recv_json(ws) for _ in range(6)]
    by_channel = {f["arg"]["channel"]: f for f in frames if f["data"][0].get("state") != "live"}
    assert set(by_channel) == {"orders", "fills", "balance_and_position", "account", "positions"}
    filled, fill = by_channel["orders"]["data"][0], by_channel["fills"]["data"][0]
    assert filled["state"] == "filled" and filled["ordId"] == live["data"][0]["ordId"]
    assert fill["tradeId"] == filled["tradeId"] and fill["ordId"] == filled["ordId"]
    assert by_channel["account"]["eventType"] == "event_update"
    assert "curPage" not in by_channel["account"]  # pages are for snapshots
    assert by_channel["balance_and_position"]["data"][0]["eventType"] == "filled"


# --- book faults over the wire -------------------------------------------------------------------


async def book_client(ws: ClientConnection, arg: dict[str, str]) -> Client:
    assert (await answer(ws, arg))["event"] == "subscribe"
    return Client(await recv_json(ws))


async def test_faults_reach_the_client_on_the_next_update_of_their_instrument(
    sim: OkxSimulator,
) -> None:
    btc = {"channel": "books", "instId": "BTC-USDT"}
    eth = {"channel": "books", "instId": "ETH-USDT"}
    async with client(sim) as ws:
        books = {"BTC-USDT": await book_client(ws, btc), "ETH-USDT": await book_client(ws, eth)}

        async def round_() -> dict[str, tuple[bool, bool]]:
            await sim.tick("books")
            found = {}
            for _ in range(2):
                frame = await recv_json(ws)
                found[frame["arg"]["instId"]] = books[frame["arg"]["instId"]].apply(frame)
            return found

        assert await round_() == {"BTC-USDT": (True, True), "ETH-USDT": (True, True)}
        sim.corrupt_next_checksum("ETH-USDT")
        assert await round_() == {"BTC-USDT": (True, True), "ETH-USDT": (True, False)}
        sim.break_next_sequence("BTC-USDT")
        assert await round_() == {"BTC-USDT": (False, True), "ETH-USDT": (True, True)}
        sim.reset_next_sequence("BTC-USDT")
        assert await round_() == {"BTC-USDT": (True, True), "ETH-USDT": (True, True)}

        sim.lose_next_update("ETH-USDT")
        await sim.tick("books")
        frame = await recv_json(ws)  # only BTC's
        assert frame["arg"] == btc
        books["BTC-USDT"].apply(frame)
        assert (await round_())["ETH-USDT"][0] is False

        await sim.send_book_keepalive("BTC-USDT")
        keepalive = await recv_json(ws)
        assert keepalive["data"][0]["asks"] == []
        assert books["BTC-USDT"].apply(keepalive) == (True, True)
    assert sim.stats.book_faults == {
        "corrupt_checksum": 1,
        "break_sequence": 1,
        "reset_sequence": 1,
        "lose": 1,
    }


async def test_checksum_zero_as_okx_sends_since_june_2026() -> None:
    async with OkxSimulator(book_checksums=False) as sim, client(sim) as ws:
        await ws.send(subscribe({"channel": "books", "instId": "BTC-USDT"}))
        await recv_json(ws)
        frames = [await recv_json(ws)]
        for _ in range(3):
            await sim.tick("books")
            frames.append(await recv_json(ws))
    assert {f["data"][0]["checksum"] for f in frames} == {0}
    assert [f["data"][0]["prevSeqId"] for f in frames[1:]] == [
        f["data"][0]["seqId"] for f in frames[:-1]
    ]
    assert json.dumps(frames[0]).count('"checksum": 0') == 1
