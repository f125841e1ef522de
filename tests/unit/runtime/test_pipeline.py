"""Push de-duplication across overlapping connections."""

from __future__ import annotations

from bridge.exchanges.events import Destination
from bridge.runtime.pipeline import RecentPushes


def dest(key: str) -> Destination:
    return Destination(
        topic="okx.tickers", schema="okx/channel", key=key, channel="tickers", arg={}
    )


def test_the_same_content_on_the_same_destination_is_seen_once() -> None:
    recent = RecentPushes()
    assert recent.first_time(dest("BTC-USDT"), '{"last":"1"}')
    assert not recent.first_time(dest("BTC-USDT"), '{"last":"1"}')
    assert recent.first_time(dest("ETH-USDT"), '{"last":"1"}')
    assert recent.first_time(dest("BTC-USDT"), '{"last":"2"}')


def test_the_window_is_bounded_and_forgets_the_oldest() -> None:
    recent = RecentPushes(size=3)
    for n in range(4):
        assert recent.first_time(dest("k"), str(n))
    assert recent.first_time(dest("k"), "0")  # forgotten: evicted as the oldest
    assert not recent.first_time(dest("k"), "3")
