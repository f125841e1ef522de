"""The README's demo command, as a newcomer runs it: it ends by itself, exits 0, and shows
records of every exchange read back from Kafka."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.integration.conftest import start_sandbox_kafka


def test_the_demo_shows_records_of_every_exchange() -> None:
    start_sandbox_kafka().stop()  # skips like the other broker tests where java/mvn are missing
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "demo", "--duration", "8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = dict(re.findall(r"^  (\S+)\s+(\d+) record\(s\) read back", result.stdout, re.M))
    for topic in (
        "okx.status",
        "okx.economic-calendar",
        "kraken.ticker",
        "kraken.book",
        "okex.spot.ticker",
        "okex.spot.depth",
    ):
        assert int(counts.get(topic, 0)) > 0, (topic, counts)
    assert " 0 undelivered" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--help"])
def test_the_demo_explains_itself(flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "demo", flag], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "--duration" in result.stdout
