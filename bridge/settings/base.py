"""What every settings model shares: unknown keys are errors, and two conversions validators
apply to raw values."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]*")
"""The characters Kafka allows in a topic name (and so in anything a topic name is built of)."""


def empty_to_none(value: Any) -> Any:
    """``""`` means "not set", so ``${VAR:-}`` can leave an optional setting unset."""
    return None if value == "" else value


def none_to_empty_section(value: Any) -> Any:
    """A YAML section with every key commented out (``kafka:``) is None: use the defaults."""
    return {} if value is None else value


class SettingsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
