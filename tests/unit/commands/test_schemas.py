"""``bridge schemas list|show|check|lock|export`` as a user runs them (``register`` needs a
registry: tests/integration/test_registry.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema
import pytest

from bridge.avro.store import SchemaStore, schemas_dir
from bridge.cli import main
from bridge.exchanges import adapter_class
from tests.unit.avro.test_contract import SUBSCRIPTIONS
from tests.unit.avro.test_registration import CONFIG  # the same two OKX connections

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


def rows_of(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


def test_list_with_a_config_shows_its_topics_and_no_subject_without_a_registry(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "list", "--config", str(config))
    assert code == 0
    calendar = STORE.latest("okx/economic-calendar")
    rows = rows_of(out)
    assert rows[0] == ["TOPIC", "SCHEMA", "FINGERPRINT"]
    assert [
        "prod.okx.economic-calendar",
        "okx/economic-calendar.v2",
        calendar.fingerprint_text,
    ] in rows
    assert {r[0] for r in rows[1:]} == {
        "prod.okx.status",
        "prod.okx.economic-calendar",
        "prod.okx.tickers",
        "prod.okx.events",
        "prod.okx.raw",
        "prod.bridge.deadletter",
        "prod.bridge.schemas",  # written without a registry
    }
    assert next(r for r in rows if r[0] == "prod.okx.tickers")[1] == "okx/tickers.v1"
    assert next(r for r in rows if r[0] == "prod.bridge.schemas")[1] == "-"


def test_list_with_a_registry_adds_the_subject_column(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_SCHEMA_REGISTRY__URL", "http://registry.example:8081")
    _, out = run(capsys, "list", "--config", str(config))
    rows = rows_of(out)
    assert rows[0] == ["TOPIC", "SUBJECT", "SCHEMA", "FINGERPRINT"]
    assert ["prod.okx.status", "prod.okx.status-value", "okx/status.v1"] in [r[:3] for r in rows]
    # with a registry the bridge publishes no schemas topic
    assert "prod.bridge.schemas" not in {r[0] for r in rows}

    monkeypatch.setenv("BRIDGE_SCHEMA_REGISTRY__SUBJECT_NAME_STRATEGY", "record")
    _, out = run(capsys, "list", "--config", str(config))
    rows = [r[:2] for r in rows_of(out)]
    assert ["prod.okx.status", "exchange_bridge.okx.StatusRecord"] in rows
    assert ["prod.okx.tickers", "exchange_bridge.okx.TickerRecord"] in rows


# Every topic of the contract (README's topic table and docs/SCHEMAS.md), with its schema. A
# family written with <...> stands for many topics; `show` takes any of them.
CONTRACT = {
    "okx.status": "okx/status",
    "okx.economic-calendar": "okx/economic-calendar",
    "okx.<channel>": "okx/channel",
    "okx.events": "okx/events",
    "okx.raw": "bridge/raw",
    "kraken.ticker": "kraken/ticker",
    "kraken.ohlc": "kraken/ohlc",
    "kraken.trade": "kraken/trade",
    "kraken.spread": "kraken/spread",
    "kraken.book": "kraken/book",
    "kraken.openOrders": "kraken/openOrders",
    "kraken.ownTrades": "kraken/ownTrades",
    "kraken.events": "kraken/events",
    "kraken.raw": "bridge/raw",
    "okex.spot.ticker": "okex/spot-ticker",
    "okex.spot.depth": "okex/spot-depth",
    "okex.spot.depth-<size>": "okex/spot-depth",
    "okex.spot.deals": "okex/spot-deals",
    "okex.spot.kline-<interval>": "okex/spot-kline",
    "okex.spot.order": "okex/spot-order",
    "okex.spot.balance": "okex/spot-balance",
    "okex.spot.userinfo": "okex/spot-userinfo",
    "okex.spot.orderinfo": "okex/spot-orderinfo",
    "okex.events": "okex/events",
    "okex.raw": "bridge/raw",
    "bridge.deadletter": "bridge/deadletter",
}
# Names on the broker each family stands for, as `show` must resolve them.
EXAMPLES = {
    # channels no typed schema names (typed ones: test_show_agrees_with_where_records_go)
    "okx.<channel>": ["okx.a-channel", "okx.some.new_channel-2"],
    "okex.spot.depth-<size>": ["okex.spot.depth-5", "okex.spot.depth-10", "okex.spot.depth-20"],
    "okex.spot.kline-<interval>": ["okex.spot.kline-1min", "okex.spot.kline-week"],
}


def test_list_without_a_config_shows_every_contract_topic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "list")
    assert code == 0
    rows = rows_of(out)
    assert rows[0] == ["TOPIC", "SCHEMA", "FINGERPRINT"]
    listed = {r[0]: r for r in rows[1:]}
    for topic, schema_id in CONTRACT.items():
        latest = STORE.latest(schema_id)
        assert listed[topic][1:3] == [f"{schema_id}.v{latest.version}", latest.fingerprint_text]
    assert listed["bridge.schemas"][1:3] == ["-", "-"]
    # (typed channels added later bring their own rows; each names a schema)
    assert set(listed) >= {*CONTRACT, "bridge.schemas"}
    # every schema in schemas/ is the value schema of some topic
    assert {r[1].rsplit(".v", 1)[0] for r in rows[1:]} - {"-"} == {s.id for s in STORE.all()}


def test_list_without_a_config_takes_the_prefix_and_registry_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_KAFKA__TOPIC_PREFIX", "prod.")
    monkeypatch.setenv("BRIDGE_SCHEMA_REGISTRY__URL", "http://registry.example:8081")
    _, out = run(capsys, "list")
    rows = rows_of(out)
    assert rows[0] == ["TOPIC", "SUBJECT", "SCHEMA", "FINGERPRINT"]
    listed = {r[0]: r for r in rows[1:]}
    assert listed["prod.okx.<channel>"][1:3] == ["prod.okx.<channel>-value", "okx/channel.v1"]
    assert set(listed) >= {f"prod.{t}" for t in CONTRACT}
    assert "prod.bridge.schemas" not in listed  # no schemas topic with a registry


@pytest.mark.parametrize("with_config", [False, True], ids=["no-config", "config"])
def test_show_resolves_every_contract_topic(
    with_config: bool, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = "prod." if with_config else ""
    extra = ["--config", str(config)] if with_config else []
    for family, schema_id in CONTRACT.items():
        latest = STORE.latest(schema_id)
        for topic in EXAMPLES.get(family, [family]):
            code, out = run(capsys, "show", prefix + topic, *extra)
            assert code == 0, (topic, out)
            header, body = out.split("\n", 1)
            assert header.startswith(f"// {schema_id}.v{latest.version}  {latest.full_name}  "), (
                topic
            )
            assert f"fingerprint {latest.fingerprint_text}" in header
            assert json.loads(body) == latest.definition


@pytest.mark.parametrize("exchange", sorted(SUBSCRIPTIONS))
def test_show_agrees_with_where_records_go(
    exchange: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show okx.tickers`` (and every other topic a subscription writes) names the schema the
    adapter writes there."""
    for destination in adapter_class(exchange).destinations(SUBSCRIPTIONS[exchange]):
        code, out = run(capsys, "show", destination.topic)
        assert code == 0, (destination.topic, out)
        latest = STORE.latest(destination.schema)
        assert out.startswith(f"// {destination.schema}.v{latest.version}  "), destination.topic


def test_show_by_schema_id_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", "okx/economic-calendar", "--version", "1")
    assert code == 0 and out.startswith("// okx/economic-calendar.v1")
    assert "(versions: 1, 2)" in out.splitlines()[0]
    code, out = run(capsys, "show", "okx/economic-calendar", "--version", "3")
    assert code == 1 and "has versions [1, 2], not 3" in out


def test_show_refuses_what_has_no_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", "okx.nothing here")
    assert code == 1 and "no schema for 'okx.nothing here'" in out
    code, out = run(capsys, "show", "binance.trades")
    assert code == 1 and "no schema for 'binance.trades'" in out
    code, out = run(capsys, "show", "okex.spot.kline-2min")  # not a documented interval
    assert code == 1 and "no schema for" in out
    code, out = run(capsys, "show", "bridge.schemas")
    assert code == 1 and "not Avro" in out


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
        assert entry["fingerprint"] == schema.fingerprint_text
        assert (tmp_path / "out" / entry["file"]).read_bytes() == schema.path.read_bytes()


def test_export_latest_writes_one_version_of_each_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "export", "--latest", str(tmp_path / "out"))
    assert code == 0 and "the latest version of each of" in out
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    ids = sorted({s.id for s in STORE.all()})
    assert [e["schema"] for e in index] == ids
    for entry in index:
        latest = STORE.latest(entry["schema"])
        assert (entry["version"], entry["fingerprint"]) == (latest.version, latest.fingerprint_text)
        assert (tmp_path / "out" / entry["file"]).read_bytes() == latest.path.read_bytes()
    files = sorted(
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").glob("**/*.avsc")
    )
    assert files == sorted(e["file"] for e in index)


def test_export_refuses_a_directory_with_other_schema_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A code generator takes every .avsc under a folder: an older version left from a full
    export would bring back the clash --latest avoids."""
    out = tmp_path / "out"
    assert run(capsys, "export", str(out))[0] == 0
    code, text = run(capsys, "export", "--latest", str(out))
    assert code == 1 and "okx/economic-calendar.v1.avsc" in text
    assert run(capsys, "export", str(out))[0] == 0  # the same export again is fine


def without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_docs(v) for k, v in value.items() if k != "doc"}
    if isinstance(value, list):
        return [without_docs(v) for v in value]
    return value


def define_all_at_once(files: list[Path]) -> dict[str, Any]:
    """Parse schema files into one set of named types, as a code generator does
    (avro-maven-plugin keeps one parser for the folder): a record defined again must be
    defined the same way, docs aside (Java's ``Schema.equals``), else "Can't redefine".
    fastavro alone would let the last definition win, so each file is parsed on its own and
    its named types merged here."""
    named: dict[str, Any] = {}
    for path in files:
        own: dict[str, Any] = {}
        fastavro.parse_schema(json.loads(path.read_text()), named_schemas=own)
        for name, definition in own.items():
            if name in named and without_docs(named[name]) != without_docs(definition):
                raise AssertionError(f"Can't redefine: {name} ({path.name})")
            named[name] = definition
    fastavro.schema.load_schema_ordered([str(p) for p in files])  # and in one go
    return named


def test_export_latest_parses_all_at_once_like_a_code_generator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "export", "--latest", str(tmp_path / "latest"))
    files = sorted((tmp_path / "latest").glob("**/*.avsc"))
    named = define_all_at_once(files)
    assert {s.full_name for s in (STORE.latest(i) for i in {s.id for s in STORE.all()})} <= set(
        named
    )
    assert "exchange_bridge.SubscriptionEvent" in named  # shared, identical in every file

    # every version side by side is what fails ("Can't redefine: ...EconomicCalendar")
    run(capsys, "export", str(tmp_path / "all"))
    with pytest.raises(AssertionError, match="Can't redefine: exchange_bridge.okx.Economic"):
        define_all_at_once(sorted((tmp_path / "all").glob("**/*.avsc")))
