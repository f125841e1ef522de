"""Throughput, latency, CPU and memory of the bridge against ceilings and a baseline.

``python -m bench.perf`` (``make bench``) runs every scenario and writes a report; see
``docs/PERFORMANCE.md``. Nothing here is part of ``make test``.
"""
