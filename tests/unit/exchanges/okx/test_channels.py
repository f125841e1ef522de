"""Every typed OKX channel: OKX's documentation example (push and subscribe ack, fixtures
``doc-*.json``) classified into its typed record with every field; and the adapter's field
tables against the schema files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.exchanges.events import Push, Subscribed, Unrecognized
from bridge.exchanges.okx.channels import (
    TYPED_CHANNELS,
    Kind,
    Nested,
    TypedChannel,
    typed_channel,
)
from tests.fixtures import FIXTURES_DIR
from tests.unit.exchanges.okx.helpers import (
    assert_valid,
    connected,
    dest,
    fixture,
    fixture_json,
    logged_in,
    only,
)
from tests.unit.exchanges.schema_helpers import SCHEMAS_ROOT

DOC_PUSHES = sorted(
    p.name
    for p in (FIXTURES_DIR / "okx").glob("doc-*-push*.json")
    # OKX prints these two with a comment and a trailing comma: the -fixed copies are JSON
    if p.name not in ("doc-account-push.json", "doc-balance_and_position-push.json")
)
DOC_ACKS = sorted(p.name for p in (FIXTURES_DIR / "okx").glob("doc-*-subscribe-ok.json"))


def receive(name: str) -> list[Any]:
    """The fixture's events on a connection subscribed to its arg (logged in)."""
    message = fixture_json(name)
    return logged_in(message["arg"]).receive(fixture(name))


def push_records(name: str) -> list[Push]:
    found = [e for e in receive(name) if isinstance(e, Push)]
    for push in found:
        assert_valid(push)
    return found


# --- every field of every documented example ---------------------------------------------------


def schema_payload(typed: TypedChannel) -> dict[str, Any]:
    path = max(
        (SCHEMAS_ROOT / "okx").glob(f"{typed.schema.split('/')[1]}.v*.avsc"),
        key=lambda p: int(p.name.rsplit(".v", 1)[1].removesuffix(".avsc")),
    )
    record = json.loads(path.read_text())
    (payload,) = [f for f in record["fields"] if f["name"] == "payload"]
    return payload["type"][0]  # type: ignore[no-any-return]


def expected(record: dict[str, Any], value: dict[str, Any], named: dict[str, Any]) -> Any:
    """What an OKX object becomes under a schema record, worked out from the schema alone:
    strings stay, timestamps are the digits' number ("" is null), nested objects follow their
    own record; nothing is left for extra."""
    out: dict[str, Any] = {}
    for field in record["fields"]:
        name = field["name"]
        if name == "extra":
            out[name] = {}
        elif name not in value:
            out[name] = None  # absent from the example: null
        else:
            out[name] = convert(field["type"], value[name], named)
    return out


def convert(avro: Any, value: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro, list):  # ["null", T]
        return (
            None if value in (None, "") and avro[1] != "string" else convert(avro[1], value, named)
        )
    if isinstance(avro, str) and avro in named:
        avro = named[avro]
    if isinstance(avro, dict):
        if avro.get("logicalType") == "timestamp-millis":
            return None if value == "" else int(value)
        if avro["type"] == "array":
            return [convert(avro["items"], item, named) for item in value]
        if avro["type"] == "record":
            named[f"{avro['namespace']}.{avro['name']}"] = avro
            return expected(avro, value, named)
    return value


@pytest.mark.parametrize("name", DOC_PUSHES)
def test_the_documented_push_is_typed_with_every_field(name: str) -> None:
    message = fixture_json(name)
    channel = message["arg"]["channel"]
    typed = typed_channel(channel)
    assert typed is not None
    records = push_records(name)
    assert len(records) == len(message["data"])
    record = schema_payload(typed)
    for push, element in zip(records, message["data"], strict=True):
        assert push.payload_type == typed.payload_type
        assert push.destination.topic == f"okx.{channel}"
        assert push.destination.schema == typed.schema
        payload = dict(push.payload)
        if typed.rows:  # candles: the positions named
            names = [f["name"] for f in record["fields"] if f["name"] != "extra"]
            element = dict(zip(names, element, strict=True))
        for name_ in typed.push_fields:
            element = {**element, name_: message[name_]}
        if typed.book:
            verified = payload.pop("verified")
            assert verified in ("verified", "failed", "not_checked", "full_book")
            element = {**element, "action": message.get("action")}
            for side in ("asks", "bids"):
                element[side] = [
                    dict(zip(("price", "size", "deprecated", "orders"), r, strict=True))
                    for r in element[side]
                ]
        want = expected(record, element, {})
        if typed.rows:
            want["extra"] = []
        want.pop("verified", None)
        assert payload == want


def test_every_documented_example_covers_its_channel_family() -> None:
    covered = {typed_channel(fixture_json(n)["arg"]["channel"]).schema for n in DOC_PUSHES}  # type: ignore[union-attr]
    assert covered == set(FAMILIES) - {"okx/status", "okx/economic-calendar"}


@pytest.mark.parametrize("name", DOC_ACKS)
def test_the_documented_subscribe_ack(name: str) -> None:
    message = fixture_json(name)
    arg = message["arg"]
    typed = typed_channel(arg["channel"])
    assert typed is not None
    key = next(
        (arg[k] for k in ("instId", "instFamily", "uly", "instType", "ccy") if k in arg),
        arg["channel"],
    )
    event = only(connected(arg).receive(fixture(name)))
    assert event == Subscribed(
        destination=dest(arg, typed.schema, key=key),
        op="subscribe",
        request_id="1512",
        exchange_conn_id="a4d3ae55",
    )


# --- the records, written out --------------------------------------------------------------------


def test_trades() -> None:
    (push,) = push_records("doc-trades-push.json")
    assert push.payload == {
        "instId": "BTC-USDT",
        "tradeId": "130639474",
        "px": "42219.9",
        "sz": "0.12060306",
        "side": "buy",
        "ts": 1630048897897,
        "count": "3",
        "source": "0",
        "seqId": 1234,
        "extra": {},
    }
    assert push.event_time_ms == 1630048897897
    assert push.destination.key == "BTC-USDT"
    (all_trades,) = push_records("doc-trades-all-push.json")
    assert (all_trades.payload["count"], all_trades.payload["seqId"]) == (None, None)
    assert all_trades.destination.topic == "okx.trades-all"


def test_candles_name_their_positions_and_the_start_is_the_event_time() -> None:
    (push,) = push_records("doc-candle1D-push.json")
    assert push.payload == {
        "ts": 1597026383085,
        "o": "8533.02",
        "h": "8553.74",
        "l": "8527.17",
        "c": "8548.26",
        "vol": "45247",
        "volCcy": "529.5858061",
        "volCcyQuote": "5529.5858061",
        "confirm": "0",
        "extra": [],
    }
    assert push.event_time_ms == 1597026383085
    assert push.destination.topic == "okx.candle1D"
    first, second = push_records("doc-mark-price-candle1D-push.json")
    assert second.payload == {
        "ts": 1597026383085,
        "o": "3.731",
        "h": "3.799",
        "l": "3.494",
        "c": "3.72",
        "confirm": "1",
        "extra": [],
    }
    assert first.payload["confirm"] == "0"
    (index,) = push_records("doc-index-candle30m-push.json")
    assert index.payload_type == "exchange_bridge.okx.IndexCandle"
    assert index.destination.key == "BTC-USD"


def test_candle_rows_longer_or_shorter_than_documented() -> None:
    arg = {"channel": "candle1m", "instId": "BTC-USDT"}
    long_row = ["1", "2", "3", "4", "5", "6", "7", "8", "1", "new", 5]
    short_row = ["1685221620000", "0.9981"]
    events = connected(arg).receive(json.dumps({"arg": arg, "data": [long_row, short_row, {}]}))
    long, short = events[0].payload, events[1].payload  # type: ignore[attr-defined]
    assert long["confirm"] == "1" and long["extra"] == ["new", "5"]
    assert short["o"] == "0.9981" and short["c"] is None and short["extra"] == []
    assert isinstance(events[2], Unrecognized)
    assert events[2].reason == "candle1m data[2]: row is a JSON object, not an array"


def test_books5_levels() -> None:
    (push,) = push_records("doc-books5-push.json")
    assert push.payload["instId"] == "BCH-USDT-SWAP"
    assert push.payload["action"] is None
    assert push.payload["asks"][0] == {
        "price": "111.06",
        "size": "55154",
        "deprecated": "0",
        "orders": "2",
    }
    assert [level["price"] for level in push.payload["bids"]] == [
        "111.05",
        "111.04",
        "111.03",
        "111.02",
        "111.01",
    ]
    assert (push.payload["seqId"], push.payload["prevSeqId"], push.payload["checksum"]) == (
        363996337,
        None,
        None,
    )
    assert push.payload["verified"] == "full_book"


def test_price_limit_enabled_is_a_boolean() -> None:
    (push,) = push_records("doc-price-limit-push.json")
    assert push.payload == {
        "instType": None,  # not in OKX's example, though in its field table
        "instId": "LTC-USD-190628",
        "buyLmt": "200",
        "sellLmt": "300",
        "ts": 1597026383085,
        "enabled": True,
        "extra": {},
    }


def test_funding_rate_times() -> None:
    (push,) = push_records("doc-funding-rate-push.json")
    assert push.payload["fundingTime"] == 1700726400000
    assert push.payload["nextFundingTime"] == 1700755200000
    assert push.payload["nextFundingRate"] == ""  # empty text stays text
    assert push.event_time_ms == 1700724675402


def test_liquidation_details_and_their_latest_time() -> None:
    (push,) = push_records("doc-liquidation-orders-push.json")
    assert push.payload["details"] == [
        {
            "side": "buy",
            "posSide": "short",
            "bkPx": "0.007831",
            "sz": "13",
            "bkLoss": "0",
            "ccy": "",
            "ts": 1692266434010,
            "extra": {},
        }
    ]
    assert push.event_time_ms == 1692266434010
    assert push.destination.key == "SWAP"
    details = [{"ts": "5"}, {"ts": "9"}, {"ts": ""}, {"ts": "7"}]
    frame = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [{"details": details}],
    }
    (later,) = connected().receive(json.dumps(frame))
    assert later.event_time_ms == 9  # type: ignore[attr-defined]


def test_instruments_typed_numbers_and_upcoming_changes() -> None:
    (push,) = push_records("doc-instruments-push.json")
    assert push.payload["instIdCode"] == 1000000000
    assert push.payload["futureSettlement"] is False
    assert push.payload["listTime"] == 1606468572000
    assert push.payload["expTime"] is None  # "" in the example
    assert push.payload["upcChg"] == [
        {"param": "tickSz", "newValue": "0.0001", "effTime": 1704876947000, "extra": {}}
    ]
    assert push.payload["maxIcebergSz"] == "9999999999.0000000000000000"
    assert push.event_time_ms is None  # no field says when the change happened
    assert push.destination.key == "SPOT"


def test_account_repeats_the_push_fields_and_types_each_currency() -> None:
    (push,) = push_records("doc-account-push-fixed.json")
    payload = push.payload
    assert (payload["eventType"], payload["curPage"], payload["lastPage"]) == ("snapshot", 1, True)
    assert payload["uTime"] == 1705564223311 == push.event_time_ms
    assert payload["totalEq"] == "55868.06403501676"
    (usdt,) = payload["details"]
    assert usdt["ccy"] == "USDT"
    assert usdt["uTime"] == 1705564213903
    assert (usdt["collateralEnabled"], usdt["collateralRestrict"]) == (False, False)
    assert usdt["colRes"] == "0" and usdt["autoLendStatus"] is None
    assert usdt["upl"] == "-7.475800000000003"
    assert push.destination.arg == {"channel": "account", "uid": "44*********584"}
    assert push.destination.key == "account"


def test_account_push_fields_missing_in_an_event_update_are_null() -> None:
    frame = {"arg": {"channel": "account"}, "eventType": "event_update", "data": [{"uTime": "5"}]}
    (push,) = connected().receive(json.dumps(frame))
    assert isinstance(push, Push)
    assert (push.payload["eventType"], push.payload["curPage"], push.payload["lastPage"]) == (
        "event_update",
        None,
        None,
    )
    assert push.payload["details"] is None


def test_positions() -> None:
    (push,) = push_records("doc-positions-push.json")
    payload = push.payload
    assert (payload["eventType"], payload["curPage"], payload["lastPage"]) == ("snapshot", 1, True)
    assert payload["pTime"] == 1619507761462 == push.event_time_ms
    assert payload["cTime"] == 1619507758793
    assert payload["liqPx"] == "2352.8496681818233"
    assert [a["closeFraction"] for a in payload["closeOrderAlgo"]] == ["0.6", "0.4"]
    assert payload["closeOrderAlgo"][0] == {
        "algoId": "123",
        "slTriggerPx": "123",
        "slTriggerPxType": "mark",
        "tpTriggerPx": "123",
        "tpTriggerPxType": "mark",
        "closeFraction": "0.6",
        "extra": {},
    }
    assert push.destination.key == "FUTURES"


def test_balance_and_position() -> None:
    (push,) = push_records("doc-balance_and_position-push-fixed.json")
    assert push.payload == {
        "pTime": 1597026383085,
        "eventType": "snapshot",
        "balData": [{"ccy": "BTC", "cashBal": "1", "uTime": 1597026383085, "extra": {}}],
        "posData": [
            {
                "posId": "1111111111",
                "tradeId": "2",
                "instId": "BTC-USD-191018",
                "instType": "FUTURES",
                "mgnMode": "cross",
                "avgPx": "3320",
                "ccy": "BTC",
                "posSide": "long",
                "pos": "10",
                "baseBal": None,
                "quoteBal": None,
                "posCcy": "",
                "nonSettleAvgPx": "",
                "settledPnl": "",
                "uTime": 1597026383085,
                "extra": {},
            }
        ],
        "trades": [{"instId": "BTC-USD-191018", "tradeId": "2", "extra": {}}],
        "extra": {},
    }


def test_orders() -> None:
    (push,) = push_records("doc-orders-push.json")
    payload = push.payload
    assert payload["ordId"] == "452197707845865472"
    assert payload["fillTime"] == 1654084353263
    assert payload["uTime"] == 1654084353264 == push.event_time_ms
    assert payload["cTime"] == 1654084334977
    assert payload["attachAlgoOrds"] == []
    assert payload["linkedAlgoOrd"] == {"algoId": "", "extra": {}}
    assert payload["reduceOnly"] == "false" and payload["isTpLimit"] == "false"
    assert payload["fee"] == "-0.02522168"
    assert payload["outcome"] is None
    assert push.destination.key == "BTC-USDT"
    assert push.destination.arg["uid"] == "614488474791936"


def test_fills() -> None:
    (push,) = push_records("doc-fills-push.json")
    assert push.payload == {
        "instId": "BTC-USDT-SWAP",
        "fillSz": "100",
        "fillPx": "70000",
        "side": "buy",
        "ts": 1705449605015,
        "ordId": "680800019749904384",
        "clOrdId": "1234567890",
        "tradeId": "12345",
        "execType": "T",
        "count": "10",
        "extra": {},
    }


def test_algo_orders() -> None:
    (push,) = push_records("doc-orders-algo-push.json")
    payload = push.payload
    assert payload["ordIdList"] == []
    assert payload["linkedOrd"] == {"ordId": "98192973880283", "extra": {}}
    assert payload["triggerTime"] is None  # "" in the example
    assert payload["uTime"] == 1708679675245 == push.event_time_ms
    assert payload["tpOrdPx"] == "-1"
    assert payload["closeFraction"] == "" and payload["quickMgnType"] == ""


# --- values that do not fit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "element", "reason"),
    [
        (
            {"channel": "price-limit", "instId": "X"},
            {"enabled": "true"},
            "enabled is not a boolean: 'true'",
        ),
        ({"channel": "trades", "instId": "X"}, {"seqId": "12a"}, "seqId is not an integer: '12a'"),
        (
            {"channel": "trades", "instId": "X"},
            {"seqId": 2**63},
            "seqId is not an integer: '9223372036854775808'",
        ),
        (
            {"channel": "orders", "instType": "ANY"},
            {"fillTime": "soon"},
            "fillTime is not a millisecond timestamp: 'soon'",
        ),
        (
            {"channel": "orders", "instType": "ANY"},
            {"attachAlgoOrds": {"a": 1}},
            "attachAlgoOrds is a JSON object, not an array",
        ),
        (
            {"channel": "orders", "instType": "ANY"},
            {"attachAlgoOrds": [5]},
            "attachAlgoOrds[0] is a JSON number, not an object",
        ),
        (
            {"channel": "orders", "instType": "ANY"},
            {"linkedAlgoOrd": ["x"]},
            "linkedAlgoOrd is a JSON array, not an object",
        ),
        (
            {"channel": "orders-algo", "instType": "ANY"},
            {"ordIdList": "1"},
            "ordIdList is a JSON string, not an array",
        ),
        (
            {"channel": "tickers", "instId": "X"},
            ["9999.99"],
            "element is a JSON array, not an object",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_dead_letters_its_element(
    arg: dict[str, str], element: Any, reason: str
) -> None:
    good: dict[str, Any] = {}
    frame = {"arg": arg, "data": [good, element]}
    events = connected().receive(json.dumps(frame))
    assert isinstance(events[0], Push)
    assert events[1] == Unrecognized(reason=f"{arg['channel']} data[1]: {reason}")


def test_empty_text_is_null_for_every_kind_but_text() -> None:
    element = {"enabled": "", "ts": "", "buyLmt": ""}
    (push,) = connected().receive(
        json.dumps({"arg": {"channel": "price-limit", "instId": "X"}, "data": [element]})
    )
    assert isinstance(push, Push)
    assert (push.payload["enabled"], push.payload["ts"], push.payload["buyLmt"]) == (None, None, "")


def test_a_bad_push_field_dead_letters_the_push() -> None:
    frame = {"arg": {"channel": "account"}, "curPage": "one", "data": [{}]}
    assert connected().receive(json.dumps(frame)) == [
        Unrecognized(reason="account: curPage is not an integer: 'one'")
    ]


def test_fields_okx_adds_later_are_kept_in_extra_at_every_level() -> None:
    element = {"instId": "X", "newTop": {"a": 1}, "details": [{"ccy": "BTC", "newInner": 2}]}
    frame = {"arg": {"channel": "account"}, "data": [element]}
    (push,) = connected().receive(json.dumps(frame))
    assert isinstance(push, Push)
    assert push.payload["extra"] == {"instId": "X", "newTop": '{"a":1}'}
    assert push.payload["details"][0]["extra"] == {"newInner": "2"}


# --- the tables and the schemas agree ------------------------------------------------------------

_AVRO = {
    Kind.TEXT: ["null", "string"],
    Kind.MILLIS: ["null", {"type": "long", "logicalType": "timestamp-millis"}],
    Kind.LONG: ["null", "long"],
    Kind.BOOL: ["null", "boolean"],
    Kind.TEXTS: ["null", {"type": "array", "items": "string"}],
}


def check_fields(fields: dict[str, Any], record: dict[str, Any], named: dict[str, Any]) -> None:
    named[f"{record['namespace']}.{record['name']}"] = record
    schema_fields = {f["name"]: f for f in record["fields"]}
    assert list(schema_fields) == [*fields, "extra"], record["name"]
    for name, kind in fields.items():
        avro = schema_fields[name]["type"]
        if isinstance(kind, Kind):
            assert avro == _AVRO[kind], (record["name"], name)
            continue
        assert isinstance(kind, Nested)
        inner = avro[1] if isinstance(avro, list) else avro
        if kind.many:
            assert inner["type"] == "array", name
            inner = inner["items"]
        inner = named.get(inner, inner) if isinstance(inner, str) else inner
        check_fields(dict(kind.fields), inner, named)


FAMILIES = {
    **{typed.schema: typed for typed in TYPED_CHANNELS.values()},
    **{
        t.schema: t
        for t in map(typed_channel, ("candle1m", "mark-price-candle1m", "index-candle1m"))
        if t
    },
}


@pytest.mark.parametrize("schema", sorted(FAMILIES))
def test_the_field_table_is_the_schema(schema: str) -> None:
    typed = FAMILIES[schema]
    record = schema_payload(typed)
    assert f"{record['namespace']}.{record['name']}" == typed.payload_type
    fields = {**typed.push_fields, **typed.fields}
    if typed.book:  # typed by book.py: asks, bids and verified as the schema says
        assert list(fields) == [f["name"] for f in record["fields"]][:-1]
        return
    if typed.rows:
        assert [f["name"] for f in record["fields"]] == [*fields, "extra"]
        assert record["fields"][-1]["type"] == {"type": "array", "items": "string"}
        return
    check_fields(dict(fields), record, {})


def test_every_schema_file_of_the_group_is_a_family_or_generic() -> None:
    names = {p.name.split(".v")[0] for p in Path(SCHEMAS_ROOT / "okx").glob("*.avsc")}
    assert names == {s.split("/")[1] for s in FAMILIES} | {"channel", "events"}
