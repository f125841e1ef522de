"""``python -m bridge.sandbox.okx``: an OKX v5 simulator on its own, for experiments."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bridge.sandbox.okx.access import OkxAccount
from bridge.sandbox.okx.protocol import (
    BUSINESS_PATH,
    PRIVATE_PATH,
    PUBLIC_PATH,
    OkxSimulator,
)
from bridge.sandbox.server import run_standalone, serve_until_interrupted, standalone_parser


def _parse_account(text: str) -> tuple[str, OkxAccount]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError("expected KEY:SECRET:PASSPHRASE[:VIP]")
    vip = int(parts[3]) if len(parts) == 4 else 1
    return parts[0], OkxAccount(secret=parts[1], passphrase=parts[2], vip_level=vip)


def _per_second(every: float) -> float:
    """A period in seconds (0: never) as a generator rate."""
    return 1.0 / every if every > 0 else 0.0


async def _serve(options: argparse.Namespace) -> None:
    accounts = dict(options.account or [_parse_account("demo-key:demo-secret:demo-pass:1")])
    rates = {
        "tickers": options.tickers_rate,
        "trades": options.trades_rate,
        "books": options.books_rate,
        "candles": options.candles_rate,
        "market": options.market_rate,
        "private": options.private_rate,
        "status": _per_second(options.status_every),
        "economic-calendar": _per_second(options.calendar_every),
    }
    async with OkxSimulator(
        host=options.host,
        port=options.port,
        tls=options.tls,
        idle_timeout=options.idle_timeout,
        accounts=accounts,
        rates=rates,
        instruments=options.instrument or None,
        book_checksums=not options.zero_checksums,
    ) as sim:
        await serve_until_interrupted(
            sim,
            [f"OKX simulator: {sim.url(p)}" for p in (PUBLIC_PATH, PRIVATE_PATH, BUSINESS_PATH)],
            [
                f"account: apiKey={key} secret={account.secret} "
                f"passphrase={account.passphrase} vip={account.vip_level}"
                for key, account in accounts.items()
            ],
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = standalone_parser(
        "python -m bridge.sandbox.okx", "OKX v5 WebSocket simulator (loopback).", port=8443
    )
    parser.add_argument("--idle-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument(
        "--account",
        action="append",
        type=_parse_account,
        metavar="KEY:SECRET:PASSPHRASE[:VIP]",
        help="an API account (repeatable; default demo-key:demo-secret:demo-pass:1)",
    )
    parser.add_argument(
        "--status-every", type=float, default=0.0, metavar="SECONDS", help="push status changes"
    )
    parser.add_argument(
        "--calendar-every", type=float, default=0.0, metavar="SECONDS", help="push calendar events"
    )
    for generator in ("tickers", "trades", "books", "candles", "market", "private"):
        parser.add_argument(f"--{generator}-rate", type=float, default=0.0, metavar="PER_SECOND")
    parser.add_argument(
        "--instrument",
        action="append",
        metavar="INST_ID",
        help="an instrument to serve (repeatable; default BTC-USDT and ETH-USDT)",
    )
    parser.add_argument(
        "--zero-checksums",
        action="store_true",
        help="book checksums 0, as OKX sends since June 2026 (seqId chains only)",
    )
    return run_standalone(parser, argv, _serve)


if __name__ == "__main__":
    raise SystemExit(main())
