"""The one guard in front of real funds, tried as a user would: `polymm` as a subprocess.

`--venue polymarket` is pointed (with `--unsafe-polymarket-url`) at a recorder on loopback that
answers nothing useful and writes down every request it gets. A command that can place, sell,
split, merge or redeem, asked without `--live`, must refuse in one line naming `--live`, exit 2,
and send nothing at all. The control cases prove the recorder would have seen a request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.clock import SystemClock
from polymm_cli.services.venues import local_exchange, local_private_key, open_venue
from polymm_cli.settings import load_settings
from tests.conftest import throwaway_key
from tests.e2e.support import data_dir, polymm

pytestmark = pytest.mark.slow

REAL_KEY = throwaway_key("live-guard")  # stands for a funded Polymarket key
MARKET = "0x" + "ab" * 32


class Recorder:
    """An HTTP server on a free loopback port that records every request and answers 503."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                recorder.requests.append(f"{self.command} {self.path}")
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = do_PUT = _record

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def polymarket(recorder: Recorder, *args: str, venue_flag: bool = True) -> tuple[int, list[str]]:
    """`polymm ARGS` on the real venue, redirected to the recorder; (exit code, stderr lines)."""
    flags = ["--venue", "polymarket"] if venue_flag else []
    done = polymm(
        *args,
        *flags,
        "--exchange-url",
        recorder.url,
        "--unsafe-polymarket-url",
        POLYMM_PRIVATE_KEY=REAL_KEY,
        POLYMM_GAMMA_URL=recorder.url,
        timeout=60,
        **({} if venue_flag else {"POLYMM_VENUE": "polymarket"}),
    )
    return done.returncode, done.stderr.strip().splitlines()


FUNDS_MOVING = [
    ["run", MARKET, "--duration", "5"],
    ["seed", MARKET, "--amount", "50"],
    ["split", MARKET, "--amount", "50"],
    ["merge", MARKET, "--all"],
    ["redeem", MARKET],
    ["liquidate", MARKET],
    ["liquidate", MARKET, "--mode", "passive"],
]


@pytest.mark.parametrize("args", FUNDS_MOVING, ids=[" ".join(a[:1] + a[2:]) for a in FUNDS_MOVING])
def test_a_command_that_moves_funds_without_live_is_refused_and_sends_nothing(
    recorder: Recorder, args: list[str]
) -> None:
    code, err = polymarket(recorder, *args)

    assert code == 2, err
    assert len(err) == 1 and "add --live" in err[0] and "REAL funds on Polymarket" in err[0], err
    assert recorder.requests == []


def test_the_venue_chosen_in_the_environment_is_guarded_the_same_way(recorder: Recorder) -> None:
    """POLYMM_VENUE=polymarket in .env or the environment, no flag on the command line."""
    code, err = polymarket(recorder, "liquidate", MARKET, venue_flag=False)

    assert code == 2 and len(err) == 1 and "add --live" in err[0], err
    assert recorder.requests == []


def test_live_without_yes_and_no_terminal_to_confirm_on_is_refused_and_sends_nothing(
    recorder: Recorder,
) -> None:
    code, err = polymarket(recorder, "seed", MARKET, "--amount", "50", "--live")

    assert code == 2 and len(err) == 1 and err[0].startswith("error: not confirmed: nothing was sent"), err
    assert recorder.requests == []


def test_live_and_yes_do_reach_the_venue(recorder: Recorder) -> None:
    """The control: with consent (and a Polygon RPC) the command talks to the venue (here the
    recorder, which fails it)."""
    code, err = polymarket(
        recorder, "seed", MARKET, "--amount", "50", "--live", "--yes", "--rpc-url", recorder.url
    )

    assert code == 3, err
    assert recorder.requests != []


def test_an_on_chain_command_without_an_rpc_is_refused_before_anything_is_sent(recorder: Recorder) -> None:
    code, err = polymarket(recorder, "seed", MARKET, "--amount", "50", "--live", "--yes")

    assert code == 2 and len(err) == 1 and "--rpc-url" in err[0], err
    assert recorder.requests == []


def test_the_kill_switch_needs_no_live_flag(recorder: Recorder) -> None:
    code, err = polymarket(recorder, "cancel-all")

    assert recorder.requests != [], "cancel-all was refused: the kill switch must always work"
    assert code == 3 and len(err) == 1, err  # the recorder is not a venue: one line, exit 3


def test_the_real_venue_refuses_an_endpoint_that_is_not_polymarkets(recorder: Recorder) -> None:
    done = polymm(
        "markets",
        "list",
        "--venue",
        "polymarket",
        "--exchange-url",
        recorder.url,
        POLYMM_PRIVATE_KEY=REAL_KEY,
    )

    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(err) == 1, err
    assert f"--exchange-url {recorder.url} is not Polymarket's" in err[0]
    assert "--unsafe-polymarket-url" in err[0]
    assert recorder.requests == []


async def test_the_local_venue_signs_with_its_own_key_and_chain_never_the_configured_one(
    tmp_path: Path,
) -> None:
    """POLYMM_PRIVATE_KEY is set, as for real trading; a local demo must not touch it."""
    data_dir().mkdir(parents=True, exist_ok=True)
    settings = load_settings(data_dir=data_dir(), private_key=SecretStr(REAL_KEY), exchange_flow=False)
    local_key, _ = local_private_key(data_dir())

    with local_exchange(settings, flow=False, publish=False) as url:
        async with open_venue(settings, SystemClock(), url) as handle:
            signer = handle.venue.signer_address
            chain = handle.venue.config.chain_id

    assert signer == signing.address_from_private_key(local_key.get_secret_value())
    assert signer != signing.address_from_private_key(REAL_KEY)
    assert chain == signing.LOCAL_CHAIN_ID != signing.POLYGON_CHAIN_ID
