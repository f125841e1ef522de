"""What the OKX simulator's channels carry: completed elements and synthetic data."""

from __future__ import annotations

import json

import pytest

from bridge.sandbox.okx import market as market_module
from bridge.sandbox.okx.market import (
    CALENDAR_FIELDS,
    DEFAULT_STATUS,
    SEED_STATUS_FRAME,
    STATUS_FIELDS,
    OkxMarket,
    complete,
)
from bridge.sandbox.okx.wire import dumps


def test_complete_adds_missing_fields_and_keeps_the_given_order() -> None:
    element = complete({"state": "ongoing", "title": "x"}, STATUS_FIELDS)
    assert list(element)[:2] == ["state", "title"] and set(element) == set(STATUS_FIELDS)
    assert element["begin"] == "" and element["ts"].isdigit()
    assert complete({"ts": "1"}, CALENDAR_FIELDS)["ts"] == "1"
    # the default status is the seed's element: pushing it reproduces the seed frame
    frame = {"arg": {"channel": "status"}, "data": [complete(DEFAULT_STATUS, STATUS_FIELDS)]}
    assert dumps(frame) == SEED_STATUS_FRAME
    assert json.loads(SEED_STATUS_FRAME)["data"][0] == DEFAULT_STATUS


def test_tickers_walk_and_name_the_instrument_type() -> None:
    market = OkxMarket(seed=1)
    ticks = [market.ticker("BTC-USDT") for _ in range(20)]
    assert {t["instType"] for t in ticks} == {"SPOT"}
    assert len({t["last"] for t in ticks}) > 1
    for t in ticks:
        assert float(t["bidPx"]) < float(t["last"]) < float(t["askPx"])
    assert market.ticker("BTC-USDT-SWAP")["instType"] == "SWAP"
    assert market.ticker("BTC-USD-250328")["instType"] == "FUTURES"
    assert OkxMarket(seed=1).ticker("BTC-USDT")["last"] == ticks[0]["last"]  # reproducible


def test_trades_aggregated_and_one_by_one() -> None:
    market = OkxMarket(seed=2)
    trades = market.trades("BTC-USDT") + market.trades("BTC-USDT")
    for trade in trades:
        assert list(trade) == [
            "instId", "tradeId", "px", "sz", "side", "ts", "count", "source", "seqId",
        ]  # fmt: skip
        assert isinstance(trade["seqId"], int) and trade["side"] in ("buy", "sell")
    ids = [int(t["tradeId"]) for t in trades]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    one = market.trades("ETH-USDT", aggregated=False)[0]
    assert list(one) == ["instId", "tradeId", "px", "sz", "side", "source", "ts"]


def test_candles_are_rows_of_their_bar_and_close_with_confirm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    market = OkxMarket(seed=3)
    clock = [1_700_000_000.5]
    monkeypatch.setattr(market_module.time, "time", lambda: clock[0])
    (row,) = market.candles("candle1m", "BTC-USDT", 60_000)
    assert len(row) == 9 and all(isinstance(v, str) for v in row)
    assert int(row[0]) == 1_699_999_980_000 and row[-1] == "0"
    (row,) = market.candles("candle1m", "BTC-USDT", 60_000)
    assert int(row[0]) == 1_699_999_980_000
    clock[0] += 60
    closed, current = market.candles("candle1m", "BTC-USDT", 60_000)
    assert closed[0] == row[0] and closed[-1] == "1" and current[-1] == "0"
    assert int(current[0]) == 1_700_000_040_000
    (mark,) = market.candles("mark-price-candle1H", "BTC-USDT", 3_600_000)
    assert len(mark) == 6 and mark[-1] == "0"


PUBLIC_FIELDS = {
    "mark_price": "instType instId markPx ts",
    "index_ticker": "instId idxPx high24h low24h open24h sodUtc0 sodUtc8 ts",
    "funding_rate": (
        "formulaType fundingRate fundingTime impactValue instId instType interestRate method "
        "maxFundingRate minFundingRate nextFundingRate nextFundingTime premium "
        "settFundingRate settState ts"
    ),
    "open_interest": "instId instType oi oiCcy oiUsd ts",
    "price_limit": "instType instId buyLmt sellLmt ts enabled",
}


@pytest.mark.parametrize("method", sorted(PUBLIC_FIELDS))
def test_public_data_elements_carry_every_documented_field(method: str) -> None:
    element = getattr(OkxMarket(seed=4), method)("BTC-USDT-SWAP")
    assert sorted(element) == sorted(PUBLIC_FIELDS[method].split())
    assert element["ts"].isdigit()


def test_options_estimates_liquidations_and_instruments() -> None:
    market = OkxMarket(seed=5)
    options = market.option_summaries("BTC-USD")
    assert len(options) == 4 and {o["uly"] for o in options} == {"BTC-USD"}
    assert {o["instId"][-1] for o in options} == {"C", "P"}
    estimate = market.estimated_price({"instType": "FUTURES", "instFamily": "BTC-USD"})
    assert estimate["instId"].startswith("BTC-USD-") and estimate["settleType"] == "settlement"
    liquidation = market.liquidation("SWAP")
    assert liquidation["instType"] == "SWAP" and len(liquidation["details"]) == 1
    listed = market.instruments("SPOT", ["BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP"])
    assert [i["instId"] for i in listed] == ["BTC-USDT", "ETH-USDT"]
    assert listed[0]["futureSettlement"] is False and isinstance(listed[0]["instIdCode"], int)
    assert market.instruments("SWAP", ["BTC-USDT-SWAP"])[0]["settleCcy"] == "USDT"


def test_status_changes_cycle_and_calendar_ids_count_up() -> None:
    market = OkxMarket()
    changes = [market.next_status_change() for _ in range(4)]
    assert [c["state"] for c in changes] == ["scheduled", "ongoing", "completed", "scheduled"]
    assert [c["title"][-2:] for c in changes] == ["#1", "#1", "#1", "#2"]
    assert set(changes[0]) <= set(STATUS_FIELDS)
    events = [market.next_calendar_event() for _ in range(2)]
    assert [e["calendarId"] for e in events] == ["319276", "319277"]
    assert set(events[0]) <= set(CALENDAR_FIELDS)
