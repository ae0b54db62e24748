"""YAML text in and out, beside JSON: block lists, and the parsing used for whole configs.

Needs the ``yaml`` extra (``pip install 'block-config[yaml]'``, which installs PyYAML).

Loading is safe loading only: a :class:`yaml.SafeLoader` subclass, which builds nothing but
dicts, lists, strings, numbers, bools and null. Its plain scalars follow the YAML 1.2 core
schema rather than PyYAML's YAML 1.1 defaults, so that a value means what it reads as:

* only ``true`` and ``false`` (also ``True``/``TRUE``/``False``/``FALSE``) are bools;
  ``yes``, ``no``, ``on`` and ``off`` are strings, and a bool field refuses them;
* ints are decimal (``017`` is 17, not octal 15), ``0o17`` or ``0x1f``; ``1_000`` and
  ``1:30`` are strings, not 1000 and 5400;
* ``1e-05`` is a float (PyYAML would read a string); ``.inf`` and ``.nan`` are refused, as
  JSON has no such numbers; a float where an int belongs is an error, never truncated;
* dates stay strings, and a key given twice in one mapping is an error;
* aliases (``*name``) are refused: a few lines of them can stand for a document of
  billions of nodes. Text is limited to :data:`MAX_JSON_SIZE` bytes and nesting to
  :data:`MAX_JSON_DEPTH` levels, as JSON is.

Dumping quotes every string that a YAML 1.1 or a YAML 1.2 reader would read as something
else, so the text reads back the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from block_config._config import BlockConfig
from block_config._converter import UnknownKeys, structure_block_configs, unstructure_block_configs
from block_config._errors import BlockConfigError
from block_config._json import MAX_JSON_DEPTH, MAX_JSON_SIZE, _utf8_size

__all__ = ["dump_yaml", "dumps_yaml", "loads_yaml", "parse_yaml"]

_MISSING = (
    "YAML support needs PyYAML, which is not installed: "
    "pip install 'block-config[yaml]' (or pip install pyyaml)"
)

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


@cache
def _yaml() -> tuple[Any, type[Any], type[Any]]:
    """PyYAML, and the loader and dumper classes built on it (once)."""
    try:
        import yaml
    except ImportError as error:  # pragma: no cover - exercised by test_yaml with a fake import
        raise ImportError(_MISSING) from error

    resolvers = [
        ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
        ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
        ("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789.")),
    ]

    class Loader(yaml.SafeLoader):
        """Safe loading with YAML 1.2 core-schema scalars, no duplicate keys, no aliases,
        and nesting limited to MAX_JSON_DEPTH (the composer recurses once per level)."""

        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.events.AliasEvent):
                event: Any = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"found the alias *{event.anchor}: aliases are not supported",
                    event.start_mark,
                )
            events = yaml.events
            if not self.check_event(events.SequenceStartEvent, events.MappingStartEvent):
                return super().compose_node(parent, index)
            if self.depth >= MAX_JSON_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nests deeper than {MAX_JSON_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    class Dumper(yaml.SafeDumper):
        """Safe dumping that quotes every string a YAML 1.1 or 1.2 reader would not read back
        as a string (``'yes'``, ``'1e-05'``, ``'017'``)."""

    Loader.yaml_implicit_resolvers = {}
    for tag, pattern, first in resolvers:
        Loader.add_implicit_resolver(tag, pattern, first)
        Dumper.add_implicit_resolver(tag, pattern, first)

    def construct_bool(loader: Any, node: Any) -> bool:
        # Also for an explicit ``!!bool``: ``!!bool yes`` is no more a bool than ``yes``.
        text: str = loader.construct_scalar(node)
        if not _BOOL.match(text):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a bool (true or false)", node.start_mark
            )
        return text.lower() == "true"

    def construct_int(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        # Also for an explicit ``!!int``: Python's int() would read 1_000 and 0b101.
        if not _INT.match(text):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{text!r} is not an int (decimal, 0o octal or 0x hexadecimal)",
                node.start_mark,
            )
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise yaml.constructor.ConstructorError(
                None, None, f"an int of {len(text)} digits is too long", node.start_mark
            ) from None

    def construct_float(loader: Any, node: Any) -> float:
        text = loader.construct_scalar(node)
        if not _FLOAT.match(text):  # float() would read 1_0, nan, inf
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a float", node.start_mark
            )
        if text.lstrip("+-").lower() in (".inf", ".nan"):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text} is not a JSON number", node.start_mark
            )
        return float(text)

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: let PyYAML word the error
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        result: dict[Any, Any] = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
        return result

    def represent_str(dumper: Any, value: str) -> Any:
        # A NEL (U+0085) written plain or single-quoted reads back as a line break, folded
        # into a space; double quotes escape it (\N), and U+2028/U+2029 with it.
        style = '"' if any(char in value for char in "\x85\u2028\u2029") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
    Loader.construct_mapping = construct_mapping  # type: ignore[method-assign,assignment]
    return yaml, Loader, Dumper


def parse_yaml(text: str | bytes) -> Any:
    """Parse one YAML document safely (see the module docs for how scalars read).

    Every YAML error becomes a :class:`BlockConfigError` naming the line and column.
    """
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"expected str or bytes, got {type(text).__name__}")
    size = _utf8_size(text)
    if size > MAX_JSON_SIZE:
        raise BlockConfigError.at(
            (), f"YAML text of {size} bytes is larger than the limit of {MAX_JSON_SIZE} bytes"
        )
    yaml, loader, _ = _yaml()
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        raise BlockConfigError.at((), f"invalid YAML: {_one_line(error)}") from None


def dump_yaml(data: Any) -> str:
    """YAML text of plain data (dicts keep their key order), readable by :func:`parse_yaml`.

    Non-ASCII characters are escaped: PyYAML's emitter mangles some (U+0085) when it writes
    them as they are.
    """
    yaml, _, dumper = _yaml()
    text: str = yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=False
    )
    size = _utf8_size(text)
    if size > MAX_JSON_SIZE:  # parse_yaml would refuse it
        raise BlockConfigError.at(
            (), f"YAML text of {size} bytes would be larger than the limit of {MAX_JSON_SIZE}"
        )
    return text


def loads_yaml(text: str | bytes, *, unknown_keys: UnknownKeys = "error") -> list[BlockConfig]:
    """Read a YAML list of block configs, with every check of the converter.

    >>> blocks = loads_yaml('''
    ... - attention: {num_key_value_heads: 8}
    ...   ffn: {intermediate_size: 28672}
    ... ''')
    >>> blocks[0].attention.num_key_value_heads
    8
    """
    return structure_block_configs(parse_yaml(text), unknown_keys=unknown_keys)


def dumps_yaml(blocks: Iterable[BlockConfig]) -> str:
    """Write block configs as a YAML list, every field present (``null`` included) but the
    ones written only when set (``sliding_window``, ``mla``, ``gated``; see ``to_dict``)."""
    return dump_yaml(unstructure_block_configs(blocks))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
