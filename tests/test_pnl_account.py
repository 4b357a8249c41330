"""Which account `polymm pnl` shows: the configured venue and the wallet that trades there, found
without the network (so an unreachable venue never changes whose P&L is shown)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from polymm_cli import signing
from polymm_cli.errors import UsageError
from polymm_cli.files import write_atomic
from polymm_cli.model import Account
from polymm_cli.services.reporting import current_account
from polymm_cli.services.venues import LOCAL_KEY_FILE
from polymm_cli.settings import load_settings
from tests.conftest import throwaway_key

KEY = throwaway_key("pnl-account")
KEY_WALLET = signing.address_from_private_key(KEY).lower()
PROXY = "0xAbCdEf0000000000000000000000000000000009"  # a Polymarket proxy wallet (the funder)


def test_the_local_venue_shows_the_data_dirs_wallet(tmp_path: Path) -> None:
    write_atomic(tmp_path / LOCAL_KEY_FILE, KEY + "\n")  # 0600, as polymm keeps it

    account = current_account(load_settings(data_dir=tmp_path))

    assert account == Account("local", KEY_WALLET)


def test_the_local_venue_shows_its_own_wallet_whatever_key_and_funder_are_configured(
    tmp_path: Path,
) -> None:
    """The local venue never uses POLYMM_PRIVATE_KEY (nor the funder): its orders, and its ledger
    rows, are the data dir's own wallet's."""
    local = throwaway_key("pnl-account-local")
    write_atomic(tmp_path / LOCAL_KEY_FILE, local + "\n")  # 0600, as polymm keeps it
    settings = load_settings(
        data_dir=tmp_path, private_key=SecretStr(KEY), funder=PROXY, signature_type=2, venue="local"
    )

    assert current_account(settings) == Account("local", signing.address_from_private_key(local).lower())


def test_polymarket_with_a_proxy_wallet_shows_the_funder(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, private_key=SecretStr(KEY), funder=PROXY, signature_type=2, venue="polymarket"
    )

    assert current_account(settings) == Account("polymarket", PROXY.lower())


def test_polymarket_without_a_key_names_no_wallet_rather_than_the_local_one(tmp_path: Path) -> None:
    write_atomic(tmp_path / LOCAL_KEY_FILE, KEY + "\n")  # 0600, as polymm keeps it

    with pytest.raises(UsageError, match="POLYMM_PRIVATE_KEY"):
        current_account(load_settings(data_dir=tmp_path, venue="polymarket"))
