"""Group mode (``cluster.mode: group``): bridge instances share the connections through one
Kafka consumer group.

- :mod:`~bridge.cluster.assignment`: the leader's decision, pure (complete, balanced, sticky);
- :mod:`~bridge.cluster.holdings`: one member's state and what it must do next, pure;
- :mod:`~bridge.cluster.protocol`: what members say to each other, as bytes;
- :mod:`~bridge.cluster.group`: membership of the consumer group (aiokafka) with the assignor;
- :mod:`~bridge.cluster.control`: the compacted control topic, written and followed;
- :mod:`~bridge.cluster.runner`: all of it at run time, starting and stopping the bridge's
  sessions (docs/OPERATIONS.md, "Group mode", says how a handover is agreed).
"""
