"""The publisher's bounded buffer, as accounting: pure, no event loop and no Kafka.

A record is *buffered* from the moment it is handed to the producer until Kafka acknowledges
it (or it is given up). The buffer is full when either limit is reached; what happens then is
the overflow policy's business (:class:`~bridge.runtime.publisher.Publisher`).
"""

from __future__ import annotations

from typing import Literal

OverflowPolicy = Literal["block", "drop"]


class Buffer:
    def __init__(self, max_records: int, max_bytes: int) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("buffer limits must be positive")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.records = 0
        self.bytes = 0

    @property
    def empty(self) -> bool:
        return self.records == 0

    def full(self, size: int = 0) -> bool:
        """Whether a record of ``size`` bytes must wait (or be dropped). A record larger than
        the byte limit still goes through when the buffer is empty, or it could never pass."""
        return self.records > 0 and (
            self.records >= self.max_records or self.bytes + size > self.max_bytes
        )

    def reserve(self, size: int) -> None:
        self.records += 1
        self.bytes += size

    def release(self, size: int, records: int = 1) -> None:
        """``records`` records of ``size`` bytes in all were acknowledged or given up."""
        if records > self.records or size > self.bytes:
            raise ValueError("released more than was reserved")
        self.records -= records
        self.bytes -= size
