"""JSON text in and out: a JSON array of block configs, read and written with orjson."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import orjson

from block_config._config import BlockConfig
from block_config._converter import (
    UnknownKeys,
    _is_text,
    json_default,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._errors import BlockConfigError, Path, Problem, describe, short_repr

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_JSON_SIZE",
    "dumps",
    "json_value_problems",
    "loads",
    "parse_json",
]

#: The largest JSON text :func:`parse_json` reads, in bytes of UTF-8 (128 MiB). Published
#: config.json files are under 100 KB, but a pipeline's library of candidate blocks runs to
#: hundreds of thousands of blocks (about 400 bytes each, every field written); the limit
#: bounds the memory a hostile text can make the parser allocate before any check runs.
MAX_JSON_SIZE = 128 * 1024 * 1024
#: How deep arrays and objects may nest in JSON (``[]`` is depth 1, ``[[]]`` depth 2), in
#: text and in the values a config.json keeps verbatim. Blocks at :data:`MAX_PARALLEL_DEPTH`
#: levels of ``parallel_blocks`` inside a config.json nest about 135 deep; deeper values
#: could not be copied or written back by Python's recursive encoders.
MAX_JSON_DEPTH = 256
# The JSON range of ints that read back as ints (orjson reads others as floats).
_MIN_JSON_INT = -(2**63)
_MAX_JSON_INT = 2**64 - 1


def parse_json(text: str | bytes | bytearray | memoryview) -> Any:
    """Parse JSON text, turning every decoding failure into a :class:`BlockConfigError`.

    Refused: text longer than :data:`MAX_JSON_SIZE` bytes (a str counts its UTF-8 bytes),
    nesting deeper than :data:`MAX_JSON_DEPTH`, invalid UTF-8, lone surrogates, NaN and
    Infinity (which are not JSON), numbers too large for a double, and truncated text.
    Integers past 64 bits are read as floats.
    """
    data = _decode(text)
    # orjson stops at 1024 levels; counting brackets (a bound on the depth) spares the walk.
    if (type(data) is list or type(data) is dict) and _brackets(text) > MAX_JSON_DEPTH:
        path = _too_deep(data)
        if path is not None:
            raise BlockConfigError.at(path, f"nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def _decode(text: str | bytes | bytearray | memoryview) -> Any:
    """Check the size and decode, with orjson's own nesting stop (1024 levels)."""
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected str or bytes, got {type(text).__name__}")
    size = _utf8_size(text)
    if size > MAX_JSON_SIZE:
        raise BlockConfigError.at(
            (), f"JSON text of {size} bytes is larger than the limit of {MAX_JSON_SIZE} bytes"
        )
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BlockConfigError.at((), f"invalid JSON: {error}") from None


def _brackets(text: str | bytes | bytearray | memoryview) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    if isinstance(text, memoryview):
        return MAX_JSON_DEPTH + 1  # no count(); walk instead
    return text.count(b"[") + text.count(b"{")


def _too_deep(data: Any) -> Path | None:
    """The path of the first array or object deeper than MAX_JSON_DEPTH, if any.

    Iterative, so that it never meets the recursion limit it is there to protect.
    """
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_JSON_DEPTH:
            return path
        items = node.items() if type(node) is dict else enumerate(node)
        for key, child in items:
            if type(child) is list or type(child) is dict:
                stack.append((child, (*path, key)))
    return None


def json_value_problems(value: Any, path: Path = ()) -> list[Problem]:
    """Why ``value`` could not be written as JSON and read back the same, one problem a place.

    A JSON value is null, a bool, an int of at most 64 bits, a finite float, a str without
    lone surrogates, a list of JSON values (not a tuple, which YAML could not write), or a
    dict with str keys, nested at most :data:`MAX_JSON_DEPTH` deep. Iterative: any depth of
    input is safe to check.
    """
    problems: list[Problem] = []
    stack: list[tuple[Any, Path, int]] = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        kind = type(node)
        if node is None or kind is bool or (kind is str and _is_text(node)):
            continue
        if kind is int:
            if not _MIN_JSON_INT <= node <= _MAX_JSON_INT:
                problems.append(Problem(where, f"JSON keeps ints to 64 bits, got {describe(node)}"))
        elif kind is float:
            if not math.isfinite(node):
                problems.append(Problem(where, f"JSON has no {node!r}"))
        elif kind is str:
            problems.append(
                Problem(where, "a str with a lone surrogate, which UTF-8 cannot encode")
            )
        elif kind is list or kind is dict:
            if depth >= MAX_JSON_DEPTH:
                problems.append(Problem(where, f"nests deeper than {MAX_JSON_DEPTH} levels"))
                continue
            if kind is dict:
                members = []
                for key, child in node.items():
                    if type(key) is not str or not _is_text(key):
                        problems.append(
                            Problem(
                                (*where, short_repr(key)),
                                f"JSON object keys are text, got {describe(key)}",
                            )
                        )
                    else:
                        members.append((child, (*where, key), depth + 1))
                stack.extend(reversed(members))
            else:
                children = [(child, (*where, i), depth + 1) for i, child in enumerate(node)]
                stack.extend(reversed(children))
        else:
            problems.append(Problem(where, f"not a JSON value: {describe(node)}"))
    return problems


def _utf8_size(text: str | bytes | bytearray | memoryview) -> int:
    if isinstance(text, memoryview):
        return text.nbytes
    if not isinstance(text, str) or text.isascii():
        return len(text)
    if len(text) > MAX_JSON_SIZE:  # too long whatever its encoding; no need to encode it
        return len(text)
    # surrogatepass: a lone surrogate is counted here and reported by the parser.
    return len(text.encode("utf-8", "surrogatepass"))


def loads(
    text: str | bytes | bytearray | memoryview, *, unknown_keys: UnknownKeys = "error"
) -> list[BlockConfig]:
    """Read a JSON array of block configs.

    >>> blocks = loads('[{"attention": {"no_op": true}, "ffn": {"intermediate_size": 5632}}]')
    >>> blocks[0].ffn.intermediate_size
    5632
    """
    # No walk for MAX_JSON_DEPTH here: structuring never recurses into values it does not
    # own, and bounds parallel_blocks itself, so deep input is a located error either way.
    return structure_block_configs(_decode(text), unknown_keys=unknown_keys)


def dumps(blocks: Iterable[BlockConfig], *, indent: int | None = None) -> str:
    """Write block configs as a JSON array, every field present (``null`` included).

    Raises :class:`BlockConfigError` rather than write text larger than
    :data:`MAX_JSON_SIZE`, which :func:`loads` would refuse.
    """
    items = blocks if type(blocks) is list else list(blocks)
    if indent is None or indent == 2:
        # The classes look like dataclasses to orjson too (they carry the dataclass protocol);
        # passing them through to the converter's generated hook keeps that faster path.
        option = orjson.OPT_PASSTHROUGH_DATACLASS
        if indent is not None:
            option |= orjson.OPT_INDENT_2
        if all(type(block) is BlockConfig for block in items):
            # orjson walks the objects itself, through the converter's hook.
            text = orjson.dumps(items, default=json_default, option=option).decode()
        else:
            text = orjson.dumps(unstructure_block_configs(items), option=option).decode()
    elif type(indent) is not int or indent < 0:
        raise ValueError(f"indent must be a non-negative int or None, got {indent!r}")
    else:
        text = json.dumps(unstructure_block_configs(items), indent=indent, allow_nan=False)
    # What is written must read back: text past the limit parse_json enforces is refused.
    size = _utf8_size(text)
    if size > MAX_JSON_SIZE:
        raise BlockConfigError.at(
            (),
            f"JSON text of {size} bytes would be larger than the limit of {MAX_JSON_SIZE} "
            "bytes that loads() reads",
        )
    return text
