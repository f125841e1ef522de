"""Every topic the bridge can write, with its value schema: the contract a consumer reads, as
``bridge schemas list`` and ``show`` give it without a configuration.

Each exchange's channel topics come from its adapter (:meth:`Adapter.topic_families`); every
exchange also has ``<group>.events`` and ``<group>.raw``; the normalized topics (written only
for connections that enable them) are every exchange's; the bridge adds the dead-letter topic
and, without a registry, the compacted schemas topic (JSON text, not Avro).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.exchanges import adapter_class, known_exchanges
from bridge.topics import (
    DEADLETTER_SCHEMA,
    DEADLETTER_TOPIC,
    NORMALIZED_KINDS,
    RAW_SCHEMA,
    SCHEMAS_TOPIC,
    TopicFamily,
    events_schema,
    events_topic,
    normalized_schema,
    normalized_topic,
    raw_topic,
    topic_family,
)


def contract_topics(
    *,
    deadletter_topic: str = DEADLETTER_TOPIC,
    schemas_topic: str | None = SCHEMAS_TOPIC,
    raw_topics: bool = True,
) -> list[TopicFamily]:
    """Every topic (before the Kafka prefix) the bridge may write, exchange by exchange, then
    the bridge's own. ``schemas_topic`` None: a registry is configured, so the bridge does
    not publish its schemas to a topic."""
    families: list[TopicFamily] = []
    for exchange in known_exchanges():
        cls = adapter_class(exchange)
        group = cls.topic_group
        families += cls.topic_families()
        families.append(topic_family(events_topic(group), events_schema(group)))
        if raw_topics:
            families.append(topic_family(raw_topic(group), RAW_SCHEMA))
    families += [
        topic_family(normalized_topic(kind), normalized_schema(kind)) for kind in NORMALIZED_KINDS
    ]
    families.append(topic_family(deadletter_topic, DEADLETTER_SCHEMA))
    if schemas_topic is not None:
        families.append(topic_family(schemas_topic, None))
    return families


def family_of(families: Sequence[TopicFamily], topic: str) -> TopicFamily | None:
    """The family a topic name (before the Kafka prefix) belongs to: a family of that exact
    name first (``okx.events`` is not a channel ``events``), else the first pattern that
    matches it."""
    for family in families:
        if family.name == topic:
            return family
    return next((f for f in families if f.matches(topic)), None)
