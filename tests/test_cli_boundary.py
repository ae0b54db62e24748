"""The command's one error boundary: exit codes that cannot lie, no traceback on any input,
locale or file system, and outputs that are created once and never replace a special file.

Most tests run a real process (``python -m block_config``) so that nothing is caught for it
in-process: with its stdout or stderr a closed pipe or a full device, under each locale this
machine has (C, C.UTF-8, en_US.UTF-8, a Latin-1 locale; the missing ones are skipped), with
``PYTHONIOENCODING`` unset so that the locale alone decides the encoding.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from block_config._cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main

_ATTENTION = {"num_key_value_heads": 8}
CONFIG: dict[str, Any] = {
    "hidden_size": 64,
    "num_attention_heads": 8,
    "vocab_size": 100,
    "block_configs": [
        {"attention": _ATTENTION, "ffn": {"intermediate_size": 256, "sparsify": ["中文"]}}
    ],
}
OTHER: dict[str, Any] = {
    **CONFIG,
    "block_configs": [
        {"attention": _ATTENTION, "ffn": {"intermediate_size": 512, "sparsify": ["中"]}}
    ],
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    env.update(extra)
    return env


def _run(
    argv: list[str], cwd: Path, *, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    options: dict[str, Any] = {"capture_output": True, **kwargs}
    return subprocess.run(
        [sys.executable, "-m", "block_config", *argv],
        cwd=cwd,
        env=env or _env(),
        check=False,
        timeout=120,
        **options,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.json").write_text(json.dumps(CONFIG))
    (tmp_path / "other.json").write_text(json.dumps(OTHER))
    (tmp_path / "bad.json").write_text('{"hidden_size": 64}')
    return tmp_path


# --------------------------------------------------------------------------- exit codes


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize("command", [["validate", "bad.json"], ["show", "bad.json"]])
def test_invalid_input_with_a_closed_pipe_never_exits_0(command: list[str], files: Path) -> None:
    # validate bad.json 2>&1 | head -0 printed 0: the failure to print the error was success.
    pipe = _closed_pipe()
    try:
        result = _run(command, files, capture_output=False, stdout=pipe, stderr=pipe)
    finally:
        os.close(pipe)
    assert result.returncode == EXIT_INVALID


def test_valid_output_to_a_closed_pipe_stays_quiet(files: Path) -> None:
    pipe = _closed_pipe()
    try:
        result = _run(
            ["show", "good.json"], files, capture_output=False, stdout=pipe, stderr=subprocess.PIPE
        )
    finally:
        os.close(pipe)
    assert result.returncode == EXIT_OK
    assert result.stderr == b""


full_device = pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")


@full_device
@pytest.mark.parametrize(
    ("command", "code"),
    [(["show", "good.json"], EXIT_INVALID), (["validate", "bad.json"], EXIT_INVALID)],
)
def test_a_full_device_as_output_is_a_located_error(
    command: list[str], code: int, files: Path
) -> None:
    with open("/dev/full", "wb") as full:
        result = _run(command, files, capture_output=False, stdout=full, stderr=subprocess.PIPE)
    err = result.stderr.decode()
    assert result.returncode == code
    assert "Traceback" not in err
    if command[0] == "show":
        assert err == "block-config: error: <stdout>: no space left on device\n"


def test_an_output_name_past_the_name_limit_is_a_located_error(files: Path) -> None:
    name = "x" * 300 + ".json"
    result = _run(["convert", "good.json", "--to", "native", "-o", name], files)
    err = result.stderr.decode()
    assert result.returncode == EXIT_INVALID
    assert "Traceback" not in err
    assert err.endswith(f"{name}: file name too long\n")


def test_a_count_past_64_bits_is_a_usage_error(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["show", str(files / "good.json"), "--batch-size", "9" * 400, "--seq-len", "1"])
    assert code == EXIT_USAGE
    assert "expected a positive integer up to" in capsys.readouterr().err


# --------------------------------------------------------------------------- locales


def _locales() -> set[str]:
    tool = shutil.which("locale")
    if tool is None:
        return set()
    listed = subprocess.run([tool, "-a"], capture_output=True, check=False, timeout=30)
    return {_norm(name) for name in listed.stdout.decode("ascii", "replace").split()}


def _norm(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


_AVAILABLE = _locales()
_LATIN1 = ["en_US.ISO-8859-1", "de_DE.ISO-8859-1", "fr_FR.ISO-8859-1", "en_GB.ISO-8859-1"]
LOCALES = [
    "C",
    "C.UTF-8",
    "en_US.UTF-8",
    next((name for name in _LATIN1 if _norm(name) in _AVAILABLE), _LATIN1[0]),
]


def _have(name: str) -> bool:
    if name == "C":
        return True
    return _norm(name) in _AVAILABLE


@pytest.mark.parametrize("name", LOCALES)
def test_no_traceback_under_any_locale(name: str, files: Path) -> None:
    if not _have(name):
        pytest.skip(f"the {name} locale is not installed here (locale -a)")
    env = _env(LC_ALL=name, LANG=name)
    undecodable = os.fsdecode(b"\xff-conf.json")
    (files / undecodable).write_text(json.dumps(CONFIG))
    cases = [
        (["show", "good.json"], EXIT_OK),
        (["show", "--json", "good.json"], EXIT_OK),
        (["diff", "good.json", "other.json"], EXIT_OK),
        (["diff", "--json", "good.json", "other.json"], EXIT_OK),
        (["validate", undecodable, "bad.json"], EXIT_INVALID),
        (["convert", undecodable, "--to", "native", "-o", os.fsdecode(b"\xfe-out.json")], EXIT_OK),
        (["show", "中文.json"], EXIT_INVALID),
    ]
    for argv, code in cases:
        result = _run(argv, files, env=env)
        err = result.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err, (argv, err)
        assert result.returncode == code, (argv, err)
    assert (files / os.fsdecode(b"\xfe-out.json")).exists()


def test_text_a_stream_cannot_encode_is_escaped(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a Latin-1 locale gives stdout, whether or not this machine has one.
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="latin-1", errors="strict", write_through=True)
    monkeypatch.setattr(sys, "stdout", stream)
    code = main(["diff", str(files / "good.json"), str(files / "other.json")])
    assert code == EXIT_OK
    text = raw.getvalue().decode("latin-1")
    assert '["\\u4e2d\\u6587"] -> ["\\u4e2d"]' in text
    assert stream.errors == "strict"  # put back as it was
    raw.seek(0)
    raw.truncate()
    assert main(["diff", "--json", str(files / "good.json"), str(files / "other.json")]) == 0
    document = json.loads(raw.getvalue().decode("latin-1"))  # the escapes are JSON's own
    assert "中文" in json.dumps(document, ensure_ascii=False)


# --------------------------------------------------------------------------- outputs


def test_an_empty_output_name_is_refused(files: Path) -> None:
    result = _run(["convert", "good.json", "--to", "native", "-o", ""], files)
    assert result.returncode == EXIT_USAGE
    assert not (files / "config.json").exists()


posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


@posix_only
def test_a_dangling_symlink_is_not_replaced_without_force(files: Path) -> None:
    link = files / "out.json"
    link.symlink_to("nowhere.json")
    result = _run(["convert", "good.json", "--to", "native", "-o", "out.json"], files)
    assert result.returncode == EXIT_INVALID
    assert "exists; refusing to overwrite it (use --force)" in result.stderr.decode()
    assert link.is_symlink()
    assert not (files / "nowhere.json").exists()


@posix_only
def test_force_never_replaces_a_fifo(files: Path) -> None:
    os.mkfifo(files / "out.json")
    result = _run(["convert", "good.json", "--to", "native", "-o", "out.json", "--force"], files)
    err = result.stderr.decode()
    assert result.returncode == EXIT_INVALID
    assert "not a regular file" in err
    assert stat.S_ISFIFO(os.lstat(files / "out.json").st_mode)


def test_concurrent_converts_create_a_new_output_once(files: Path) -> None:
    writers = 4
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "block_config",
                "convert",
                "good.json",
                "--to",
                "native",
                "-o",
                "out.json",
            ],
            cwd=files,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(writers)
    ]
    codes = []
    for process in processes:
        process.communicate(timeout=120)
        codes.append(process.returncode)
    assert sorted(codes) == [EXIT_OK] + [EXIT_INVALID] * (writers - 1)
    assert json.loads((files / "out.json").read_text())["hidden_size"] == 64
    assert sorted(p.name for p in files.iterdir() if p.name.startswith(".")) == []
