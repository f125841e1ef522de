"""Kraken WebSocket v1: the adapter (adapter.py), subscriptions (subscriptions.py), payloads
(payloads.py) and the local order books with their checksum (book.py)."""

from __future__ import annotations

from bridge.exchanges.kraken.adapter import KrakenAdapter
from bridge.exchanges.kraken.book import book_checksum
from bridge.exchanges.kraken.error_codes import error_code
from bridge.exchanges.kraken.subscriptions import canonical_pair, channel_name

__all__ = ["KrakenAdapter", "book_checksum", "canonical_pair", "channel_name", "error_code"]
