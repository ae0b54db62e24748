"""Finding, reading and atomically writing files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from block_config import BlockConfigError
from block_config._io import (
    atomic_write,
    dump_config_json,
    read_config_json,
    resolve_config_path,
)


def test_a_folder_resolves_to_its_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert resolve_config_path(tmp_path) == tmp_path / "config.json"
    assert resolve_config_path(str(tmp_path / "config.json")) == tmp_path / "config.json"


def test_missing_paths_are_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"holds no config\.json"):
        resolve_config_path(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        resolve_config_path(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "got an array"),
        ('"x"', "got a string"),
        ("true", "got a boolean"),
        ("null", "got null"),
        ("3", "got a number"),
        ("{,}", "invalid JSON"),
        ('{"a": NaN}', "invalid JSON"),
    ],
)
def test_only_json_objects_are_configs(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(BlockConfigError, match=message):
        read_config_json(path)


def test_reading_gives_the_path_and_the_object(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"b": 1, "a": [2]}')
    path, config = read_config_json(tmp_path)
    assert path == tmp_path / "config.json"
    assert config == {"b": 1, "a": [2]}
    assert list(config) == ["b", "a"]


def test_dump_writes_as_transformers_does_and_keeps_key_order() -> None:
    text = dump_config_json({"z": 1e-05, "a": {"x": None}, "u": "é"})
    assert text == '{\n  "z": 1e-05,\n  "a": {\n    "x": null\n  },\n  "u": "\\u00e9"\n}\n'
    with pytest.raises(ValueError, match="Out of range float values"):
        dump_config_json({"x": float("nan")})


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    assert atomic_write(path, "first") == path
    assert path.read_text() == "first"
    atomic_write(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_write_keeps_an_existing_mode_and_uses_the_umask_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    os.chmod(path, 0o600)
    atomic_write(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    old_umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "fresh.json", "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "fresh.json").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"old": True}))

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "{}")
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_atomic_write_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "config.json"
    assert atomic_write(target, "{}") == target
    assert target.read_text() == "{}"
    assert [p.name for p in target.parent.iterdir()] == ["config.json"]


def test_atomic_write_errors_name_the_target(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"cannot write .*file/config\.json") as error:
        atomic_write(blocker / "config.json", "{}")
    assert ".tmp" not in str(error.value)
