"""Files that hold secrets or state: private, replaced whole, never half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from polymm_cli.errors import ConfigError
from polymm_cli.files import write_atomic
from polymm_cli.services.venues import LOCAL_KEY_FILE, data_dir, local_private_key
from polymm_cli.settings import load_settings
from tests.e2e.support import polymm


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_is_created_private(tmp_path: Path) -> None:
    made = data_dir(load_settings(data_dir=tmp_path / "fresh" / "polymm"))

    assert mode(made) == 0o700


def test_a_new_local_key_is_private_and_the_same_on_every_read(tmp_path: Path) -> None:
    key, created = local_private_key(tmp_path)
    again, created_again = local_private_key(tmp_path)

    assert created and not created_again
    assert key.get_secret_value() == again.get_secret_value()
    assert mode(tmp_path / LOCAL_KEY_FILE) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [LOCAL_KEY_FILE]  # no temp file left behind


def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    local_private_key(tmp_path)
    path = tmp_path / LOCAL_KEY_FILE
    os.chmod(path, 0o644)

    with pytest.raises(ConfigError) as refused:
        local_private_key(tmp_path)

    assert str(refused.value) == f"{path} is readable by others (mode 644): run `chmod 600 {path}`"


def test_an_exclusive_write_never_replaces_what_another_process_created(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_atomic(path, "first\n", exclusive=True)

    with pytest.raises(FileExistsError):
        write_atomic(path, "second\n", exclusive=True)

    assert path.read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_a_replacement_is_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    os.chmod(path, 0o644)

    write_atomic(path, "new")

    assert path.read_text() == "new" and mode(path) == 0o600


def test_a_command_meeting_an_exposed_key_says_how_to_fix_it_in_one_line() -> None:
    directory = Path(os.environ["POLYMM_DATA_DIR"])
    directory.mkdir(parents=True)
    local_private_key(directory)
    os.chmod(directory / LOCAL_KEY_FILE, 0o640)

    done = polymm("halt")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {directory / LOCAL_KEY_FILE} is readable by others (mode 640): "
        f"run `chmod 600 {directory / LOCAL_KEY_FILE}`"
    ]


def test_an_empty_data_dir_setting_means_the_default_never_the_current_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`POLYMM_DATA_DIR= make run` once wrote a wallet key and a ledger into the repository."""
    monkeypatch.setenv("POLYMM_DATA_DIR", "")

    assert load_settings().data_dir != Path(".")
    assert load_settings().data_dir.is_absolute()
