"""Reading the reference pipeline's JSON and YAML files, and the error that names them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._errors import Path as ProblemPath
from block_config._io import read_limited

__all__ = ["PuzzleInputError", "get_number", "read_json", "read_yaml"]


class PuzzleInputError(BlockConfigError):
    """Invalid input to Puzzle's MIP step: ``source`` names the file or flag, each problem
    the place in it (``subblock_stats.json: $[0].subblocks[4].runtime_ms: ...``)."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        super().__init__(problems)
        self.source = source
        self.args = ("\n".join(f"{source}: {problem}" for problem in self.problems),)

    @classmethod
    def one(cls, source: str, path: ProblemPath, message: str) -> PuzzleInputError:
        """An error with a single problem at ``path`` of ``source``."""
        return cls(source, [Problem(path, message)])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.problems))


def read_json(path: Path, source: str | None = None) -> Any:
    """The JSON document at ``path``, as the reference reads it (Python's ``json``: ``NaN``
    and ``Infinity`` are numbers, as its writer writes them)."""
    name = source or str(path)
    try:
        text = read_limited(path)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise PuzzleInputError.one(name, (), f"cannot be read: {reason}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PuzzleInputError.one(name, (), f"is not valid JSON: {error}") from None


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path`` (needs PyYAML, the ``yaml`` extra)."""
    from block_config._yaml import parse_yaml

    try:
        text = read_limited(path)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise PuzzleInputError.one(str(path), (), f"cannot be read: {reason}") from None
    try:
        return parse_yaml(text)
    except BlockConfigError as error:
        raise PuzzleInputError(str(path), error.problems) from None


def is_number(value: Any) -> bool:
    """An int or a float (a bool is neither)."""
    return type(value) in (int, float)


def get_number(
    data: Any, dotted: str, source: str, prefix: ProblemPath, *, finite: bool = True
) -> int | float:
    """``data["a"]["b"]`` for ``dotted == "a.b"``: a number (finite unless ``finite`` is
    False), else a :class:`PuzzleInputError` at ``prefix`` + the keys."""
    value = data
    path: ProblemPath = prefix
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise PuzzleInputError.one(source, path, f"has no {key!r} (looking up {dotted!r})")
        value = value[key]
        path = (*path, key)
    if not is_number(value):
        raise PuzzleInputError.one(source, path, f"expected a number, got {describe(value)}")
    if finite and not math.isfinite(value):
        raise PuzzleInputError.one(source, path, f"expected a finite number, got {value!r}")
    return value  # type: ignore[no-any-return]
