"""The Kraken v1 wire helpers: pair and channel names, the two JSON forms, subscriptionStatus."""

from __future__ import annotations

from bridge.sandbox.kraken.wire import (
    PAIR_FORMAT,
    canonical,
    channel_name,
    dumps_data,
    dumps_event,
    subscription_status,
)


def test_pairs_and_channel_names() -> None:
    assert canonical("BTC/USD") == "XBT/USD" and canonical("ETH/BTC") == "ETH/XBT"
    assert PAIR_FORMAT.fullmatch("XBT/USD") and not PAIR_FORMAT.fullmatch("XBTUSD")
    assert channel_name({"name": "book"}) == "book-10"
    assert channel_name({"name": "book", "depth": 25}) == "book-25"
    assert channel_name({"name": "ohlc", "interval": 5}) == "ohlc-5"
    assert channel_name({"name": "spread", "depth": 25}) == "spread"


def test_events_sort_their_keys_and_data_keeps_its_order() -> None:
    assert dumps_event({"status": "online", "event": "systemStatus"}) == (
        '{"event":"systemStatus","status":"online"}'
    )
    assert dumps_data([1, {"c": "1", "a": "2"}, "ticker"]) == '[1,{"c":"1","a":"2"},"ticker"]'


def test_subscription_status_leaves_out_what_is_absent_and_never_the_token() -> None:
    assert subscription_status(
        "error", {"name": "ownTrades", "token": "secret"}, reqid=None, error="ESession"
    ) == {
        "event": "subscriptionStatus",
        "status": "error",
        "subscription": {"name": "ownTrades"},
        "errorMessage": "ESession",
    }
    assert subscription_status(
        "subscribed",
        {"name": "ticker"},
        reqid=0,
        pair="XBT/USD",
        channel_name="ticker",
        channel_id=7,
    ) == {
        "event": "subscriptionStatus",
        "status": "subscribed",
        "subscription": {"name": "ticker"},
        "pair": "XBT/USD",
        "reqid": 0,
        "channelName": "ticker",
        "channelID": 7,
    }
