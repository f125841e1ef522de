"""Every documented message of every exchange, end to end: the simulator sends the seed
examples (the documentation's own frames, byte for byte), the bridge writes them to Kafka over
TLS, and each must come back from its topic with every field's value and type; the raw topic
keeps every frame as received, and nothing costs a reconnect.

The run is the same for every exchange; what the examples are and what each must decode to is
the exchange's own (``Exchange.seeds`` in the exchange table). Last, Kraken's generated public
channels arrive typed.
"""

from __future__ import annotations

from decimal import Decimal

from tests.integration.exchanges import KRAKEN, Exchange, Seen, each_exchange
from tests.integration.harness import (
    Found,
    bridge_settings,
    micros,
    payload_kind,
    payloads,
    read_topics,
    running_bridge,
    unique_prefix,
    wait_until,
)


@each_exchange
async def test_every_seed_example_arrives_with_every_field(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    case = exchange.seeds
    raw_topic = f"{exchange.group}.raw"
    prefix = unique_prefix()

    def raw_frames(found: Found) -> set[tuple[str, bytes]]:
        return {(r.value["frame_type"], r.value["data"]) for r in found[raw_topic]}

    async with exchange.simulator(**case.simulator) as sim:
        connections = case.connections(exchange, sim)
        assert all("tls" in c for c in connections)
        settings = bridge_settings(kafka_bootstrap, prefix, connections)
        async with running_bridge(settings) as bridge:
            await case.ready(sim, bridge)
            await case.send(sim)
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                case.topics,
                lambda f: case.complete(f) and case.raw_frames <= raw_frames(f),
            )
            seen = Seen(
                metrics=bridge.metrics.render().decode(),
                connects=sim.stats.connects_total,
                conn_ids={c.path: c.conn_id for c in sim.connections},
            )

    # nothing cost a reconnect; the raw topic keeps every frame as received (the read above
    # waited for all of them), the simulator's own frames too
    assert seen.connects == len(connections)
    assert case.raw_frames <= raw_frames(found)
    assert {r.value["exchange"] for r in found[raw_topic]} == {exchange.name}
    case.check(found, seen)


# --- Kraken: the public channels the simulator generates -----------------------------------------


async def test_kraken_public_channels_arrive_typed(kafka_bootstrap: str) -> None:
    prefix = unique_prefix()
    channels = {"ticker": "Ticker", "ohlc": "Ohlc", "trade": "Trade", "spread": "Spread"}
    async with KRAKEN.simulator(tls=True, rate=20) as sim:
        conn = KRAKEN.connection(
            sim,
            [
                {"name": "ticker", "pair": ["BTC/USD", "ETH/USD", "XBT/EUR"]},
                {"name": "ohlc", "interval": 5, "pair": ["XBT/USD"]},
                {"name": "trade", "pair": ["XBT/USD"]},
                {"name": "spread", "pair": ["XBT/USD"]},
            ],
        )
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscriptions")
            found = await read_topics(
                kafka_bootstrap,
                prefix,
                [f"kraken.{name}" for name in channels],
                lambda f: all(
                    len(payloads(f[f"kraken.{name}"], kind)) >= 3 for name, kind in channels.items()
                ),
            )

    # three pairs in one request: three acks, keyed as configured
    tickers = found["kraken.ticker"]
    acks = [r for r in tickers if payload_kind(r) == "SubscriptionEvent"]
    assert sorted(r.key or "" for r in acks) == ["BTC/USD", "ETH/USD", "XBT/EUR"]
    assert {r.value["payload"][1]["request_id"] for r in acks} == {"1"}
    assert {r.value["arg"]["pair"] for r in acks} == {"XBT/USD", "ETH/USD", "XBT/EUR"}

    ticker = payloads(tickers, "Ticker")[0]
    for field in ("ask_price", "bid_price", "close_price", "volume_today", "vwap_24h", "open_24h"):
        assert isinstance(ticker[field], str) and Decimal(ticker[field]) >= 0, field
    for field in ("ask_whole_lot_volume", "trades_today", "trades_24h"):
        assert isinstance(ticker[field], int), field
    assert ticker["extra"] == {} and ticker["pair"] in ("XBT/USD", "ETH/USD", "XBT/EUR")

    [ohlc_record, *_] = [r for r in found["kraken.ohlc"] if payload_kind(r) == "Ohlc"]
    ohlc = ohlc_record.value["payload"][1]
    assert ohlc_record.value["channel"] == "ohlc-5" and ohlc_record.key == "XBT/USD"
    assert micros(ohlc["time"]) == int(Decimal(ohlc["time_text"]) * 1_000_000)
    assert micros(ohlc["etime"]) % 300_000_000 == 0 and isinstance(ohlc["count"], int)
    assert ohlc_record.value["event_time"] == ohlc["time"].replace(
        microsecond=ohlc["time"].microsecond // 1000 * 1000
    )

    for trade in payloads(found["kraken.trade"], "Trade"):
        assert micros(trade["time"]) == int(Decimal(trade["time_text"]) * 1_000_000)
        assert trade["side"] in ("b", "s") and Decimal(trade["price"]) > 0
    spread = payloads(found["kraken.spread"], "Spread")[0]
    assert Decimal(spread["bid"]) < Decimal(spread["ask"]) and spread["bid_volume"] is not None
