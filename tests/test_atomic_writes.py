"""Nothing lost on a failed write: the old file stays whole and no temporary file is left.

Each test breaks the write at one step (the bytes half written, fsync, chmod, the rename,
an interrupt) and checks the folder afterwards.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import re
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from block_config import BlockConfigError, ModelArchitecture
from block_config import _io as _io_module
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
    def half_writer(*args: Any, **kwargs: Any) -> _HalfWriter:
        return _HalfWriter(open(*args, **kwargs))

    monkeypatch.setattr(_io_module, "open", half_writer, raising=False)


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


# --------------------------------------------------------------------------- names and kinds


@pytest.mark.parametrize("length", [250, 255])
def test_any_legal_name_can_be_written(length: int, tmp_path: Path) -> None:
    # The temporary name is short and its own: a prefix and suffix on the target's name
    # went past the 255-byte limit.
    target = tmp_path / ("n" * (length - 5) + ".json")
    assert len(target.name.encode()) == length
    assert atomic_write(target, "{}") == target
    assert _files(tmp_path) == [target.name]


def test_an_empty_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no file name"):
        atomic_write("", "{}")
    with pytest.raises(FileNotFoundError, match="no file name"):
        ModelArchitecture.from_mapping(CONFIG).save("")
    assert _files(tmp_path) == []


posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


@posix_only
def test_a_fifo_is_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="a named pipe, not a regular file"):
        atomic_write(fifo, "{}")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _files(tmp_path) == ["out.json"]


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null here")
def test_a_device_is_never_replaced() -> None:
    # As root, replacing /dev/null with a regular file would break the whole system.
    with pytest.raises(OSError, match="a character device, not a regular file"):
        atomic_write("/dev/null", "{}")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_folder_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(OSError, match="a folder, not a regular file"):
        atomic_write(tmp_path / "sub", "{}")
    assert (tmp_path / "sub").is_dir()


@posix_only
def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real.name)
    atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert _files(tmp_path) == ["link.json", "real.json"]


@posix_only
def test_a_dangling_symlink_is_not_created_through_without_overwrite(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("missing.json")
    with pytest.raises(FileExistsError):
        atomic_write(link, "new", overwrite=False)
    assert _files(tmp_path) == ["link.json"]
    atomic_write(link, "new")  # overwriting: the file it names is created
    assert link.is_symlink()
    assert (tmp_path / "missing.json").read_text() == "new"


# --------------------------------------------------------------------------- exclusive creation


def test_without_overwrite_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("mine")
    with pytest.raises(FileExistsError, match="cannot write"):
        atomic_write(target, "theirs", overwrite=False)
    assert target.read_text() == "mine"
    assert _files(tmp_path) == ["config.json"]


@pytest.mark.parametrize("links", [True, False], ids=["hard links", "no hard links"])
def test_two_writers_cannot_both_create_the_same_file(
    links: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not links:
        monkeypatch.setattr(os, "link", _fail(OSError(errno.EPERM, "Operation not permitted")))
    target = tmp_path / "config.json"
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: dict[int, str] = {}

    def write(number: int) -> None:
        barrier.wait()
        try:
            atomic_write(target, f"writer {number}", overwrite=False)
        except FileExistsError:
            outcomes[number] = "refused"
        else:
            outcomes[number] = "created"

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, outcome in outcomes.items() if outcome == "created"]
    assert len(outcomes) == writers
    assert len(winners) == 1
    assert target.read_text() == f"writer {winners[0]}"
    assert _files(tmp_path) == ["config.json"]


# --------------------------------------------------------------------------- interrupts


def _interrupt_at_line(step: int) -> Callable[..., Any]:
    """A trace function raising KeyboardInterrupt at the ``step``-th line run in _io.py."""
    seen = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal seen
        if event == "line":
            seen += 1
            if seen == step:
                raise KeyboardInterrupt
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename == IO_FILE:
            return local
        return None

    return tracer


IO_FILE = str(_io_module.__file__)


@pytest.mark.parametrize("overwrite", [True, False])
@pytest.mark.parametrize("existing", [True, False])
def test_an_interrupt_at_any_line_leaves_no_temporary_file(
    overwrite: bool, existing: bool, tmp_path: Path
) -> None:
    target = tmp_path / "config.json"
    step = 0
    while True:
        step += 1
        if existing:
            target.write_text("old")
        elif target.exists():
            target.unlink()
        interrupted = False
        sys.settrace(_interrupt_at_line(step))
        try:
            atomic_write(target, "new", overwrite=overwrite or existing)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sys.settrace(None)
        names = _files(tmp_path)
        assert names in ([], ["config.json"]), (step, names)
        if names:
            assert target.read_text() in ("old", "new"), step
        if existing:
            assert names == ["config.json"], step
        if not interrupted:
            assert target.read_text() == "new"
            break
    assert step > 10  # the walk did reach the lines of the write


SYSCALLS = ["open", "fsync", "chmod", "replace", "link", "unlink", "mkdir"]


@pytest.mark.parametrize("call", SYSCALLS)
@pytest.mark.parametrize("existing", [True, False])
def test_an_interrupt_right_after_any_system_call_leaves_no_temporary_file(
    call: str, existing: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config.json"
    if existing:
        target.write_text("old")
        target.chmod(0o640)
    module: Any = builtins if call == "open" else os
    real = getattr(module, call)

    def then_interrupt(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if call == "open":
            result.close()  # as the garbage collector would close a file object lost
        raise KeyboardInterrupt

    if call == "open":
        monkeypatch.setattr(_io_module, "open", then_interrupt, raising=False)
    else:
        monkeypatch.setattr(os, call, then_interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        atomic_write(target, "new", overwrite=existing)
    monkeypatch.undo()
    names = _files(tmp_path)
    assert names in ([], ["config.json"]), names
    if names:
        assert target.read_text() in ("old", "new")
