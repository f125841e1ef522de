"""One symbol convention for every exchange."""

from __future__ import annotations

import pytest

from bridge.normalize.symbols import kraken_symbol, okex_symbol, okx_symbol


@pytest.mark.parametrize(
    ("inst_id", "symbol"),
    [
        ("BTC-USDT", "BTC-USDT"),
        ("BTC-USDT-SWAP", "BTC-USDT-PERP"),
        ("BTC-USD-250322", "BTC-USD-22MAR25"),
        ("ETH-USD-261225", "ETH-USD-25DEC26"),
        ("BTC-USD-250322-50000-C", "BTC-USD-22MAR25-50000-C"),
        ("BTC-USD-250322-50000-P", "BTC-USD-22MAR25-50000-P"),
        # not one of OKX's documented forms: kept
        ("BTC-USD-251322", "BTC-USD-251322"),
        ("BTC-USDT-SWAP-X", "BTC-USDT-SWAP-X"),
        ("BTC", "BTC"),
    ],
)
def test_okx(inst_id: str, symbol: str) -> None:
    assert okx_symbol(inst_id) == symbol


@pytest.mark.parametrize(
    ("pair", "symbol"),
    [
        ("XBT/USD", "BTC-USD"),
        ("BTC/USD", "BTC-USD"),
        ("XDG/EUR", "DOGE-EUR"),
        ("ETH/XBT", "ETH-BTC"),
        ("eth/usd", "ETH-USD"),
        ("XBTUSD", "XBTUSD"),
    ],
)
def test_kraken(pair: str, symbol: str) -> None:
    assert kraken_symbol(pair) == symbol


@pytest.mark.parametrize(
    ("symbol", "normalized"), [("bch_btc", "BCH-BTC"), ("ltc_usdt", "LTC-USDT"), ("odd", "ODD")]
)
def test_okex_v1(symbol: str, normalized: str) -> None:
    assert okex_symbol(symbol) == normalized
