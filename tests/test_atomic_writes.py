"""Nothing lost on a failed write: the old file stays whole and no temporary file is left.

Each test breaks the write at one step (the bytes half written, fsync, chmod, the rename,
an interrupt) and checks the folder afterwards.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from block_config import BlockConfigError, ModelArchitecture
from block_config._io import atomic_write

SRC = Path(__file__).parent.parent / "src" / "block_config"

CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_attention_heads": 8,
    "vocab_size": 100,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
}


class _HalfWriter:
    """A file object that writes half of what it is given, then fails as a full disk does."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _break_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _HalfWriter(real_fdopen(fd, *a, **k)))


def _fail(error: BaseException) -> Callable[..., Any]:
    def fail(*args: object, **kwargs: object) -> Any:
        raise error

    return fail


BREAKS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "write": _break_write,
    "fsync": lambda mp: mp.setattr(os, "fsync", _fail(OSError(errno.EIO, "I/O error"))),
    "chmod": lambda mp: mp.setattr(os, "chmod", _fail(PermissionError(errno.EPERM, "no"))),
    "replace": lambda mp: mp.setattr(os, "replace", _fail(OSError(errno.EXDEV, "cross-device"))),
    "interrupt": lambda mp: mp.setattr(os, "fsync", _fail(KeyboardInterrupt())),
}


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("step", BREAKS)
def test_atomic_write_failing_part_way_keeps_the_original(
    step: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.json"
    target.write_bytes(b'{"original": true}\n')
    target.chmod(0o640)  # an existing mode is kept, so chmod runs
    with monkeypatch.context() as patch:
        BREAKS[step](patch)
        with pytest.raises((OSError, KeyboardInterrupt)):
            atomic_write(target, "x" * 100_000)
    assert target.read_bytes() == b'{"original": true}\n'
    assert _files(tmp_path) == ["config.json"]


@pytest.mark.parametrize("step", BREAKS)
def test_atomic_write_failing_part_way_creates_nothing(
    step: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        BREAKS[step](patch)
        if step == "chmod":  # chmod only runs for an existing file
            patch.setattr(os, "replace", _fail(OSError(errno.EIO, "I/O error")))
        with pytest.raises((OSError, KeyboardInterrupt)):
            atomic_write(tmp_path / "new.json", b"data")
    assert _files(tmp_path) == []


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize("step", BREAKS)
def test_model_save_failing_part_way_keeps_the_original(
    step: str, suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / f"config{suffix}"
    ModelArchitecture.from_mapping(CONFIG).save(target)
    before = target.read_bytes()
    first = ModelArchitecture.load(target)
    wider = ModelArchitecture.from_mapping({**CONFIG, "intermediate_size": 256})
    with monkeypatch.context() as patch:
        BREAKS[step](patch)
        with pytest.raises((OSError, KeyboardInterrupt)):
            wider.save(target)
    assert target.read_bytes() == before
    assert _files(tmp_path) == [target.name]
    assert ModelArchitecture.load(target) == first
    # and once nothing is broken, the same save goes through
    wider.save(target)
    assert (
        ModelArchitecture.load(target).block_configs == wider.block_configs != first.block_configs
    )


def test_a_save_refused_before_writing_leaves_the_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    arch = ModelArchitecture.from_mapping({**CONFIG, "block_configs": [{"ffn": {"moe": {}}}] * 2})
    target.write_bytes(b"original")
    with pytest.raises(BlockConfigError):
        arch.save(target, dialect="legacy")  # the legacy dialect has no MoE
    assert target.read_bytes() == b"original"
    assert _files(tmp_path) == ["config.json"]


# Writing to a path in any other way than through atomic_write would bypass all of the above.
_DIRECT_WRITE = re.compile(
    r"\.write_text\(|\.write_bytes\(|open\([^)]*['\"][wax]b?\+?['\"]|os\.open\([^)]*O_CREAT"
    r"|\.savefig\((?!buffer\b)"
)


def test_every_file_write_in_the_package_goes_through_atomic_write() -> None:
    offenders = []
    for path in sorted(SRC.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _DIRECT_WRITE.search(line) and path.name != "_io.py":
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
    assert _DIRECT_WRITE.search('path.write_text("x")')
    assert _DIRECT_WRITE.search('with open(path, "w") as f:')
    assert _DIRECT_WRITE.search("figure.savefig(path, dpi=110)")
    assert not _DIRECT_WRITE.search("os.open(os.devnull, os.O_WRONLY)")
