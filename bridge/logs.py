"""Logging set-up for the commands: one format on stderr, and aiokafka's noise turned down."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    # aiokafka is chatty at INFO about every metadata refresh, and logs "Topic X not found in
    # cluster metadata" at ERROR for every topic Kafka is about to auto-create.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)


def quiet_kafka_clients() -> None:
    """Only aiokafka's critical lines: for a consumer that races the topics' creation on
    purpose (the demo), where its transient retries are noise."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
