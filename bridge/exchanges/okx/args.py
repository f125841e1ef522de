"""OKX subscription arguments: as configured, as sent, as the server echoes them, and where
each one's records go."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bridge.exchanges import wire
from bridge.exchanges.events import Destination
from bridge.exchanges.okx.channels import schema_of
from bridge.topics import channel_topic

TOPIC_GROUP = "okx"

MAX_ARGS_BYTES = 64 * 1024
"""OKX refuses a request whose ``args`` exceed 64 KB; every request we build stays below."""

# Arg fields that name what a subscription is about, most specific first: the Kafka key.
_KEY_FIELDS = ("instId", "instFamily", "uly", "instType", "ccy")

# The channel names a topic (okx.<channel>): only names Kafka takes in a topic.
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")

Arg = dict[str, str]
ArgKey = frozenset[tuple[str, str]]


def destination_for(arg: Mapping[str, str]) -> Destination:
    """Where pushes and acks for one subscription argument go. ``arg`` needs a ``channel``."""
    channel = arg["channel"]
    key = next((arg[name] for name in _KEY_FIELDS if arg.get(name)), channel)
    return Destination(
        topic=channel_topic(TOPIC_GROUP, channel),
        schema=schema_of(channel),
        key=key,
        channel=channel,
        arg=dict(arg),
    )


def normalize_arg(subscription: Mapping[str, Any]) -> Arg:
    """Validate a configured argument and return it with string values."""
    if not isinstance(subscription, Mapping):
        raise ValueError(f"OKX subscription must be a mapping, got {type(subscription).__name__}")
    channel = subscription.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ValueError(
            f"OKX subscription {dict(subscription)!r} needs 'channel' as a non-empty string"
        )
    arg: Arg = {}
    for name, value in subscription.items():
        if not isinstance(name, str):
            raise ValueError(
                f"OKX subscription {dict(subscription)!r}: key {name!r} is not a string"
            )
        # bool is an int subclass; True would be sent as "True", which OKX never means.
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(
                f"OKX subscription {dict(subscription)!r}: {name!r} must be a string or an "
                f"integer, got {type(value).__name__}"
            )
        arg[name] = str(value)
    if len(wire.compact([arg]).encode()) >= MAX_ARGS_BYTES:
        raise ValueError(f"OKX subscription on {channel!r} is larger than the 64 KB request limit")
    return arg


def configured_args(subscriptions: Sequence[Mapping[str, Any]]) -> list[Arg]:
    """The configured args with string values, in configuration order, each once."""
    seen: set[ArgKey] = set()
    args: list[Arg] = []
    for arg in map(normalize_arg, subscriptions):
        key = arg_key(arg)
        if key not in seen:
            seen.add(key)
            args.append(arg)
    return args


def echoed_arg(value: Any) -> Arg | None:
    """An ``arg`` object as the server sent it, values as text; None when it has no channel."""
    if not isinstance(value, dict):
        return None
    channel = value.get("channel")
    if not wire.is_string(channel) or not _CHANNEL_NAME.fullmatch(channel):
        return None
    return {str(k): wire.text(v) for k, v in value.items()}


def arg_key(arg: Mapping[str, str]) -> ArgKey:
    return frozenset(arg.items())


def batches(args: Sequence[Arg]) -> Iterator[list[Arg]]:
    """Split args into as few lists as possible whose JSON array stays under MAX_ARGS_BYTES."""
    batch: list[Arg] = []
    size = 2  # the brackets
    for arg in args:
        arg_size = len(wire.compact(arg).encode())
        if batch and size + 1 + arg_size >= MAX_ARGS_BYTES:
            yield batch
            batch, size = [], 2
        size += arg_size + (1 if batch else 0)  # the comma before every arg but the first
        batch.append(arg)
    if batch:
        yield batch
