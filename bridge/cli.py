"""Command line: ``bridge run``, ``demo``, ``tail``, ``schemas``, ``rebuild``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.commands import demo as demo_command
from bridge.commands import rebuild as rebuild_command
from bridge.commands import run as run_command
from bridge.commands import schemas as schemas_command
from bridge.commands import tail as tail_command
from bridge.errors import BridgeError, ConfigError, IncompatibleSchemaError, RegistryError
from bridge.topics import SCHEMAS_TOPIC

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

    tail = commands.add_parser(
        "tail",
        help="print a topic's records as decoded JSON lines",
        description="Print the records of one or more topics as JSON lines, decoded with the "
        "schemas in schemas/ (or bridge.schemas, or the registry). Never creates a topic. "
        "Exit codes: 0 after --idle-timeout, 1 when Kafka cannot be reached or a topic "
        "does not exist.",
    )
    tail.add_argument("topics", nargs="+", metavar="TOPIC", help="topic names (with any prefix)")
    tail.add_argument(
        "--bootstrap-servers",
        "-b",
        default="localhost:9092",
        help="Kafka bootstrap servers (default: %(default)s)",
    )
    tail.add_argument("--latest", action="store_true", help="only records produced from now on")
    tail.add_argument(
        "--wait",
        action="store_true",
        help="wait for topics that do not exist yet (default: exit 1 naming them)",
    )
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
        default=SCHEMAS_TOPIC,
        metavar="TOPIC",
        help="where the bridge publishes its schemas, with any prefix (default: %(default)s)",
    )

    schemas = commands.add_parser(
        "schemas",
        help="list, show, check, lock, register and export the Avro schemas",
        description="The value schemas under schemas/ and their evolution rules "
        "(docs/SCHEMAS.md). `check` exits 1 when a rule is broken.",
    )
    _add_schemas_actions(schemas)

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


def _add_schemas_actions(schemas: argparse.ArgumentParser) -> None:
    """The ``bridge schemas`` actions."""
    actions = schemas.add_subparsers(dest="action", required=True, metavar="ACTION")

    def config_option(parser: argparse.ArgumentParser, what: str) -> None:
        parser.add_argument(
            "--config",
            "-c",
            metavar="FILE",
            help=f"bridge configuration: {what} (BRIDGE_* environment variables apply)",
        )

    listing = actions.add_parser(
        "list",
        help="every topic with its schema version and fingerprint (and subject, with a registry)",
    )
    config_option(listing, "list only the topics its connections write, under its prefix")
    show = actions.add_parser("show", help="print a schema (latest version unless --version)")
    show.add_argument(
        "name",
        metavar="TOPIC",
        help="a topic (okx.tickers, with any prefix) or schema id (okx/status)",
    )
    show.add_argument("--version", type=int, help="a version number (default: the latest)")
    config_option(show, "resolve topics its connections write")
    check = actions.add_parser("check", help="check the evolution rules (offline)")
    check.add_argument("--schemas", type=Path, help="schemas folder (default: the bridge's)")
    check.add_argument(
        "--require-locked", action="store_true", help="also fail on versions not released yet"
    )
    lock = actions.add_parser("lock", help="release new versions: add them to schemas/lock.json")
    lock.add_argument("--schemas", type=Path, help="schemas folder (default: the bridge's)")
    register = actions.add_parser(
        "register", help="register every topic's value schema with the configured registry"
    )
    config_option(register, "its schema_registry and connections")
    register.add_argument("--registry-url", help="overrides schema_registry.url")
    export = actions.add_parser(
        "export", help="write every schema version, with an index.json, for consumers"
    )
    export.add_argument(
        "directory",
        type=Path,
        metavar="DIR",
        help="where to write the .avsc files and index.json (created if missing)",
    )
    export.add_argument(
        "--latest",
        action="store_true",
        help="only the latest version of each schema: ready for code generation "
        "(avro-maven-plugin, fastavro), which refuses two versions of one record",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        match args.command:
            case "run":
                return run_command.run(args)
            case "demo":
                return demo_command.run(args)
            case "tail":
                return tail_command.run(args)
            case "schemas":
                return schemas_command.run(args)
            case "rebuild":
                return rebuild_command.run(args)
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
