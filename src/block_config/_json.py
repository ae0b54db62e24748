"""JSON text in and out: a JSON array of block configs, read and written with orjson."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from block_config._config import BlockConfig
from block_config._converter import (
    UnknownKeys,
    json_default,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._errors import BlockConfigError

__all__ = ["dumps", "loads", "parse_json"]


def parse_json(text: str | bytes | bytearray | memoryview) -> Any:
    """Parse JSON text, turning every decoding failure into a :class:`BlockConfigError`.

    orjson refuses invalid UTF-8, NaN and Infinity (which are not JSON), and nesting deeper
    than 1024 levels.
    """
    if not isinstance(text, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"expected str or bytes, got {type(text).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BlockConfigError.at((), f"invalid JSON: {error}") from None


def loads(text: str | bytes, *, unknown_keys: UnknownKeys = "error") -> list[BlockConfig]:
    """Read a JSON array of block configs.

    >>> blocks = loads('[{"attention": {"no_op": true}, "ffn": {"intermediate_size": 5632}}]')
    >>> blocks[0].ffn.intermediate_size
    5632
    """
    return structure_block_configs(parse_json(text), unknown_keys=unknown_keys)


def dumps(blocks: Iterable[BlockConfig], *, indent: int | None = None) -> str:
    """Write block configs as a JSON array, every field present (``null`` included)."""
    items = blocks if type(blocks) is list else list(blocks)
    if indent is None or indent == 2:
        option = None if indent is None else orjson.OPT_INDENT_2
        if all(type(block) is BlockConfig for block in items):
            # orjson walks the objects itself, through the converter's hook.
            return orjson.dumps(items, default=json_default, option=option).decode()
        return orjson.dumps(unstructure_block_configs(items), option=option).decode()
    data = unstructure_block_configs(items)
    if type(indent) is not int or indent < 0:
        raise ValueError(f"indent must be a non-negative int or None, got {indent!r}")
    return json.dumps(data, indent=indent, allow_nan=False)
