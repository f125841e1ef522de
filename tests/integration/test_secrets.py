"""Secrets never leave the bridge: one run with known fake secrets in every place a secret can
go (OKX login, OKEx v1 login, Kraken token, Kafka SASL password), logging at DEBUG, then every
output of the run is searched for them: the log, the metrics, ``--check``, and every record
the run wrote to Kafka (raw frames and dead letters included)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.request
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer

from bridge.sandbox.kafka import SandboxKafka
from bridge.sandbox.kraken import AUTH_PATH, KrakenSimulator
from bridge.sandbox.okex_v1 import OkexV1Account, OkexV1Simulator
from bridge.sandbox.okx import BUSINESS_PATH, OkxAccount, OkxSimulator
from tests.integration.conftest import start_sandbox_kafka
from tests.integration.harness import unique_prefix

SECRETS = {
    "okx_key": "okxKEY-4f1c2a9e",
    "okx_secret": "okxSECRET-77d0b3",
    "okx_pass": "okxPASS-c0ffee",
    "okex_key": "okexKEY-a1b2c3d4",
    "okex_secret": "OKEXSECRET-99AA",
    "kraken_token": "krakenTOKEN-5e6f7a8b",
    "kafka_password": "kafkaPASSWORD-0badf00d",
}


async def test_no_secret_appears_in_any_output(tmp_path: Path) -> None:
    kafka = await asyncio.to_thread(
        start_sandbox_kafka, scram_users={"bridge": SECRETS["kafka_password"]}
    )
    try:
        await run_and_search(kafka, tmp_path)
    finally:
        await asyncio.to_thread(kafka.stop)


async def run_and_search(kafka: SandboxKafka, tmp_path: Path) -> None:
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
                "bootstrap_servers": kafka.sasl_ssl_bootstrap_servers,
                "topic_prefix": prefix,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_username": "bridge",
                "sasl_password": f"${{file:{secrets_dir}/kafka_password}}",
                "ssl_ca_file": str(kafka.ca_file),
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
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        check = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "run",
            "--config",
            str(config_file),
            "--check",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        check_output = (await check.communicate())[0].decode()
        assert check.returncode == 0, check_output
        log_path = tmp_path / "bridge.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridge",
                "run",
                "--config",
                str(config_file),
                stdout=log,
                stderr=log,
                env=env,
            )
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
    records = await all_records(kafka, prefix)
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
