"""``python -m bridge.sandbox.okex_v1``: an OKEx v1 simulator on its own, for experiments."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal

from bridge.sandbox.okex_v1.market import ladder
from bridge.sandbox.okex_v1.protocol import OkexV1Simulator
from bridge.sandbox.okex_v1.trading import OkexV1Account
from bridge.sandbox.okex_v1.wire import DEFAULT_SYMBOLS
from bridge.sandbox.server import run_standalone, serve_until_interrupted, standalone_parser


def _parse_account(text: str) -> tuple[str, OkexV1Account]:
    parts = text.split(":")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError("expected API_KEY:SECRET_KEY")
    funds = {"btc": Decimal("10"), "usdt": Decimal("100000"), "bch": Decimal("100")}
    return parts[0], OkexV1Account(secret=parts[1], free=funds)


async def _serve(options: argparse.Namespace) -> None:
    accounts = dict(options.account or [_parse_account("demo-key:demo-secret")])
    async with OkexV1Simulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        compression=options.compression,
        accounts=accounts,
        rate=options.market_rate,
    ) as sim:
        for symbol in DEFAULT_SYMBOLS:  # something to show on every documented pair
            sim.set_book(symbol, *ladder(symbol))
        await serve_until_interrupted(
            sim,
            [f"OKEx v1 simulator: {sim.url()}  (compression: {sim.compression})"],
            [f"account: api_key={key} secret_key={a.secret}" for key, a in accounts.items()],
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = standalone_parser(
        "python -m bridge.sandbox.okex_v1",
        "Legacy OKEx v1 spot WebSocket simulator (loopback).",
        port=10440,
    )
    parser.add_argument(
        "--compression",
        choices=("off", "request", "always"),
        default="request",
        help="raw deflate frames: never, when a request asks binary:1, or always",
    )
    parser.add_argument(
        "--account",
        action="append",
        type=_parse_account,
        metavar="API_KEY:SECRET_KEY",
        help="an API account (repeatable; default demo-key:demo-secret)",
    )
    parser.add_argument(
        "--market-rate",
        type=float,
        default=2.0,
        metavar="PER_SECOND",
        help="synthetic pushes per second on every subscribed market channel (0: none)",
    )
    return run_standalone(parser, argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
