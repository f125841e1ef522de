"""exchange-bridge: exchange WebSocket feeds to Kafka as versioned Avro records."""

__version__ = "0.1.0"
