"""Topic names, built here and nowhere else.

Two different things prefix a topic name, and this module keeps them apart:

- the **group** of an exchange (``okx``, ``okex``, ``kraken``; ``bridge`` for the bridge's own
  topics) is the first part of every topic and schema id of that exchange: ``okx.tickers``,
  ``okx.events``, ``okx.raw``; schema ids ``okx/status``, ``okx/events``;
- the **Kafka prefix** (``kafka.topic_prefix``) is the operator's: it is prepended to every
  name when a record is produced or a topic is read, and nowhere else. Every name below is
  before the Kafka prefix.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.errors import SchemaError

EVENTS = "events"
"""Connection-level events of an exchange (logins, notices, errors without a channel)."""
RAW = "raw"
"""Every frame of an exchange as received."""

DEADLETTER_TOPIC = "bridge.deadletter"
"""Default topic for frames that could not be classified or encoded."""
SCHEMAS_TOPIC = "bridge.schemas"
"""Default compacted topic of every schema the bridge writes (registry-less mode)."""
CLUSTER_TOPIC = "bridge.cluster"
"""Compacted control topic of group mode: who holds which connection (bridge.cluster)."""

RAW_SCHEMA = "bridge/raw"
DEADLETTER_SCHEMA = "bridge/deadletter"

NORMALIZED_GROUP = "normalized"
"""First part of the normalized topics and schema ids, which every exchange writes."""
NORMALIZED_KINDS = ("trades", "book", "top-of-book")
"""``normalized.trades``, ``normalized.book``, ``normalized.top-of-book``."""

# Kafka allows 249 characters; 200 leaves room for the operator's Kafka prefix.
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


def channel_topic(group: str, channel: str) -> str:
    """The topic of one channel of an exchange: ``okx.tickers``, ``kraken.book``."""
    return f"{group}.{channel}"


def events_topic(group: str) -> str:
    return f"{group}.{EVENTS}"


def raw_topic(group: str) -> str:
    return f"{group}.{RAW}"


def events_schema(group: str) -> str:
    """The schema id of an exchange's events topic: ``okx/events``."""
    return f"{group}/{EVENTS}"


def normalized_topic(kind: str) -> str:
    """``normalized.trades``, ``normalized.book``, ``normalized.top-of-book``."""
    return f"{NORMALIZED_GROUP}.{kind}"


def normalized_schema(kind: str) -> str:
    """The schema id of a normalized topic: ``normalized/trades``."""
    return f"{NORMALIZED_GROUP}/{kind}"


def normalized_key(exchange: str, symbol: str) -> str:
    """The key of a normalized record, ``okx:BTC-USDT``: one instrument of one exchange stays
    in order on one partition."""
    return f"{exchange}:{symbol}"


def group_topics(group: str, *, raw_topics: bool) -> list[str]:
    """The topics every connection of an exchange may write besides its channels."""
    return [events_topic(group), raw_topic(group)] if raw_topics else [events_topic(group)]


@dataclass(frozen=True, slots=True)
class TopicFamily:
    """Topics that share one value schema, as ``bridge schemas list`` shows them: one name
    (``okx.status``) or a pattern with ``<placeholders>`` (``okx.<channel>``,
    ``okex.spot.kline-<interval>``) that :meth:`matches` names on the broker against."""

    name: str
    schema: str | None
    """The schema id of the values; None for a topic whose values are not Avro
    (``bridge.schemas``)."""
    regex: str
    """The names the family stands for (after the Kafka prefix)."""

    def matches(self, topic: str) -> bool:
        return re.fullmatch(self.regex, topic) is not None


_PLACEHOLDER = re.compile(r"<([a-z_]+)>")
_ANY_PART = r"[A-Za-z0-9._-]+"


def topic_family(name: str, schema: str | None, **choices: Iterable[str]) -> TopicFamily:
    """A :class:`TopicFamily`. Each ``<placeholder>`` in ``name`` stands for one of
    ``choices[placeholder]`` when given, else for any legal part of a topic name."""
    parts: list[str] = []
    end = 0
    for match in _PLACEHOLDER.finditer(name):
        parts.append(re.escape(name[end : match.start()]))
        allowed = choices.get(match[1])
        parts.append(
            f"(?:{'|'.join(re.escape(c) for c in allowed)})" if allowed is not None else _ANY_PART
        )
        end = match.end()
    parts.append(re.escape(name[end:]))
    return TopicFamily(name, schema, "".join(parts))


def with_prefix(prefix: str, topic: str) -> str:
    """The name on the broker: the operator's Kafka prefix, then the bridge's name."""
    return prefix + topic


def is_legal(topic: str) -> bool:
    """Whether ``topic`` is a name the bridge writes: Kafka's legal characters, at most 200."""
    return _TOPIC_NAME.fullmatch(topic) is not None and topic not in (".", "..")


@functools.lru_cache(maxsize=4096)
def check_topic(topic: str) -> None:
    """Raise SchemaError unless ``topic`` is a legal Kafka topic name. Channel names come from
    the wire; a record for an impossible topic would sit in the producer forever. (Cached:
    the set of topics is small, and only names that pass are remembered.)"""
    if not is_legal(topic):
        raise SchemaError(f"{topic[:80]!r} is not a legal Kafka topic name")
