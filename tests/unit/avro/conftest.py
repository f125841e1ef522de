from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.avro.schema_copies import copy_schemas


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    """A copy of the repository's schemas/ to break."""
    return copy_schemas(tmp_path)
