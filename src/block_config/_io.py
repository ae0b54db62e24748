"""Files: finding a model's ``config.json``, reading it, and writing files atomically."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, BinaryIO

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


def atomic_write(
    path: str | os.PathLike[str], data: str | bytes, *, overwrite: bool = True
) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder (a short name of its own, so that
    any target name the file system allows can be written), are flushed and fsynced, and the
    temporary file then takes the place of ``path``: ``os.replace`` (atomic on POSIX and
    Windows) when ``overwrite``, else a hard link, which fails if ``path`` exists (two writers
    cannot both create it; :class:`FileExistsError`). An existing file's permission bits are
    kept; a new file gets the usual ``0o666 & ~umask``. Missing parent folders are created.

    Only a regular file is ever replaced: a symlink is followed and the file it points to
    written (the link stays), and a FIFO, device, socket or folder is refused
    (:class:`OSError`) rather than replaced. On any failure, a ``KeyboardInterrupt``
    included, the temporary file is removed and ``path`` is left as it was.
    Text is written as UTF-8. Returns the path written (the one given).
    """
    if not os.fspath(path):  # Path("") is the current folder: refuse, as open("") does
        raise FileNotFoundError(errno.ENOENT, "cannot write '': no file name given")
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    real, mode = _writable(target, overwrite)
    folder = real.parent
    temp = folder / f".bc-{secrets.token_hex(6)}.tmp"
    created = done = False
    handle: BinaryIO | None = None
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            created = True  # from here on the temporary file may exist: removed unless done
            # "x": created here or not at all. One call gives the file object, so that no
            # bare descriptor is ever left to close.
            handle = open(temp, "xb")  # noqa: SIM115 - closed below and in finally
        except FileExistsError:  # not ours: a name drawn twice, or a file put in its place
            created = False
            raise
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        if mode is not None:
            os.chmod(temp, mode)
        if overwrite:
            os.replace(temp, real)
        else:
            _create(temp, real)
        done = True
    except OSError as error:
        if error.errno is None or error.strerror is None:
            raise
        # Name the file the caller asked for, not the temporary one.
        raise type(error)(error.errno, f"cannot write {target}: {error.strerror}") from None
    finally:
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
        if created and not done:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    _fsync_folder(folder)
    return target


def _writable(target: Path, overwrite: bool) -> tuple[Path, int | None]:
    """The path to write (a symlink's target) and the mode to keep; refuse all but files."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target, None
    except OSError as error:
        raise type(error)(error.errno, f"cannot write {target}: {error.strerror}") from None
    if not overwrite:
        raise FileExistsError(errno.EEXIST, f"cannot write {target}: it exists")
    real = target
    if stat.S_ISLNK(info.st_mode):
        real = Path(os.path.realpath(target))
        try:
            info = os.stat(real)
        except FileNotFoundError:  # a dangling link: its target is created
            return real, None
        except OSError as error:
            raise type(error)(error.errno, f"cannot write {target}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise OSError(
            errno.EINVAL,
            f"cannot write {target}: it is {_file_kind(info.st_mode)}, not a regular file; "
            "refusing to replace it",
        )
    return real, stat.S_IMODE(info.st_mode)


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _create(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` only if ``target`` does not exist, then drop ``temp``.

    A hard link fails if the name exists, atomically. Where the file system has no hard links
    the name is claimed with an exclusive create, then filled by an atomic replace.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            os.replace(temp, target)
        except BaseException:
            os.unlink(target)  # the empty file that claimed the name
            raise
        return
    os.unlink(temp)


# What os.link fails with where a file system has no hard links.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


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
