"""docs/SCHEMAS.md's Kafka Connect recipe with Apicurio's converter, run: a standalone Connect
worker (Kafka's own, from Maven Central) with ``io.apicurio.registry.utils.converter.AvroConverter``
configured with exactly the page's properties, and the FileStreamSink connector, reading what a
bridge wrote with the sandbox Apicurio Registry (tests/consumers/connect). Every record must
arrive, with the times as the page says Connect gives them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bridge.avro.decode import tail
from bridge.avro.registry import RegistryClient
from bridge.sandbox.okx import PUBLIC_PATH, OkxSimulator
from bridge.sandbox.processes import free_port
from bridge.sandbox.registry import SandboxRegistry
from tests.integration.harness import bridge_settings, running_bridge, unique_prefix, wait_until

PROJECT = Path(__file__).resolve().parents[1] / "consumers" / "connect"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "SCHEMAS.md"


def apicurio_converter_properties(registry_v2_url: str) -> str:
    """The page's properties block for Apicurio's converter, with the URL put in."""
    blocks = re.findall(r"```properties\n(.*?)```", DOCS.read_text(), re.S)
    (block,) = [b for b in blocks if "io.apicurio.registry.utils.converter.AvroConverter" in b]
    return block.replace("https://apicurio.example.com/apis/registry/v2", registry_v2_url)


@pytest.fixture(scope="module")
def connect_classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not (shutil.which("mvn") and shutil.which("java")):
        if os.environ.get("BRIDGE_REQUIRE_KAFKA") == "1":
            raise AssertionError("mvn and java are needed for the Kafka Connect test")
        pytest.skip("mvn or java missing")
    root = tmp_path_factory.mktemp("connect")
    shutil.copy(PROJECT / "pom.xml", root / "pom.xml")
    build = subprocess.run(
        ["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,  # the first run fetches Connect and Apicurio's converter
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return (root / "cp.txt").read_text().strip()


# The first run fetches the Java side from Maven Central inside the fixture (about a minute on a
# quiet machine): more than the suite's default 300 s are allowed for it.
@pytest.mark.timeout(900)
async def test_connect_with_apicurios_converter_reads_every_record(
    kafka_bootstrap: str, registry: SandboxRegistry, connect_classpath: str, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    async with OkxSimulator(rates={"tickers": 20.0}) as sim:
        connection = {
            "name": "okx-public",
            "exchange": "okx",
            "url": sim.url(PUBLIC_PATH),
            "subscriptions": [{"channel": "status"}, {"channel": "tickers", "instId": "BTC-USDT"}],
        }
        settings = bridge_settings(
            kafka_bootstrap, prefix, [connection], schema_registry={"url": registry.url}
        )
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.publisher.delivered >= 12, 30, "records delivered")
    topics = [prefix + "okx.status", prefix + "okx.tickers"]
    client = RegistryClient(registry.url)
    expected = [r async for r in tail(kafka_bootstrap, topics, idle_timeout=3, registry=client)]
    assert len(expected) >= 4

    base = urlsplit(registry.url)
    out = tmp_path / "sink.txt"
    worker = tmp_path / "worker.properties"
    worker.write_text(
        f"bootstrap.servers={kafka_bootstrap}\n"
        f"offset.storage.file.filename={tmp_path / 'offsets'}\n"
        f"listeners=http://127.0.0.1:{free_port()}\n"
        + apicurio_converter_properties(f"{base.scheme}://{base.netloc}/apis/registry/v2")
    )
    sink = tmp_path / "sink.properties"
    sink.write_text(
        "name=file-sink\n"
        "connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector\n"
        "tasks.max=1\n"
        f"topics={','.join(topics)}\n"
        f"file={out}\n"
    )
    java = shutil.which("java")
    assert java
    log = (tmp_path / "connect.log").open("w")
    process = subprocess.Popen(
        [
            java,
            "-cp",
            connect_classpath,
            "org.apache.kafka.connect.cli.ConnectStandalone",
            str(worker),
            str(sink),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and len(out.read_text().splitlines()) >= len(expected):
                break
            await asyncio.sleep(0.5)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    connect_log = (tmp_path / "connect.log").read_text()
    assert out.exists(), connect_log[-4000:]
    lines = out.read_text().splitlines()
    assert len(lines) == len(expected), connect_log[-4000:]

    # FileStreamSink writes each value's Struct.toString(), in offset order per topic
    for channel in ("status", "tickers"):
        records = [r for r in expected if r.topic == f"{prefix}okx.{channel}"]
        written = [line for line in lines if f"channel={channel}," in line]
        assert len(written) == len(records)
        for record, line in zip(records, written, strict=True):
            # timestamp-micros arrives as a plain int64 of microseconds
            micros = (record.value["receive_time"] - EPOCH) // dt.timedelta(microseconds=1)
            assert f"receive_time={micros}," in line, line
            assert f"sequence={record.value['sequence']}," in line, line
            # the payload union: a struct with one field per branch, the record's one set
            branch = record.value["payload"][0].rsplit(".", 1)[-1]
            assert re.search(rf"payload=Struct\{{[^}}]*{branch}=Struct\{{", line), line
