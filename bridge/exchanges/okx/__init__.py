"""OKX v5: the adapter (adapter.py), subscription arguments (args.py), the typed channels
(channels.py), payloads (payloads.py) and the order books (book.py)."""

from __future__ import annotations

from bridge.exchanges.okx.adapter import OkxAdapter, login_sign
from bridge.exchanges.okx.args import MAX_ARGS_BYTES, destination_for

__all__ = ["MAX_ARGS_BYTES", "OkxAdapter", "destination_for", "login_sign"]
