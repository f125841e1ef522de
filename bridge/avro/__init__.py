"""Avro: what the bridge writes, how, and how it is read back.

The start-up and run-time path:

- :mod:`~bridge.avro.store`: the versioned schema files under ``schemas/``, parsed once;
- :mod:`~bridge.avro.formats`: the two wire formats (single-object encoding, the Confluent
  framing) and reading a value's body back;
- :mod:`~bridge.avro.records`: adapter events into Kafka records (the envelope every topic shares);
- :mod:`~bridge.avro.registry`: the schema registry's REST client;
- :mod:`~bridge.avro.registration`: at start, make every schema the bridge writes findable
  (registered with a registry, or published to the compacted schemas topic);
- :mod:`~bridge.avro.decode`: records read back into JSON (``bridge tail``, the demo, rebuild);
- :mod:`~bridge.avro.contract`: every topic the bridge can write, with its schema (``bridge
  schemas list`` and ``show`` without a configuration).

The CI and developer tools (``bridge schemas check`` and ``lock``):

- :mod:`~bridge.avro.compat`: whether one schema reads data written with another;
- :mod:`~bridge.avro.lock`: ``schemas/lock.json``, the released versions;
- :mod:`~bridge.avro.evolution`: the evolution rules over a schemas folder.
"""
