"""The run log's redaction and formats, and the metrics' event counters and endpoint, in process."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from polymm_cli.errors import UsageError
from polymm_cli.model import Side
from polymm_cli.ops.logs import OrderLog, Redactor, log_decision, run_log
from polymm_cli.ops.metrics import EngineMetrics, MetricsServer, refusal_reason

KEY = "0x" + "ab12" * 16
SECRET = "fake-api-secret-value"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_run_log_scrubs_secrets_from_messages_arguments_fields_and_tracebacks(
    tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "logs" / "run.log"
    with run_log(path, fmt=fmt, max_bytes=100_000, backups=2, redactor=Redactor([KEY, SECRET])):  # type: ignore[arg-type]
        log = logging.getLogger("polymm.test")
        log.warning("key %s in an argument", KEY.upper())
        log.info("secret in the message " + SECRET)
        log_decision({"market": "m1", "places": 1, "note": f"key without 0x {KEY[2:]}"})
        try:
            raise RuntimeError(f"failed with {SECRET}")
        except RuntimeError:
            log.exception("it failed")
        OrderLog().order_placed("m1", "0xorder", Side.BUY, Decimal("0.45"), Decimal(10), "bid")
    text = _read(path)
    assert KEY[2:].lower() not in text.lower() and SECRET not in text
    assert text.count("[REDACTED]") >= 4
    assert path.stat().st_mode & 0o777 == 0o600
    if fmt == "json":
        lines = [json.loads(line) for line in text.splitlines()]
        events = {line.get("event") for line in lines}
        assert {"decision", "order_placed"} <= events
        assert any("traceback" in line for line in lines)


def test_the_log_rotates_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    with run_log(path, fmt="text", max_bytes=10_000, backups=2, redactor=Redactor([])):
        for i in range(400):
            logging.getLogger("polymm.test").info("line %d %s", i, "x" * 60)
    assert (tmp_path / "run.log.1").exists() and (tmp_path / "run.log.2").exists()
    assert not (tmp_path / "run.log.3").exists()


def test_refusal_texts_become_a_small_set_of_reasons() -> None:
    assert refusal_reason("worst case e 120 would pass +L 100") == "position_limit"
    assert refusal_reason("invalid post-only order: order crosses book") == "would_cross"
    assert refusal_reason("not enough balance / allowance") == "balance"
    assert refusal_reason("something new") == "other"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_endpoint_serves_the_event_counters_and_a_taken_port_is_one_clear_error() -> None:
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    metrics.order_placed("m1", "o1", Side.BUY, Decimal("0.4"), Decimal(10), "bid")
    metrics.order_refused("m1", "risk", "worst case e 120 would pass +L 100")
    metrics.fill("m1", "YES", Side.BUY, Decimal("0.4"), Decimal(10))
    metrics.stream("market feed", False, "lost")
    metrics.stream("market feed", True, "")
    metrics.venue_error("order", 503)
    metrics.decision(0.0004, 0.002)
    server = MetricsServer(registry, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            body = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).text
        taken = MetricsServer(CollectorRegistry(), "127.0.0.1", server.port)
        with pytest.raises(UsageError, match=f"cannot serve metrics on 127.0.0.1:{server.port}"):
            await taken.start()
    finally:
        await server.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert samples[("polymm_orders_placed_total", (("market", "m1"), ("side", "buy"), ("tag", "bid")))] == 1
    refused = (("market", "m1"), ("reason", "position_limit"), ("source", "risk"))
    assert samples[("polymm_orders_refused_total", refused)] == 1
    fill = (("market", "m1"), ("outcome", "yes"), ("side", "buy"))
    assert samples[("polymm_fill_volume_pusd_total", fill)] == pytest.approx(4.0)
    assert samples[("polymm_stream_reconnects_total", (("stream", "market_feed"),))] == 1
    assert samples[("polymm_venue_errors_total", (("call", "order"), ("status", "503")))] == 1
    assert samples[("polymm_tick_to_quote_seconds_count", ())] == 1
    await asyncio.sleep(0)


def test_a_json_line_keeps_its_own_time_and_the_record_its_own(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    with run_log(path, fmt="json", max_bytes=100_000, backups=1, redactor=Redactor([])):
        log_decision({"ts": 1234.5, "market": "m1", "places": 2, "cancels": 0, "kept": 0, "mid": "0.5"})
    [line] = [json.loads(text) for text in _read(path).splitlines()]
    assert line["ts"].endswith("+00:00") and line["decision_ts"] == 1234.5
    assert line["event"] == "decision" and line["places"] == 2


def test_every_secret_setting_reaches_the_redactor() -> None:
    """A SecretStr setting the redactor does not know could reach the run log: each one is listed."""
    # Arrange: a value for every SecretStr field of the settings
    from pydantic import SecretStr

    from polymm_cli.settings import Settings

    secret_fields = [
        name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
    ]
    values = {name: f"secret-{name}" for name in secret_fields if name != "alert_webhooks"}
    settings = Settings.model_construct(
        **{name: SecretStr(v) for name, v in values.items()},
        alert_webhooks=[SecretStr("https://hooks.example/T0/B0/secret-hook")],
    )

    # Act
    held = settings.secret_values()

    # Assert
    assert set(values.values()) <= set(held)
    assert "https://hooks.example/T0/B0/secret-hook" in held


@pytest.mark.parametrize(
    ("yes", "no", "mid", "winner", "expected"),
    [
        ("10", "4", "0.7", None, "4.2"),  # long 6 YES at 0.70
        ("0", "5", "0.7", None, "1.5"),  # long 5 NO at 1 - 0.70
        ("3", "0", None, None, "1.5"),  # no mark: 0.5, as the cap
        ("8", "0", "0.2", "yes", "8"),  # resolved: what it pays, as the cap (not the stale mid)
    ],
)
def test_the_exposure_gauge_is_the_total_exposure_caps_measure(
    yes: str, no: str, mid: str | None, winner: str | None, expected: str
) -> None:
    from dataclasses import replace

    from polymm_cli.exchange.markets import make_market
    from polymm_cli.model import MarketSnapshot
    from polymm_cli.ops.metrics import _market_families
    from polymm_cli.risk import Holding, exposure_notional

    market = make_market("gauge", "Gauge?", tick="0.01")
    if winner:
        market = replace(market, winner=market.yes_token)
    snap = MarketSnapshot(
        market=market,
        bids=(),
        asks=(),
        mid=None,
        orders=(),
        yes_position=Decimal(yes),
        no_position=Decimal(no),
        position_limit=Decimal(100),
        realized_pnl=Decimal(0),
        unrealized_pnl=None,
        fees=Decimal(0),
        total_pnl=Decimal(0),
        fills=(),
        status="quoting",
        last_decision="",
    )

    class Engine:
        def external_mid(self, m: object) -> Decimal | None:
            return Decimal(mid) if mid else None

    class Snap:
        markets = (snap,)

    families = {f.name: f for f in _market_families(Engine(), Snap())}  # type: ignore[arg-type]
    [sample] = families["polymm_exposure_pusd"].samples
    assert sample.value == pytest.approx(float(expected))
    mark = market.payout_mark if winner else (Decimal(mid) if mid else None)
    cap_view = Holding(market=market, yes=Decimal(yes), no=Decimal(no), cost=Decimal(0), mark=mark)
    assert Decimal(expected) == exposure_notional(cap_view)
