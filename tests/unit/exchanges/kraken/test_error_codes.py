"""Kraken's error messages as short, stable codes."""

from __future__ import annotations

import pytest

from bridge.exchanges.kraken import (
    error_code,
)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Subscription depth not supported", "depth_not_supported"),
        ("Subscription ohlc interval not supported", "interval_not_supported"),
        ("Currency pair not in ISO 4217-A3 format XBTUSD", "pair_format"),
        ("Currency pair not supported FOO/BAR", "pair_not_supported"),
        ("Already subscribed", "already_subscribed"),
        ("Subscription Not Found", "subscription_not_found"),
        ("Event(s) not found", "event_not_found"),
        ("Malformed request", "malformed_request"),
        ("Exceeded msg rate", "rate_limit"),
        ("ESession:Invalid session", "ESession"),
        ("EGeneral:Invalid arguments:token", "EGeneral"),
        ("Something new", "other"),
        ("", "other"),
    ],
)
def test_error_codes_are_short_and_bounded(message: str, code: str) -> None:
    assert error_code(message) == code
