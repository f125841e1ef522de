"""Legacy OKEx v1 spot: the adapter (adapter.py), channel names and the request signature
(channels.py), subscriptions (subscriptions.py) and payloads (payloads.py)."""

from __future__ import annotations

from bridge.exchanges.okex_v1.adapter import MAX_INFLATED_BYTES, OkexV1Adapter, inflate
from bridge.exchanges.okex_v1.channels import (
    DEPTH_SIZES,
    KLINE_INTERVALS,
    ChannelInfo,
    destination_for,
    parse_channel,
    sign,
)
from bridge.exchanges.okex_v1.payloads import SHANGHAI, deal_timestamp_ms

__all__ = [
    "DEPTH_SIZES",
    "KLINE_INTERVALS",
    "MAX_INFLATED_BYTES",
    "SHANGHAI",
    "ChannelInfo",
    "OkexV1Adapter",
    "deal_timestamp_ms",
    "destination_for",
    "inflate",
    "parse_channel",
    "sign",
]
