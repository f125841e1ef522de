"""``bridge demo``: the whole pipeline on one machine, with nothing to configure.

Starts a real Kafka broker (sandbox) and the three exchange simulators over ``wss://``: OKX
(``/ws/v5/public`` with status, tickers and a checked book, ``/ws/v5/business`` with
economic-calendar after a login), Kraken (ticker and a checksummed book) and legacy OKEx v1
(ticker and depth); each also trades one instrument, and the normalized topics are on, so the
three exchanges' trades arrive on ``normalized.trades`` in one form. The OKX simulator scripts
maintenance status changes and calendar events. The demo reads the records back from Kafka,
decodes them with the schemas in ``schemas/`` and prints them, then a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections import Counter
from typing import Any

from bridge.avro.decode import TailedRecord, jsonable, tail, union_branch
from bridge.logs import configure_logging, quiet_kafka_clients
from bridge.runtime.app import Bridge
from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.kraken import KrakenSimulator
from bridge.sandbox.okex_v1 import OkexV1Simulator
from bridge.sandbox.okx import BUSINESS_PATH, PUBLIC_PATH, OkxAccount, OkxSimulator
from bridge.settings import Settings
from bridge.topics import channel_topic, events_topic, normalized_topic, raw_topic

DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE = "demo-api-key", "demo-secret-key", "demo-passphrase"
OKX_BOOKS = channel_topic("okx", "books")
NORMALIZED_TRADES = normalized_topic("trades")
SHOWN_TOPICS = (
    channel_topic("okx", "status"),
    channel_topic("okx", "economic-calendar"),
    channel_topic("okx", "tickers"),
    OKX_BOOKS,
    events_topic("okx"),
    channel_topic("kraken", "ticker"),
    channel_topic("kraken", "book"),
    events_topic("kraken"),
    channel_topic("okex", "spot.ticker"),
    channel_topic("okex", "spot.depth"),
    NORMALIZED_TRADES,
)
# The demo works when each exchange's steady topics have records (the others may stay quiet).
REQUIRED_TOPICS = (
    channel_topic("okx", "status"),
    channel_topic("okx", "economic-calendar"),
    channel_topic("okx", "tickers"),
    OKX_BOOKS,
    channel_topic("kraken", "ticker"),
    channel_topic("okex", "spot.ticker"),
)
GROUPS = ("okx", "kraken", "okex")
LINE_WIDTH = 220


def demo_settings(
    okx: OkxSimulator, kraken: KrakenSimulator, okex: OkexV1Simulator, bootstrap_servers: str
) -> Settings:
    return Settings.from_mapping(
        {
            "instance": "demo",
            "kafka": {"bootstrap_servers": bootstrap_servers},
            "metrics": {"host": "127.0.0.1", "port": 0},
            # every connection also writes normalized.trades, .book and .top-of-book
            "publisher": {"normalized_topics": True},
            "connections": [
                {
                    "name": "okx-public",
                    "exchange": "okx",
                    "url": okx.url(PUBLIC_PATH),
                    "tls": {"ca_file": okx.ca_file},
                    "subscriptions": [
                        {"channel": "status"},
                        {"channel": "tickers", "instId": "BTC-USDT"},
                        {"channel": "books", "instId": "BTC-USDT"},
                        {"channel": "trades", "instId": "BTC-USDT"},
                    ],
                },
                {
                    "name": "okx-business",
                    "exchange": "okx",
                    "url": okx.url(BUSINESS_PATH),
                    "tls": {"ca_file": okx.ca_file},
                    "credentials": {
                        "api_key": DEMO_KEY,
                        "secret_key": DEMO_SECRET,
                        "passphrase": DEMO_PASSPHRASE,
                    },
                    "subscriptions": [{"channel": "economic-calendar"}],
                },
                {
                    "name": "kraken-public",
                    "exchange": "kraken",
                    "url": kraken.url(),
                    "tls": {"ca_file": kraken.ca_file},
                    "subscriptions": [
                        {"name": "ticker", "pair": ["XBT/USD"]},
                        {"name": "book", "pair": ["XBT/USD"], "depth": 10},
                        {"name": "trade", "pair": ["XBT/USD"]},
                    ],
                },
                {
                    "name": "okex-spot",
                    "exchange": "okex_v1",
                    "url": okex.url(),
                    "tls": {"ca_file": okex.ca_file},
                    "subscriptions": [
                        {"channel": "ok_sub_spot_bch_btc_ticker"},
                        {"channel": "ok_sub_spot_bch_btc_depth"},
                        {"channel": "ok_sub_spot_bch_btc_deals"},
                    ],
                },
            ],
        }
    )


def describe(record: TailedRecord) -> str:
    """One line per record: topic, what the payload is, and its fields."""
    value = jsonable(record.value)  # as `bridge tail` prints it
    kind, fields = union_branch(value["payload"])
    short = kind.rsplit(".", 1)[-1]
    if short == "ChannelData":
        fields = {"action": fields.get("action"), **json.loads(fields["data"])}
    elif kind == "exchange_bridge.okx.Book":
        fields = book_summary(fields)
    elif kind == "exchange_bridge.normalized.Trade":
        # the decimal columns repeat the text's value: left out of the line
        fields = {k: v for k, v in fields.items() if not k.endswith("_decimal")}
    shown = {k: v for k, v in fields.items() if v not in (None, "", {}, [])}
    line = (
        f"{record.topic:<22} #{record.offset:<3} key={record.key:<17} {short:<17} "
        f"seq={value['sequence']:<3} {json.dumps(shown, ensure_ascii=False)}"
    )
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def book_summary(book: dict[str, Any]) -> dict[str, Any]:
    """A book record in one line: what the bridge found, the sequence, the best levels (a
    snapshot holds dozens)."""

    def best(levels: list[dict[str, Any]]) -> str | None:
        return f"{levels[0]['size']} @ {levels[0]['price']}" if levels else None

    return {
        "verified": book["verified"],
        "action": book["action"],
        "seqId": book["seqId"],
        "prevSeqId": book["prevSeqId"],
        "checksum": book["checksum"],
        "levels": f"{len(book['bids'])} bids, {len(book['asks'])} asks",
        "best bid": best(book["bids"]),
        "best ask": best(book["asks"]),
    }


def run(args: argparse.Namespace) -> int:
    return asyncio.run(run_demo(duration=args.duration, verbose=args.verbose))


async def run_demo(duration: float = 20.0, verbose: bool = False) -> int:
    configure_logging("INFO" if verbose else "WARNING")
    if not verbose:
        quiet_kafka_clients()  # the demo's consumer races the topics' creation
    out = sys.stdout
    print(
        "Starting a local Kafka broker (the first run fetches its jars with mvn)...",
        file=out,
        flush=True,
    )
    kafka = SandboxKafka()
    await asyncio.to_thread(kafka.start)
    counts: Counter[str] = Counter()
    started = time.monotonic()
    try:
        accounts = {
            DEMO_KEY: OkxAccount(secret=DEMO_SECRET, passphrase=DEMO_PASSPHRASE, vip_level=1)
        }
        # The OKX simulator also scripts a status change every 3 s, a calendar event every 4 s.
        okx_rates = {
            "tickers": 1.0,
            "books": 1.0,
            "trades": 1.0,
            "status": 1 / 3,
            "economic-calendar": 1 / 4,
        }
        okx = OkxSimulator(tls=True, accounts=accounts, rates=okx_rates)
        kraken = KrakenSimulator(tls=True, rate=1.0)
        okex = OkexV1Simulator(tls=True, rate=1.0)
        async with okx, kraken, okex:
            bridge = Bridge(demo_settings(okx, kraken, okex, kafka.bootstrap_servers))
            print(f"Kafka on {kafka.bootstrap_servers}; simulators (wss, self-signed):", file=out)
            print(f"  OKX    {okx.url(PUBLIC_PATH)} and {okx.url(BUSINESS_PATH)}", file=out)
            print(f"  Kraken {kraken.url()}", file=out)
            print(f"  OKEx   {okex.url()}", file=out)
            print(
                f"Running for {duration:.0f} s (Ctrl-C to stop sooner). "
                "Records read back from Kafka:\n",
                file=out,
                flush=True,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            bridge_task = asyncio.create_task(bridge.run(stop))

            verified = [0, 0]  # OKX book records the bridge verified, and found broken
            trading: Counter[str] = Counter()  # normalized trades by exchange

            async def show() -> None:
                async for record in tail(kafka.bootstrap_servers, SHOWN_TOPICS, idle_timeout=None):
                    counts[record.topic] += 1
                    kind, payload = record.value["payload"]
                    if kind == "exchange_bridge.okx.Book":
                        verified[0] += payload["verified"] == "verified"
                        verified[1] += payload["verified"] == "failed"
                    if kind == "exchange_bridge.normalized.Trade":
                        trading[record.value["exchange"]] += 1
                    print(describe(record), file=out, flush=True)

            reader = asyncio.create_task(show())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
            stop.set()
            undelivered = await bridge_task
            await asyncio.sleep(1.0)  # let the reader catch the last records
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            print("\nSummary", file=out)
            print(
                f"  ran {time.monotonic() - started:.1f} s "
                f"with {len(bridge.sessions)} connections: "
                f"{sum(s.frames for s in bridge.sessions)} frames received, "
                f"{bridge.publisher.delivered} records delivered to Kafka, "
                f"{undelivered} undelivered",
                file=out,
            )
            for topic in SHOWN_TOPICS:
                print(f"  {topic:<22} {counts[topic]:>5} record(s) read back and decoded", file=out)
            okx_raw, kraken_raw, okex_raw = (raw_topic(group) for group in GROUPS)
            print(
                f"  (every frame is also on {okx_raw}, {kraken_raw} and {okex_raw}; "
                f"try: bridge tail {REQUIRED_TOPICS[0]} -b {kafka.bootstrap_servers} "
                "while a demo runs)",
                file=out,
            )
            print(
                f"  {OKX_BOOKS}: {verified[0]} book record(s) verified by the bridge (checksum "
                f"and seqId chain), {verified[1]} failed",
                file=out,
            )
            print(
                f"  {NORMALIZED_TRADES}: "
                + ", ".join(f"{trading[e]} trade(s) from {e}" for e in ("okx", "kraken", "okex_v1"))
                + ", in one schema, keyed <exchange>:<symbol>",
                file=out,
            )
            ok = (
                all(counts[t] for t in REQUIRED_TOPICS)
                and verified[0] > 0
                and not verified[1]
                and len(trading) == 3
            )
            return 0 if ok else 1
    finally:
        await asyncio.to_thread(kafka.stop)
