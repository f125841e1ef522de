"""Strict JSON for exchange frames, with one number mode: the exact text.

Every adapter decodes frames here, and every value leaves the bridge with the characters the
exchange sent. A JSON number becomes a :class:`Number`, a ``str`` holding its exact text
(``1e400``, ``0.1000000000000000055``, ``-0.0`` and ``1E+2`` stay what they are: no float and
no Decimal on the way), so a typed field takes that text as it is; a protocol that needs an
integer converts it with :func:`integer`, which refuses more than 19 digits before ``int()``
sees them.

What is refused, with the dead-letter reason the adapter records (a :class:`WireError`):

- anything the JSON grammar refuses, including a leading byte order mark (BOM);
- ``NaN``, ``Infinity`` and ``-Infinity``, which Python's json module would accept;
- a value nested deeper than :data:`MAX_DEPTH` levels, checked before decoding, so no
  recursion limit is ever met;
- a key that appears twice in one object. JSON leaves the meaning of such an object open, and
  a decoder that keeps one of the values loses the other without a trace, so the frame is
  refused instead: it becomes ``Unrecognized`` and goes to the dead-letter topic, which keeps
  the frame's bytes. The one exception is an element carried as text
  (:func:`loads_with_texts`): its text holds both values, so nothing is lost and it is kept.

:func:`compact` writes a decoded value back (numbers as their text), for the ``extra`` maps and
argument values of records; :func:`text`, :func:`millis` and :func:`json_type` are the small
conversions every payload table uses; :class:`BadElement` is how one element of a frame is
refused while its siblings still go.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from json.scanner import make_scanner
from typing import Any, NamedTuple, TypeGuard

MAX_DEPTH = 128
"""Deepest nesting of arrays and objects a frame may have (serde_json's default limit).
Exchanges send four or five levels; the limit keeps the decoder and :func:`compact` far from
Python's recursion limit."""

MAX_INTEGER_DIGITS = 19
"""Digits :func:`integer` converts: every Avro long fits, and ``int()`` never sees a number
long enough to be slow (Python refuses more than 4,300 digits outright)."""

MAX_LONG = 2**63 - 1
"""The largest Avro long."""


class Number(str):
    """A JSON number, as the exact text the exchange sent."""

    __slots__ = ()


class WireError(ValueError):
    """A frame that cannot be decoded strictly. The text is the dead-letter reason."""


class BadElement(Exception):
    """One element of a frame cannot be typed: it becomes Unrecognized, its siblings still go."""


class Element(NamedTuple):
    """One element of an array carried as text (see :func:`loads_with_texts`)."""

    text: str
    """The element's exact text: every token as sent, whitespace between tokens left out."""
    duplicate_key: str | None = None
    """A key that appears twice in one object of the element; its decoded value then holds the
    last of them, and only :attr:`text` holds both."""


# --- decoding ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # json accepts NaN, Infinity and -Infinity, which are not JSON.
    raise WireError(f"not JSON: {name} is not JSON")


class _DuplicateKey(WireError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key[:80]!r} in one object")
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _decoder(*, refuse_duplicates: bool) -> json.JSONDecoder:
    return json.JSONDecoder(
        parse_float=Number,
        parse_int=Number,
        parse_constant=_reject_constant,
        object_pairs_hook=_object if refuse_duplicates else None,
    )


Scanner = Callable[[str, int], tuple[Any, int]]
"""The json module's scanner: one value from an index -> (value, the index after it)."""

# Built once: the decoder and its C scanner are what every frame goes through. (typeshed
# types make_scanner's argument as a scanner, and leaves scanstring out; both are the C
# functions json.loads itself uses.)
_STRICT = _decoder(refuse_duplicates=True)
_SCAN: Scanner = make_scanner(_STRICT)  # type: ignore[arg-type]
# Only to find where an element with a duplicate key ends, and what it means to the adapter.
_SCAN_KEEPING_LAST: Scanner = make_scanner(_decoder(refuse_duplicates=False))  # type: ignore[arg-type]
_DECODE_KEEPING_LAST = _decoder(refuse_duplicates=False).decode
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

# Tokens of a valid JSON text: whole strings, and runs of anything else but whitespace.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[^ \t\n\r"]+', re.DOTALL)

# The nesting check sees the frame as bytes of brackets only: both kinds of opener become
# "[" and both closers "]", everything else but quotes is deleted.
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_QUOTED = re.compile(rb'"[^"]*"')


def _nesting_error(text: str) -> WireError | None:
    """A WireError when ``text`` nests deeper than MAX_DEPTH (brackets inside strings do not
    count), else None. Invalid JSON may pass; the decoder then says what is wrong with it
    without nesting deeper than MAX_DEPTH on the way."""
    openers = text.count("[")
    if openers <= MAX_DEPTH and openers + text.count("{") <= MAX_DEPTH:
        return None  # cannot nest deeper than it has openers
    if "\\" in text:
        # Escaped backslashes, then escaped quotes: what remains of the quotes delimits strings.
        text = text.replace("\\\\", "").replace('\\"', "")
    structure = text.encode("utf-8", "surrogatepass").translate(_BRACKETS, _NOT_STRUCTURE)
    # Two adjacent quotes go together: every string without a bracket in it. Removing them
    # keeps the parity, so the quotes left still open and close the same strings.
    structure = structure.replace(b'""', b"")
    if b'"' in structure:
        structure = _QUOTED.sub(b"", structure)
    # Each pass removes the innermost pairs: as many passes as there are levels.
    depth = 0
    while structure and depth <= MAX_DEPTH:
        inner = structure.replace(b"[]", b"")
        if len(inner) == len(structure):
            depth += structure.count(b"[")  # unbalanced: every opener left may nest
            break
        structure = inner
        depth += 1
    if depth > MAX_DEPTH:
        return WireError(f"not JSON: nested deeper than {MAX_DEPTH} levels")
    return None


def _check(text: str) -> None:
    if text.startswith("\ufeff"):
        raise WireError("not JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at char 0")
    if (error := _nesting_error(text)) is not None:
        raise error


def _not_json(exc: json.JSONDecodeError) -> WireError:
    return WireError(f"not JSON: {exc.msg} at char {exc.pos}")


def loads(text: str) -> Any:
    """Decode one frame strictly (module docstring); numbers as :class:`Number`.

    Raises :class:`WireError` with the reason to record."""
    _check(text)
    try:
        return _STRICT.decode(text)
    except json.JSONDecodeError as exc:
        raise _not_json(exc) from None


def _not_json_at(stop: StopIteration) -> WireError:
    return WireError(f"not JSON: Expecting value at char {stop.value}")


def _expected(what: str, index: int) -> WireError:
    return WireError(f"not JSON: Expecting {what} at char {index}")


def loads_with_texts(text: str, key: str) -> tuple[Any, list[Element] | None]:
    """:func:`loads`, and, when the frame is an object whose ``key`` holds an array, the exact
    text of each element of that array (None otherwise).

    An element keeps its tokens byte for byte (``\\u0041``, ``1e400``, key order, a duplicate
    key); only whitespace between tokens is left out, which JSON gives no meaning. Keys
    duplicated inside such an element do not refuse the frame (see :class:`Element`); anywhere
    else they do. The top level and the array are walked here, each value with the json
    module's C scanner, so an element costs what decoding it costs."""
    _check(text)
    if " " in text or "\n" in text or "\t" in text or "\r" in text:
        # Exchanges send compact JSON. A frame with whitespace (between tokens, or only inside
        # strings) is checked as it is, so that errors name json's positions, then walked
        # without the whitespace between its tokens: every element's text is compact.
        try:
            _DECODE_KEEPING_LAST(text)
        except json.JSONDecodeError as exc:
            raise _not_json(exc) from None
        text = "".join(_TOKENS.findall(text))
    try:
        return _walk(text, key)
    except StopIteration as stop:
        raise _not_json_at(stop) from None
    except json.JSONDecodeError as exc:
        raise _not_json(exc) from None


def _walk(text: str, key: str) -> tuple[Any, list[Element] | None]:
    """:func:`loads_with_texts` of a text without whitespace between its tokens. Raises the
    scanner's StopIteration and JSONDecodeError as they are."""
    if text[:1] != "{":
        return _STRICT.decode(text), None
    pairs: list[tuple[str, Any]] = []
    elements: list[Element] | None = None
    index = 1
    if text[1:2] != "}":
        while True:
            if text[index : index + 1] != '"':
                raise _expected("property name enclosed in double quotes", index)
            name, index = _scanstring(text, index + 1, True)
            if text[index : index + 1] != ":":
                raise _expected("':' delimiter", index)
            index += 1
            value: Any
            if name == key and text[index : index + 1] == "[":
                value, elements, index = _array_with_texts(text, index)
            else:
                value, index = _SCAN(text, index)
            pairs.append((name, value))
            delimiter = text[index : index + 1]
            if delimiter == "}":
                break
            if delimiter != ",":
                raise _expected("',' delimiter", index)
            index += 1
    if index + 1 != len(text):
        raise WireError(f"not JSON: Extra data at char {index + 1}")
    return _object(pairs), elements


def _array_with_texts(text: str, index: int) -> tuple[list[Any], list[Element], int]:
    """The array that starts at ``text[index]`` ("["): its values, their texts, its end."""
    values: list[Any] = []
    elements: list[Element] = []
    index += 1
    if text[index : index + 1] == "]":
        return values, elements, index + 1
    while True:
        start = index
        try:
            value, index = _SCAN(text, start)
            elements.append(Element(text[start:index]))
        except _DuplicateKey as exc:
            value, index = _SCAN_KEEPING_LAST(text, start)
            elements.append(Element(text[start:index], exc.key))
        values.append(value)
        delimiter = text[index : index + 1]
        if delimiter == "]":
            return values, elements, index + 1
        if delimiter != ",":
            raise _expected("',' delimiter", index)
        index += 1


# --- values --------------------------------------------------------------------------------------


def is_string(value: Any) -> TypeGuard[str]:
    """A JSON string (a :class:`Number` is a ``str`` too, but not a string)."""
    return isinstance(value, str) and not isinstance(value, Number)


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, for reasons: ``null``, ``number``, ``object``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Number | int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def compact(value: Any) -> str:
    """Compact JSON text of a decoded value (or of an outbound frame): numbers as their exact
    text, strings escaped as json writes them with ``ensure_ascii=False``. Nesting is bounded
    by :data:`MAX_DEPTH` for anything :func:`loads` returned."""
    if isinstance(value, str):
        return str.__str__(value) if isinstance(value, Number) else encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join([f"{encode_basestring(str(k))}:{compact(v)}" for k, v in value.items()])
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join([compact(v) for v in value]) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def text(value: Any) -> str:
    """A wire value as text: strings and numbers as sent, anything else as compact JSON."""
    if isinstance(value, str):
        return str.__str__(value)
    return compact(value)


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def integer(name: str, value: Any) -> int | None:
    """The integer a JSON integer (``-5``) or a string of ASCII digits (``"5"``) stands for;
    None when ``value`` is neither. BadElement when it has more than MAX_INTEGER_DIGITS
    digits: no field the bridge types holds one, and ``int()`` is never asked to convert it."""
    if not isinstance(value, str) or not value.isascii():
        return None
    digits = value[1:] if value[:1] == "-" and isinstance(value, Number) else value
    if not digits.isdigit():
        return None
    if len(digits) > MAX_INTEGER_DIGITS:
        raise BadElement(f"{name} is out of range: {value[:40]}")
    return int(value)


def millis(name: str, value: Any) -> int | None:
    """A Unix time in milliseconds (a JSON integer or a digit string) -> int; missing, null
    or "" -> None; BadElement for anything else and for values outside an Avro long."""
    if value is None or value == "":
        return None
    number = integer(name, value)
    if number is None:
        raise BadElement(f"{name} is not a millisecond timestamp: {text(value)[:80]!r}")
    if not 0 <= number <= MAX_LONG:
        raise BadElement(f"{name} is out of range: {number}")
    return number


def texts(values: Sequence[Any]) -> list[str]:
    """Each value as text (array elements beyond those a schema names: kept, not dropped)."""
    return [text(v) for v in values]
