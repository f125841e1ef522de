"""The OKX v5 wire helpers: the login signature, subscription args, timestamps, error texts.

The signature is checked against one computed here by hand, independently of ``login_sign``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bridge.sandbox.okx.wire import (
    dumps,
    login_sign,
    subscription_key,
    timestamp_text,
    wrong_url_message,
)


def test_login_sign_matches_an_hmac_computed_by_hand() -> None:
    digest = hmac.new(b"secret", b"1538054050GET/users/self/verify", hashlib.sha256).digest()
    assert login_sign("secret", "1538054050") == base64.b64encode(digest).decode()


def test_subscription_keys_ignore_field_order() -> None:
    a = subscription_key({"channel": "tickers", "instId": "BTC-USDT"})
    assert a == subscription_key({"instId": "BTC-USDT", "channel": "tickers"})
    assert a == (("channel", "tickers"), ("instId", "BTC-USDT"))
    assert {a: 1}[subscription_key(dict(reversed(list(dict(a).items()))))] == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1538054050", "1538054050"),
        (1538054050, "1538054050"),
        (1538054050.5, "1538054050.5"),
        ("1.5e9", "1.5e9"),
        (True, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (None, None),
    ],
)
def test_timestamp_text_is_what_was_signed(value: object, text: str | None) -> None:
    assert timestamp_text(value) == text


def test_wrong_url_message_names_the_channel_and_instrument() -> None:
    assert wrong_url_message({"channel": "tickers", "instId": "DOGE-USDT"}) == (
        "Wrong URL or channel:tickers, instId:DOGE-USDT doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document."
    )
    assert wrong_url_message({}).startswith("Wrong URL or channel: doesn't exist.")


def test_dumps_is_compact_and_keeps_characters() -> None:
    assert dumps({"a": ["é", 1]}) == '{"a":["é",1]}'
