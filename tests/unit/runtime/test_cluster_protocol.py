"""What group members say to each other (bridge/cluster/protocol.py): reports, assignments and
control records survive the round trip through bytes, and anything else is refused."""

from __future__ import annotations

import json

import pytest

from bridge.cluster.assignment import Assignment, Member
from bridge.cluster.protocol import (
    ControlRecord,
    ControlState,
    ProtocolError,
    decode_assignment,
    decode_control,
    decode_member,
    encode_assignment,
    encode_control,
    encode_member,
)


def test_a_member_report_round_trips() -> None:
    member = Member(
        holder="md-0#a1b2c3d4",
        connections=frozenset({"okx-public", "kraken"}),
        held={"okx-public": 3},
        releasing=frozenset({"kraken"}),
        epoch=5,
    )
    assert decode_member(encode_member(member)) == member


def test_an_assignment_round_trips() -> None:
    assignment = Assignment(
        epoch=6,
        members=3,
        grants={"okx-public": (3, None), "kraken": (6, "md-1#00ff00ff")},
        successors={"okex": 6},
    )
    assert decode_assignment(encode_assignment(assignment)) == assignment


def test_a_control_record_round_trips_and_is_keyed_by_group_and_connection() -> None:
    record = ControlRecord(
        group="exchange-bridge",
        connection="okx-public",
        state=ControlState.SUBSCRIBED,
        holder="md-1#00ff00ff",
        instance="md-1",
        epoch=6,
        time_ms=1_700_000_000_000,
    )
    data = encode_control(record)
    assert decode_control(data) == record
    assert record.key == b"exchange-bridge/okx-public"
    # plain JSON, readable with any Kafka tool
    assert json.loads(data)["state"] == "subscribed"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"holder": "x"}',  # no version
        b'{"v": 2, "holder": "x"}',  # a version this bridge does not know
        b'{"v": 1, "holder": "x"}',  # fields missing
        b'{"v": 1, "holder": "x", "connections": [], "held": [], "releasing": [], "epoch": 1}',
    ],
)
def test_what_is_not_a_report_of_this_version_is_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_member(data)
    with pytest.raises(ProtocolError):
        decode_assignment(data)
    with pytest.raises(ProtocolError):
        decode_control(data)


def test_an_unknown_control_state_is_refused() -> None:
    record = json.loads(
        encode_control(ControlRecord("g", "c", ControlState.RELEASED, "h#1", "h", 1, 0))
    )
    record["state"] = "sleeping"
    with pytest.raises(ProtocolError):
        decode_control(json.dumps(record).encode())
