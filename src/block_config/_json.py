"""JSON text in and out: a JSON array of block configs, read and written with orjson."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from block_config._config import BlockConfig
from block_config._converter import UnknownKeys, structure_block_configs, unstructure_block_configs
from block_config._errors import BlockConfigError

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_SIZE", "dumps", "loads", "parse_json"]

#: The largest JSON text :func:`parse_json` reads, in bytes of UTF-8 (16 MiB). The largest
#: published config.json files are under 100 KB; the limit bounds the memory a hostile text
#: can make the parser allocate before any check runs.
MAX_JSON_SIZE = 16 * 1024 * 1024
#: How deep arrays and objects may nest in JSON text: the parser (orjson) refuses deeper
#: input. A document at :data:`MAX_PARALLEL_DEPTH` levels of ``parallel_blocks`` nests about
#: twice that deep, well inside this limit.
MAX_JSON_DEPTH = 1024


def parse_json(text: str | bytes | bytearray | memoryview) -> Any:
    """Parse JSON text, turning every decoding failure into a :class:`BlockConfigError`.

    Refused: text longer than :data:`MAX_JSON_SIZE` bytes (a str counts its UTF-8 bytes),
    nesting deeper than :data:`MAX_JSON_DEPTH`, invalid UTF-8, lone surrogates, NaN and
    Infinity (which are not JSON), numbers too large for a double, and truncated text.
    """
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
    return structure_block_configs(parse_json(text), unknown_keys=unknown_keys)


def dumps(blocks: Iterable[BlockConfig], *, indent: int | None = None) -> str:
    """Write block configs as a JSON array, every field present (``null`` included).

    Raises :class:`BlockConfigError` rather than write text larger than
    :data:`MAX_JSON_SIZE`, which :func:`loads` would refuse.
    """
    data = unstructure_block_configs(blocks)
    if indent is None:
        text = orjson.dumps(data).decode()
    elif indent == 2:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    elif type(indent) is not int or indent < 0:
        raise ValueError(f"indent must be a non-negative int or None, got {indent!r}")
    else:
        text = json.dumps(data, indent=indent, allow_nan=False)
    # What is written must read back: text past the limit parse_json enforces is refused.
    size = _utf8_size(text)
    if size > MAX_JSON_SIZE:
        raise BlockConfigError.at(
            (),
            f"JSON text of {size} bytes would be larger than the limit of {MAX_JSON_SIZE} "
            "bytes that loads() reads",
        )
    return text
