"""What the OKX simulator's private channels carry: a synthetic trading account whose orders
open and fill, moving its balances and one position.

Every element carries every field OKX documents for its channel (field lists from OKX's v5
documentation, written here independently of the bridge's tables): ``""`` where a field does
not apply, as OKX sends. One round of activity (:meth:`SimAccount.step`) opens an order and
fills the oldest open one, which OKX reports on ``orders`` (twice: live, then filled),
``fills``, ``balance_and_position``, ``account`` and ``positions``; ``orders-algo`` gets a new
algo order every other round.

No sockets and no event loop here: the simulator decides who receives what this makes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final


def _names(text: str) -> list[str]:
    return text.split()


ACCOUNT_FIELDS: Final = _names(
    "uTime totalEq isoEq adjEq availEq ordFroz imr mmr borrowFroz mgnRatio notionalUsd "
    "notionalUsdForBorrow notionalUsdForSwap notionalUsdForFutures notionalUsdForOption upl "
    "delta deltaLever deltaNeutralStatus details"
)
ACCOUNT_DETAIL_FIELDS: Final = _names(
    "ccy eq cashBal uTime isoEq availEq disEq fixedBal availBal frozenBal ordFrozen liab upl "
    "uplLiab crossLiab isoLiab rewardBal mgnRatio imr mmr interest twap frpType maxLoan eqUsd "
    "borrowFroz notionalLever coinUsdPrice stgyEq isoUpl spotInUseAmt clSpotInUseAmt "
    "maxSpotInUseAmt spotIsoBal smtSyncEq spotCopyTradingEq spotBal openAvgPx accAvgPx spotUpl "
    "spotUplRatio totalPnl totalPnlRatio colRes colBorrAutoConversion collateralRestrict "
    "collateralEnabled autoLendStatus autoLendMtAmt"
)
POSITION_FIELDS: Final = _names(
    "instType mgnMode posId posSide pos hedgedPos baseBal quoteBal baseBorrowed baseInterest "
    "quoteBorrowed quoteInterest posCcy availPos avgPx upl uplRatio uplLastPx uplRatioLastPx "
    "instId lever liqPx markPx imr margin mgnRatio mmr liab liabCcy interest tradeId "
    "notionalUsd optVal pendingCloseOrdLiabVal adl bizRefId bizRefType ccy last idxPx usdPx "
    "bePx deltaBS deltaPA gammaBS gammaPA thetaBS thetaPA vegaBS vegaPA spotInUseAmt "
    "spotInUseCcy clSpotInUseAmt maxSpotInUseAmt realizedPnl pnl fee fundingFee liqPenalty "
    "closeOrderAlgo cTime uTime pTime nonSettleAvgPx settledPnl"
)
ORDER_FIELDS: Final = _names(
    "instType instId tgtCcy ccy ordId clOrdId tag px pxUsd pxVol pxType sz notionalUsd ordType "
    "side posSide tdMode fillPx tradeId fillSz fillPnl fillTime fillFee fillFeeCcy fillPxVol "
    "fillPxUsd fillMarkVol fillFwdPx fillMarkPx fillIdxPx execType accFillSz fillNotionalUsd "
    "avgPx state lever attachAlgoClOrdId tpTriggerPx tpTriggerPxType tpOrdPx slTriggerPx "
    "slTriggerPxType slOrdPx attachAlgoOrds linkedAlgoOrd stpId stpMode feeCcy fee rebateCcy "
    "rebate pnl source cancelSource amendSource category isTpLimit uTime cTime reqId "
    "amendResult reduceOnly quickMgnType algoClOrdId algoId lastPx code msg tradeQuoteCcy "
    "outcome"
)
ATTACHED_ALGO_FIELDS: Final = _names(
    "attachAlgoId attachAlgoClOrdId tpOrdKind tpTriggerPx tpTriggerRatio tpTriggerPxType "
    "tpOrdPx slTriggerPx slTriggerRatio slTriggerPxType slOrdPx sz amendPxOnTriggerType "
    "callbackRatio callbackSpread activePx"
)
FILL_FIELDS: Final = _names("instId fillSz fillPx side ts ordId clOrdId tradeId execType count")
ALGO_ORDER_FIELDS: Final = _names(
    "instType instId ccy ordId ordIdList algoId clOrdId sz ordType side posSide tdMode tgtCcy "
    "lever state tpTriggerPx tpTriggerPxType tpOrdPx slTriggerPx slTriggerPxType slOrdPx "
    "triggerPx triggerPxType ordPx advanceOrdType last actualSz actualPx notionalUsd tag "
    "actualSide triggerTime reduceOnly failCode algoClOrdId reqId amendResult "
    "amendPxOnTriggerType attachAlgoOrds linkedOrd cTime uTime isTradeBorrowMode chaseType "
    "chaseVal maxChaseType maxChaseVal tradeQuoteCcy"
)

INSTRUMENT: Final = "BTC-USDT-SWAP"
PRICE: Final = 60000.0


def _blank(fields: list[str], **values: Any) -> dict[str, Any]:
    """Every field, "" unless given (OKX's "does not apply")."""
    element: dict[str, Any] = dict.fromkeys(fields, "")
    element.update(values)
    return element


def now_ms() -> str:
    return str(int(time.time() * 1000))


@dataclass
class _Order:
    ord_id: str
    side: str
    px: str
    sz: str
    c_time: str


@dataclass
class PrivatePush:
    """One private push: the channel, the push's own fields besides ``arg`` and ``data``
    (account and positions: ``eventType``, ``curPage``, ``lastPage``), and its elements."""

    channel: str
    data: list[dict[str, Any]]
    fields: dict[str, Any] = field(default_factory=dict)


class SimAccount:
    """A trading account: USDT and BTC balances, one BTC-USDT-SWAP position, open orders."""

    def __init__(self, rng: random.Random, uid: str = "77982378738415879") -> None:
        self._random = rng
        self.uid = uid
        self._balances = {"USDT": 10_000.0, "BTC": 0.5}
        self._position = 10
        self._orders: list[_Order] = []
        self._next_order = 680_800_019_749_904_384
        self._next_trade = 12_345
        self._next_algo = 581_878_926_302_093_312
        self._rounds = 0

    # -- snapshots on subscribe ----------------------------------------------------------------

    def account(self, event_type: str = "snapshot") -> PrivatePush:
        now = now_ms()
        details = [
            _blank(
                ACCOUNT_DETAIL_FIELDS,
                ccy=ccy,
                eq=f"{amount:.8f}",
                cashBal=f"{amount:.8f}",
                uTime=now,
                availBal=f"{amount:.8f}",
                availEq=f"{amount:.8f}",
                frozenBal="0",
                ordFrozen="0",
                eqUsd=f"{amount * (1 if ccy == 'USDT' else PRICE):.8f}",
                coinUsdPrice="1" if ccy == "USDT" else f"{PRICE:.1f}",
                upl="0",
                collateralRestrict=False,
                collateralEnabled=True,
                colRes="0",
                autoLendStatus="off",
            )
            for ccy, amount in sorted(self._balances.items())
        ]
        total = self._balances["USDT"] + self._balances["BTC"] * PRICE
        element = _blank(
            ACCOUNT_FIELDS,
            uTime=now,
            totalEq=f"{total:.8f}",
            adjEq=f"{total:.8f}",
            availEq=f"{total:.8f}",
            imr="0",
            mmr="0",
            upl="0",
            deltaNeutralStatus="0",
            details=details,
        )
        fields: dict[str, Any] = {"eventType": event_type}
        if event_type == "snapshot":  # pages: snapshots only
            fields.update(curPage=1, lastPage=True)
        return PrivatePush("account", [element], fields)

    def positions(self, event_type: str = "snapshot") -> PrivatePush:
        now = now_ms()
        element = _blank(
            POSITION_FIELDS,
            instType="SWAP",
            mgnMode="cross",
            posId="307173036051017730",
            posSide="net",
            pos=str(self._position),
            availPos=str(self._position),
            avgPx=f"{PRICE:.1f}",
            upl="0",
            uplRatio="0",
            instId=INSTRUMENT,
            lever="10",
            markPx=f"{PRICE:.1f}",
            ccy="USDT",
            last=f"{PRICE:.1f}",
            adl="1",
            closeOrderAlgo=[],
            cTime="1619507758793",
            uTime=now,
            pTime=now,
            tradeId=str(self._next_trade),
            realizedPnl="0",
            pnl="0",
            fee="0",
            fundingFee="0",
            liqPenalty="0",
        )
        fields: dict[str, Any] = {"eventType": event_type}
        if event_type == "snapshot":
            fields.update(curPage=1, lastPage=True)
        return PrivatePush("positions", [element], fields)

    def balance_and_position(self, event_type: str = "snapshot") -> PrivatePush:
        now = now_ms()
        element = {
            "pTime": now,
            "eventType": event_type,
            "balData": [
                {"ccy": ccy, "cashBal": f"{amount:.8f}", "uTime": now}
                for ccy, amount in sorted(self._balances.items())
            ],
            "posData": [
                {
                    "posId": "307173036051017730",
                    "tradeId": str(self._next_trade),
                    "instId": INSTRUMENT,
                    "instType": "SWAP",
                    "mgnMode": "cross",
                    "avgPx": f"{PRICE:.1f}",
                    "ccy": "USDT",
                    "posSide": "net",
                    "pos": str(self._position),
                    "baseBal": "",
                    "quoteBal": "",
                    "posCcy": "",
                    "nonSettleAvgPx": "",
                    "settledPnl": "",
                    "uTime": now,
                }
            ],
            "trades": [{"instId": INSTRUMENT, "tradeId": str(self._next_trade)}],
        }
        return PrivatePush("balance_and_position", [element])

    # -- activity ------------------------------------------------------------------------------

    def step(self) -> list[PrivatePush]:
        """One round: a new order, and a fill of the oldest open one (after the first round),
        with what a fill changes; every other round a new algo order."""
        self._rounds += 1
        pushes = [PrivatePush("orders", [self._new_order()])]
        if len(self._orders) > 1:
            order = self._orders.pop(0)
            filled, fill = self._fill(order)
            pushes += [
                PrivatePush("orders", [filled]),
                PrivatePush("fills", [fill]),
                self.balance_and_position("filled"),
                self.account("event_update"),
                self.positions("event_update"),
            ]
        if self._rounds % 2 == 1:
            pushes.append(PrivatePush("orders-algo", [self._algo_order()]))
        return pushes

    def _order_element(self, order: _Order, **values: Any) -> dict[str, Any]:
        element = _blank(
            ORDER_FIELDS,
            instType="SWAP",
            instId=INSTRUMENT,
            ordId=order.ord_id,
            px=order.px,
            sz=order.sz,
            notionalUsd=f"{float(order.px) * float(order.sz) / 100:.8f}",
            ordType="limit",
            side=order.side,
            posSide="net",
            tdMode="cross",
            accFillSz="0",
            avgPx="0",
            state="live",
            lever="10",
            tpTriggerPxType="last",
            slTriggerPxType="last",
            attachAlgoOrds=[],
            linkedAlgoOrd={"algoId": ""},
            feeCcy="USDT",
            fee="0",
            rebateCcy="USDT",
            rebate="0",
            pnl="0",
            category="normal",
            isTpLimit="false",
            uTime=order.c_time,
            cTime=order.c_time,
            reduceOnly="false",
            lastPx=order.px,
            code="0",
            tradeQuoteCcy="USDT",
        )
        element.update(values)
        return element

    def _new_order(self) -> dict[str, Any]:
        self._next_order += self._random.randint(1, 1000)
        side = self._random.choice(("buy", "sell"))
        px = PRICE + self._random.randint(-50, 50) / 10
        order = _Order(
            str(self._next_order), side, f"{px:.1f}", str(self._random.randint(1, 5)), now_ms()
        )
        self._orders.append(order)
        return self._order_element(order)

    def _fill(self, order: _Order) -> tuple[dict[str, Any], dict[str, Any]]:
        self._next_trade += self._random.randint(1, 50)
        now = now_ms()
        trade_id = str(self._next_trade)
        fee = -float(order.px) * float(order.sz) / 100 * 0.0005
        signed = int(order.sz) if order.side == "buy" else -int(order.sz)
        self._position += signed
        self._balances["USDT"] += fee
        filled = self._order_element(
            order,
            fillPx=order.px,
            tradeId=trade_id,
            fillSz=order.sz,
            fillPnl="0",
            fillTime=now,
            fillFee=f"{fee:.8f}",
            fillFeeCcy="USDT",
            fillMarkPx=order.px,
            fillIdxPx=order.px,
            execType="M",
            accFillSz=order.sz,
            fillNotionalUsd=f"{float(order.px) * float(order.sz) / 100:.8f}",
            avgPx=order.px,
            state="filled",
            fee=f"{fee:.8f}",
            uTime=now,
        )
        fill = {
            "instId": INSTRUMENT,
            "fillSz": order.sz,
            "fillPx": order.px,
            "side": order.side,
            "ts": now,
            "ordId": order.ord_id,
            "clOrdId": "0",
            "tradeId": trade_id,
            "execType": "M",
            "count": "1",
        }
        return filled, fill

    def _algo_order(self) -> dict[str, Any]:
        self._next_algo += self._random.randint(1, 1000)
        now = now_ms()
        return _blank(
            ALGO_ORDER_FIELDS,
            instType="SWAP",
            instId=INSTRUMENT,
            ordIdList=[],
            algoId=str(self._next_algo),
            sz="1",
            ordType="conditional",
            side="buy",
            posSide="net",
            tdMode="cross",
            lever="10",
            state="live",
            tpTriggerPx=f"{PRICE * 1.1:.1f}",
            tpTriggerPxType="last",
            tpOrdPx="-1",
            last=f"{PRICE:.1f}",
            actualSz="0",
            actualPx="0",
            notionalUsd="600",
            reduceOnly="false",
            amendPxOnTriggerType="0",
            attachAlgoOrds=[],
            linkedOrd={"ordId": ""},
            cTime=now,
            uTime=now,
            isTradeBorrowMode="",
            tradeQuoteCcy="USDT",
        )

    def matches(self, channel: str, arg: Mapping[str, str], element: Mapping[str, Any]) -> bool:
        """Whether a subscriber with ``arg`` receives ``element`` (instType ANY or the
        element's; instId and instFamily when given)."""
        inst_type = arg.get("instType")
        if inst_type not in (None, "ANY") and element.get("instType") not in (None, inst_type):
            return False
        inst_id = arg.get("instId")
        return inst_id is None or element.get("instId") in (None, inst_id)
