"""The exchange's state file: its own secrets, and what survives a save and a restore."""

from __future__ import annotations

import itertools
import json
import os
import random
import stat
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import LocalExchange, OrderRequest
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.state import load, restore, save, snapshot
from polymm_cli.model import OrderType, Side

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


def new_exchange(clock: ManualClock, seed: int = 7) -> LocalExchange:
    return LocalExchange(sample_markets(), clock, seed=seed)


def saved(exchange: LocalExchange) -> dict[str, Any]:
    """The snapshot as it comes back from the JSON file."""
    data: dict[str, Any] = json.loads(json.dumps(snapshot(exchange)))
    return data


# -- API credentials -----------------------------------------------------------------------------------


def test_api_credentials_cannot_be_computed_from_the_public_seed(clock: ManualClock) -> None:
    """Two exchanges started with the same --seed hand the same address different credentials."""
    first = new_exchange(clock, seed=7).create_api_key(ALICE, 0)
    second = new_exchange(clock, seed=7).create_api_key(ALICE, 0)

    assert first.key != second.key
    assert first.secret != second.secret
    assert first.passphrase != second.passphrase


def test_create_and_derive_agree_within_one_state_and_after_a_restore(clock: ManualClock) -> None:
    exchange = new_exchange(clock)
    created = exchange.create_api_key(ALICE, 0)
    assert exchange.derive_api_key(ALICE, 0) == created
    assert exchange.derive_api_key(ALICE.upper().replace("0X", "0x"), 0) == created  # any address case

    restored = restore(saved(exchange), clock)

    assert restored.derive_api_key(ALICE, 0) == created
    assert restored.create_api_key(BOB, 3) == exchange.create_api_key(BOB, 3)  # the secret was kept


def test_a_version_1_state_file_keeps_its_keys_and_gets_a_secret_of_its_own(clock: ManualClock) -> None:
    exchange = new_exchange(clock)
    created = exchange.create_api_key(ALICE, 0)
    old = saved(exchange)
    old["format"] = 1
    del old["api_secret"]

    restored = restore(old, clock)

    assert restored.derive_api_key(ALICE, 0) == created
    assert restored.api_secret != exchange.api_secret and len(restored.api_secret) == 32
    assert saved(restored)["format"] == 2


# -- the file on disk ------------------------------------------------------------------------------------


class DiskLog:
    """Records fsyncs (file or directory) and renames, in order, around the real calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            self.calls.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
            real_fsync(fd)

        def replace(src: str, dst: str) -> None:
            self.calls.append("rename")
            real_replace(src, dst)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)


def test_save_syncs_the_new_file_before_the_rename_and_the_directory_after(
    clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the first fsync a power cut can leave the renamed file empty; without the last, the
    old one back."""
    disk = DiskLog(monkeypatch)

    save(new_exchange(clock), tmp_path / "exchange.json")

    assert disk.calls == ["fsync file", "rename", "fsync dir"]


def test_the_state_file_is_for_its_owner_only(clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "exchange.json"
    path.write_text("{}")
    path.chmod(0o644)  # an older file others could read

    save(new_exchange(clock), path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json"]  # no temp file left behind


class TornWrite:
    """A file handle whose write stores half of the text and then fails, as a full disk does."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def __enter__(self) -> TornWrite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def fileno(self) -> int:
        return int(self.handle.fileno())

    def write(self, text: str) -> int:
        self.handle.write(text[: len(text) // 2])
        self.handle.flush()
        raise OSError(28, "No space left on device")


def test_a_write_that_dies_halfway_leaves_the_previous_state_whole(
    clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "exchange.json"
    exchange = new_exchange(clock)
    save(exchange, path)
    before = path.read_text()
    exchange.create_api_key(ALICE, 0)  # something new to save
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **kw: TornWrite(real_fdopen(*a, **kw)))

    with pytest.raises(OSError, match="No space left"):
        save(exchange, path)

    assert path.read_text() == before
    assert load(path, clock).api_keys.by_key == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json"]


# -- ids -------------------------------------------------------------------------------------------------

FED = sample_markets()[0]
_order_ids = itertools.count(1)


def trade_twice(exchange: LocalExchange) -> list[str]:
    """Two resting asks hit by one BUY, then a heartbeat: the trade ids, then the heartbeat id."""
    exchange.fund(ALICE, Decimal(100))
    exchange.fund(BOB, Decimal(100))
    exchange.split(BOB, FED.condition_id, Decimal(20))
    orders = [
        (BOB, Side.SELL, "0.55", "5", OrderType.GTC),
        (BOB, Side.SELL, "0.56", "5", OrderType.GTC),
        (ALICE, Side.BUY, "0.56", "10", OrderType.FAK),
    ]
    trade_ids: list[str] = []
    for address, side, price, size, order_type in orders:
        result = exchange.submit(
            OrderRequest(
                order_id=f"0x{next(_order_ids):064x}",
                owner=f"key-{address}",
                address=address,
                token_id=FED.yes_token,
                side=side,
                price=Decimal(price),
                size=Decimal(size),
                order_type=order_type,
            )
        )
        trade_ids += result.trade_ids
    return [*trade_ids, exchange.heartbeat(f"key-heartbeat-{next(_order_ids)}", "")]


def test_a_new_state_with_the_same_seed_never_hands_out_the_same_ids(clock: ManualClock) -> None:
    """The bot's ledger is idempotent on trade ids: a replayed id would make it drop a new fill."""
    first = new_exchange(clock, seed=7)
    second = new_exchange(clock, seed=7)

    first_ids, second_ids = trade_twice(first), trade_twice(second)

    assert len(first_ids) == 3 and not set(first_ids) & set(second_ids)
    assert all(uuid.UUID(i).version == 4 for i in first_ids)
    assert first.trades[first_ids[0]].transaction_hash != second.trades[second_ids[0]].transaction_hash


def test_salting_the_ids_draws_nothing_extra_from_the_seeded_rng(clock: ManualClock) -> None:
    """Whatever else comes from the RNG (settlement failures, the synthetic flow's exchange) stays
    bit-for-bit the same for a seed."""
    first = new_exchange(clock, seed=7)
    second = new_exchange(clock, seed=7)
    trade_twice(first)
    trade_twice(second)

    assert first.id_salt != second.id_salt
    assert first.rng.getstate() == second.rng.getstate() == rng_after_two_trades_and_a_heartbeat(seed=7)


def rng_after_two_trades_and_a_heartbeat(seed: int) -> object:
    """What the unsalted exchange drew: per trade a 128-bit id and a settlement draw, then an id."""
    rng = random.Random(seed)
    for _ in range(2):
        rng.getrandbits(128)
        rng.random()
    rng.getrandbits(128)
    return rng.getstate()


def test_a_restored_state_continues_its_own_id_sequence(clock: ManualClock) -> None:
    exchange = new_exchange(clock)
    trade_twice(exchange)
    restored = restore(saved(exchange), clock)

    assert restored.id_salt == exchange.id_salt
    assert trade_twice(restored) == trade_twice(exchange)  # same salt, same RNG state: same next ids
