"""``bridge run``: the bridge, with a configuration file, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from bridge.logs import configure_logging
from bridge.runtime.app import Bridge
from bridge.settings import load_settings

log = logging.getLogger("bridge")

EXIT_OK = 0
EXIT_UNDELIVERED = 1


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configure_logging(args.log_level or settings.log_level)
    if args.check:
        print(settings.model_dump_json(indent=2))
        return EXIT_OK
    return asyncio.run(serve(Bridge(settings, gc_tuning=True)))


async def serve(bridge: Bridge) -> int:
    """Run ``bridge`` until the first SIGTERM/SIGINT, then shut down gracefully; a second
    signal exits at once. 1 when records were left undelivered."""
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
