"""`polymm doctor` on the local exchange, as a user runs it (a subprocess): every check passes or is
skipped as not applying (exit 0), `--json` has the documented shape, and a data dir others can write
is named with its fix (exit 2)."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.support import data_dir, polymm

pytestmark = pytest.mark.slow

NAMES = ["data-dir", "key", "rest", "clock", "websocket", "api-creds", "geoblock"]
CHAIN_NAMES = ["rpc", "wallet", "gas", "pusd", "approvals"]


def test_doctor_on_the_local_exchange_passes_with_one_line_per_check() -> None:
    done = polymm("doctor", timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines[:-1]] == NAMES + CHAIN_NAMES
    assert lines[-1] == "all checks pass"
    shown = dict((line.split()[1], line) for line in lines[:-1])
    assert shown["rest"].startswith("✓") and shown["rest"].endswith(" ms)")
    assert shown["geoblock"].startswith("✓ geoblock") and "not blocked" in shown["geoblock"]
    assert shown["gas"].startswith("- gas") and "skipped" in shown["gas"]
    assert "1000 pUSD" in shown["pusd"]  # the play wallet's first funding, as every command does


def test_doctor_json_and_a_world_writable_data_dir() -> None:
    data_dir().mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir(), 0o777)
    done = polymm("doctor", "--json", timeout=90)
    assert done.returncode == 2, done.stderr
    payload = json.loads(done.stdout)
    assert payload["ok"] is False
    assert [c["name"] for c in payload["checks"]] == NAMES + CHAIN_NAMES
    for check in payload["checks"]:
        assert {"name", "ok", "detail", "fix"} <= check.keys()
        assert check["status"] in ("pass", "fail", "skipped")
    failing = [c for c in payload["checks"] if not c["ok"]]
    assert [c["name"] for c in failing] == ["data-dir"]
    assert "open to anyone (mode 777)" in failing[0]["detail"]
    assert failing[0]["fix"] == f"chmod 700 {data_dir()}"

    human = polymm("doctor", timeout=90)
    assert human.returncode == 2
    line = next(x for x in human.stdout.splitlines() if x.startswith("✗ data-dir"))
    assert line.endswith(f"— fix: chmod 700 {data_dir()}")
