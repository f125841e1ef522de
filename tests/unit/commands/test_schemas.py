"""``bridge schemas list|show|check|lock|export`` as a user runs them (``register`` needs a
registry: tests/integration/test_registry.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.avro.store import SchemaStore, schemas_dir
from bridge.cli import main

CONFIG = """\
kafka: {topic_prefix: "prod."}
connections:
  - name: okx-public
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/public
    subscriptions:
      - {channel: status}
      - {channel: tickers, instId: BTC-USDT}
  - name: okx-business
    exchange: okx
    url: wss://ws.okx.com:8443/ws/v5/business
    subscriptions:
      - {channel: economic-calendar}
"""
STORE = SchemaStore()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(CONFIG)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["schemas", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_list_shows_topic_subject_version_and_fingerprint(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "list", "--config", str(config))
    assert code == 0
    calendar = STORE.latest("okx/economic-calendar")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["TOPIC", "SUBJECT", "SCHEMA", "FINGERPRINT"]
    assert [
        "prod.okx.economic-calendar",
        "prod.okx.economic-calendar-value",
        "okx/economic-calendar.v2",
        calendar.fingerprint.hex(),
    ] in rows
    assert ["prod.okx.tickers", "prod.okx.tickers-value", "okx/tickers.v1"] in [r[:3] for r in rows]
    # every schema version appears, used by this configuration or not
    assert {r[2] for r in rows[1:]} >= {f"{s.id}.v{s.version}" for s in STORE.all()} - {
        "okx/economic-calendar.v1"
    }


def test_list_with_the_record_name_strategy(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_SCHEMA_REGISTRY__SUBJECT_NAME_STRATEGY", "record")
    _, out = run(capsys, "list", "--config", str(config))
    rows = [line.split()[:2] for line in out.splitlines()]
    assert ["prod.okx.status", "exchange_bridge.okx.StatusRecord"] in rows
    assert ["prod.okx.tickers", "exchange_bridge.okx.TickerRecord"] in rows


def test_show_by_topic_schema_id_and_version(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "show", "prod.okx.economic-calendar", "--config", str(config))
    assert code == 0
    header, body = out.split("\n", 1)
    assert header.startswith(
        "// okx/economic-calendar.v2  exchange_bridge.okx.EconomicCalendarRecord"
    )
    assert "(versions: 1, 2)" in header
    assert json.loads(body) == STORE.latest("okx/economic-calendar").definition

    _, out = run(capsys, "show", "okx/economic-calendar", "--version", "1")
    assert out.startswith("// okx/economic-calendar.v1")
    _, out = run(capsys, "show", "okx.status")  # a topic named like its schema, no config
    assert out.startswith("// okx/status.v1")

    code, out = run(capsys, "show", "okx.nothing")
    assert code == 1 and "no schema for 'okx.nothing'" in out


def test_check_passes_here_and_fails_on_an_incompatible_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "check")
    assert code == 0 and out.splitlines()[-1].startswith("ok:")

    root = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), root)
    v2 = root / "okx" / "economic-calendar.v2.avsc"
    definition = json.loads(v2.read_text())
    definition["fields"][0]["type"] = "int"
    (root / "okx" / "economic-calendar.v3.avsc").write_text(json.dumps(definition))
    code, out = run(capsys, "check", "--schemas", str(root))
    assert code == 1
    assert "new (not released yet): okx/economic-calendar.v3" in out
    assert "error: okx/economic-calendar.v3 reading okx/economic-calendar.v1 data: exchange" in out
    assert out.splitlines()[-1].startswith("FAILED:")

    code, out = run(capsys, "lock", "--schemas", str(root))
    assert code == 1 and "nothing locked" in out


def test_lock_releases_a_compatible_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), root)
    v2 = root / "okx" / "economic-calendar.v2.avsc"
    shutil.copyfile(v2, root / "okx" / "economic-calendar.v3.avsc")
    code, out = run(capsys, "lock", "--schemas", str(root))
    assert code == 0 and "released okx/economic-calendar.v3" in out
    code, out = run(capsys, "check", "--schemas", str(root))
    assert code == 0 and "economic-calendar.v3" not in out


def test_export_writes_every_version_and_an_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(capsys, "export", str(tmp_path / "out"))
    assert code == 0
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert len(index) == len(list(STORE.all()))
    for entry in index:
        schema = next(s for s in STORE.versions(entry["schema"]) if s.version == entry["version"])
        assert entry["fingerprint"] == schema.fingerprint.hex()
        assert (tmp_path / "out" / entry["file"]).read_bytes() == schema.path.read_bytes()
