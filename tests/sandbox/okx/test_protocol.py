"""Protocol behaviour of the OKX v5 WebSocket simulator, driven by a plain websockets client.

Login signatures are computed here independently of the simulator's own ``login_sign``, so a
mistake in the simulator's signing would show up as a failing login.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

from bridge.sandbox.okx import (
    BUSINESS_PATH,
    PRIVATE_PATH,
    PUBLIC_PATH,
    SEED_CALENDAR_FRAME,
    SEED_STATUS_FRAME,
    OkxAccount,
    OkxSimulator,
    subscription_key,
)
from bridge.sandbox.tls import client_ssl_context
from tests.sandbox.okx.test_books import Client

API_KEY, SECRET, PASSPHRASE = "test-key", "test-secret", "test-passphrase"
VIP0_KEY = "vip0-key"
ACCOUNTS = {
    API_KEY: OkxAccount(secret=SECRET, passphrase=PASSPHRASE, vip_level=1),
    VIP0_KEY: OkxAccount(secret="vip0-secret", passphrase="vip0-pass", vip_level=0),
}
SEED_STATUS = json.loads(SEED_STATUS_FRAME)["data"][0]
SEED_CALENDAR = json.loads(SEED_CALENDAR_FRAME)["data"][0]
CONN_ID = re.compile(r"[0-9a-f]{8}")
QUIET = 0.2  # how long "nothing arrives" is watched for


# -- helpers ---------------------------------------------------------------------------------


def sign(secret: str, timestamp: str) -> str:
    message = f"{timestamp}GET/users/self/verify".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def login_request(
    api_key: str = API_KEY,
    secret: str = SECRET,
    passphrase: str = PASSPHRASE,
    timestamp: str | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    ts = timestamp if timestamp is not None else str(int(time.time()))
    return {
        "op": "login",
        "args": [
            {
                "apiKey": api_key,
                "passphrase": passphrase,
                "timestamp": ts,
                "sign": signature if signature is not None else sign(secret, ts),
            }
        ],
    }


def subscribe(*args: dict[str, str], request_id: str | None = None) -> str:
    request: dict[str, Any] = {} if request_id is None else {"id": request_id}
    request.update(op="subscribe", args=list(args))
    return json.dumps(request)


async def recv_text(ws: ClientConnection, timeout: float = 2.0) -> str:
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, str)
    return message


async def recv_json(ws: ClientConnection, timeout: float = 2.0) -> dict[str, Any]:
    frame = json.loads(await recv_text(ws, timeout))
    assert isinstance(frame, dict)
    return frame


async def assert_quiet(ws: ClientConnection, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


async def login(ws: ClientConnection, **kwargs: Any) -> dict[str, Any]:
    await ws.send(json.dumps(login_request(**kwargs)))
    return await recv_json(ws)


async def assert_still_serving(ws: ClientConnection, path: str) -> None:
    """A valid request after an error is answered normally."""
    if path == PUBLIC_PATH:
        arg = {"channel": "tickers", "instId": "BTC-USDT"}
        await ws.send(subscribe(arg, request_id="after"))
        assert await recv_json(ws) == {
            "id": "after",
            "event": "subscribe",
            "arg": arg,
            "connId": (await _conn_id_of(ws)),
        }
    else:
        reply = await login(ws)
        assert reply["event"] == "login" and reply["code"] == "0"


async def _conn_id_of(ws: ClientConnection) -> str:
    # Every server frame carries connId; learn it from a cheap error.
    await ws.send("{}")
    return str((await recv_json(ws))["connId"])


@pytest.fixture
async def sim() -> AsyncIterator[OkxSimulator]:
    async with OkxSimulator(accounts=ACCOUNTS, notice_close_delay=0.2) as simulator:
        yield simulator


def client(sim: OkxSimulator, path: str = PUBLIC_PATH, **kwargs: Any) -> Any:
    return connect(sim.url(path), ping_interval=None, open_timeout=5, **kwargs)


# -- subscribe / unsubscribe -------------------------------------------------------------------


async def test_one_ack_per_arg_with_id_echoed(sim: OkxSimulator) -> None:
    btc = {"channel": "tickers", "instId": "BTC-USDT"}
    eth = {"channel": "tickers", "instId": "ETH-USDT"}
    async with client(sim) as ws:
        await ws.send(subscribe(btc, eth, request_id="1512"))
        first, second = json.loads(await recv_text(ws)), json.loads(await recv_text(ws))
        conn_id = first["connId"]
        assert CONN_ID.fullmatch(conn_id)
        assert first == {"id": "1512", "event": "subscribe", "arg": btc, "connId": conn_id}
        assert list(first) == ["id", "event", "arg", "connId"]
        assert second == {"id": "1512", "event": "subscribe", "arg": eth, "connId": conn_id}

        await ws.send(json.dumps({"op": "unsubscribe", "args": [btc]}))
        ack = await recv_json(ws)
        assert ack == {"event": "unsubscribe", "arg": btc, "connId": conn_id}
        assert "id" not in ack
        await sim.wait_for_subscribers("tickers", 1)
        assert sim.connections[0].subscriptions == {subscription_key(eth)}


async def test_ack_without_id_has_no_id(sim: OkxSimulator) -> None:
    async with client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}))
        ack = await recv_json(ws)
        assert list(ack) == ["event", "arg", "connId"]
        assert ack["event"] == "subscribe" and ack["arg"] == {"channel": "status"}


async def test_mixed_args_get_one_answer_each(sim: OkxSimulator) -> None:
    good = {"channel": "tickers", "instId": "ETH-USDT"}
    bad = {"channel": "tickers", "instId": "DOGE-USDT"}
    async with client(sim) as ws:
        await ws.send(subscribe(bad, good, request_id="9"))
        error, ack = await recv_json(ws), await recv_json(ws)
        assert (error["event"], error["code"], error["id"]) == ("error", "60018", "9")
        assert (ack["event"], ack["arg"], ack["id"]) == ("subscribe", good, "9")


WRONG_URL = (
    "Wrong URL or channel:{} doesn't exist. "
    "Please use the correct URL, channel and parameters referring to API document."
)


@pytest.mark.parametrize(
    ("path", "request_text", "code", "msg", "request_id"),
    [
        (PUBLIC_PATH, "hello", "60012", "Invalid request: hello", None),
        (
            PUBLIC_PATH,
            '{"op": "subscribe", "argss":[{"channel":"status"}]}',
            "60012",
            'Invalid request: {"op": "subscribe", "argss":[{"channel":"status"}]}',
            None,
        ),
        (
            PUBLIC_PATH,
            subscribe({"channel": "nope"}, request_id="7"),
            "60018",
            WRONG_URL.format("nope"),
            "7",
        ),
        (
            PUBLIC_PATH,
            subscribe({"channel": "tickers", "instId": "DOGE-USDT"}),
            "60018",
            WRONG_URL.format("tickers, instId:DOGE-USDT"),
            None,
        ),
        (
            BUSINESS_PATH,
            subscribe({"channel": "economic-calendar"}, request_id="42"),
            "60011",
            "Please log in",
            "42",
        ),
        (
            PUBLIC_PATH,
            subscribe({"channel": "economic-calendar"}),
            "64001",
            "This channel has been migrated to the '/business' URL. "
            "Please subscribe using the new URL.",
            None,
        ),
        (PUBLIC_PATH, '{"id":"3","op":"order","args":[{}]}', "60019", "Invalid op: order", "3"),
        (PUBLIC_PATH, '{"op":"subscribe","args":"status"}', "60013", "Invalid args", None),
        (PUBLIC_PATH, '{"op":"subscribe","args":["status"]}', "60013", "Invalid args", None),
        (BUSINESS_PATH, subscribe({"channel": "status"}), "64002", None, None),
    ],
    ids=[
        "not-json",
        "no-args",
        "unknown-channel",
        "unknown-instId",
        "calendar-without-login",
        "calendar-on-public",
        "invalid-op",
        "args-not-list",
        "args-not-objects",
        "public-channel-on-business",
    ],
)
async def test_errors_keep_the_connection_open(
    sim: OkxSimulator,
    path: str,
    request_text: str,
    code: str,
    msg: str | None,
    request_id: str | None,
) -> None:
    async with client(sim, path) as ws:
        await ws.send(request_text)
        error = await recv_json(ws)
        expected_keys = ["event", "code", "msg", "connId"]
        if request_id is not None:
            expected_keys.insert(0, "id")
            assert error["id"] == request_id
        assert list(error) == expected_keys
        assert error["event"] == "error"
        assert error["code"] == code
        if msg is not None:
            assert error["msg"] == msg
        await assert_still_serving(ws, path)
    assert sim.stats.errors_sent[code] >= 1


async def test_calendar_needs_vip_level_1(sim: OkxSimulator) -> None:
    async with client(sim, BUSINESS_PATH) as ws:
        reply = await login(ws, api_key=VIP0_KEY, secret="vip0-secret", passphrase="vip0-pass")
        assert reply["code"] == "0"
        await ws.send(subscribe({"channel": "economic-calendar"}))
        error = await recv_json(ws)
        assert error["code"] == "64003"
        assert error["msg"] == (
            "Your trading fee tier doesn't meet the requirement to access this channel"
        )
        await ws.send("ping")
        assert await recv_text(ws) == "pong"


async def test_error_key_order_can_be_shuffled() -> None:
    async with OkxSimulator(shuffle_error_keys=True) as shuffled, client(shuffled) as ws:
        await ws.send(subscribe({"channel": "nope"}, request_id="5"))
        error = await recv_json(ws)
        assert list(error) == ["event", "msg", "code", "connId", "id"]
        await ws.send(subscribe({"channel": "nope"}))
        assert list(await recv_json(ws)) == ["event", "msg", "code", "connId"]


async def test_private_channel_needs_login(sim: OkxSimulator) -> None:
    orders = {"channel": "orders", "instType": "ANY"}
    async with client(sim, PRIVATE_PATH) as ws:
        await ws.send(subscribe(orders))
        assert (await recv_json(ws))["code"] == "60011"
        assert (await login(ws))["code"] == "0"
        await ws.send(subscribe(orders))
        assert (await recv_json(ws))["event"] == "subscribe"
        await sim.publish(orders, [{"ordId": "1"}])
        assert await recv_json(ws) == {"arg": orders, "data": [{"ordId": "1"}]}


# -- login -----------------------------------------------------------------------------------


async def test_login_ok(sim: OkxSimulator) -> None:
    async with client(sim, BUSINESS_PATH) as ws:
        reply = await login(ws)
        assert list(reply) == ["event", "code", "msg", "connId"]
        assert reply == {"event": "login", "code": "0", "msg": "", "connId": reply["connId"]}
        (conn,) = sim.connections
        assert conn.logged_in and conn.api_key == API_KEY and conn.account == ACCOUNTS[API_KEY]
    assert sim.stats.logins_ok == 1


async def test_login_accepts_a_numeric_timestamp(sim: OkxSimulator) -> None:
    ts = int(time.time())
    request = login_request()
    request["args"][0].update(timestamp=ts, sign=sign(SECRET, str(ts)))
    async with client(sim, PRIVATE_PATH) as ws:
        await ws.send(json.dumps(request))
        assert (await recv_json(ws))["code"] == "0"


# A bad signature is answered with 60007 "Invalid sign" (not the generic 60009).
@pytest.mark.parametrize(
    ("overrides", "code", "msg"),
    [
        ({"signature": "bm90IGEgc2lnbmF0dXJl"}, "60007", "Invalid sign"),
        ({"secret": "someone-elses-secret"}, "60007", "Invalid sign"),
        ({"timestamp": str(int(time.time()) - 31)}, "60006", "Timestamp request expired"),
        ({"timestamp": str(int(time.time()) + 3600)}, "60006", "Timestamp request expired"),
        ({"passphrase": "wrong"}, "60024", "Wrong passphrase"),
        ({"api_key": "unknown-key"}, "60005", "Invalid OK-ACCESS-KEY"),
    ],
    ids=["bad-sign", "wrong-secret", "stale", "future", "wrong-passphrase", "unknown-key"],
)
async def test_login_failures_keep_the_connection_open(
    sim: OkxSimulator, overrides: dict[str, str], code: str, msg: str
) -> None:
    async with client(sim, BUSINESS_PATH) as ws:
        error = await login(ws, **overrides)
        assert error == {"event": "error", "code": code, "msg": msg, "connId": error["connId"]}
        assert not sim.connections[0].logged_in
        # Still open: a correct login on the same connection succeeds.
        assert (await login(ws))["code"] == "0"
    assert sim.stats.logins_failed == 1


async def test_repeated_login_is_refused(sim: OkxSimulator) -> None:
    async with client(sim, BUSINESS_PATH) as ws:
        assert (await login(ws))["code"] == "0"
        error = await login(ws)
        assert error["code"] == "60031"
        assert error["msg"] == "The WebSocket endpoint does not allow multiple or repeated logins."
        await ws.send(subscribe({"channel": "economic-calendar"}))
        assert (await recv_json(ws))["event"] == "subscribe"


async def test_login_window_uses_the_injected_clock() -> None:
    async with (
        OkxSimulator(accounts=ACCOUNTS, clock=lambda: 1538054050.0) as sim,
        client(sim, BUSINESS_PATH) as ws,
    ):
        assert (await login(ws, timestamp="1538054080"))["code"] == "0"  # 30 s: still fine


async def test_reject_logins_gives_60009(sim: OkxSimulator) -> None:
    sim.reject_logins = True
    async with client(sim, BUSINESS_PATH) as ws:
        error = await login(ws)
        assert (error["code"], error["msg"]) == ("60009", "Login failed.")


# -- status and economic calendar ------------------------------------------------------------


async def test_status_pushed_on_subscribe_and_on_each_change(sim: OkxSimulator) -> None:
    async with client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}, request_id="s1"))
        assert (await recv_json(ws))["event"] == "subscribe"
        # The default latest status is the seed example, sent byte for byte.
        assert await recv_text(ws) == SEED_STATUS_FRAME

        await ws.send(subscribe({"channel": "status"}, request_id="s2"))
        assert (await recv_json(ws))["id"] == "s2"
        await assert_quiet(ws)  # duplicate: acked again, no second push

        change = {**SEED_STATUS, "state": "ongoing", "ts": "1672826100000"}
        await sim.push_status(change)
        assert await recv_json(ws) == {"arg": {"channel": "status"}, "data": [change]}
        await assert_quiet(ws)  # once, despite the duplicate subscribe

        # A later subscriber gets the latest change on subscribe.
        async with client(sim) as late:
            await late.send(subscribe({"channel": "status"}))
            await recv_json(late)
            assert (await recv_json(late))["data"] == [change]


async def test_status_fields_are_completed_with_empty_strings(sim: OkxSimulator) -> None:
    async with client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}))
        await recv_json(ws), await recv_json(ws)
        await sim.push_status({"title": "Spot upgrade", "state": "scheduled", "ts": "1"})
        (element,) = (await recv_json(ws))["data"]
        assert set(element) == {
            "title", "state", "begin", "end", "preOpenBegin", "href", "serviceType",
            "system", "scheDesc", "maintType", "env", "ts",
        }  # fmt: skip
        assert element["begin"] == "" and element["ts"] == "1"


async def test_no_initial_status_when_configured_without_one() -> None:
    async with OkxSimulator(initial_status=None) as sim, client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}))
        assert (await recv_json(ws))["event"] == "subscribe"
        await assert_quiet(ws)


async def test_calendar_only_after_login_and_pushed_byte_exact(sim: OkxSimulator) -> None:
    async with client(sim, BUSINESS_PATH) as ws, client(sim) as public:
        await public.send(subscribe({"channel": "status"}))
        await recv_json(public), await recv_json(public)

        await ws.send(subscribe({"channel": "economic-calendar"}))
        assert (await recv_json(ws))["code"] == "60011"
        assert (await login(ws))["code"] == "0"
        await ws.send(subscribe({"channel": "economic-calendar"}))
        assert (await recv_json(ws))["event"] == "subscribe"
        await assert_quiet(ws)  # nothing on subscribe

        await sim.wait_for_subscribers("economic-calendar")
        await sim.push_calendar(SEED_CALENDAR)
        assert await recv_text(ws) == SEED_CALENDAR_FRAME
        await assert_quiet(public, 0.05)  # not for the status subscriber


# -- liveness ------------------------------------------------------------------------------------


async def test_ping_pong(sim: OkxSimulator) -> None:
    async with client(sim) as ws:
        await ws.send("ping")
        assert await recv_text(ws) == "pong"
    assert sim.stats.pings == 1


async def test_idle_connection_closed_with_4004_and_ping_keeps_alive() -> None:
    async with (
        OkxSimulator(idle_timeout=0.5) as sim,
        client(sim) as idle,
        client(sim) as pinging,
    ):
        started = time.monotonic()
        for _ in range(5):  # 1 s of pinging, twice the idle timeout
            await pinging.send("ping")
            assert await recv_text(pinging) == "pong"
            await asyncio.sleep(0.2)

        with pytest.raises(ConnectionClosed):
            await idle.recv()
        assert idle.close_code == 4004
        assert idle.close_reason == "No data received in 30s."
        assert pinging.state is State.OPEN

        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(pinging.recv(), 2)  # stops pinging: closed too
        assert pinging.close_code == 4004
        assert time.monotonic() - started < 3
        assert sim.stats.idle_closes == 2


async def test_pushes_keep_a_subscribed_connection_alive() -> None:
    async with OkxSimulator(idle_timeout=0.5) as sim, client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}))
        await recv_json(ws), await recv_json(ws)
        for n in range(4):
            await asyncio.sleep(0.25)
            await sim.push_status({"title": f"change {n}"})
            await recv_json(ws)
        assert ws.state is State.OPEN


async def test_notice_then_close(sim: OkxSimulator) -> None:
    async with client(sim) as first, client(sim, BUSINESS_PATH) as second:
        await sim.wait_for_connections(2)
        await sim.send_notice()
        for ws in (first, second):
            notice = await recv_json(ws)
            assert list(notice) == ["event", "code", "msg", "connId"]
            assert notice["event"] == "notice" and notice["code"] == "64008"
            assert notice["msg"] == (
                "The connection will soon be closed for a service upgrade. Please reconnect."
            )
        async with client(sim) as newcomer:  # opened after the notice: left alone
            for ws in (first, second):
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 2)
                assert ws.close_code == 1001
            await newcomer.send("ping")
            assert await recv_text(newcomer) == "pong"


async def test_frame_too_large_closes_with_1009() -> None:
    async with OkxSimulator(max_message_size=1024) as sim, client(sim) as ws:
        await ws.send("x" * 2048)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 2)
        assert ws.close_code == 1009


# -- scripting ---------------------------------------------------------------------------------


async def test_send_raw_and_channel_conn_count(sim: OkxSimulator) -> None:
    async with client(sim) as public, client(sim, PRIVATE_PATH) as private:
        await sim.wait_for_connections(2)
        await sim.send_raw(SEED_STATUS_FRAME)
        assert await recv_text(public) == SEED_STATUS_FRAME
        assert await recv_text(private) == SEED_STATUS_FRAME

        await sim.send_raw(SEED_CALENDAR_FRAME, path=PRIVATE_PATH)
        assert await recv_text(private) == SEED_CALENDAR_FRAME
        await assert_quiet(public, 0.05)

        await sim.send_channel_conn_count(path=PRIVATE_PATH)
        frame = await recv_json(private)
        assert frame == {
            "event": "channel-conn-count",
            "channel": "orders",
            "connCount": "2",
            "connId": frame["connId"],
        }
        await sim.send_channel_conn_count("orders", "3", error=True, path=PRIVATE_PATH)
        frame = await recv_json(private)
        assert (frame["event"], frame["connCount"]) == ("channel-conn-count-error", "3")


async def test_publish_reaches_only_subscribers_of_the_arg(sim: OkxSimulator) -> None:
    btc = {"channel": "books5", "instId": "BTC-USDT"}
    eth = {"channel": "books5", "instId": "ETH-USDT"}
    async with client(sim) as ws:
        await ws.send(subscribe(btc))
        await recv_json(ws)
        first = await recv_json(ws)  # the whole book, as OKX pushes it on subscribe
        assert first["arg"] == btc and len(first["data"][0]["asks"]) == 5
        await sim.publish(eth, [{"asks": []}])
        await sim.publish(btc, [{"asks": [], "bids": []}], action="snapshot")
        text = await recv_text(ws)
        assert text == (
            '{"arg":{"channel":"books5","instId":"BTC-USDT"},'
            '"action":"snapshot","data":[{"asks":[],"bids":[]}]}'
        )


async def test_synthetic_tickers_and_books() -> None:
    books = {"channel": "books", "instId": "BTC-USDT"}
    tickers = {"channel": "tickers", "instId": "ETH-USDT"}
    async with OkxSimulator(rate=50) as sim, client(sim) as ws:
        await ws.send(subscribe(books, tickers))
        frames = [await recv_json(ws) for _ in range(12)]
    # Each arg's ack comes before that arg's data; the books snapshot follows its ack.
    assert frames[0] == {"event": "subscribe", "arg": books, "connId": frames[0]["connId"]}
    assert frames[1]["arg"] == books and frames[1]["action"] == "snapshot"
    acks = [f for f in frames if "event" in f]
    assert [a["arg"] for a in acks] == [books, tickers]
    book_frames = [f for f in frames if "data" in f and f["arg"] == books]
    ticker_frames = [f for f in frames if "data" in f and f["arg"] == tickers]
    assert ticker_frames and ticker_frames[0]["data"][0]["instId"] == "ETH-USDT"

    snapshot, *updates = book_frames
    client_book = Client(snapshot)  # checks the snapshot's checksum
    assert updates and all(u["action"] == "update" for u in updates)
    for update in updates:
        assert client_book.apply(update) == (True, True)  # the sequence and the checksum hold


async def test_wait_for_subscribers(sim: OkxSimulator) -> None:
    with pytest.raises(TimeoutError):
        await sim.wait_for_subscribers("status", timeout=0.1)
    async with client(sim) as a, client(sim) as b:
        for ws in (a, b):
            await ws.send(subscribe({"channel": "status"}))
        await sim.wait_for_subscribers("status", 2)
        assert len(sim.subscribers("status")) == 2


# -- endpoints and transport -------------------------------------------------------------------


async def test_unknown_path_is_rejected_and_query_strings_ignored(sim: OkxSimulator) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(sim.url("/ws/v5/nope")):
            pass
    assert caught.value.response.status_code == 404
    async with connect(sim.url(BUSINESS_PATH) + "?brokerId=9999") as ws:
        assert (await login(ws))["code"] == "0"
        assert sim.connections[0].path == BUSINESS_PATH


async def test_wss_with_the_client_context() -> None:
    async with OkxSimulator(tls=True) as sim:
        assert sim.url().startswith("wss://127.0.0.1:")
        assert sim.ssl_context_for_clients is not None and sim.ca_file is not None
        async with client(sim, ssl=sim.ssl_context_for_clients) as ws:
            await ws.send("ping")
            assert await recv_text(ws) == "pong"
        # Configured by file, and by hostname rather than IP.
        localhost_url = sim.url().replace("127.0.0.1", "localhost")
        async with connect(localhost_url, ssl=client_ssl_context(sim.ca_file)) as ws:
            await ws.send(subscribe({"channel": "status"}))
            assert (await recv_json(ws))["event"] == "subscribe"
        # Without trusting the certificate the handshake fails.
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(sim.url(), ssl=ssl.create_default_context()):
                pass


async def test_stats_count_the_conversation(sim: OkxSimulator) -> None:
    async with client(sim) as ws:
        await ws.send(subscribe({"channel": "status"}, {"channel": "nope"}))
        for _ in range(3):  # ack, error, initial status push
            await recv_json(ws)
    await asyncio.sleep(0.05)
    stats = sim.stats
    assert (stats.connects_total, stats.subscribe_requests, stats.acks_sent) == (1, 1, 1)
    assert stats.errors_sent == {"60018": 1}
    assert stats.pushes_sent == {"status": 1}
