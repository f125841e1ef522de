"""cryptofeed 2.4.1 on the same stream, as a user would run it, offline against the simulator.

``python -m bench.perf.cryptofeed_client CONFIG_JSON``: cryptofeed's own ``FeedHandler``, its
``OKX`` feed on ``L2_BOOK`` and its ``BookKafka`` backend, writing to the benchmark's broker;
the control protocol of :mod:`bench.perf.bridge_runner` (ready, mark, drain, quit), so the
harness drives it like the bridge. Read from cryptofeed 2.4.1's source, what it needs to run
without the internet, and what is changed (nothing on its data path):

* **Instruments.** ``Exchange.__init__`` loads the instrument list from OKX's REST API unless
  the symbol cache holds the exchange already, so the cache is filled first:
  ``Symbols.set("OKX", *OKX._parse_symbol_data(...))`` with one spot entry per instrument
  served, in the shape of OKX's ``/api/v5/public/instruments`` answer.
* **Endpoint.** ``OKX`` is subclassed with ``websocket_endpoints`` pointing at the
  simulator (the books channel only, ``compression: None`` as OKX's own endpoint sets it) and
  an SSL context trusting the simulator's certificate in the endpoint's options, which
  cryptofeed passes to ``websockets.connect``. ``WSAsyncConn`` refuses anything but ``wss://``.
  ``rest_endpoints`` is emptied, so no REST address is known to the feed at all.
* **No REST snapshot.** OKX's ``books`` feed in cryptofeed builds its book from the
  ``action: snapshot`` push on the WebSocket (``OKX._book``); it has no REST snapshot path.
  Its other REST calls are not reached here: liquidations (a channel not subscribed) and the
  server time for a login (public channel). As a guard, ``requests`` and ``aiohttp`` (its
  only HTTP clients) raise in this process if anything calls them.
* **Event loop.** ``FeedHandler()`` installs uvloop's policy (its default configuration has
  ``uvloop: True``; kept); the loop is created with that policy and set before
  ``FeedHandler.run()``, which then runs it until the harness says quit.
* **Topic names.** ``BookKafka`` writes topic ``book-OKX-BTC-USDT`` (``{key}-{exchange}-
  {symbol}``); the subclass puts the run's prefix in front, nothing else. Its producer
  settings are its defaults (``AIOKafkaProducer`` defaults: acks=1, not idempotent, linger 0,
  no compression) unless the harness passes producer options (``producer``: e.g.
  ``{"acks": "all", "enable_idempotence": true}``), which ``BookKafka`` hands to aiokafka.

What it writes, by cryptofeed's design: one JSON record (``yapic.json``, numbers as floats)
per book push, the delta, key ``b"book"`` for every record; plus the whole book every 1,000
deltas per symbol (``snapshot_interval``). Its writer task awaits each record's
acknowledgement before it sends the next (``KafkaCallback.writer``: ``await send_future``
inside the loop), behind an unbounded ``asyncio.Queue``.

Measured like the bridge: CPU is ``time.process_time()`` of this process; frames are the
connections' own counts (``WSAsyncConn.received``); latency is per push, the ack time (a
done-callback on aiokafka's future, when the produce response is handled) minus cryptofeed's
``receipt_timestamp`` (``time.time()`` when the frame was read, before parsing); the records
acknowledged per topic go to the harness, which compares them with Kafka's end offsets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import sys
import time
from array import array
from typing import Any

from cryptofeed import FeedHandler
from cryptofeed.backends.kafka import BookKafka
from cryptofeed.connection import WebsocketEndpoint
from cryptofeed.defines import L2_BOOK
from cryptofeed.exchanges import OKX
from cryptofeed.symbols import Symbols

from bench.perf.measures import memory, percentiles


class NetworkRefused(RuntimeError):
    """cryptofeed tried an HTTP request: nothing here may leave the machine."""


def _refuse_http() -> None:
    import aiohttp
    import requests

    def refuse(*args: Any, **kwargs: Any) -> Any:
        target = kwargs.get("url") or args[1:3]
        raise NetworkRefused(f"HTTP request refused in the benchmark: {target!r}")

    async def refuse_async(*args: Any, **kwargs: Any) -> Any:
        refuse(*args, **kwargs)

    requests.Session.request = refuse  # type: ignore[method-assign]
    aiohttp.ClientSession._request = refuse_async  # type: ignore[method-assign]


def fill_symbol_cache(instruments: list[str]) -> None:
    """OKX's instrument list for these spot instruments, as its REST API would answer."""
    entries = []
    for inst_id in instruments:
        base, quote = inst_id.split("-", 1)
        entries.append(
            {
                "instType": "SPOT",
                "instId": inst_id,
                "baseCcy": base,
                "quoteCcy": quote,
                "tickSz": "0.1",
            }
        )
    Symbols.set(OKX.id, *OKX._parse_symbol_data([{"code": "0", "data": entries}]))


def simulator_feed(url: str, ca_file: str | None) -> type[OKX]:
    """cryptofeed's OKX feed aimed at the simulator (books only)."""
    context = ssl.create_default_context(cafile=ca_file)

    class SimulatorOKX(OKX):  # type: ignore[misc]
        websocket_endpoints = [
            WebsocketEndpoint(
                url,
                channel_filter=(OKX.websocket_channels[L2_BOOK],),
                options={"compression": None, "ssl": context},
            )
        ]
        rest_endpoints: list[Any] = []

    return SimulatorOKX


class _Probe:
    """What the backend handed to aiokafka and what came back, since the last mark."""

    def __init__(self) -> None:
        self.enqueued = 0
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.delivered: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.latencies = array("q")
        self.first_received = 0.0
        self.last_ack = 0.0
        self.last_noted = 0.0

    def done(self, future: asyncio.Future[Any], topic: str, received: float) -> None:
        if future.cancelled() or future.exception() is not None:
            self.failed += 1
            return
        now = time.time()
        self.acked += 1
        self.delivered[topic] = self.delivered.get(topic, 0) + 1
        self.last_ack = now
        if not self.first_received or received < self.first_received:
            self.first_received = received
        # One sample per push: the whole-book record cryptofeed adds every 1,000 deltas
        # carries the same receipt time as the delta before it.
        if received != self.last_noted:
            self.last_noted = received
            self.latencies.append(int((now - received) * 1e6))


class ProbedBookKafka(BookKafka):  # type: ignore[misc]
    """``BookKafka`` with the run's topic prefix and the probe; its writer is untouched."""

    def __init__(self, prefix: str, probe: _Probe, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.probe = probe
        self._received = 0.0

    def topic(self, data: dict[str, Any]) -> str:
        # The writer calls this once per record, right before that record's send.
        self._received = data["receipt_timestamp"]
        return str(self.prefix + super().topic(data))

    async def write(self, data: dict[str, Any]) -> None:
        self.probe.enqueued += 1
        await super().write(data)

    async def _connect(self) -> None:
        await super()._connect()
        producer, probe = self.producer, self.probe
        if getattr(producer, "_probed", False):
            return
        send = producer.send

        async def probed_send(
            topic: str, value: Any = None, key: Any = None, partition: Any = None, **kw: Any
        ) -> Any:
            received = self._received
            probe.sent += 1
            try:
                future = await send(topic, value, key, partition, **kw)
            except BaseException:
                probe.failed += 1
                raise
            short = topic[len(self.prefix) :]
            future.add_done_callback(lambda f: probe.done(f, short, received))
            return future

        producer.send = probed_send
        producer._probed = True


def producer_settings(backend: ProbedBookKafka) -> dict[str, Any]:
    """The settings in force, read from the live producer (not from what was asked)."""
    producer = backend.producer
    accumulator = producer._message_accumulator
    acks = producer._sender._acks
    return {
        "acks": "all" if acks == -1 else acks,
        "enable_idempotence": producer._txn_manager is not None,
        "linger_ms": accumulator._linger_time * 1000,
        "max_batch_size": accumulator._batch_size,
        "compression_type": producer._compression_type,
        "in_flight": "one record: the writer awaits each send's acknowledgement",
        "value": "JSON (yapic.json), numbers as float",
        "key": backend.key,
        "snapshot_interval": backend.snapshot_interval,
        "options_passed": backend.producer_config,
    }


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _control(feed: OKX, backend: ProbedBookKafka, probe: _Probe) -> None:
    def frames() -> int:
        return sum(handler.conn.received for handler in feed.connection_handlers)

    deadline = time.monotonic() + 60
    # the producer started and the subscription acknowledged (the load generator sends no
    # push before the harness starts the stream)
    while not (backend.running and frames()):
        if time.monotonic() > deadline:
            raise SystemExit("cryptofeed did not connect and subscribe within 60 s")
        await asyncio.sleep(0.05)
    _emit(
        {
            "event": "ready",
            "memory": memory(),
            "loop": type(asyncio.get_running_loop()).__module__,
            "producer": producer_settings(backend),
        }
    )
    mark: dict[str, Any] = {}
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command = json.loads(line) if line else {"cmd": "quit"}
        if command["cmd"] == "mark":
            probe.reset()
            mark = {
                "frames": frames(),
                "acked": probe.acked,
                "delivered": dict(probe.delivered),
                "failed": probe.failed,
                "cpu": time.process_time(),
            }
            _emit({"event": "marked"})
        elif command["cmd"] == "drain":
            expected = mark["frames"] + command["frames"]
            timeout = time.monotonic() + command.get("timeout", 120)
            while (
                frames() < expected or probe.acked + probe.failed < probe.enqueued
            ) and time.monotonic() < timeout:
                await asyncio.sleep(0.002)
            cpu = time.process_time() - mark["cpu"]
            read = frames() - mark["frames"]
            window_s = max(1e-9, probe.last_ack - probe.first_received)
            delivered = {
                topic: n - mark["delivered"].get(topic, 0) for topic, n in probe.delivered.items()
            }
            _emit(
                {
                    "event": "drained",
                    "complete": read >= command["frames"]
                    and probe.acked + probe.failed >= probe.enqueued,
                    "frames": read,
                    "records": probe.acked - mark["acked"],
                    "cpu_seconds": cpu,
                    "window_seconds": window_s,
                    "frames_per_second": read / window_s,
                    "latency_ms": percentiles(probe.latencies, (50, 90, 99, 99.9)),
                    "latency_samples": len(probe.latencies),
                    "memory": memory(),
                    # the same shape as the bridge's, for the harness's Kafka check
                    "metrics": {
                        "delivered": delivered,
                        "failed": probe.failed - mark["failed"],
                    },
                }
            )
        elif command["cmd"] == "quit":
            _emit({"event": "stopped", "memory": memory()})
            # FeedHandler.run() then stops the feed and the backend and closes the loop
            asyncio.get_running_loop().stop()
            return


def main() -> None:
    config = json.loads(sys.argv[1])
    _refuse_http()
    instruments = sorted({s["instId"] for s in config["subscriptions"]})
    fill_symbol_cache(instruments)
    # cryptofeed's default configuration ({"uvloop": True, "log": {"filename":
    # "feedhandler.log", "level": "WARNING"}}), with its log file in the harness's work dir
    handler = FeedHandler(
        config={"uvloop": True, "log": {"filename": config["log_file"], "level": "WARNING"}}
    )
    loop = asyncio.new_event_loop()  # uvloop's, by the policy FeedHandler() installed
    asyncio.set_event_loop(loop)
    probe = _Probe()
    backend = ProbedBookKafka(
        config["topic_prefix"],
        probe,
        bootstrap_servers=config["bootstrap_servers"],
        **config.get("producer", {}),
    )
    feed = simulator_feed(config["url"], config.get("ca_file"))(
        symbols=instruments, channels=[L2_BOOK], callbacks={L2_BOOK: backend}
    )
    handler.add_feed(feed)
    control = loop.create_task(_control(feed, backend, probe))
    # a failed control task stops the loop too, rather than leave the harness waiting
    control.add_done_callback(
        lambda task: loop.stop() if not task.cancelled() and task.exception() else None
    )
    handler.run()
    if control.done() and not control.cancelled() and control.exception() is not None:
        raise control.exception()  # type: ignore[misc]
    logging.shutdown()


if __name__ == "__main__":
    main()
