"""Exchange adapters, one package per protocol, all pure (no I/O, no clocks)."""

from __future__ import annotations

from importlib import import_module

from bridge.exchanges.base import Adapter, Credentials

# exchange name in config -> "module:class"; imported on demand so one broken adapter
# does not stop the others from loading.
_ADAPTERS = {
    "okx": "bridge.exchanges.okx:OkxAdapter",
    "okex_v1": "bridge.exchanges.okex_v1:OkexV1Adapter",
    "kraken": "bridge.exchanges.kraken:KrakenAdapter",
}


def adapter_class(exchange: str) -> type[Adapter]:
    try:
        target = _ADAPTERS[exchange]
    except KeyError:
        known = ", ".join(sorted(_ADAPTERS))
        raise ValueError(f"unknown exchange {exchange!r} (known: {known})") from None
    module, _, name = target.partition(":")
    cls: type[Adapter] = getattr(import_module(module), name)
    return cls


def known_exchanges() -> list[str]:
    return sorted(_ADAPTERS)


__all__ = ["Adapter", "Credentials", "adapter_class", "known_exchanges"]
