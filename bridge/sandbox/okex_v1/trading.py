"""The accounts behind the OKEx v1 simulator's trade API: funds per API key, orders that
freeze and release them, and what the trade API answers and pushes about them.

No sockets here: :mod:`bridge.sandbox.okex_v1.protocol` turns these into answers and pushes.
A refused request raises :class:`~bridge.sandbox.okex_v1.wire.RequestError` with its code.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge.sandbox.okex_v1.wire import RequestError, amount_text, decimal, number

__all__ = ["OkexV1Account", "OkexV1Order", "Trading"]

ORDER_TYPES = ("buy", "sell", "buy_market", "sell_market")
_FIRST_ORDER_ID = 6191  # the documentation's order push shows orderId 6191
_ZERO = Decimal(0)


@dataclass
class OkexV1Account:
    """An API key's secret and funds (currency -> amount; missing currencies are zero)."""

    secret: str
    free: dict[str, Decimal] = field(default_factory=dict)
    freezed: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class OkexV1Order:
    order_id: int
    api_key: str
    symbol: str
    type: str
    """buy, sell, buy_market (``price`` is the quote amount to spend), sell_market."""
    price: Decimal
    amount: Decimal
    create_date: int
    status: int = 0
    """-1 cancelled, 0 unfilled, 1 partially filled, 2 filled."""
    deal_amount: Decimal = _ZERO

    @property
    def base(self) -> str:
        return self.symbol.split("_", 1)[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("_", 1)[1]

    @property
    def frozen(self) -> tuple[str, Decimal]:
        """The currency and amount this order holds while open."""
        if self.type == "buy":
            return self.quote, self.price * self.amount
        if self.type == "buy_market":
            return self.quote, self.price
        return self.base, self.amount

    @property
    def is_open(self) -> bool:
        return self.status in (0, 1)


class Trading:
    """Orders against ``accounts`` (API key -> account) on the pairs in ``symbols``; both are
    the simulator's own collections, so changes to them apply at once."""

    def __init__(self, accounts: dict[str, OkexV1Account], symbols: Collection[str]) -> None:
        self.accounts = accounts
        self.symbols = symbols
        self.orders: dict[int, OkexV1Order] = {}
        self._next_order_id = _FIRST_ORDER_ID

    def place(self, api_key: str, symbol: str, type: str, price: str, amount: str) -> OkexV1Order:
        """A new open order holding its funds (``ok_spot_order``)."""
        account = self.accounts.get(api_key)
        if account is None:
            raise RequestError(10005)
        if symbol not in self.symbols:
            raise RequestError(20116)
        if type not in ORDER_TYPES:
            raise RequestError(10008)
        try:
            price_d = decimal(price) if type != "sell_market" else _ZERO
            amount_d = decimal(amount) if type != "buy_market" else _ZERO
        except ValueError:
            raise RequestError(10008) from None
        if price_d < 0 or amount_d < 0 or (price_d == 0 and type != "sell_market"):
            raise RequestError(10008)
        now_ms = int(time.time() * 1000)
        order = OkexV1Order(self._next_order_id, api_key, symbol, type, price_d, amount_d, now_ms)
        currency, needed = order.frozen
        if account.free.get(currency, _ZERO) < needed:
            raise RequestError(10010)
        _move(account.free, account.freezed, currency, needed)
        self._next_order_id += 1
        self.orders[order.order_id] = order
        return order

    def cancel(self, api_key: str, order_id: int) -> OkexV1Order:
        """Cancel an open order of ``api_key``, releasing its funds (status -1)."""
        order = self.orders.get(order_id)
        if order is None or order.api_key != api_key or not order.is_open:
            raise RequestError(10009)
        account = self.accounts[api_key]
        currency, held = order.frozen
        _move(account.freezed, account.free, currency, held)
        order.status = -1
        return order

    def find(self, api_key: str, symbol: str, order_id: str) -> OkexV1Order:
        """The order ``order_id`` (as the request wrote it) of ``api_key`` on ``symbol``."""
        found = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if found is None or found.api_key != api_key or found.symbol != symbol:
            raise RequestError(10009)
        return found

    def userinfo(self, api_key: str) -> dict[str, Any]:
        """The ``ok_spot_userinfo`` answer: free and frozen funds per currency."""
        account = self.accounts[api_key]
        currencies = sorted(set(account.free) | set(account.freezed))
        funds = {
            "free": {c: amount_text(account.free.get(c, _ZERO)) for c in currencies},
            "freezed": {c: amount_text(account.freezed.get(c, _ZERO)) for c in currencies},
        }
        return {"result": True, "info": {"funds": funds}}

    def order_infos(self, api_key: str, symbol: str, order_id: str) -> list[dict[str, Any]]:
        """The ``orders`` of an ``ok_spot_orderinfo`` answer; ``order_id`` -1 lists every open
        order of the pair, as the REST v1 API did."""
        if order_id == "-1":
            orders = [
                o
                for o in self.orders.values()
                if o.api_key == api_key and o.symbol == symbol and o.is_open
            ]
        else:
            orders = [self.find(api_key, symbol, order_id)]
        return [
            {
                "symbol": o.symbol,
                "amount": amount_text(o.amount),
                "price": amount_text(o.price),
                "avg_price": number(0),
                "create_date": number(o.create_date),
                "type": o.type,
                "deal_amount": number(o.deal_amount),
                "order_id": number(o.order_id),
                "status": number(o.status),
            }
            for o in orders
        ]

    def order_push(self, order: OkexV1Order) -> tuple[dict[str, Any], dict[str, Any]]:
        """The data of the ``_order`` push and of the ``_balance`` push after a change of
        ``order``, as the documentation's examples write them."""
        account = self.accounts[order.api_key]
        currency, _ = order.frozen
        order_data = {
            "symbol": order.symbol,
            "tradeAmount": amount_text(order.amount),
            "createdDate": str(order.create_date),
            "orderId": number(order.order_id),
            "completedTradeAmount": amount_text(order.deal_amount),
            "averagePrice": "0",
            "tradePrice": amount_text(_ZERO),
            "tradeType": order.type,
            "status": number(order.status),
            "tradeUnitPrice": amount_text(order.price),
        }
        balance_data = {
            "info": {
                "free": {currency: number(account.free.get(currency, _ZERO))},
                "freezed": {currency: number(account.freezed.get(currency, _ZERO))},
            }
        }
        return order_data, balance_data


def _move(
    source: dict[str, Decimal], target: dict[str, Decimal], currency: str, n: Decimal
) -> None:
    source[currency] = source.get(currency, _ZERO) - n
    target[currency] = target.get(currency, _ZERO) + n
