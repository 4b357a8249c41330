"""The `polymm record` service's pieces that need no exchange: the keyless venue configuration, the
options' one-line refusals and the summary line."""

from __future__ import annotations

from pathlib import Path

import pytest

from polymm_cli.errors import UsageError
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.services.recording import RecordOptions, RecordOutcome, RecordStatus, public_config, size_text
from polymm_cli.settings import load_settings
from tests.conftest import throwaway_key


def test_recording_real_polymarket_needs_no_key_and_never_uses_the_configured_one() -> None:
    configured = throwaway_key("configured")
    settings = load_settings(venue="polymarket", private_key=configured)

    config = public_config(settings, None)

    assert config.market_ws_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert config.clob_url == "https://clob.polymarket.com"
    assert config.private_key is None  # key-less: the configured key is never even copied
    assert public_config(load_settings(venue="polymarket"), None).api_key is None  # no key at all: fine


def test_the_venue_s_own_urls_are_honoured() -> None:
    settings = load_settings(
        venue="polymarket", exchange_url="https://clob.example.polymarket.com/", unsafe_polymarket_url=True
    )

    assert public_config(settings, None).clob_url == "https://clob.example.polymarket.com"
    local = public_config(load_settings(), "http://127.0.0.1:9")
    assert local.market_ws_url == "ws://127.0.0.1:9/ws/market"
    assert local.private_key is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"markets": []}, "at least one market"),
        ({"duration": -1.0}, "--duration"),
        ({"snapshot_every_s": 0.0}, "--snapshot-every"),
        ({"rotate_bytes": 0}, "--rotate-mb"),
        ({"rotate_s": 0.0}, "--rotate-minutes"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    changes: dict[str, object], message: str, tmp_path: Path
) -> None:
    options = RecordOptions(**({"markets": ["m"], "out": tmp_path / "rec"} | changes))  # type: ignore[arg-type]

    with pytest.raises(UsageError, match=message):
        options.check()


def test_the_summary_says_what_was_recorded_and_where(tmp_path: Path) -> None:
    status = RecordStatus(
        (sample_markets()[0],), tmp_path, "ws://x", frames=1234, books=1, gaps=0, bytes=45_600
    )

    line = RecordOutcome(status, "interrupted", (tmp_path / "a", tmp_path / "b")).summary()

    assert line == f"recorded 1,234 frames, 1 book, 0 gaps in 0 s: 45.6 kB in 2 files in {tmp_path}"
    assert [size_text(n) for n in (812, 45_600, 123_400_000)] == ["812 B", "45.6 kB", "123.4 MB"]
