"""Webhook alerts against a real loopback receiver: the three forms, a webhook that hangs, one that
answers 500, the rate limit, the feed watch and the summary on the engine's (virtual) clock."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from polymm_cli.clock import ManualClock, SystemClock
from polymm_cli.engine.config import StopReport
from polymm_cli.errors import UsageError
from polymm_cli.ops.alerts import AlertSettings, AlertSink, parse_webhook
from polymm_cli.services.operations import RunOps
from polymm_cli.settings import load_settings
from tests.webhook_receiver import webhook_receiver

TOKEN = "123456789:AAH-fake-telegram-token-for-tests"


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_webhook_forms_are_chosen_by_host_or_prefix_and_never_show_the_token() -> None:
    telegram = parse_webhook(f"https://api.telegram.org/bot{TOKEN}/sendMessage?chat_id=-10042")
    assert telegram.kind == "telegram"
    assert telegram.payload("hi") == {"chat_id": "-10042", "text": "hi"}
    assert TOKEN in telegram.secrets
    assert TOKEN not in telegram.label and TOKEN not in repr(telegram)
    assert telegram.label == "telegram webhook at https://api.telegram.org"
    discord = parse_webhook("https://discord.com/api/webhooks/123/secret-discord-token")
    assert discord.kind == "discord" and discord.payload("x") == {"content": "x"}
    assert "secret-discord-token" in discord.secrets and "secret" not in discord.label
    slack = parse_webhook("https://hooks.slack.com/services/T000/B000/slacksecretvalue")
    assert slack.kind == "slack" and slack.payload("x") == {"text": "x"}
    forced = parse_webhook("discord+http://127.0.0.1:9/relay")
    assert forced.kind == "discord" and forced.url == "http://127.0.0.1:9/relay"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/services/abcdefgh", "use https"),
        ("ftp://example.com/x", "http(s) URL"),
        (f"https://api.telegram.org/bot{TOKEN}/sendMessage", "chat_id"),
    ],
)
def test_a_bad_webhook_is_one_line_without_its_token(url: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_webhook(url)
    assert words in str(caught.value)
    assert TOKEN not in str(caught.value) and "abcdefgh" not in str(caught.value)


async def test_alerts_reach_slack_discord_and_telegram_receivers() -> None:
    with webhook_receiver() as receiver:
        hooks = [
            parse_webhook(f"slack+{receiver.url}/slack"),
            parse_webhook(f"discord+{receiver.url}/discord"),
            parse_webhook(f"telegram+{receiver.url}/bot{TOKEN}/sendMessage?chat_id=42"),
        ]
        registry = CollectorRegistry()
        sink = AlertSink(hooks, SystemClock(), AlertSettings(timeout_s=2), registry=registry)
        async with sink.running():
            sink.halted("cancel-all from another terminal", True)
            sink.stopped(StopReport(cancelled=1, may_be_open=2, confirmed=False))
        assert any("KILL SWITCH" in t for t in receiver.texts("/slack"))
        assert any("CANCELS NOT CONFIRMED" in t for t in receiver.texts("/discord"))
        telegram = [body for path, body in receiver.posts if path.startswith("/bot")]
        assert telegram and all(body["chat_id"] == "42" for body in telegram)
        assert _value(registry, "polymm_alerts_sent_total", kind="kill_switch") == 1


async def test_a_hanging_webhook_never_slows_the_engine_and_the_queue_drops_with_a_counter() -> None:
    with webhook_receiver() as receiver:
        registry = CollectorRegistry()
        settings = AlertSettings(queue_size=3, timeout_s=0.5, min_interval_s=0)
        sink = AlertSink([parse_webhook(f"{receiver.url}/hang")], SystemClock(), settings, registry=registry)
        async with sink.running(drain_s=0.2):
            started = time.perf_counter()
            for i in range(50):
                sink.halted(f"reason {i}", False)  # what the engine calls, on its own loop
            spent = time.perf_counter() - started
            await asyncio.sleep(0.7)  # the first post times out meanwhile
        assert spent < 0.05, f"queueing 50 alerts took {spent:.3f} s"
        assert _value(registry, "polymm_alerts_dropped_total", reason="queue_full") >= 45
        assert _value(registry, "polymm_alert_posts_failed_total") >= 1


async def test_a_webhook_answering_500_is_counted_and_logged_by_host_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with webhook_receiver() as receiver:
        registry = CollectorRegistry()
        url = f"telegram+{receiver.url}/fail/bot{TOKEN}/sendMessage?chat_id=7"
        sink = AlertSink([parse_webhook(url)], SystemClock(), AlertSettings(timeout_s=2), registry=registry)
        with caplog.at_level(logging.WARNING, logger="polymm.alerts"):
            async with sink.running():
                sink.failed("decisions failed: RuntimeError: boom")
        assert receiver.texts() and "ENGINE FAILED" in receiver.texts()[0]
        assert _value(registry, "polymm_alert_posts_failed_total") == 1
        assert "HTTP 500" in caplog.text and "127.0.0.1" in caplog.text
        assert TOKEN not in caplog.text


async def test_each_kind_is_rate_limited_and_the_next_one_says_how_many_were_suppressed() -> None:
    clock = ManualClock()
    registry = CollectorRegistry()
    sink = AlertSink(
        [parse_webhook("https://hooks.slack.com/services/x/y/zzzzzzzz")],
        clock,
        AlertSettings(min_interval_s=60),
        registry=registry,
    )
    assert sink.send("halt", "one")
    assert not sink.send("halt", "two")
    assert not sink.send("halt", "three")
    assert sink.send("resume", "another kind goes through")
    clock.advance(61)
    assert sink.send("halt", "four")
    assert _value(registry, "polymm_alerts_dropped_total", reason="rate_limited") == 2
    queued = [sink._queue.get_nowait().text for _ in range(sink._queue.qsize())]
    assert queued[-1] == "polymm: four (2 more suppressed since the last one)"


async def test_a_feed_down_longer_than_the_limit_alerts_once_then_recovery_and_the_summary() -> None:
    clock = ManualClock()
    health = {"market feed": True, "user stream": True}
    sink = AlertSink(
        [parse_webhook("https://hooks.slack.com/services/x/y/zzzzzzzz")],
        clock,
        AlertSettings(feed_unhealthy_s=30, summary_interval_s=3600),
        health=lambda: health,
        summary=lambda: "summary: all fine",
    )
    watch = asyncio.create_task(sink._watch())

    async def run_for(seconds: int) -> None:
        for _ in range(seconds):
            clock.advance(1)
            await asyncio.sleep(0)

    await asyncio.sleep(0)
    health["market feed"] = False
    await run_for(20)
    assert sink._queue.empty()  # 20 s down: not yet
    await run_for(15)
    await run_for(60)  # still down: still one alert
    health["market feed"] = True
    await run_for(2)
    await run_for(3600)
    watch.cancel()
    texts = [sink._queue.get_nowait().text for _ in range(sink._queue.qsize())]
    assert texts[0].startswith("polymm: market feed unhealthy for 30 s")
    assert texts[1] == "polymm: market feed healthy again"
    assert texts[2:] == ["polymm: summary: all fine"]


async def test_a_crash_of_the_run_is_alerted_before_the_error_goes_on(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        settings = load_settings(data_dir=tmp_path, alert_webhooks=[f"slack+{receiver.url}/ops"])
        ops = RunOps(settings, SystemClock())
        with pytest.raises(RuntimeError, match="boom"):
            async with ops.alerting():
                raise RuntimeError("boom")
        assert receiver.texts("/ops") == ["polymm: CRASHED: RuntimeError: boom"]
