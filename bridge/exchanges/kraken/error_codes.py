"""Kraken's error messages as short, stable codes."""

from __future__ import annotations

import re

RATE_LIMIT_CODE = "rate_limit"
"""Code of the ExchangeError for Kraken's non-standard ``{"Error":"Exceeded msg rate"}``."""

# Kraken's error messages carry no code. These short, stable codes (the ``code`` metric label
# and SubscriptionEvent.code) name the documented texts; messages in Kraken's
# "ECategory:Text" style get their category; everything else is "other", so the label set
# stays bounded. The message itself is always recorded in full.
_ERROR_CODES: tuple[tuple[str, str], ...] = (
    ("subscription depth not supported", "depth_not_supported"),
    ("subscription ohlc interval not supported", "interval_not_supported"),
    ("currency pair not in iso 4217-a3 format", "pair_format"),
    ("currency pair not supported", "pair_not_supported"),
    ("already subscribed", "already_subscribed"),
    ("subscription not found", "subscription_not_found"),
    ("subscription name invalid", "name_invalid"),
    ("event(s) not found", "event_not_found"),
    ("malformed request", "malformed_request"),
    ("exceeded msg rate", RATE_LIMIT_CODE),
)
_ERROR_CATEGORY = re.compile(r"(E[A-Z][A-Za-z]{1,20}):")


def error_code(message: str) -> str:
    """The short code recorded for a Kraken error message (see ``_ERROR_CODES``)."""
    folded = message.casefold()
    for prefix, code in _ERROR_CODES:
        if folded.startswith(prefix):
            return code
    match = _ERROR_CATEGORY.match(message)
    return match[1] if match else "other"
