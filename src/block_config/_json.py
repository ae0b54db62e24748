"""JSON text in and out: a JSON array of block configs, read and written with orjson."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
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
from block_config._errors import BlockConfigError, Path, Problem, describe, key_label

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_JSON_SIZE",
    "copy_json",
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
    nesting deeper than :data:`MAX_JSON_DEPTH`, a key given twice in one object, invalid
    UTF-8, lone surrogates, NaN and Infinity (which are not JSON), numbers too large for a
    double, and truncated text.
    Integers past 64 bits are read as floats.
    """
    data = _decode(text)
    if type(data) is list or type(data) is dict:
        # orjson stops at 1024 levels; counting brackets (a bound on the depth) spares the walk.
        if _brackets(text) > MAX_JSON_DEPTH:
            path = _too_deep(data)
            if path is not None:
                raise BlockConfigError.at(path, f"nests deeper than {MAX_JSON_DEPTH} levels")
        _refuse_duplicate_keys(text, data)
    return data


def _decode_checked(text: str | bytes | bytearray | memoryview) -> Any:
    """:func:`_decode`, refusing a key given twice in one object (as YAML reading does)."""
    data = _decode(text)
    if type(data) is dict or type(data) is list:
        _refuse_duplicate_keys(text, data)
    return data


def _refuse_duplicate_keys(text: str | bytes | bytearray | memoryview, data: Any) -> None:
    """Raise if an object of ``text`` names a key twice (orjson keeps the last silently).

    The fast test: every key of the text is followed by one colon, and so is every key of
    ``data`` written back by orjson; colons inside strings are the same on both sides. So
    the text has no more keys than ``data`` when both hold as many colons, unless a string
    spells a colon as an escape (``\\u003a``). Only then, or when the counts differ, is the
    text parsed again with the standard library, which reports each object's pairs.
    """
    # Counted on the text as given: no copy of it (a str is not encoded).
    raw: str | bytes | bytearray = text.tobytes() if isinstance(text, memoryview) else text
    escaped = ("\\u003" in raw) if isinstance(raw, str) else (b"\\u003" in raw)
    if not escaped:
        try:
            written = orjson.dumps(data).count(b":")
        except orjson.JSONEncodeError:  # nested past orjson's writing limit (254 levels)
            written = _colons(data)  # counted by a walk instead: no second tree is built
        colons = raw.count(":") if isinstance(raw, str) else raw.count(b":")
        if written == colons:
            return
    twice: dict[int, str] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    twice[id(result)] = key
                    break
                seen.add(key)
        return result

    # Numbers are not needed here, only the keys: skip converting them (and the limit on
    # int digits). The text already parsed once, so this cannot fail.
    try:
        tree = json.loads(
            raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw),
            object_pairs_hook=pairs,
            parse_int=_zero,
            parse_float=_zero,
        )
    except RecursionError:
        # Only loads() gets here, with text nested far past MAX_JSON_DEPTH (parse_json refuses
        # it first): structuring refuses whatever it owns at such a depth.
        return
    if twice:
        raise BlockConfigError(
            Problem(path, f"the key {key!r} is given twice in one object")
            for path, key in _marked(tree, twice)
        )


def _colons(data: Any) -> int:
    """The colons orjson would write for ``data``: one per key, and those inside strings."""
    total = 0
    stack = [_members(data)]
    while stack:
        for key, child in stack[-1]:
            if type(key) is str:
                total += 1 + key.count(":")
            kind = type(child)
            if kind is str:
                total += child.count(":")
            elif kind is list or kind is dict:
                stack.append(_members(child))
                break
        else:
            stack.pop()
    return total


def _zero(_: str) -> int:
    return 0


def _marked(tree: Any, twice: dict[int, str]) -> list[tuple[Path, str]]:
    """Each object of ``tree`` named in ``twice``, as (its key's path, the key), in order."""
    found: list[tuple[Path, str]] = []
    keys: list[str | int] = []
    if type(tree) is dict and id(tree) in twice:
        found.append(((twice[id(tree)],), twice[id(tree)]))
    stack = [_members(tree)]
    while stack:
        for key, child in stack[-1]:
            if type(child) is dict or type(child) is list:
                keys.append(key)
                if type(child) is dict and id(child) in twice:
                    found.append(((*keys, twice[id(child)]), twice[id(child)]))
                stack.append(_members(child))
                break
        else:
            stack.pop()
            if keys:
                keys.pop()
    return found


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

    Iterative, so that it never meets the recursion limit it is there to protect. One stack
    entry per open level (an iterator over its members) and one list of keys, the path of
    the current value: memory stays at the depth, whatever the number of values.
    """
    keys: list[str | int] = []
    stack = [_members(data)]
    while stack:
        for key, child in stack[-1]:
            if type(child) is list or type(child) is dict:
                keys.append(key)
                if len(stack) >= MAX_JSON_DEPTH:
                    return tuple(keys)
                stack.append(_members(child))
                break
        else:
            stack.pop()
            if keys:
                keys.pop()
    return None


def _members(node: Any) -> Iterator[tuple[Any, Any]]:
    return iter(node.items()) if type(node) is dict else enumerate(node)


def json_value_problems(value: Any, path: Path = ()) -> list[Problem]:
    """Why ``value`` could not be written as JSON and read back the same, one problem a place.

    A JSON value is null, a bool, an int of at most 64 bits, a finite float, a str without
    lone surrogates, a list of JSON values (not a tuple, which YAML could not write), or a
    dict with str keys, nested at most :data:`MAX_JSON_DEPTH` deep. Iterative, in document
    order, with memory bounded by the depth (a path is built only for a problem): any size
    or depth of input is safe to check.
    """
    problems: list[Problem] = []
    keys: list[Any] = list(path)
    base = len(keys)
    note = _value_problem(value)
    if note is not None:
        if note:
            problems.append(Problem(path, note))
        return problems
    stack = [(_members(value), type(value) is dict)]
    while stack:
        members, in_object = stack[-1]
        for key, child in members:
            if in_object and (type(key) is not str or not _is_text(key)):
                where = (*keys, key_label(key))
                problems.append(Problem(where, f"JSON object keys are text, got {describe(key)}"))
                continue
            note = _value_problem(child)
            if note is None:  # an array or an object: one level down
                keys.append(key)
                if len(stack) >= MAX_JSON_DEPTH:
                    problems.append(
                        Problem(tuple(keys), f"nests deeper than {MAX_JSON_DEPTH} levels")
                    )
                    keys.pop()
                    continue
                stack.append((_members(child), type(child) is dict))
                break
            if note:
                problems.append(Problem((*keys, key), note))
        else:
            stack.pop()
            if len(keys) > base:
                keys.pop()
    return problems


def _value_problem(node: Any) -> str | None:
    """None for a list or dict (to walk), "" for a good scalar, else what is wrong with it."""
    kind = type(node)
    if kind is list or kind is dict:
        return None
    if node is None or kind is bool:
        return ""
    if kind is str:
        return "" if _is_text(node) else "a str with a lone surrogate, which UTF-8 cannot encode"
    if kind is int:
        if _MIN_JSON_INT <= node <= _MAX_JSON_INT:
            return ""
        return f"JSON keeps ints to 64 bits, got {describe(node)}"
    if kind is float:
        return "" if math.isfinite(node) else f"JSON has no {node!r}"
    return f"not a JSON value: {describe(node)}"


def copy_json(value: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a checked JSON object (see :func:`json_value_problems`), every level new.

    Unlike ``copy.deepcopy`` it keeps no memo of the objects copied (a JSON value shares
    nothing), which spares about as much memory again as the copy itself.
    """
    return {key: _copy(child) for key, child in value.items()}


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy(child) for key, child in value.items()}
    if kind is list:
        return [_copy(child) for child in value]
    return value


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
    return structure_block_configs(_decode_checked(text), unknown_keys=unknown_keys)


def dumps(blocks: Iterable[BlockConfig], *, indent: int | None = None) -> str:
    """Write block configs as a JSON array, every field present (``null`` included) but the
    ones written only when set (``sliding_window``, ``mla``, ``gated``; see ``to_dict``).

    Raises :class:`BlockConfigError` rather than write text larger than
    :data:`MAX_JSON_SIZE`, which :func:`loads` would refuse.
    """
    items = blocks if type(blocks) is list else list(blocks)
    if indent is None or indent == 2:
        option = None if indent is None else orjson.OPT_INDENT_2
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
