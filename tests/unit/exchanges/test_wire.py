"""wire.py: strict JSON with one number mode, the exact text the exchange sent."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.exchanges import wire
from bridge.exchanges.wire import BadElement, Element, Number, WireError

EXACT_NUMBERS = [
    "1e400",
    "-1e400",
    "0.1000000000000000055",
    "-0.0",
    "1E+2",
    "1e-7",
    "0.00001",
    "5814.850605790395",
    "123456789012345678901234567890",
    "9" * 4300,
    "9" * 4301,
    "1" + "0" * 100_000,
]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", EXACT_NUMBERS, ids=lambda n: n[:24])
def test_a_number_is_its_exact_text(number: str) -> None:
    value = wire.loads(f'{{"a":[{number}]}}')
    [item] = value["a"]
    assert type(item) is Number
    assert item == number
    assert wire.text(item) == number and type(wire.text(item)) is str
    assert wire.compact(value) == f'{{"a":[{number}]}}'
    assert wire.json_type(item) == "number"


def test_a_number_anywhere_is_a_number_and_a_string_never_is() -> None:
    assert wire.loads("1e400") == "1e400"
    assert wire.loads(" -0.0 ") == "-0.0"
    assert wire.loads('"1e400"') == "1e400" and not isinstance(wire.loads('"1"'), Number)


@pytest.mark.parametrize(
    "frame",
    ["NaN", "[NaN]", '{"a":Infinity}', "[-Infinity]", '{"a":[1,{"b":NaN}]}'],
)
def test_nan_and_infinity_are_refused(frame: str) -> None:
    with pytest.raises(WireError, match=r"^not JSON: (NaN|Infinity|-Infinity) is not JSON$"):
        wire.loads(frame)
    with pytest.raises(WireError, match="is not JSON"):
        wire.loads_with_texts(frame, "a")


def test_a_leading_bom_is_refused() -> None:
    with pytest.raises(WireError, match="BOM"):
        wire.loads("\ufeff{}")
    with pytest.raises(WireError, match="BOM"):
        wire.loads_with_texts('\ufeff{"data":[]}', "data")


@pytest.mark.parametrize(
    "frame", ["", " ", "{", "[1,", '{"a" 1}', '{"a":1,}', "[1 2]", '{"a":1} x', "01", '"\x01"']
)
def test_invalid_json_says_where(frame: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(frame)
    reason = f"not JSON: {expected.value.msg} at char {expected.value.pos}"
    with pytest.raises(WireError) as got:
        wire.loads(frame)
    assert str(got.value) == reason


# --- duplicate keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame", ['{"a":1,"a":2}', '{"a":1,"b":{"c":1,"c":1}}', '[{"x":[{"k":"v","k":"v"}]}]']
)
def test_a_duplicate_key_refuses_the_frame(frame: str) -> None:
    with pytest.raises(WireError, match=r"^duplicate key '(a|c|k)' in one object$"):
        wire.loads(frame)


def test_a_duplicate_key_outside_the_carried_array_refuses_the_frame() -> None:
    with pytest.raises(WireError, match="duplicate key 'data'"):
        wire.loads_with_texts('{"data":[1],"data":[2]}', "data")
    with pytest.raises(WireError, match="duplicate key 'c'"):
        wire.loads_with_texts('{"arg":{"c":1,"c":2},"data":[]}', "data")


# --- nesting -------------------------------------------------------------------------------------


def test_nesting_up_to_the_limit_is_decoded() -> None:
    value = wire.loads(nested(wire.MAX_DEPTH))
    for _ in range(wire.MAX_DEPTH):
        (value,) = value
    assert value == "1"
    assert wire.compact(wire.loads(nested(wire.MAX_DEPTH))) == nested(wire.MAX_DEPTH)


@pytest.mark.parametrize(
    "frame",
    [
        nested(wire.MAX_DEPTH + 1),
        nested(450),
        "[" * 100_000,
        "{" * 100_000,
        '{"a":' * 50_000,
        '{"a":' * 200 + "1" + "}" * 200,
        '[{"a":' * 70 + "1" + "}]" * 70,
        # closers inside strings do not hide the real depth
        '["' + "]" * 500 + '",' + nested(wire.MAX_DEPTH) + "]",
        '["\\"]]]]]]]]]]]]]",' + nested(wire.MAX_DEPTH) + "]",
    ],
    ids=lambda f: f"{f[:10]}…{len(f)}",
)
def test_deeper_nesting_is_refused_before_decoding(frame: str) -> None:
    limit = sys.getrecursionlimit()
    # Far below what the frame would need if anything recursed per level.
    sys.setrecursionlimit(200)
    try:
        with pytest.raises(WireError, match=f"^not JSON: nested deeper than {wire.MAX_DEPTH} "):
            wire.loads(frame)
        with pytest.raises(WireError, match="nested deeper"):
            wire.loads_with_texts(frame, "data")
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    "frame",
    [
        '["' + "[" * 1000 + '"]',
        '{"a":"' + "{" * 300 + "]" * 300 + '","b":[1]}',
        '["\\\\",' + '"' + "[" * 300 + '"]',  # an escaped backslash ends no string early
        '["\\"' + "[" * 300 + '"]',  # an escaped quote ends no string
        "[" + ",".join(["[[]]"] * 500) + "]",  # wide, not deep
    ],
    ids=["openers-in-a-string", "both-in-a-string", "escaped-backslash", "escaped-quote", "wide"],
)
def test_brackets_inside_strings_do_not_count(frame: str) -> None:
    assert wire.loads(frame) == json.loads(frame, parse_int=str, parse_float=str)


# --- values --------------------------------------------------------------------------------------


def test_integer() -> None:
    assert wire.integer("x", Number("-5")) == -5
    assert wire.integer("x", "5") == 5
    assert wire.integer("x", "-5") is None  # a string of digits has no sign
    assert wire.integer("x", Number("1.0")) is None
    assert wire.integer("x", Number("1e3")) is None
    assert wire.integer("x", "٣") is None  # not ASCII
    assert wire.integer("x", True) is None
    assert wire.integer("x", Number("9" * 19)) == int("9" * 19)
    with pytest.raises(BadElement, match="x is out of range: 9999"):
        wire.integer("x", Number("9" * 20))
    with pytest.raises(BadElement, match="out of range"):
        wire.integer("x", "9" * 5000)  # int() never sees it


def test_millis() -> None:
    assert wire.millis("ts", Number("1597026383085")) == 1597026383085
    assert wire.millis("ts", "1597026383085") == 1597026383085
    assert wire.millis("ts", None) is None
    assert wire.millis("ts", "") is None
    for bad in (Number("1.5"), "soon", True, [1], Number("1e3")):
        with pytest.raises(BadElement, match="ts is not a millisecond timestamp"):
            wire.millis("ts", bad)
    for out in (Number("-1"), Number(str(2**63)), "9" * 4301):
        with pytest.raises(BadElement, match="ts is out of range"):
            wire.millis("ts", out)


def test_json_type_and_is_string() -> None:
    types = [None, True, Number("1"), 1, 1.5, "s", [], {}]
    names = ["null", "boolean", "number", "number", "number", "string", "array", "object"]
    assert [wire.json_type(v) for v in types] == names
    assert wire.is_string("1") and not wire.is_string(Number("1")) and not wire.is_string(1)


def test_text_and_compact() -> None:
    assert wire.text("é\n") == "é\n"
    assert wire.text(None) == "null"
    assert wire.optional_text(None) is None
    assert wire.text({"b": [Number("1e400"), True, None], "a": "é"}) == (
        '{"b":[1e400,true,null],"a":"é"}'
    )
    assert wire.texts([Number("0.10"), "x", [1]]) == ["0.10", "x", "[1]"]
    with pytest.raises(TypeError):
        wire.compact(object())


OUTBOUND = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(OUTBOUND)
def test_compact_writes_what_json_writes_and_reads_back_exactly(value: Any) -> None:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert wire.compact(value) == text  # outbound frames: Python values
    assert wire.compact(wire.loads(text)) == text  # decoded values: numbers as sent


# --- exact texts of one array --------------------------------------------------------------------


def test_each_element_keeps_its_exact_text() -> None:
    frame = (
        '{"arg":{"channel":"x"},"data":[{"a":"\\u0041","b":1e400,"c":0.1000000000000000055},'
        '{"z":1,"a":2},{"k":1,"k":2},["-0.0",-0.0,1E+2],"\\ud800",5]}'
    )
    value, elements = wire.loads_with_texts(frame, "data")
    assert elements == [
        Element('{"a":"\\u0041","b":1e400,"c":0.1000000000000000055}'),
        Element('{"z":1,"a":2}'),
        Element('{"k":1,"k":2}', duplicate_key="k"),
        Element('["-0.0",-0.0,1E+2]'),
        Element('"\\ud800"'),
        Element("5"),
    ]
    assert value["arg"] == {"channel": "x"}
    # decoded as loads would, except that a duplicate key inside an element keeps the last
    assert value["data"][0] == {"a": "A", "b": "1e400", "c": "0.1000000000000000055"}
    assert value["data"][2] == {"k": "2"}


def test_whitespace_between_tokens_is_left_out_and_kept_inside_strings() -> None:
    frame = '{ "data" : [ { "a" : [ 1 , 2 ] ,\n\t"b" : "x y\\n" } , 1e400 ] }\r\n'
    _, elements = wire.loads_with_texts(frame, "data")
    assert elements == [Element('{"a":[1,2],"b":"x y\\n"}'), Element("1e400")]


@pytest.mark.parametrize(
    "frame", ["[1]", '"x"', "{}", '{"arg":{}}', '{"data":{"a":1}}', '{"data":"x"}', "  5 "]
)
def test_no_texts_without_an_array_under_the_key(frame: str) -> None:
    value, elements = wire.loads_with_texts(frame, "data")
    assert value == wire.loads(frame)
    assert elements is None


def test_an_empty_array_has_no_elements() -> None:
    assert wire.loads_with_texts('{"data":[],"x":1}', "data") == ({"data": [], "x": "1"}, [])


@pytest.mark.parametrize(
    "frame",
    [
        "{",
        '{"data"',
        '{"data":',
        '{"data":[',
        '{"data":[1',
        '{"data":[1,',
        '{"data":[1,]}',
        '{"data":[1 2]}',
        '{"data":[1]',
        '{"data":[1]} x',
        '{"data":[1],}',
        '{"a" 1}',
        "{a:1}",
        '{"data":["\x01"]}',
        '{"\x01":1}',
    ],
)
def test_invalid_frames_say_what_json_says(frame: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(frame)
    reason = f"not JSON: {expected.value.msg} at char {expected.value.pos}"
    with pytest.raises(WireError) as got:
        wire.loads_with_texts(frame, "data")
    assert str(got.value) == reason


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(JSON_VALUES, max_size=4), st.booleans(), st.booleans())
def test_element_texts_are_the_elements_as_sent(
    data: list[Any], spaced: bool, ascii_only: bool
) -> None:
    separators = (", ", ": ") if spaced else (",", ":")
    frame = json.dumps(
        {"arg": {"x": 1}, "data": data}, separators=separators, ensure_ascii=ascii_only
    )
    value, elements = wire.loads_with_texts(frame, "data")
    assert value == wire.loads(frame)
    assert elements is not None
    assert [e.text for e in elements] == [
        json.dumps(item, separators=(",", ":"), ensure_ascii=ascii_only) for item in data
    ]
