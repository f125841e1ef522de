"""The running bridge: sessions (I/O), the pipeline from events to records, the publisher."""
