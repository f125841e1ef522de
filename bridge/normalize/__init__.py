"""Normalized streams (opt-in): every exchange's trades, book changes and top of book in one
form each, on ``normalized.trades``, ``normalized.book`` and ``normalized.top-of-book``.

numbers (exact text plus an Avro decimal), symbols (one convention), records (the three
payloads), one mapping per exchange (okx, kraken, okex_v1), normalizer (events -> normalized
pushes and destinations). docs/NORMALIZED.md has the mapping field by field.
"""
