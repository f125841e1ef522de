"""Benchmarks and soak runs; not part of the test suite (see bench/README.md)."""
