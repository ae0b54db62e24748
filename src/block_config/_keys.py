"""Strict reading of model-level ``config.json`` keys, every problem collected with its path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from block_config._converter import MAX_INT
from block_config._errors import Path, Problem, describe, show_int

__all__ = ["ConfigReader", "check_int", "is_count", "recorded_keys"]

#: The keys looked up while :func:`recorded_keys` is active, each with the value the last
#: look-up gave (a default where the key was absent); None otherwise.
_LOOKED_UP: ContextVar[dict[str, Any] | None] = ContextVar("_LOOKED_UP", default=None)


class _Recording(dict[str, Any]):
    """A config object that notes each key looked up in it (copying it notes nothing)."""

    def __init__(self, config: Mapping[str, Any], log: dict[str, Any]) -> None:
        super().__init__(config)
        self.log = log

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        self.log[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = super().get(key, default)
        self.log[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if isinstance(key, str):
            self.log.setdefault(key, super().get(key))
        return found


@contextmanager
def recorded_keys(
    config: Mapping[str, Any],
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """``config`` as a reader should be given it, and the log that collects, until the block
    ends, every key any reader looks up (in it, in a copy a :class:`ConfigReader` reads, or
    in a layer's copy with its overrides) with the value it got: what a family's reading of
    it depends on."""
    log: dict[str, Any] = {}
    token = _LOOKED_UP.set(log)
    try:
        yield _Recording(config, log), log
    finally:
        _LOOKED_UP.reset(token)


def _note_default(key: str, value: Any) -> None:
    """Note that a getter gave ``value`` for ``key``, absent, while keys are recorded."""
    log = _LOOKED_UP.get()
    if log is not None:
        log[key] = value


def is_count(value: Any, minimum: int = 1) -> bool:
    """Whether ``value`` is a real int (not a bool) from ``minimum`` to ``MAX_INT``."""
    return type(value) is int and minimum <= value <= MAX_INT


def check_int(value: Any, path: Path, problems: list[Problem], minimum: int = 1) -> bool:
    """Record a problem unless ``value`` is an int from ``minimum`` to ``MAX_INT``."""
    if type(value) is not int:
        problems.append(Problem(path, f"expected int, got {describe(value)}"))
        return False
    if not minimum <= value <= MAX_INT:
        problems.append(
            Problem(path, f"expected int from {minimum} to {MAX_INT}, got {show_int(value)}")
        )
        return False
    return True


class ConfigReader:
    """Reads keys of one ``config.json`` object strictly: ``"8"`` is not 8, ``1`` is not True.

    A getter returns the value, or its default when the key is absent (or null, for optional
    keys), or None after recording a problem in :attr:`problems`.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        log = _LOOKED_UP.get()
        self.config = config if log is None else _Recording(config, log)
        self.problems: list[Problem] = []

    def integer(
        self, key: str, *, required: bool = False, default: int | None = None, minimum: int = 1
    ) -> Any:
        """An int from ``minimum`` up; a missing required key is a problem."""
        if key not in self.config:
            if required:
                self.problems.append(Problem((key,), "missing required key"))
            _note_default(key, default)
            return default
        value = self.config[key]
        if value is None and not required:
            return default
        return value if check_int(value, (key,), self.problems, minimum) else None

    def nullable(self, key: str, *, absent: int | None, minimum: int = 1) -> Any:
        """An int from ``minimum`` up, None when the key is null (a switch turned off), or
        ``absent`` when it is missing (the family's default)."""
        if key not in self.config:
            _note_default(key, absent)
            return absent
        return self.integer(key, default=None, minimum=minimum)

    def boolean(self, key: str, default: bool = False) -> bool:
        """A bool; anything else (``"true"``, ``1``, null) is a problem."""
        value = self.config.get(key, default)
        if value is True or value is False:
            return value
        self.problems.append(Problem((key,), f"expected bool, got {describe(value)}"))
        return default

    def string(self, key: str) -> str | None:
        """A str or null."""
        value = self.config.get(key)
        if value is None or type(value) is str:
            return value
        self.problems.append(Problem((key,), f"expected str or null, got {describe(value)}"))
        return None

    def name_list(
        self, key: str, layers: int, allowed: tuple[str, ...], *, cut: bool = False
    ) -> list[str] | None:
        """One of ``allowed`` per layer (``cut``: a longer list is cut to ``layers``, as some
        configuration classes do); None when absent or null, or after recording a problem."""
        value = self.config.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.problems.append(Problem((key,), f"expected a list of str, got {describe(value)}"))
            return None
        before = len(self.problems)
        if len(value) < layers or (len(value) > layers and not cut):
            self.problems.append(
                Problem((key,), f"has {len(value)} items but num_hidden_layers is {layers}")
            )
        for index, item in enumerate(value):
            if type(item) is not str or item not in allowed:
                self.problems.append(
                    Problem(
                        (key, index), f"expected one of {', '.join(allowed)}, got {describe(item)}"
                    )
                )
        return [str(item) for item in value[:layers]] if len(self.problems) == before else None

    def int_list(self, key: str, *, minimum: int = 0) -> list[int] | None:
        """A list of ints from ``minimum`` up (None when absent or null)."""
        value = self.config.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.problems.append(Problem((key,), f"expected a list of int, got {describe(value)}"))
            return None
        before = len(self.problems)
        for index, item in enumerate(value):
            check_int(item, (key, index), self.problems, minimum)
        return value if len(self.problems) == before else None
