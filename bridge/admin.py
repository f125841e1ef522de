"""The one Kafka admin operation the bridge makes: a compacted topic of its own.

The schemas topic (``bridge.schemas``: one record per schema, keyed by fingerprint) and the
group-mode control topic (``bridge.cluster``: one record per connection) are both registries
kept by compaction: the last record per key, forever, in one partition.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_compacted_topic(
    bootstrap_servers: str,
    topic: str,
    client_id: str,
    *,
    what: str,
    client_options: Mapping[str, Any] | None = None,
) -> None:
    """Create ``topic`` with one partition and ``cleanup.policy=compact`` unless it exists, as
    durable as the cluster allows (up to the usual 3 replicas). When it cannot be created here
    (no rights), a warning names ``what`` it is for and how to create it; the caller goes on
    (writes fail later, visibly, if the topic is missing)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=client_id, **(client_options or {})
    )
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster()).get("brokers", ())) or 1
        new = NewTopic(topic, 1, min(3, brokers), topic_configs={"cleanup.policy": "compact"})
        response = await admin.create_topics([new])
        for _name, code, *rest in getattr(response, "topic_errors", []):
            if code not in (0, TopicAlreadyExistsError.errno):
                log.warning(
                    "could not create the %s %s (error %s: %s); create it with one partition "
                    "and cleanup.policy=compact",
                    what,
                    topic,
                    code,
                    rest[0] if rest else "",
                )
    except TopicAlreadyExistsError:
        pass
    except KafkaError as exc:
        log.warning("could not create the %s %s: %s", what, topic, exc)
    finally:
        await admin.close()
