"""The OKEx v1 wire helpers: lenient requests, raw deflate, the MD5 sign, exact numbers.

The sign is checked against a digest computed here by hand, independently of ``md5_sign``.
"""

from __future__ import annotations

import hashlib
import zlib
from decimal import Decimal

import pytest

from bridge.sandbox.okex_v1.wire import (
    CHANNEL,
    RequestError,
    amount_text,
    decimal,
    deflate,
    dumps,
    md5_sign,
    number,
    parse_lenient,
)
from tests.fixtures import load_fixture


def fixture(name: str) -> str:
    return load_fixture("okex_v1", name)


def inflate(data: bytes) -> str:
    inflater = zlib.decompressobj(-15)
    return (inflater.decompress(data) + inflater.flush()).decode()


def test_parse_lenient_reads_every_documented_request() -> None:
    names = [
        "request-data-format.txt",
        "request-example-single.txt",
        "request-example-batch.txt",
        "ticker-request.txt",
        "depth-request.txt",
        "depth-5-request.txt",
        "deals-request.txt",
        "kline-1min-request.txt",
        "ping-request.txt",
        "order-request.txt",
        "cancel-order-request.txt",
        "userinfo-request.txt",
        "orderinfo-request.txt",
        "order-request-template.txt",
        "cancel-order-request-template.txt",
        "userinfo-request-template.txt",
        "orderinfo-request-template.txt",
        "login-request.json",
    ]
    parsed = {name: parse_lenient(fixture(name)) for name in names}
    assert parsed["ticker-request.txt"] == {
        "event": "addChannel",
        "channel": "ok_sub_spot_bch_btc_ticker",
    }
    assert parsed["request-data-format.txt"]["parameters"] == {
        "api_key": "value1",
        "sign": "value2",
    }
    assert [r["channel"] for r in parsed["request-example-batch.txt"]] == [
        "ok_sub_spot_X_ticker",
        "ok_sub_spot_X_depth",
        "ok_sub_spot_X_deals",
    ]
    assert parsed["order-request.txt"]["parameters"]["amount"] == "0.02"
    assert parse_lenient("{'a':'it\\'s \"quoted\"','b':[true,null,1.5]}") == {
        "a": 'it\'s "quoted"',
        "b": [True, None, 1.5],
    }
    with pytest.raises(ValueError):
        parse_lenient("{'unterminated")


def test_deflate_is_raw_deflate() -> None:
    data = deflate('{"event":"pong"}')
    assert inflate(data) == '{"event":"pong"}'
    with pytest.raises(zlib.error):
        zlib.decompress(data)  # no zlib header


def test_md5_sign_matches_a_digest_computed_by_hand() -> None:
    text = "amount=0.1&api_key=KEY&price=5&symbol=bch_btc&type=buy&secret_key=SECRET"
    by_hand = hashlib.md5(text.encode()).hexdigest().upper()
    parameters = {"symbol": "bch_btc", "type": "buy", "price": "5", "amount": "0.1"}
    assert md5_sign({**parameters, "api_key": "KEY", "sign": "ignored"}, "SECRET") == by_hand
    assert md5_sign({}, "SECRET") == hashlib.md5(b"secret_key=SECRET").hexdigest().upper()


def test_numbers_are_written_exactly() -> None:
    assert dumps({"a": number(Decimal("9.90")), "b": number(7), "c": "7", "d": [1.5, None]}) == (
        '{"a":9.9,"b":7,"c":"7","d":[1.5,null]}'
    )
    assert dumps([number(Decimal("1E+2"))]) == "[100]"  # no exponent
    assert amount_text(Decimal("0.1")) == "0.10000000"


@pytest.mark.parametrize("text", ["abc", "NaN", "Infinity", ""])
def test_decimal_refuses_what_is_not_a_finite_number(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        decimal(text)


def test_channel_names_split_into_pair_and_kind() -> None:
    match = CHANNEL.fullmatch("ok_sub_spot_bch_btc_kline_1min")
    assert match is not None and (match["symbol"], match["kind"]) == ("bch_btc", "kline_1min")
    assert CHANNEL.fullmatch("ok_sub_spot_bch_btc_depth_7") is None
    assert CHANNEL.fullmatch("ok_spot_order") is None


def test_request_errors_carry_the_documented_message() -> None:
    assert (RequestError(10005).code, RequestError(10005).message) == (
        10005,
        "api_key or sign invalid",
    )
    assert RequestError(10009, "custom").message == "custom"
