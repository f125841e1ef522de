"""``python -m bridge.sandbox.kraken``: a Kraken v1 simulator on its own, for experiments."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bridge.sandbox.kraken.protocol import AUTH_PATH, PUBLIC_PATH, KrakenSimulator
from bridge.sandbox.server import run_standalone, serve_until_interrupted, standalone_parser


async def _serve(options: argparse.Namespace) -> None:
    tokens = options.token or ["demo-token"]
    status_rate = 1.0 / options.status_every if options.status_every > 0 else 0.0
    async with KrakenSimulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        tokens=tokens,
        heartbeat_interval=options.heartbeat_interval,
        rate=options.rate,
        rates={"private": options.private_rate, "status": status_rate},
        max_messages_per_second=options.max_messages_per_second,
    ) as sim:
        await serve_until_interrupted(
            sim,
            [f"Kraken simulator: public {sim.url(PUBLIC_PATH)}  private {sim.url(AUTH_PATH)}"],
            [f"pairs: {', '.join(sorted(sim.pairs))}; tokens: {', '.join(tokens)}"],
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = standalone_parser(
        "python -m bridge.sandbox.kraken", "Kraken WebSocket v1 simulator (loopback).", port=8765
    )
    parser.add_argument(
        "--token", action="append", help="a valid private token (repeatable; default demo-token)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        metavar="PER_SECOND",
        help="public data messages per second per channel and pair",
    )
    parser.add_argument("--private-rate", type=float, default=0.5, metavar="PER_SECOND")
    parser.add_argument("--heartbeat-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--max-messages-per-second", type=float, default=None, metavar="N")
    parser.add_argument(
        "--status-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="cycle the system status (maintenance, online, post_only, …)",
    )
    return run_standalone(parser, argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
