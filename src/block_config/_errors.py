"""The exception and warning types, and how problems are located and worded."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import attrs
import attrs.exceptions

__all__ = [
    "BlockConfigError",
    "ConversionWarning",
    "FrozenInstanceError",
    "LayerKey",
    "Path",
    "Problem",
    "UnknownKeyWarning",
    "describe",
    "format_path",
    "key_label",
    "short_repr",
    "show_int",
]

#: A location in a document: mapping keys (str) and sequence indexes (int), root first.
Path = tuple["str | int", ...]

_MAX_REPR = 40
# Python refuses to turn ints of more than 4300 digits into text (sys.int_info); well below
# that, past about 300 digits, an int is described by its size in bits.
_MAX_SHOWN_INT_BITS = 1024


class _Literal(str):
    """A mapping key that is not text, as a path shows it: ``$[null]``, never ``$.None``."""

    __slots__ = ()


def key_label(key: Any) -> str:
    """How a mapping key that is not a str appears in a path: ``null``, ``true``, ``'3'``."""
    if key is None:
        return _Literal("null")
    if key is True or key is False:
        return _Literal(str(key).lower())
    return short_repr(key)


class LayerKey(str):
    """A key of a layer-indexed object as written (``per_layer_config``'s ``"05"``), shown
    in dot form in a path: ``$.per_layer_config.05.rope_theta``."""

    __slots__ = ()


def format_path(path: Path) -> str:
    """Render a path the way JSONPath does: ``$[3].attention.num_key_value_heads``."""
    parts = ["$"]
    for key in path:
        if isinstance(key, int) or type(key) is _Literal:
            parts.append(f"[{key}]")
        elif key.isidentifier() or type(key) is LayerKey:
            parts.append(f".{key}")
        else:
            parts.append(f"[{key!r}]")
    return "".join(parts)


def show_int(value: int) -> str:
    """All the digits of ``value``, or its size (``an int of 16610 bits``) past 1024 bits."""
    if value.bit_length() > _MAX_SHOWN_INT_BITS:
        return f"an int of {value.bit_length()} bits"
    return str(value)


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to a readable length; never raises, whatever the value.

    A huge int is described by its size (``an int of 16610 bits``) instead of its digits.
    """
    if isinstance(value, int) and value.bit_length() > _MAX_SHOWN_INT_BITS:
        return f"an int of {value.bit_length()} bits"
    try:
        shown = repr(value)
    except Exception:  # a broken __repr__ must not hide the problem being reported
        return "(unprintable)"
    if len(shown) > _MAX_REPR:
        shown = shown[: _MAX_REPR - 3] + "..."
    return shown


def describe(value: Any) -> str:
    """Name a value's type, and show the value when it is short: ``str '8'``."""
    if value is None:
        return "null"
    name = type(value).__name__
    if isinstance(value, (dict, list, tuple, set, frozenset)) or hasattr(value, "__attrs_attrs__"):
        return name
    if isinstance(value, int) and value.bit_length() > _MAX_SHOWN_INT_BITS:
        return f"{name} of {value.bit_length()} bits"
    return f"{name} {short_repr(value)}"


@attrs.frozen
class Problem:
    """One thing wrong with the input: where it is, and what is wrong there."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}"

    def under(self, prefix: Path) -> Problem:
        """The same problem, seen from a document that holds this one at ``prefix``."""
        return Problem(prefix + self.path, self.message)


class BlockConfigError(ValueError):
    """Invalid block-config input. ``problems`` lists every problem found, each with its path.

    ``str(error)`` is one line per problem, e.g.
    ``$[3].attention.num_key_value_heads: expected int, got str '8'``.
    """

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, path: Path, message: str) -> BlockConfigError:
        """An error with a single problem."""
        return cls([Problem(path, message)])

    def under(self, prefix: Path) -> BlockConfigError:
        """The same error, seen from a document that holds this input at ``prefix``."""
        return BlockConfigError(p.under(prefix) for p in self.problems)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


class UnknownKeyWarning(UserWarning):
    """An unknown key was dropped because the caller asked for ``unknown_keys="warn"``."""


class ConversionWarning(UserWarning):
    """A dialect conversion keeps every size but not the exact text of the original.

    Writing a model read from the legacy dialect as native drops the original ``ffn_mult``
    values: converting back gives multipliers that map to the same ``intermediate_size``,
    written differently where the original was not the exact ratio (``1.0`` for 5632 with
    hidden 8192 comes back as ``1.03125``).
    """


class FrozenInstanceError(attrs.exceptions.FrozenInstanceError, dataclasses.FrozenInstanceError):
    """An attribute of a block-config object was assigned or deleted: every object is frozen.

    It is both :class:`attrs.exceptions.FrozenInstanceError` and
    :class:`dataclasses.FrozenInstanceError` (so an ``AttributeError`` too), so code written for
    either catches it. ``dataclasses.replace(obj, **changes)`` or ``attrs.evolve`` give a changed
    copy, checked like any new object.
    """

    def __init__(self, message: str = "can't set attribute") -> None:
        # attrs' own __init__ takes no message; AttributeError's takes one.
        AttributeError.__init__(self, message)
        self.msg = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.msg,))


# Shown as block_config.BlockConfigError in tracebacks and reprs, where users import them
# from; pickle finds them there too.
for _public in (BlockConfigError, UnknownKeyWarning, ConversionWarning, FrozenInstanceError):
    _public.__module__ = "block_config"
