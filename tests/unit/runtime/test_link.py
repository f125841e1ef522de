"""A link's state table, its subscription counts and the continuity markers: pure, no loop."""

from __future__ import annotations

import pytest

from bridge.exchanges.events import Destination, Subscribed, SubscribeFailed
from bridge.runtime.link import Continuity, Link, LinkState, LinkStateError, SubscriptionProgress


def dest(key: str) -> Destination:
    return Destination(
        topic="okx.tickers", schema="okx/channel", key=key, channel="tickers", arg={}
    )


def test_a_link_moves_through_its_states_and_refuses_impossible_moves() -> None:
    link = Link("c#1", [dest("A")])
    assert link.state is LinkState.CONNECTING and not link.ever_opened
    link.opened(10.0)
    assert link.state is LinkState.OPEN and link.lived(12.5) == 2.5
    assert [link.received(11.0), link.received(11.5)] == [1, 2]
    assert link.last_received == 11.5
    link.move(LinkState.SUBSCRIBED)
    assert link.subscribed
    with pytest.raises(LinkStateError):
        link.move(LinkState.OPEN)
    link.end("silence")
    link.end("shutdown")  # the first reason wins
    assert (link.state, link.end_reason) == (LinkState.CLOSING, "silence")
    link.move(LinkState.CLOSED)
    with pytest.raises(LinkStateError):
        link.move(LinkState.CLOSING)
    link.end("shutdown")  # ending a closed link changes nothing
    assert link.end_reason == "silence"


def test_a_link_that_never_opened_lived_no_time() -> None:
    link = Link("c#1", [])
    link.move(LinkState.CLOSED)
    assert link.lived(100.0) == 0.0


def test_subscription_counts_follow_acks_errors_and_unsubscribes() -> None:
    progress = SubscriptionProgress.of([dest("A"), dest("B"), dest("C")])
    assert progress.counts() == (3, 0, 0)
    assert progress.record(Subscribed(destination=dest("A"), op="subscribe"))
    assert progress.record(
        SubscribeFailed(destination=dest("B"), op="subscribe", code="60018", message="no")
    )
    assert progress.counts() == (1, 1, 1)
    progress.record(Subscribed(destination=dest("B"), op="subscribe"))  # a retry succeeded
    assert progress.counts() == (1, 2, 0)
    progress.record(Subscribed(destination=dest("A"), op="unsubscribe"))
    assert progress.counts() == (2, 1, 0)
    # an ack for something not configured counts for nothing
    progress.record(Subscribed(destination=dest("Z"), op="subscribe"))
    assert progress.counts() == (2, 1, 0)


def test_a_process_starts_with_a_gap_its_first_subscription_closes() -> None:
    continuity = Continuity()
    assert continuity.subscribed(replacing=False) == ("resubscribed", "started")
    assert continuity.subscribed(replacing=False) is None


def test_continuity_marks_a_gap_once_and_closes_it_on_the_next_subscription() -> None:
    continuity = Continuity()
    continuity.subscribed(replacing=False)
    first = Link("c#1", [])
    first.opened(0.0)
    assert continuity.lost(first)
    second = Link("c#2", [])  # never connected: the gap is open already anyway
    assert not continuity.lost(second)
    assert continuity.subscribed(replacing=False) == ("resubscribed", "reconnected")
    assert continuity.subscribed(replacing=False) is None


def test_a_link_that_never_opened_opens_no_gap() -> None:
    continuity = Continuity()
    continuity.subscribed(replacing=False)
    assert not continuity.lost(Link("c#1", []))
    assert continuity.subscribed(replacing=False) is None


def test_a_replacement_subscribed_without_a_gap_is_a_handover() -> None:
    continuity = Continuity()
    continuity.subscribed(replacing=False)
    assert continuity.subscribed(replacing=True) == ("handover", "replacement_subscribed")


def test_silence_counts_only_while_listening() -> None:
    link = Link("c#1", [])
    link.opened(0.0)
    link.listen(1.0)
    assert link.silence(31.0) == 30.0  # waiting since the open at 0 (listening began at 1)
    link.received(31.0)
    assert link.silence(100.0) == 0.0  # busy with that frame: blocked, not silent
    link.listen(95.0)  # reading again after a long block: silence counts from here
    assert link.silence(100.0) == 5.0
