"""``bridge tail``: a topic's records as decoded JSON lines."""

from __future__ import annotations

import argparse
import asyncio

from bridge.avro.decode import tail
from bridge.avro.registry import RegistryClient
from bridge.logs import quiet_kafka_clients
from bridge.settings import load_settings


def run(args: argparse.Namespace) -> int:
    """Exit code 0 once ``--idle-timeout`` passes without a record (or on end of input);
    Kafka unreachable or a topic missing raise a BridgeError, which the CLI prints as one line
    and exit code 1."""
    # aiokafka logs every failed connection attempt; tail's own message names the failure
    # once, so that a user sees one line, not the client's retries.
    quiet_kafka_clients()
    return asyncio.run(_tail(args))


async def _tail(args: argparse.Namespace) -> int:
    registry = None
    client_options: dict[str, object] = {}
    if args.config or args.registry_url:
        # Without a file: the defaults plus BRIDGE_* variables (the registry credentials).
        loaded = load_settings(args.config)
        if args.config:
            client_options = loaded.kafka.client_options()  # SASL/TLS as the bridge connects
        settings = loaded.schema_registry
        if args.registry_url:
            settings = settings.model_copy(update={"url": args.registry_url})
        if settings.url:
            registry = RegistryClient.from_settings(settings)
    async for record in tail(
        args.bootstrap_servers,
        args.topics,
        from_beginning=not args.latest,
        idle_timeout=args.idle_timeout,
        schemas_topic=args.schemas_topic,
        registry=registry,
        client_options=client_options,
        missing_topics="wait" if args.wait else "fail",
    ):
        print(record.to_json(), flush=True)
    return 0
