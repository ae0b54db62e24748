"""Files: finding a model's ``config.json``, reading it, and writing files atomically."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from block_config._errors import BlockConfigError
from block_config._json import MAX_JSON_SIZE, parse_json

__all__ = [
    "CONFIG_FILENAME",
    "atomic_write",
    "dump_config_json",
    "read_config_json",
    "read_limited",
    "resolve_config_path",
]

#: The file name Hugging Face gives a model's configuration inside a model folder.
CONFIG_FILENAME = "config.json"
# What read_limited asks for at a time past a file's stated size (pipes and devices state 0).
_READ_CHUNK = 1 << 20


def resolve_config_path(path: str | os.PathLike[str]) -> Path:
    """The ``config.json`` that ``path`` names: the file itself, or the one inside a folder.

    Raises :class:`FileNotFoundError` when there is no such file.
    """
    resolved = Path(path)
    if resolved.is_dir():
        inner = resolved / CONFIG_FILENAME
        if not inner.is_file():
            raise FileNotFoundError(f"{resolved}: the folder holds no {CONFIG_FILENAME}")
        return inner
    if not resolved.exists():
        raise FileNotFoundError(f"{resolved}: no such file or folder")
    return resolved


def read_config_json(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """Read a ``config.json`` (or the one inside a model folder): its path and its object.

    Invalid JSON, or JSON that is not an object, is a :class:`BlockConfigError`.
    """
    resolved = resolve_config_path(path)
    data = parse_json(read_limited(resolved))
    if not isinstance(data, dict):
        raise BlockConfigError.at((), f"a config.json holds a JSON object, got {_kind(data)}")
    return resolved, data


def read_limited(path: Path) -> bytes:
    """The bytes of a file of at most :data:`MAX_JSON_SIZE` bytes; a larger one is refused.

    A bounded read: a huge file, or a device that never ends, is not swallowed. The buffer
    grows with what is read (a file's own size first), never to the limit at once.
    """
    with path.open("rb", buffering=0) as handle:
        try:
            hint = os.fstat(handle.fileno()).st_size
        except OSError:  # pragma: no cover - fstat of an open file does not fail on POSIX
            hint = 0
        data = bytearray()
        want = min(max(hint + 1, _READ_CHUNK), MAX_JSON_SIZE + 1)
        while len(data) <= MAX_JSON_SIZE:
            chunk = handle.read(min(want, MAX_JSON_SIZE + 1 - len(data)))
            if not chunk:
                break
            data += chunk
            want = _READ_CHUNK
    if len(data) > MAX_JSON_SIZE:
        raise BlockConfigError.at((), f"{path} is larger than the limit of {MAX_JSON_SIZE} bytes")
    return bytes(data)


def dump_config_json(mapping: dict[str, Any]) -> str:
    """The text of a ``config.json`` as ``transformers`` writes it: 2-space indent, final newline.

    Keys keep their order (the file's own order survives a load and save). Text larger
    than :data:`MAX_JSON_SIZE`, which could not be read back, is a :class:`BlockConfigError`.
    """
    text = json.dumps(mapping, indent=2, allow_nan=False) + "\n"
    if len(text) > MAX_JSON_SIZE:  # ASCII: json.dumps escapes everything else
        raise BlockConfigError.at(
            (),
            f"the config.json would be {len(text)} bytes, more than the limit of "
            f"{MAX_JSON_SIZE} that reading it back allows",
        )
    return text


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, and the
    temporary file then replaces ``path`` (``os.replace``, atomic on POSIX and Windows). An
    existing file's permission bits are kept; a new file gets the usual ``0o666 & ~umask``.
    Missing parent folders are created. On any failure the temporary file is removed and
    ``path`` is left as it was.
    Text is written as UTF-8. Returns the path written.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    folder = target.parent
    temp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            mode: int | None = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = None
        fd = os.open(temp, flags, 0o666)
    except OSError as error:
        # Name the file the caller asked for, not the temporary one.
        raise type(error)(error.errno, f"cannot write {target}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return target


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; folders cannot be opened this way on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
