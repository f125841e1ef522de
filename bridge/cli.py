"""Command line: ``bridge run``, ``bridge demo``, ``bridge tail``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bridge import __version__
from bridge.errors import BridgeError, ConfigError

log = logging.getLogger("bridge")

EXIT_OK = 0
EXIT_UNDELIVERED = 1
EXIT_CONFIG = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="Bridge exchange WebSocket feeds (OKX v5, OKEx v1, Kraken v1) to Kafka as "
        "versioned Avro records.",
        epilog="Exit codes: 0 ok, 1 records left undelivered at shutdown, 2 invalid configuration.",
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
    except ConfigError as exc:
        print(f"bridge: configuration error: {exc}", file=sys.stderr)
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
    from bridge.app import Bridge

    return asyncio.run(_serve(Bridge(settings)))


async def _serve(bridge: object) -> int:
    from bridge.app import Bridge

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
    from bridge.tail import tail

    async for record in tail(
        args.bootstrap_servers,
        args.topics,
        from_beginning=not args.latest,
        idle_timeout=args.idle_timeout,
    ):
        print(record.to_json(), flush=True)
    return EXIT_OK
