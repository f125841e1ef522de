"""One symbol convention for every exchange, as cryptofeed and Deribit spell instruments:
``BASE-QUOTE`` for spot, ``BASE-QUOTE-PERP`` for perpetual swaps, ``BASE-QUOTE-DDMMMYY`` for
futures, ``BASE-QUOTE-DDMMMYY-STRIKE-C`` (or ``-P``) for options; currencies upper case, with
Kraken's legacy codes (``XBT``, ``XDG``) replaced by the common ones.

An exchange symbol that follows none of its exchange's documented forms is kept as it is (upper
case): a record is never lost for a name the bridge does not know how to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

_MONTHS: Final = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)

_OKX_EXPIRY: Final = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})")
"""OKX's expiry in an instId: ``YYMMDD`` (``250322``)."""
_CURRENCY: Final = re.compile(r"[A-Za-z0-9]+")

KRAKEN_CURRENCIES: Final[Mapping[str, str]] = {"XBT": "BTC", "XDG": "DOGE"}
"""Kraken's WebSocket v1 pairs use ISO-4217-like codes where the market says BTC and DOGE."""


def expiry(yymmdd: str) -> str | None:
    """``250322`` -> ``22MAR25``; None when it is not a date."""
    match = _OKX_EXPIRY.fullmatch(yymmdd)
    if match is None:
        return None
    year, month, day = match.groups()
    if not 1 <= int(month) <= 12 or not 1 <= int(day) <= 31:
        return None
    return f"{day}{_MONTHS[int(month) - 1]}{year}"


def okx_symbol(inst_id: str) -> str:
    """OKX instIds: ``BTC-USDT`` (spot, margin), ``BTC-USDT-SWAP``, ``BTC-USD-250322``
    (futures), ``BTC-USD-250322-50000-C`` (options)."""
    parts = inst_id.upper().split("-")
    if len(parts) >= 2 and all(_CURRENCY.fullmatch(p) for p in parts[:2]):
        base, quote = parts[:2]
        if len(parts) == 2:
            return f"{base}-{quote}"
        if len(parts) == 3 and parts[2] == "SWAP":
            return f"{base}-{quote}-PERP"
        date = expiry(parts[2]) if len(parts) in (3, 5) else None
        if date is not None and len(parts) == 3:
            return f"{base}-{quote}-{date}"
        if date is not None and parts[4] in ("C", "P") and parts[3]:
            return f"{base}-{quote}-{date}-{parts[3]}-{parts[4]}"
    return inst_id.upper()


def kraken_symbol(pair: str) -> str:
    """Kraken WebSocket v1 pairs: ``XBT/USD`` -> ``BTC-USD``, ``XDG/EUR`` -> ``DOGE-EUR``."""
    parts = pair.upper().split("/")
    if len(parts) == 2 and all(_CURRENCY.fullmatch(p) for p in parts):
        return "-".join(KRAKEN_CURRENCIES.get(p, p) for p in parts)
    return pair.upper()


def okex_symbol(symbol: str) -> str:
    """OKEx v1 spot symbols: ``bch_btc`` -> ``BCH-BTC``."""
    parts = symbol.upper().split("_")
    if len(parts) == 2 and all(_CURRENCY.fullmatch(p) for p in parts):
        return "-".join(parts)
    return symbol.upper()
