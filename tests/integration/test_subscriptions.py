"""A subscription the exchange refuses, on every exchange: an error record on the channel's
topic (keyed like the subscription), counted as failed, and the connection's other
subscriptions carry on: no reconnect, pushes keep arriving."""

from __future__ import annotations

from tests.integration.exchanges import Exchange, each_exchange
from tests.integration.harness import (
    bridge_settings,
    payload_kind,
    running_bridge,
    sample,
    unique_prefix,
    wait_until,
)


@each_exchange
async def test_a_refused_subscription_is_an_error_record_and_the_others_continue(
    exchange: Exchange, kafka_bootstrap: str
) -> None:
    case = exchange.refused_subscription
    prefix = unique_prefix()
    async with exchange.simulator() as sim:
        conn = exchange.connection(sim, [case.refused, case.accepted])
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:

            def subscriptions(state: str) -> float:
                labels = {"exchange": exchange.name, "connection": conn["name"], "state": state}
                return sample(bridge, "bridge_subscriptions", **labels)

            await wait_until(
                lambda: subscriptions("failed") == 1 and subscriptions("subscribed") == 1,
                what="one subscription failed, one subscribed",
            )
            # the error record was written before the push, on the same (single) partition
            records = await exchange.push_marked(sim, kafka_bootstrap, prefix, "7.5")
            text = bridge.metrics.render().decode()
            assert not bridge.sessions[0].subscribed
            assert sim.stats.connects_total == 1
            errors_sent = dict(sim.stats.errors_sent)

    [error] = [r for r in records if r.key == case.key]
    assert error.value["payload"][1] == case.error
    assert error.value["channel"] == case.channel
    accepted = [r for r in records if r.key != case.key]
    acks = [r.value["payload"][1] for r in accepted if payload_kind(r) == "SubscriptionEvent"]
    assert tuple(a["event"] for a in acks) == case.accepted_events
    assert any(exchange.is_marked(r, "7.5") for r in accepted)
    assert (
        f'bridge_subscriptions{{connection="{conn["name"]}",exchange="{exchange.name}",'
        'state="failed"} 1.0' in text
    )
    assert f'bridge_exchange_errors_total{{code="{case.error["code"]}"' in text
    assert errors_sent == case.errors_sent
