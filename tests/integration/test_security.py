"""Security: SASL/SCRAM over TLS to a broker configured for it (certificate made by the
fixture), credentials from secret files, refusals as clear errors with exit code 2, not hangs;
and secrets never leave the bridge: one run with known fake secrets in every place a secret can
go (OKX login, OKEx v1 login, Kraken token, Kafka SASL password), logging at DEBUG, then every
output of the run is searched for them: the log, the metrics, ``--check``, and every record the
run wrote to Kafka (raw frames and dead letters included)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.kraken import AUTH_PATH, KrakenSimulator
from bridge.sandbox.okex_v1 import OkexV1Account, OkexV1Simulator
from bridge.sandbox.okx import BUSINESS_PATH, PUBLIC_PATH, OkxAccount, OkxSimulator
from bridge.settings import Settings
from tests.integration.conftest import start_sandbox_kafka
from tests.integration.harness import (
    bridge_settings,
    fast_reconnect,
    payloads,
    read_topic,
    run_cli,
    running_bridge,
    start_bridge,
    unique_prefix,
    wait_until,
)

USER, PASSWORD = "bridge", "Correct-Horse-9-Battery"
SECRETS = {
    "okx_key": "okxKEY-4f1c2a9e",
    "okx_secret": "okxSECRET-77d0b3",
    "okx_pass": "okxPASS-c0ffee",
    "okex_key": "okexKEY-a1b2c3d4",
    "okex_secret": "OKEXSECRET-99AA",
    "kraken_token": "krakenTOKEN-5e6f7a8b",
    "kafka_password": PASSWORD,
}


@pytest.fixture(scope="module")
def secure_kafka() -> Iterator[SandboxKafka]:
    broker = start_sandbox_kafka(scram_users={USER: PASSWORD})
    try:
        yield broker
    finally:
        broker.stop()


def secret_file(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "kafka_password"
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def config(
    kafka: SandboxKafka, password_file: Path, url: str, *, trust: bool = True
) -> dict[str, Any]:
    return {
        "instance": "secure",
        "kafka": {
            "bootstrap_servers": kafka.sasl_ssl_bootstrap_servers,
            "topic_prefix": unique_prefix(),
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": USER,
            "sasl_password": f"${{file:{password_file}}}",
            "ssl_ca_file": str(kafka.ca_file) if trust else None,
        },
        "metrics": {"host": "127.0.0.1", "port": 0},
        "connections": [
            {
                "name": "okx-public",
                "exchange": "okx",
                "url": url,
                "subscriptions": [{"channel": "status"}],
            }
        ],
    }


async def test_records_flow_over_sasl_scram_and_tls(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    async with OkxSimulator() as sim:
        data = config(secure_kafka, secret_file(tmp_path, PASSWORD), sim.url(PUBLIC_PATH))
        settings = Settings.from_mapping(data)
        assert PASSWORD not in repr(settings) and PASSWORD not in settings.model_dump_json()
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.readiness_problems() == [], what="ready over SASL_SSL")
    prefix = data["kafka"]["topic_prefix"]
    # read back on the broker's plaintext listener: the same topics
    records = await read_topic(
        secure_kafka.bootstrap_servers,
        prefix + "okx.status",
        lambda rs: bool(payloads(rs, "Status")),
    )
    assert payloads(records, "Status")[0]["state"] == "completed"


def run_bridge(path: Path, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(data))
    return run_cli("run", "--config", str(path))


async def test_a_wrong_password_exits_2_with_a_clear_message(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    wrong = "Wrong-Password-7-Staple"
    async with OkxSimulator() as sim:
        data = config(secure_kafka, secret_file(tmp_path, wrong), sim.url(PUBLIC_PATH))
        result = run_bridge(tmp_path / "bridge.yaml", data)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refused the SASL credentials" in result.stderr
    assert "kafka.sasl_password" in result.stderr
    assert wrong not in result.stdout + result.stderr


async def test_an_untrusted_certificate_exits_2_with_a_clear_message(
    secure_kafka: SandboxKafka, tmp_path: Path
) -> None:
    async with OkxSimulator() as sim:
        data = config(
            secure_kafka, secret_file(tmp_path, PASSWORD), sim.url(PUBLIC_PATH), trust=False
        )
        result = run_bridge(tmp_path / "bridge.yaml", data)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "not trusted" in result.stderr and "kafka.ssl_ca_file" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


# --- secrets ---------------------------------------------------------------------------------


async def test_no_secret_appears_in_any_output(secure_kafka: SandboxKafka, tmp_path: Path) -> None:
    okx = OkxSimulator(
        accounts={SECRETS["okx_key"]: OkxAccount(SECRETS["okx_secret"], SECRETS["okx_pass"])}
    )
    okex = OkexV1Simulator(accounts={SECRETS["okex_key"]: OkexV1Account(SECRETS["okex_secret"])})
    kraken = KrakenSimulator(tokens=[SECRETS["kraken_token"]])
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    for name, value in SECRETS.items():
        (secrets_dir / name).write_text(value + "\n")
    prefix = unique_prefix()
    async with okx, okex, kraken:
        config = {
            "instance": "secrets-test",
            "log_level": "DEBUG",
            "kafka": {
                "bootstrap_servers": secure_kafka.sasl_ssl_bootstrap_servers,
                "topic_prefix": prefix,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_username": USER,
                "sasl_password": f"${{file:{secrets_dir}/kafka_password}}",
                "ssl_ca_file": str(secure_kafka.ca_file),
            },
            "metrics": {"host": "127.0.0.1", "port": 0},
            "connections": [
                {
                    "name": "okx-business",
                    "exchange": "okx",
                    "url": okx.url(BUSINESS_PATH),
                    "subscriptions": [{"channel": "economic-calendar"}],
                    "credentials": {
                        "api_key": f"${{file:{secrets_dir}/okx_key}}",
                        "secret_key": f"${{file:{secrets_dir}/okx_secret}}",
                        "passphrase": f"${{file:{secrets_dir}/okx_pass}}",
                    },
                },
                {
                    "name": "okex-spot",
                    "exchange": "okex_v1",
                    "url": okex.url(),
                    "subscriptions": [
                        {"channel": "ok_sub_spot_bch_btc_ticker"},
                        {"channel": "ok_spot_userinfo"},
                    ],
                    "credentials": {
                        "api_key": f"${{file:{secrets_dir}/okex_key}}",
                        "secret_key": f"${{file:{secrets_dir}/okex_secret}}",
                    },
                },
                {
                    "name": "kraken-private",
                    "exchange": "kraken",
                    "url": kraken.url(AUTH_PATH),
                    "subscriptions": [{"name": "openOrders"}, {"name": "ownTrades"}],
                    "credentials": {"token": f"${{file:{secrets_dir}/kraken_token}}"},
                },
            ],
        }
        config_file = tmp_path / "bridge.yaml"
        config_file.write_text(yaml.safe_dump(config))
        check = await asyncio.to_thread(run_cli, "run", "--config", str(config_file), "--check")
        check_output = check.stdout + check.stderr
        assert check.returncode == 0, check_output
        log_path = tmp_path / "bridge.log"
        with log_path.open("wb") as log:
            proc = await start_bridge(config_file, stdout=log, stderr=log)
            try:
                metrics = await wait_for_metrics(log_path)
                kraken.new_order_and_fill()  # private pushes on the token-authenticated connection
                # Kraken documents the token as a field of subscriptionStatus: an exchange that
                # echoes a credential must not get it into the raw topic or the dead letters.
                echo = (
                    '{"channelName":"openOrders","event":"subscriptionStatus","status":"subscribed",'
                    f'"subscription":{{"name":"openOrders","token":"{SECRETS["kraken_token"]}"}}}}'
                )
                await kraken.send_raw(echo, path=AUTH_PATH)
                await okx.send_raw(f'{{"event":"odd","apiKey":"{SECRETS["okx_key"]}"}}')
                await asyncio.sleep(3)
                metrics += scrape(metrics_url(log_path))
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), 30) == 0
            finally:
                if proc.returncode is None:  # a failed assertion must not leave a bridge
                    proc.kill()
                    await proc.wait()
    log_text = log_path.read_text()
    assert "DEBUG" in log_text and "> TEXT" in log_text  # verbose, frames included
    # economic-calendar, ok_spot_userinfo and openOrders/ownTrades need a login or a token
    assert log_text.count("subscriptions acknowledged") == 3
    assert okx.stats.logins_ok == 1
    assert "frame" in log_text and "to dead letters" in log_text  # the OKX echo was one
    records = await all_records(secure_kafka, prefix)
    assert len(records) > 20
    outputs = {
        "log": log_text,
        "metrics": metrics,
        "--check": check_output,
        "kafka records": "\n".join(repr(r) for r in records),
    }
    for where, text in outputs.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} found in {where}"
    for record in records:
        for name, secret in SECRETS.items():
            assert secret.encode() not in record, f"{name} found in a Kafka record"


def metrics_url(log_path: Path) -> str:
    for line in log_path.read_text().splitlines():
        if "metrics and health on " in line:
            return line.split("metrics and health on ", 1)[1].strip()
    raise AssertionError("no metrics URL in the log")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def wait_for_metrics(log_path: Path) -> str:
    for _ in range(300):
        text = log_path.read_text()
        if "metrics and health on " in text and text.count("subscriptions acknowledged") >= 3:
            return scrape(metrics_url(log_path))
        await asyncio.sleep(0.1)
    raise AssertionError(
        "the bridge did not subscribe everything:\n" + log_path.read_text()[-3000:]
    )


async def all_records(kafka: SandboxKafka, prefix: str) -> list[bytes]:
    """Key, value and headers of every record on every topic of this run, as bytes."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        consumer.subscribe(topics)
        found: list[bytes] = []
        while batch := await consumer.getmany(timeout_ms=3000, max_records=10_000):
            for messages in batch.values():
                for m in messages:
                    headers = b"".join(k.encode() + v for k, v in m.headers)
                    found.append((m.key or b"") + (m.value or b"") + headers)
        assert {f"{prefix}okx.raw", f"{prefix}okex.raw", f"{prefix}kraken.raw"} <= set(topics)
        return found
    finally:
        await consumer.stop()


async def test_a_credential_an_exchange_echoes_reaches_no_record(kafka_bootstrap: str) -> None:
    """An OKX error that quotes the API key: the typed event on okx.events, the raw frame and
    any dead letter carry ``***`` where the key was."""
    prefix = unique_prefix()
    key, secret, passphrase = "echo-key-7f3a9c2e", "echo-secret-51d0b7aa", "echo-phrase-90c1"
    account = OkxAccount(secret=secret, passphrase=passphrase, vip_level=1)
    async with OkxSimulator(initial_status=None, accounts={key: account}) as sim:
        conn = {
            "name": "okx-business",
            "exchange": "okx",
            "url": sim.url(BUSINESS_PATH),
            "subscriptions": [{"channel": "economic-calendar"}],
            "credentials": {"api_key": key, "secret_key": secret, "passphrase": passphrase},
            **fast_reconnect(),
        }
        settings = bridge_settings(kafka_bootstrap, prefix, [conn])
        async with running_bridge(settings) as bridge:
            await wait_until(lambda: bridge.sessions[0].subscribed, what="subscription")
            await sim.send_raw(
                json.dumps(
                    {
                        "event": "error",
                        "code": "60005",
                        "msg": f"Invalid apiKey {key}",
                        "connId": "x1",
                    }
                )
            )
            events = await read_topic(
                kafka_bootstrap,
                prefix + "okx.events",
                lambda rs: any(p["code"] == "60005" for p in payloads(rs, "ConnectionEvent")),
            )
            raw = await read_topic(
                kafka_bootstrap,
                prefix + "okx.raw",
                lambda rs: any(b"60005" in r.value["data"] for r in rs),
            )
    [error] = [p for p in payloads(events, "ConnectionEvent") if p["code"] == "60005"]
    assert error["message"] == "Invalid apiKey ***"
    everything = repr([r.value for r in events + raw]).encode()
    for value in (key, secret, passphrase):
        assert value.encode() not in everything
