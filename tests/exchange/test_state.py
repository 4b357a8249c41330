"""The exchange's state file: its own secrets, and what survives a save and a restore."""

from __future__ import annotations

import json
from typing import Any

from polymm_cli.clock import ManualClock
from polymm_cli.exchange.core import LocalExchange
from polymm_cli.exchange.markets import sample_markets
from polymm_cli.exchange.state import restore, snapshot

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
