"""Command line: ``bridge run``, ``demo``, ``tail``, ``schemas``, ``rebuild``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bridge import __version__
from bridge.errors import BridgeError, ConfigError, IncompatibleSchemaError, RegistryError

log = logging.getLogger("bridge")

EXIT_OK = 0
EXIT_UNDELIVERED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="Bridge exchange WebSocket feeds (OKX v5, OKEx v1, Kraken v1) to Kafka as "
        "versioned Avro records.",
        epilog="Exit codes: 0 ok, 1 records left undelivered at shutdown (or a failed check), "
        "2 invalid configuration or a schema the registry's subject cannot take.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the bridge with a configuration file",
        description="Hold the configured WebSocket subscriptions and publish "
        "every frame to Kafka until SIGTERM or Ctrl-C.",
    )
    run.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="YAML configuration (see README); BRIDGE_* environment variables override it",
    )
    run.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="overrides log_level from the configuration",
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="validate the configuration, print it (secrets hidden) and exit",
    )

    demo = commands.add_parser(
        "demo",
        help="run everything locally: Kafka, simulator, bridge",
        description="Start a local Kafka broker and the OKX simulator, run the "
        "bridge against them, and print the records read back "
        "from Kafka, decoded.",
    )
    demo.add_argument(
        "--duration",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="how long to run before the summary (default: %(default)s; Ctrl-C ends sooner)",
    )
    demo.add_argument("--verbose", action="store_true", help="show the bridge's own log lines")

    tail = commands.add_parser("tail", help="print a topic's records as decoded JSON lines")
    tail.add_argument("topics", nargs="+", metavar="TOPIC", help="topic names (with any prefix)")
    tail.add_argument(
        "--bootstrap-servers",
        "-b",
        default="localhost:9092",
        help="Kafka bootstrap servers (default: %(default)s)",
    )
    tail.add_argument("--latest", action="store_true", help="only records produced from now on")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long without a record (default: follow forever)",
    )
    tail.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="take the schema registry settings from this bridge configuration",
    )
    tail.add_argument(
        "--registry-url",
        metavar="URL",
        help="schema registry for Confluent-format records (credentials: "
        "BRIDGE_SCHEMA_REGISTRY__USERNAME and __PASSWORD)",
    )
    tail.add_argument(
        "--schemas-topic",
        default="bridge.schemas",
        metavar="TOPIC",
        help="where the bridge publishes its schemas, with any prefix (default: %(default)s)",
    )

    schemas = commands.add_parser(
        "schemas",
        help="list, show, check, lock, register and export the Avro schemas",
        description="The value schemas under schemas/ and their evolution rules "
        "(docs/SCHEMAS.md). `check` exits 1 when a rule is broken.",
    )
    from bridge.schema_tools import add_arguments

    add_arguments(schemas)

    rebuild = commands.add_parser(
        "rebuild",
        help="rewrite typed topics from an <exchange>.raw topic",
        description="Replay the frames of a raw topic through the current adapters and codec "
        "and write the typed records (to the live topics, or under --target-prefix). "
        "Re-running writes the same keys and values again (docs/SCHEMAS.md).",
    )
    rebuild.add_argument("raw_topic", metavar="RAW_TOPIC", help="e.g. okx.raw (with any prefix)")
    rebuild.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="the configuration the frames were received with (connections, Kafka, registry)",
    )
    rebuild.add_argument(
        "--target-prefix",
        metavar="PREFIX",
        help="write under this topic prefix instead of kafka.topic_prefix",
    )
    rebuild.add_argument("--since", metavar="TIME", help="first record time (ms or ISO 8601)")
    rebuild.add_argument("--until", metavar="TIME", help="end record time, exclusive")
    rebuild.add_argument("--start-offset", type=int, metavar="N", help="first offset")
    rebuild.add_argument("--end-offset", type=int, metavar="N", help="end offset, exclusive")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        match args.command:
            case "run":
                return _run(args)
            case "demo":
                from bridge.demo import run_demo

                return asyncio.run(run_demo(duration=args.duration, verbose=args.verbose))
            case "tail":
                return asyncio.run(_tail(args))
            case "schemas":
                from bridge.schema_tools import run as run_schemas

                return run_schemas(args)
            case "rebuild":
                from bridge.rebuild import run as run_rebuild
                from bridge.settings import load_settings

                return run_rebuild(load_settings(args.config), args)
    except ConfigError as exc:
        print(f"bridge: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except IncompatibleSchemaError as exc:
        print(f"bridge: incompatible schema: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RegistryError as exc:
        # At start this means a wrong URL, CA or credentials, or a schema not registered
        # while auto_register is off: the bridge refuses to start, like a bad configuration.
        print(f"bridge: schema registry: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BridgeError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    # aiokafka is chatty at INFO about every metadata refresh, and logs "Topic X not found in
    # cluster metadata" at ERROR for every topic Kafka is about to auto-create.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)


def _run(args: argparse.Namespace) -> int:
    from bridge.settings import load_settings

    settings = load_settings(args.config)
    configure_logging(args.log_level or settings.log_level)
    if args.check:
        print(settings.model_dump_json(indent=2))
        return EXIT_OK
    from bridge.runtime.app import Bridge

    return asyncio.run(_serve(Bridge(settings)))


async def _serve(bridge: object) -> int:
    from bridge.runtime.app import Bridge

    assert isinstance(bridge, Bridge)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info(
                "%s received: shutting down (again to exit at once)", signal.Signals(signum).name
            )
            stop.set()
        else:
            log.error(
                "second signal: exiting with %d record(s) undelivered",
                bridge.publisher.buffered_records,
            )
            raise SystemExit(EXIT_UNDELIVERED)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    undelivered = await bridge.run(stop)
    return EXIT_UNDELIVERED if undelivered else EXIT_OK


async def _tail(args: argparse.Namespace) -> int:
    from bridge.registry import RegistryClient
    from bridge.settings import load_settings
    from bridge.tail import tail

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
    ):
        print(record.to_json(), flush=True)
    return EXIT_OK
