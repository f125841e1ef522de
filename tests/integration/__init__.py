"""Integration tests: a real Kafka broker, the exchange simulators, the bridge in between."""

import pytest

# The exchange table and the recovery measurement assert what they check; have pytest show the
# values of a failed assert there as it does in the test files (it must know before the import).
pytest.register_assert_rewrite("tests.integration.exchanges", "tests.integration.recovery")
