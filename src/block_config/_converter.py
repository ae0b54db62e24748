"""The one cattrs converter, and the rules it applies.

Every rule of structuring (strict scalars, ranges, unknown keys, nesting limits, JSON paths)
and of unstructuring is stated here once, as a :class:`FieldRule` per attrs field, derived from
the classes' annotations. From those rules this module generates, once per class:

* a fast structure function that accepts only clean input and bails out (``_Slow``) at the
  first doubt, without locating it;
* a detailed structure path that walks the input, collects every problem with its JSON path,
  and is run whenever the fast path bails out, so error reports stay complete;
* an instance check run by every constructor, and an unstructure function.

All of it is registered on :data:`converter` (a cattrs preconf orjson converter).
"""

from __future__ import annotations

import enum
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from attr import _make as _attrs_make
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from block_config import _config
from block_config._config import BaseDataclass, BlockConfig, UnknownKeys
from block_config._errors import (
    BlockConfigError,
    Path,
    Problem,
    describe,
    key_label,
    short_repr,
    show_int,
)
from block_config._warnings import warn_unknown_key

__all__ = [
    "MAX_BLOCKS",
    "MAX_INT",
    "MAX_PARALLEL_DEPTH",
    "FieldRule",
    "Kind",
    "UnknownKeys",
    "check_score",
    "converter",
    "field_rules",
    "maybe_cast_block_configs",
    "read_candidate_library",
    "structure_block_configs",
    "structure_candidate_library",
    "unstructure_block_configs",
]

#: The largest count or size accepted anywhere (a signed 64-bit integer, as engines store it).
MAX_INT = 2**63 - 1
#: How deep ``parallel_blocks`` may nest: a top-level block is level 0, a block in its
#: ``parallel_blocks`` level 1, and so on. Real models use one or two levels.
MAX_PARALLEL_DEPTH = 64
#: The most blocks one document may hold, at all levels of ``parallel_blocks`` together: a
#: model's layers and every block nested in them, or a pipeline's library of candidate
#: blocks. One block's ``parallel_blocks`` may hold as many, at all levels below it. Real
#: models have a few hundred layers and libraries a few hundred thousand blocks; the limit
#: keeps a hostile document (a long list, many nested lists each within the limit, or a
#: homogeneous config's ``num_hidden_layers``) from exhausting memory.
MAX_BLOCKS = 262_144

_UNKNOWN_KEY_MODES = ("error", "warn")

_T = TypeVar("_T", bound=BaseDataclass)


class Kind(enum.Enum):
    """What a field holds, as far as (un)structuring is concerned."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    STR_SEQ = "list of str"
    NESTED = "object"
    BLOCK_SEQ = "list of block configs"


@attrs.frozen
class FieldRule:
    """How one attrs field is read from and written to a document."""

    name: str
    kind: Kind
    optional: bool
    required: bool
    default: Any
    minimum: int = 1
    target: type[BaseDataclass] | None = None
    #: Left out of what is written (and of ``repr``) when ``None``: declared on the attrs
    #: field as ``metadata={"omit_if_none": True}`` (:data:`block_config._config.OMIT_IF_NONE`).
    omit_if_none: bool = False

    @property
    def expected(self) -> str:
        """The expected type, worded for an error message."""
        if self.kind is Kind.NESTED:
            assert self.target is not None
            return f"{self.target.__name__} object"
        return str(self.kind.value)


_RULES: dict[type[Any], tuple[FieldRule, ...]] = {}


def field_rules(cls: type[BaseDataclass]) -> tuple[FieldRule, ...]:
    """The rules for each field of ``cls``, derived once from its annotations."""
    try:
        return _RULES[cls]
    except KeyError:
        pass
    attrs_cls: Any = cls
    # Each class's annotations are resolved in its own module, so classes defined outside
    # the package (or with postponed annotations) get their rules too.
    attrs.resolve_types(attrs_cls)
    rules = []
    for field in attrs.fields(attrs_cls):
        tp = field.type
        if field.metadata.get("omit_if_none") and field.default is not None:
            raise TypeError(  # pragma: no cover - a class declared an impossible field
                f"{cls.__name__}.{field.name}: omit_if_none needs the default None"
            )
        optional = False
        if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = len(args) < len(typing.get_args(tp))
            (tp,) = args
        target = None
        if tp is bool:
            kind = Kind.BOOL
        elif tp is int:
            kind = Kind.INT
        elif tp is float:
            kind = Kind.FLOAT
        elif tp is str:
            kind = Kind.STR
        elif typing.get_origin(tp) is tuple and typing.get_args(tp) == (str, ...):
            kind = Kind.STR_SEQ
        elif typing.get_origin(tp) is tuple and typing.get_args(tp) == (BlockConfig, ...):
            kind = Kind.BLOCK_SEQ
        elif isinstance(tp, type) and issubclass(tp, BaseDataclass):
            kind, target = Kind.NESTED, tp
        else:  # pragma: no cover - a class was given a field type this module does not know
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported field type {tp!r}")
        rules.append(
            FieldRule(
                name=field.name,
                kind=kind,
                optional=optional,
                required=field.default is attrs.NOTHING,
                default=None if field.default is attrs.NOTHING else field.default,
                minimum=field.metadata.get("minimum", 1),
                target=target,
                omit_if_none=bool(field.metadata.get("omit_if_none", False)),
            )
        )
    result = _RULES[cls] = tuple(rules)
    return result


# --------------------------------------------------------------------------- detailed path


@attrs.define
class _Context:
    """What one detailed walk has found so far."""

    unknown_keys: UnknownKeys
    problems: list[Problem] = attrs.Factory(list)
    dropped: list[Path] = attrs.Factory(list)

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8, i.e. holds no lone surrogate."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A str with a lone surrogate ("\ud800") is a valid Python str but no valid JSON or YAML
# text can hold it: accepting one would give an object that cannot be saved.
_NOT_TEXT = "expected str, got a str with a lone surrogate, which UTF-8 cannot encode"


def _check_field(
    rule: FieldRule, value: Any, path: Path, ctx: _Context, depth: int
) -> tuple[Any, bool]:
    """Check one field's value; return the value to store and whether it is good."""
    if value is None:
        if rule.optional:
            return None, True
        ctx.add(path, f"expected {rule.expected}, got null")
        return None, False
    kind = rule.kind
    if kind is Kind.BOOL:
        if value is True or value is False:
            return value, True
    elif kind is Kind.INT:
        if type(value) is int:
            if rule.minimum <= value <= MAX_INT:
                return value, True
            ctx.add(path, f"expected int from {rule.minimum} to {MAX_INT}, got {show_int(value)}")
            return None, False
    elif kind is Kind.FLOAT:
        if type(value) is float or type(value) is int:
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return (0.0 if number == 0.0 else number), True
            ctx.add(path, f"expected a finite float, got {describe(value)}")
            return None, False
    elif kind is Kind.STR:
        if type(value) is str:
            if _is_text(value):
                return value, True
            ctx.add(path, _NOT_TEXT)
            return None, False
    elif kind is Kind.STR_SEQ:
        if _is_sequence(value):
            good = True
            for index, item in enumerate(value):
                if type(item) is not str:
                    ctx.add((*path, index), f"expected str, got {describe(item)}")
                    good = False
                elif not _is_text(item):
                    ctx.add((*path, index), _NOT_TEXT)
                    good = False
            return (tuple(value), True) if good else (None, False)
    elif kind is Kind.NESTED:
        assert rule.target is not None
        result = _structure_detailed(value, rule.target, path, ctx, depth)
        return result, result is not None
    elif _is_sequence(value):  # Kind.BLOCK_SEQ
        if len(value) > MAX_BLOCKS:
            ctx.add(path, _too_many(value))
            return None, False
        if depth >= MAX_PARALLEL_DEPTH and len(value) > 0:
            ctx.add(path, f"parallel_blocks nest deeper than {MAX_PARALLEL_DEPTH} levels")
            return None, False
        blocks = [
            _structure_detailed(item, BlockConfig, (*path, index), ctx, depth + 1)
            for index, item in enumerate(value)
        ]
        if any(block is None for block in blocks):
            return None, False
        return tuple(blocks), True
    ctx.add(path, f"expected {rule.expected}, got {describe(value)}")
    return None, False


def _too_many(blocks: Sequence[Any]) -> str:
    return f"holds {len(blocks)} blocks, more than the limit of {MAX_BLOCKS}"


def _budget_problem(blocks: Sequence[BlockConfig], counted: int) -> Problem | None:
    """Where the blocks nested in ``blocks`` bring the total past :data:`MAX_BLOCKS`, if so.

    ``counted`` is how many blocks are counted already (the list itself, for a document).
    The walk stops as soon as the total is past the limit, so it visits at most
    MAX_BLOCKS blocks, however often objects are shared, and keeps one iterator per level.
    """
    total = counted
    keys: list[str | int] = []
    stack = [enumerate(blocks)]
    while stack:
        for index, block in stack[-1]:
            children = block.parallel_blocks
            if children:
                keys += (index, "parallel_blocks")
                total += len(children)
                if total > MAX_BLOCKS:
                    return Problem(
                        tuple(keys),
                        f"brings the blocks at all levels of parallel_blocks to more than "
                        f"the limit of {MAX_BLOCKS}",
                    )
                stack.append(enumerate(children))
                break
        else:
            stack.pop()
            del keys[-2:]
    return None


def _check_budget(blocks: list[BlockConfig]) -> list[BlockConfig]:
    """``blocks``, once their total at all levels is known to be within MAX_BLOCKS."""
    for block in blocks:
        if block.parallel_blocks:
            problem = _budget_problem(blocks, len(blocks))
            if problem is not None:
                raise BlockConfigError([problem])
            break
    return blocks


def _structure_detailed(
    value: Any, cls: type[_T], path: Path, ctx: _Context, depth: int
) -> _T | None:
    """Structure ``value`` into ``cls``, recording every problem; ``None`` if there were any."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        ctx.add(path, f"expected {cls.__name__} object, got {describe(value)}")
        return None
    rules = field_rules(cls)
    names = _NAMES[cls]
    good = True
    for key in value:
        if key in names:
            continue
        if not isinstance(key, str):
            ctx.add((*path, key_label(key)), f"keys must be strings, got {describe(key)}")
            good = False
        elif ctx.unknown_keys == "error":
            ctx.add((*path, key), f"unknown key (expected one of: {', '.join(names)})")
            good = False
        else:
            ctx.dropped.append((*path, key))
    kwargs = {}
    for rule in rules:
        if rule.name in value:
            checked, ok = _check_field(rule, value[rule.name], (*path, rule.name), ctx, depth)
            if ok:
                kwargs[rule.name] = checked
            else:
                good = False
        elif rule.required:
            ctx.add((*path, rule.name), "missing required key")
            good = False
    if not good:
        return None
    try:
        return cls(**kwargs)
    except BlockConfigError as error:
        ctx.problems.extend(error.under(path).problems)
        return None


# --------------------------------------------------------------------------- fast path


class _Slow(Exception):
    """Raised by the fast path at the first doubt: the detailed path then runs instead."""


_SLOW = _Slow()
_NAMES: dict[type[Any], tuple[str, ...]] = {}
_FAST: dict[type[Any], Callable[[Any, int], Any]] = {}
_OK: dict[type[Any], Callable[[Any], bool]] = {}
_UNSTRUCTURE: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}

# attrs keeps a cached hash in this slot; the fast path builds instances without __init__
# and so must clear it itself. tests/test_fast_path.py pins the name.
_HASH_CACHE_SLOT: str = _attrs_make._HASH_CACHE_FIELD


def _fast_float(value: Any) -> float:
    if type(value) is float:
        if math.isfinite(value):
            return 0.0 if value == 0.0 else value
        raise _SLOW
    if type(value) is int:
        try:
            number = float(value)
        except OverflowError:
            raise _SLOW from None
        return number
    raise _SLOW


def _fast_strs(value: Any) -> tuple[str, ...]:
    if type(value) is list or type(value) is tuple:
        for item in value:
            if type(item) is not str or not _is_text(item):
                raise _SLOW
        return tuple(value)
    raise _SLOW


def _fast_blocks(value: Any, depth: int) -> tuple[BlockConfig, ...]:
    if type(value) is not list and type(value) is not tuple:
        raise _SLOW
    if not value:
        return ()
    if depth >= MAX_PARALLEL_DEPTH or len(value) > MAX_BLOCKS:
        raise _SLOW
    fast_block = _FAST[BlockConfig]
    # A BlockConfig object with parallel_blocks of its own goes to the detailed path, which
    # checks that its nesting still fits under this level.
    return tuple(
        item
        if type(item) is BlockConfig and not item.parallel_blocks
        else fast_block(item, depth + 1)
        for item in value
    )


# The fast path's form of each class's ``_normalise``: the same rules, applied to the local
# variables of the generated function (named after the fields) before the object exists, and
# raising _SLOW wherever ``_normalise`` reports a problem, so the detailed path words it.
# Keyed by the method itself: a subclass that overrides ``_normalise`` gets a call to it
# instead. tests/test_fast_path.py checks both paths agree on generated inputs.
_INLINE_NORMALISE: dict[Callable[..., Any], str] = {
    BaseDataclass._normalise: "",
    _config.SubblockConfig._normalise: """
if no_op:
    if replace_with_linear: raise _SLOW
    sparsify = None
""",
    _config.MoEConfig._normalise: """
if gated is True: gated = None
if hash_routed is False: hash_routed = None
if num_experts_per_tok > num_local_experts: raise _SLOW
""",
    _config.AttentionConfig._normalise: """
if output_gate is False: output_gate = None
if values_from_keys is False: values_from_keys = None
if no_op:
    if (
        replace_with_linear or mamba is not None or llama4 is not None
        or sliding_window is not None or mla is not None
        or num_attention_heads is not None or head_dim is not None
        or linear_attention is not None or output_gate is not None
        or kv_source_layer is not None or compressed_attention is not None
        or values_from_keys is not None
    ): raise _SLOW
    sparsify = None
    num_key_value_heads = None
elif mamba is not None:
    if (
        sliding_window is not None or mla is not None
        or num_attention_heads is not None or head_dim is not None
        or linear_attention is not None or output_gate is not None
        or kv_source_layer is not None or compressed_attention is not None
        or values_from_keys is not None
    ): raise _SLOW
    num_key_value_heads = None
elif mla is not None:
    if (
        llama4 is not None or head_dim is not None
        or linear_attention is not None or output_gate is not None
        or compressed_attention is not None
        or values_from_keys is not None
    ): raise _SLOW
    num_key_value_heads = None
elif linear_attention is not None:
    if (
        llama4 is not None or sliding_window is not None or output_gate is not None
        or num_attention_heads is not None or head_dim is not None
        or kv_source_layer is not None or compressed_attention is not None
        or values_from_keys is not None
    ): raise _SLOW
    num_key_value_heads = None
elif num_key_value_heads is None: raise _SLOW
elif compressed_attention is not None:
    if (
        llama4 is not None or output_gate is not None or kv_source_layer is not None
        or values_from_keys is not None
    ): raise _SLOW
elif kv_source_layer is not None and values_from_keys is not None: raise _SLOW
""",
    # ------------------------------------------------------------ linear attention
    _config.LinearAttentionConfig._normalise: """
if kind == "kda":
    if (
        num_value_heads != num_key_heads or value_head_dim != key_head_dim
        or fused_projections
    ): raise _SLOW
elif kind != "gdn" or num_value_heads % num_key_heads: raise _SLOW
""",
    # -------------------------------------------------------- end linear attention
    _config.CompressedAttentionConfig._normalise: """
if (index_n_heads is None) != (index_head_dim is None): raise _SLOW
if index_n_heads is not None and compress_rate is None: raise _SLOW
""",
    _config.FFNConfig._normalise: """
if no_op:
    if replace_with_linear: raise _SLOW
    sparsify = None
    moe = None
    intermediate_size = None
    gated = None
elif moe is not None:
    intermediate_size = None
    gated = None
else:
    if gated is True: gated = None
    if intermediate_size is None: raise _SLOW
""",
    _config.BlockConfig._normalise: """
if parallel_blocks is not None and not parallel_blocks: parallel_blocks = None
""",
}


def _indent(code: str, prefix: str = "    ") -> list[str]:
    return [prefix + line for line in code.strip("\n").splitlines()]


def _fast_check(rule: FieldRule, index: int, env: dict[str, Any]) -> list[str]:
    """Source lines that check (and normalise) the local variable named after ``rule``."""
    v = rule.name
    kind = rule.kind
    if kind is Kind.BOOL:
        lines = [f"if {v} is not True and {v} is not False: raise _SLOW"]
    elif kind is Kind.INT:
        lines = [f"if type({v}) is not int or not {rule.minimum} <= {v} <= {MAX_INT}: raise _SLOW"]
    elif kind is Kind.STR:
        lines = [f"if type({v}) is not str or not _is_text({v}): raise _SLOW"]
    elif kind is Kind.FLOAT:
        lines = [
            f"if type({v}) is float:",
            f"    if not _isfinite({v}): raise _SLOW",
            f"    if {v} == 0.0: {v} = 0.0",
            f"else: {v} = _fast_float({v})",
        ]
    elif kind is Kind.STR_SEQ:
        lines = [f"{v} = _fast_strs({v})"]
    elif kind is Kind.NESTED:
        assert rule.target is not None
        env[f"_T{index}"] = rule.target
        lines = [
            f"if type({v}) is dict: {v} = _fast{index}({v}, depth)",
            f"elif not isinstance({v}, _T{index}): raise _SLOW",
        ]
    else:  # BLOCK_SEQ
        lines = [f"{v} = _fast_blocks({v}, depth)"]
    if not rule.optional:
        return lines
    if len(lines) == 1 and lines[0].startswith("if "):
        condition, action = lines[0][3:].split(": ")
        return [f"if {v} is not None and ({condition}): {action}"]
    return [f"if {v} is not None:", *("    " + line for line in lines)]


def _fast_source(
    cls: type[BaseDataclass], rules: tuple[FieldRule, ...], env: dict[str, Any]
) -> str:
    """The fast structure function: clean input only, ``_SLOW`` at the first doubt."""
    name = cls.__name__
    lines = [f"def fast_{name}(d, depth):", "    if type(d) is not dict: raise _SLOW"]
    # The fields written only when set: a document without them (every seed-shaped one in
    # full form) takes a branch of its own, first, as quick as before they existed. There,
    # as many keys as the other fields and each of them found means no other key is present.
    kept = [rule for rule in rules if not rule.omit_if_none]
    omitted = [rule for rule in rules if rule.omit_if_none]
    general = "    else:"
    if omitted and kept:
        lines += [
            "    n = len(d)",
            f"    if n == {len(kept)}:",
            "        try:",
            *(f"            {rule.name} = d[{rule.name!r}]" for rule in kept),
            "        except KeyError: n = -1",  # a new field in place of another: below
            "        else:",
            *(f"            {rule.name} = None" for rule in omitted),
            f"    elif n == {len(rules)}:",
        ]
        general = "    else: n = -1\n    if n == -1:"
    else:
        lines.append(f"    if len(d) == {len(rules)}:")
    # As many keys as fields, and every field found: then no key is unknown.
    lines += [
        "        try:",
        *(f"            {rule.name} = d[{rule.name!r}]" for rule in rules),
        "        except KeyError: raise _SLOW from None",
        *general.split("\n"),
        "        if not _KNOWN.issuperset(d): raise _SLOW",
        "        _get = d.get",
    ]
    for i, rule in enumerate(rules):
        if rule.required:
            lines.append(f"        try: {rule.name} = d[{rule.name!r}]")
            lines.append("        except KeyError: raise _SLOW from None")
        else:
            env[f"_default{i}"] = rule.default
            lines.append(f"        {rule.name} = _get({rule.name!r}, _default{i})")
    for i, rule in enumerate(rules):
        lines += _indent("\n".join(_fast_check(rule, i, env)))
    inline = _INLINE_NORMALISE.get(cls._normalise)
    if inline is not None:
        lines += _indent(inline)
    # Built as an instance of the unfrozen twin, whose plain attribute stores are many times
    # cheaper than calling each slot's __set__, then turned into the class itself.
    env["_Unfrozen"] = _unfrozen_twin(cls)
    lines.append("    o = _new(_Unfrozen)")
    lines += [f"    o.{rule.name} = {rule.name}" for rule in rules]
    lines.append(f"    o.{_HASH_CACHE_SLOT} = None")
    lines.append("    o._repr_cache = None")
    lines.append("    o.__class__ = _Cls")
    if inline is None:
        lines.append("    if o._normalise(): raise _SLOW")
    lines.append("    return o")
    return "\n".join(lines) + "\n"


def _unfrozen_twin(cls: type[BaseDataclass]) -> type[Any]:
    """A subclass of ``cls`` that adds nothing but ordinary attribute setting.

    It has the same memory layout as ``cls`` (no slots of its own), so an instance can be
    filled in with plain stores and then have its ``__class__`` set to ``cls``: from then on
    it is frozen and indistinguishable from one built by ``__init__`` (tests/test_fast_path.py
    compares their slots). Overriding both ``__setattr__`` and ``__delattr__`` with object's
    own lets CPython use its generic (and specialisable) attribute store for the twin.
    """
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": __name__,
        "__qualname__": f"_Unfrozen{cls.__name__}",
    }
    return type(f"_Unfrozen{cls.__name__}", (cls,), namespace)


def _ok_source(cls: type[BaseDataclass], rules: tuple[FieldRule, ...]) -> str:
    """The instance check every constructor runs: ``False`` sends it to the detailed check."""
    lines = [f"def ok_{cls.__name__}(o):"]
    for i, rule in enumerate(rules):
        v = f"v{i}"
        kind = rule.kind
        if kind is Kind.BOOL:
            cond = f"{v} is not True and {v} is not False"
        elif kind is Kind.INT:
            cond = f"(type({v}) is not int or not {rule.minimum} <= {v} <= {MAX_INT})"
        elif kind is Kind.STR:
            cond = f"(type({v}) is not str or not _is_text({v}))"
        elif kind is Kind.FLOAT:
            cond = f"(type({v}) is not float or not _isfinite({v}))"
        elif kind is Kind.STR_SEQ:
            cond = (
                f"(type({v}) is not tuple"
                f" or any(type(s) is not str or not _is_text(s) for s in {v}))"
            )
        elif kind is Kind.NESTED:
            cond = f"not isinstance({v}, _T{i})"
        else:  # BLOCK_SEQ
            cond = (
                f"(type({v}) is not tuple or len({v}) > {MAX_BLOCKS}"
                f" or any(type(b) is not _Block for b in {v}))"
            )
        none_ok = f"{v} is not None and " if rule.optional else ""
        lines.append(f"    {v} = o.{rule.name}")
        lines.append(f"    if {none_ok}{cond}: return False")
    lines.append("    return True")
    return "\n".join(lines) + "\n"


def _unstructure_source(cls: type[BaseDataclass], rules: tuple[FieldRule, ...]) -> str:
    """Every field into a dict: nested objects as dicts, tuples as lists; the fields marked
    ``omit_if_none`` only when they are not ``None``."""
    lines = [f"def unstructure_{cls.__name__}(o):", "    d = {"]
    later = []
    for i, rule in enumerate(rules):
        attr = f"o.{rule.name}"
        kind = rule.kind
        if kind is Kind.STR_SEQ:
            expr = f"None if (x := {attr}) is None else list(x)"
        elif kind is Kind.NESTED:
            expr = (
                f"None if (x := {attr}) is None else "
                f"(_un{i}(x) if type(x) is _T{i} else _unstructure(x))"
            )
        elif kind is Kind.BLOCK_SEQ:
            expr = (
                f"None if (x := {attr}) is None else "
                "[_UN[_Block](b) if type(b) is _Block else _unstructure(b) for b in x]"
            )
        else:
            expr = attr
        if rule.omit_if_none:
            later += [f"    if {attr} is not None:", f"        d[{rule.name!r}] = {expr}"]
        else:
            lines.append(f"        {rule.name!r}: {expr},")
    if not later:
        lines[1] = "    return {"
        return "\n".join([*lines, "    }"]) + "\n"
    return "\n".join([*lines, "    }", *later, "    return d"]) + "\n"


def _same_fields(rules: Iterable[FieldRule], a: str, b: str) -> str:
    """An expression: ``a`` and ``b`` hold equal values in every field of ``rules``."""
    # bool and None are singletons: ``is`` compares them exactly, without a call. A field
    # that may be None mostly is on both sides (or holds one shared object): ``is`` first,
    # which agrees with ``==`` on every value a field holds (floats are never NaN).
    return " and ".join(
        f"{a}.{rule.name} is {b}.{rule.name}"
        if rule.kind is Kind.BOOL
        else f"({a}.{rule.name} is {b}.{rule.name} or {a}.{rule.name} == {b}.{rule.name})"
        if rule.optional
        else f"{a}.{rule.name} == {b}.{rule.name}"
        for rule in rules
    )


def _compare_source(cls: type[BaseDataclass], rules: tuple[FieldRule, ...]) -> str:
    """``__eq__``, ``__hash__`` and ``__repr__``, all three agreeing on the fields.

    The hash is cached as a plain int in attrs' cache slot: attrs leaves that slot out of the
    pickled state and resets it on unpickling (tests/test_fast_path.py pins both), so a hash
    never travels to a process where strings hash differently.
    """
    name = cls.__name__
    mine = ", ".join(f"self.{rule.name}" for rule in rules)
    shown = ", ".join(
        f"{rule.name}={{self.{rule.name}!r}}" for rule in rules if not rule.omit_if_none
    )
    # The fields written only when set are shown only when set, so that an object that does
    # not use them has the repr (and so the place in sorted()) it had before they existed.
    omitted = [rule.name for rule in rules if rule.omit_if_none]
    if omitted:
        # One f-string when none of them is set (the common case), as before they existed.
        unset = " and ".join(f"self.{name} is None" for name in omitted)
        extra = "".join(
            f"\n        if (x := self.{name}) is not None: text += f', {name}={{x!r}}'"
            for name in omitted
        )
        make_text = (
            f'if {unset}: text = f"{name}({shown})"\n'
            f'    else:\n        text = f"{name}({shown}"{extra}\n        text += ")"'
        )
    else:
        make_text = f'text = f"{name}({shown})"'
    # Nested objects of the expected class are compared field by field right here, which
    # spares a call of their __eq__ per nested object; anything else goes through ==.
    nested = []
    for i, rule in enumerate(rules):
        if rule.kind is not Kind.NESTED:
            continue
        assert rule.target is not None
        same = _same_fields(field_rules(rule.target), "x", "y")
        nested += [
            f"    x = self.{rule.name}; y = other.{rule.name}",
            "    if x is not y:",
            f"        if x.__class__ is _T{i} and y.__class__ is _T{i}:",
            f"            if not ({same}): return False",
            "        elif x != y: return False",
        ]
    flat = [rule for rule in rules if rule.kind is not Kind.NESTED]
    rest = _same_fields(flat, "self", "other") if flat else "True"
    eq_body = "\n".join(nested)
    return f"""
def eq_{name}(self, other):
    if other.__class__ is not self.__class__: return NotImplemented
    if self is other: return True
{eq_body}
    return {rest}

def hash_{name}(self):
    h = self.{_HASH_CACHE_SLOT}
    if h is None:
        h = hash((_SALT, {mine}))
        _set_hash(self, h)
    return h

def repr_{name}(self):
    try: text = self._repr_cache
    except AttributeError: text = None
    if text is not None: return text
    if self.__class__ is not _Cls: return _base_repr(self)
    {make_text}
    _set_repr(self, text)
    return text
"""


def _generate(cls: type[BaseDataclass]) -> None:
    """Write the fast structure, instance check and unstructure functions of ``cls``."""
    rules = field_rules(cls)
    _NAMES[cls] = tuple(rule.name for rule in rules)
    env: dict[str, Any] = {
        "_Cls": cls,
        "_Block": BlockConfig,
        "_SLOW": _SLOW,
        "_new": object.__new__,
        "_isfinite": math.isfinite,
        "_is_text": _is_text,
        "_fast_float": _fast_float,
        "_fast_strs": _fast_strs,
        "_fast_blocks": _fast_blocks,
        "_KNOWN": frozenset(_NAMES[cls]),
        "_UN": _UNSTRUCTURE,
        "_unstructure": converter.unstructure,
        "_set_hash": getattr(cls, _HASH_CACHE_SLOT).__set__,
        "_set_repr": BaseDataclass.__dict__["_repr_cache"].__set__,
        "_base_repr": BaseDataclass.__repr__,
        "_SALT": hash(cls.__qualname__),
    }
    for i, rule in enumerate(rules):
        if rule.target is not None:
            # Nested classes first, so that their functions are bound here directly.
            _hooks_for(rule.target)
            env[f"_fast{i}"] = _FAST[rule.target]
            env[f"_un{i}"] = _UNSTRUCTURE[rule.target]
    source = "\n".join(
        [
            _fast_source(cls, rules, env),
            _ok_source(cls, rules),
            _unstructure_source(cls, rules),
            _compare_source(cls, rules),
        ]
    )
    name = cls.__name__
    exec(compile(source, f"<block_config generated for {name}>", "exec"), env)  # noqa: S102
    _FAST[cls] = env[f"fast_{name}"]
    _OK[cls] = env[f"ok_{name}"]
    _UNSTRUCTURE[cls] = env[f"unstructure_{name}"]
    if cls.__module__ == _config.__name__ and "__repr__" not in cls.__dict__:
        # Only the library's own classes, whose methods have exactly the semantics above
        # (attrs' field-wise ``==`` and cached hash, BaseDataclass's cached repr); a subclass
        # defined elsewhere keeps what it has.
        cls.__eq__ = env[f"eq_{name}"]  # type: ignore[method-assign]
        cls.__hash__ = env[f"hash_{name}"]  # type: ignore[method-assign]
        cls.__repr__ = env[f"repr_{name}"]  # type: ignore[method-assign]


def _hooks_for(cls: type[Any]) -> None:
    if cls not in _FAST:
        _generate(cls)


# --------------------------------------------------------------------------- entry points


def _check_mode(unknown_keys: str) -> UnknownKeys:
    if unknown_keys not in _UNKNOWN_KEY_MODES:
        raise ValueError(f"unknown_keys must be 'error' or 'warn', got {unknown_keys!r}")
    return unknown_keys  # type: ignore[return-value]


def _report(ctx: _Context) -> None:
    if ctx.problems:
        raise BlockConfigError(ctx.problems)
    for path in ctx.dropped:
        warn_unknown_key(path, "unknown key dropped", stacklevel=4)


def structure_one(value: Any, cls: type[_T], unknown_keys: str = "error", path: Path = ()) -> _T:
    """Structure one mapping into ``cls``: the fast path first, the detailed path on doubt."""
    mode = _check_mode(unknown_keys)
    _hooks_for(cls)
    try:
        return _FAST[cls](value, 0)  # type: ignore[no-any-return]
    except _Slow:
        pass
    ctx = _Context(mode)
    result = _structure_detailed(value, cls, path, ctx, 0)
    _report(ctx)
    assert result is not None
    return result


def _structure_nested(value: Mapping[Any, Any], cls: type[Any], path: Path) -> Any:
    # A mapping given to a constructor for a nested field, e.g. BlockConfig(attention={...}).
    return structure_one(value, cls, "error", path)


def _structure_from_dict(value: Any, cls: type[Any], unknown_keys: str) -> Any:
    return structure_one(value, cls, unknown_keys)


def structure_block_configs(
    data: Iterable[Mapping[str, Any] | BlockConfig], *, unknown_keys: UnknownKeys = "error"
) -> list[BlockConfig]:
    """Structure a sequence of block mappings (``BlockConfig`` objects pass through).

    Raises :class:`BlockConfigError` listing every problem, each with its JSON path
    (``$[3].attention.num_key_value_heads: expected int, got str '8'``).
    """
    mode = _check_mode(unknown_keys)
    if (type(data) is list or type(data) is tuple) and len(data) <= MAX_BLOCKS:
        fast_block = _FAST[BlockConfig]
        try:
            fast = [item if type(item) is BlockConfig else fast_block(item, 0) for item in data]
        except _Slow:
            pass
        else:
            return _check_budget(fast)
    ctx = _Context(mode)
    if not _is_sequence(data):
        ctx.add((), f"expected a list of block configs, got {describe(data)}")
        _report(ctx)
    if len(data) > MAX_BLOCKS:  # type: ignore[arg-type]  # a Sequence, checked above
        ctx.add((), _too_many(data))  # type: ignore[arg-type]
        _report(ctx)
    blocks = [
        _structure_detailed(item, BlockConfig, (index,), ctx, 0) for index, item in enumerate(data)
    ]
    if ctx.problems:
        _report(ctx)
    _check_budget(blocks)  # type: ignore[arg-type]  # no problems: every item structured
    _report(ctx)
    return blocks  # type: ignore[return-value]


#: The newest candidate-library file format this library reads and writes. Version 2 adds
#: measured ``stats`` per candidate, ``spans`` (candidates for several parent layers) and
#: ``non_block`` stats; a library that uses none of them is still written as version 1.
LIBRARY_FORMAT_VERSION = 2
#: Every candidate-library format version this library reads.
LIBRARY_FORMAT_VERSIONS = (1, 2)
_SCORE_RULE = FieldRule(name="score", kind=Kind.FLOAT, optional=True, required=False, default=None)


def check_score(value: Any, path: Path = ("score",)) -> float | None:
    """A candidate's score: a finite float (an int becomes that float) or None (not yet scored).

    Anything else raises :class:`BlockConfigError` located at ``path``.
    """
    if value is None or (type(value) is float and math.isfinite(value)):
        return value
    ctx = _Context("error")
    result, _ = _check_field(_SCORE_RULE, value, path, ctx, 0)
    _report(ctx)
    return result  # type: ignore[no-any-return]


def check_measured(value: Any, path: Path) -> dict[str, float]:
    """Measured stats: an object of finite numbers by non-empty name (ints become floats).

    Raises :class:`BlockConfigError` listing every problem, located under ``path``.
    """
    ctx = _Context("error")
    result = _measured(value, path, ctx)
    _report(ctx)
    return result


def _measured(value: Any, path: Path, ctx: _Context) -> dict[str, float]:
    if not isinstance(value, Mapping):
        ctx.add(path, f"expected an object of numbers by name, got {describe(value)}")
        return {}
    result = {}
    for name, number in value.items():
        if not isinstance(name, str) or not name:
            ctx.add(path, f"expected non-empty names, got {describe(name)}")
            continue
        if type(number) not in (int, float) or not math.isfinite(number):
            ctx.add((*path, name), f"expected a finite number, got {describe(number)}")
            continue
        result[name] = float(number)
    return result


@attrs.frozen
class LibraryDocument:
    """A candidate library document, read: per layer the candidates ``(block, score,
    measured)``, the spans ``(parent layers, block, score, measured)`` and ``non_block``."""

    version: int
    layers: list[list[tuple[BlockConfig, float | None, dict[str, float]]]]
    spans: list[tuple[tuple[int, ...], BlockConfig, float | None, dict[str, float]]]
    non_block: dict[str, float]


def _library_candidate(
    item: Any, where: Path, ctx: _Context, version: int
) -> tuple[BlockConfig | None, float | None, dict[str, float], bool]:
    """One candidate object: its block, score and measured stats, and whether all read."""
    if not isinstance(item, Mapping):
        ctx.add(where, f"expected a candidate object, got {describe(item)}")
        return None, None, {}, False
    before = len(ctx.problems)
    if "block" not in item:
        ctx.add((*where, "block"), "missing required key")
        block = None
    else:
        try:
            block = _FAST[BlockConfig](item["block"], 0)
        except _Slow:
            block = _structure_detailed(item["block"], BlockConfig, (*where, "block"), ctx, 0)
    score, _ = _check_field(_SCORE_RULE, item.get("score"), (*where, "score"), ctx, 0)
    measured = {}
    if version >= 2 and "stats" in item:
        measured = _measured(item["stats"], (*where, "stats"), ctx)
    ok = block is not None and len(ctx.problems) == before
    return block, score, measured, ok


def read_candidate_library(data: Any) -> LibraryDocument:
    """Read a candidate library document of any version this library reads.

    Version 1: ``{"format_version": 1, "layers": [[{"block": {...}, "score": 0.5}, ...],
    ...]}``: one non-empty list per layer, each candidate an object with a ``block`` (a
    :class:`BlockConfig` mapping, read strictly) and a ``score`` (a finite number, or null
    when not yet scored). Version 2 adds, per candidate, ``stats`` (measured numbers by name:
    ``{"runtime_ms": 1.25}``); ``spans``, a list of candidates that each take the place of
    several consecutive parent layers (``"parent_layer_indices": [4, 5]``, ascending, at least
    two); and ``non_block``, numbers by name for what lies outside the layers. Other keys of a
    candidate (its costs, notes) and of the document are allowed and ignored.
    ``format_version`` may be absent (version 1). Raises :class:`BlockConfigError` listing
    every problem with its path (``$.layers[3][7].score: expected a finite float, got str 'x'``).
    """
    ctx = _Context("error")
    if not isinstance(data, Mapping):
        ctx.add((), f"expected a candidate library object, got {describe(data)}")
        raise BlockConfigError(ctx.problems)
    version = data.get("format_version", 1)
    if type(version) is not int or version not in LIBRARY_FORMAT_VERSIONS:
        ctx.add(
            ("format_version",),
            f"expected one of {list(LIBRARY_FORMAT_VERSIONS)} (the versions this library "
            f"reads), got {describe(version)}",
        )
        version = LIBRARY_FORMAT_VERSION
    if "layers" not in data:
        ctx.add(("layers",), "missing required key")
        raise BlockConfigError(ctx.problems)
    layers = data["layers"]
    if not _is_sequence(layers):
        ctx.add(("layers",), f"expected a list of layers, got {describe(layers)}")
        raise BlockConfigError(ctx.problems)
    if len(layers) > MAX_BLOCKS:
        ctx.add(("layers",), f"holds {len(layers)} layers, more than the limit of {MAX_BLOCKS}")
        raise BlockConfigError(ctx.problems)
    spans_data = data.get("spans", []) if version >= 2 else []
    total = sum(len(layer) for layer in layers if _is_sequence(layer))
    total += len(spans_data) if _is_sequence(spans_data) else 0
    if total > MAX_BLOCKS:
        ctx.add(("layers",), f"holds {total} candidates, more than the limit of {MAX_BLOCKS}")
        raise BlockConfigError(ctx.problems)
    result: list[list[tuple[BlockConfig, float | None, dict[str, float]]]] = []
    for index, layer in enumerate(layers):
        path: Path = ("layers", index)
        if not _is_sequence(layer):
            ctx.add(path, f"expected a list of candidates, got {describe(layer)}")
            continue
        if not layer:
            ctx.add(path, "holds no candidates; every layer needs at least one")
            continue
        candidates = []
        for position, item in enumerate(layer):
            block, score, measured, ok = _library_candidate(item, (*path, position), ctx, version)
            if ok and block is not None:
                candidates.append((block, score, measured))
        result.append(candidates)
    spans: list[tuple[tuple[int, ...], BlockConfig, float | None, dict[str, float]]] = []
    if not _is_sequence(spans_data):
        ctx.add(("spans",), f"expected a list of span candidates, got {describe(spans_data)}")
        spans_data = []
    for position, item in enumerate(spans_data):
        where: Path = ("spans", position)
        block, score, measured, ok = _library_candidate(item, where, ctx, version)
        indices: Any = item.get("parent_layer_indices") if isinstance(item, Mapping) else None
        if not (
            _is_sequence(indices)
            and len(indices) >= 2
            and all(type(i) is int and 0 <= i < len(layers) for i in indices)
            and list(indices) == list(range(indices[0], indices[0] + len(indices)))
        ):
            if isinstance(item, Mapping):
                ctx.add(
                    (*where, "parent_layer_indices"),
                    f"expected at least two consecutive ascending layers of the {len(layers)}, "
                    f"got {short_repr(indices)}",
                )
            continue
        if ok and block is not None:
            spans.append((tuple(indices), block, score, measured))
    non_block: dict[str, float] = {}
    if version >= 2 and "non_block" in data:
        non_block = _measured(data["non_block"], ("non_block",), ctx)
    _report(ctx)
    return LibraryDocument(version=version, layers=result, spans=spans, non_block=non_block)


def structure_candidate_library(data: Any) -> list[list[tuple[BlockConfig, float | None]]]:
    """Read a candidate library document (see :func:`read_candidate_library`): per layer,
    each candidate's block and score."""
    document = read_candidate_library(data)
    return [[(block, score) for block, score, _ in layer] for layer in document.layers]


def unstructure_block_configs(blocks: Iterable[BlockConfig]) -> list[dict[str, Any]]:
    """The plain-data form of ``blocks``: one dict per block, as :meth:`BlockConfig.to_dict`."""
    unstructure_block = _UNSTRUCTURE[BlockConfig]
    return [
        unstructure_block(block) if type(block) is BlockConfig else _unstructure_checked(block)
        for block in blocks
    ]


def _unstructure_checked(value: Any) -> dict[str, Any]:
    if not isinstance(value, BaseDataclass):
        raise TypeError(f"expected BlockConfig objects, got {type(value).__name__}")
    return _unstructure(value)


def _unstructure(obj: BaseDataclass) -> dict[str, Any]:
    cls = type(obj)
    _hooks_for(cls)
    return _UNSTRUCTURE[cls](obj)


def maybe_cast_block_configs(
    block_configs: Sequence[BlockConfig | Mapping[str, Any]] | None,
    *,
    unknown_keys: UnknownKeys = "error",
) -> list[BlockConfig] | None:
    """Cast a list of dicts to BlockConfig objects if needed.

    ``None`` or an empty list gives ``None``; a list of dicts, of ``BlockConfig`` objects, or of
    both mixed, gives a list of ``BlockConfig``. Unknown keys are errors; a pipeline that must
    load an older or newer ``config.json`` asks for ``unknown_keys="warn"``, which drops them
    with an :class:`UnknownKeyWarning` each, as the original implementation did.
    """
    if block_configs is None:
        return None
    # Checked before its length is asked for, so that an int or a dict is reported, not
    # met with a TypeError or taken for an empty list.
    blocks = structure_block_configs(block_configs, unknown_keys=unknown_keys)
    return blocks or None


def _finish(obj: BaseDataclass) -> None:
    """Run by every constructor: check the fields, normalise, check the rules between them."""
    cls = type(obj)
    ok = _OK.get(cls)
    if ok is None:
        _hooks_for(cls)
        ok = _OK[cls]
    if not ok(obj):
        ctx = _Context("error")
        for rule in field_rules(cls):
            _check_field(rule, getattr(obj, rule.name), (rule.name,), ctx, 0)
        if ctx.problems:
            raise BlockConfigError(ctx.problems)
    problems = obj._normalise()
    if problems:
        raise BlockConfigError(Problem((name,), message) for name, message in problems)
    if isinstance(obj, BlockConfig) and obj.parallel_blocks:
        children = obj.parallel_blocks
        problem = _budget_problem(children, len(children))
        if problem is not None:
            raise BlockConfigError([problem.under(("parallel_blocks",))])
        if _nesting(children) >= MAX_PARALLEL_DEPTH:
            raise BlockConfigError.at(
                ("parallel_blocks",),
                f"parallel_blocks nest deeper than {MAX_PARALLEL_DEPTH} levels",
            )


def _nesting(blocks: tuple[BlockConfig, ...]) -> int:
    """How many levels of parallel_blocks lie below ``blocks`` (which are within the budget).

    Level by level, each distinct object once: time bounded by the blocks counted, even for
    objects shared many times over.
    """
    level: dict[int, BlockConfig] = {id(block): block for block in blocks}
    depth = 0
    while True:
        below = {
            id(child): child
            for block in level.values()
            if block.parallel_blocks
            for child in block.parallel_blocks
        }
        if not below:
            return depth
        depth += 1
        if depth > MAX_PARALLEL_DEPTH:
            return depth
        level = below


# --------------------------------------------------------------------------- the converter


def _strict(tp: type[Any], check: Callable[[Any], bool]) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        if check(value):
            return value
        raise BlockConfigError.at((), f"expected {tp.__name__}, got {describe(value)}")

    return hook


def _strict_float(value: Any, _: Any) -> float:
    ctx = _Context("error")
    rule = FieldRule(name="value", kind=Kind.FLOAT, optional=False, required=True, default=None)
    result, ok = _check_field(rule, value, (), ctx, 0)
    if not ok:
        raise BlockConfigError(ctx.problems)
    return result  # type: ignore[no-any-return]


def _make_converter() -> OrjsonConverter:
    conv = make_converter()
    # cattrs coerces by default ("false" -> True, 3.7 -> 3); these hooks refuse instead.
    conv.register_structure_hook(bool, _strict(bool, lambda v: v is True or v is False))
    conv.register_structure_hook(int, _strict(int, lambda v: type(v) is int))
    conv.register_structure_hook(str, _strict(str, lambda v: type(v) is str))
    conv.register_structure_hook(float, _strict_float)

    def is_ours(tp: Any) -> bool:
        return isinstance(tp, type) and issubclass(tp, BaseDataclass) and attrs.has(tp)

    def is_block_list(tp: Any) -> bool:
        return typing.get_origin(tp) in (list, Sequence) and typing.get_args(tp) == (BlockConfig,)

    conv.register_structure_hook_func(is_ours, lambda value, cls: structure_one(value, cls))
    conv.register_structure_hook_func(
        is_block_list, lambda value, _: structure_block_configs(value)
    )
    conv.register_unstructure_hook_func(is_ours, _unstructure)
    return conv


#: The one configured converter: ``converter.structure(data, BlockConfig)``,
#: ``converter.structure(data, list[BlockConfig])``, ``converter.unstructure(block)``.
converter: OrjsonConverter = _make_converter()

for _cls in (*_config._CLASSES.values(), _config.SubblockConfig):
    _hooks_for(_cls)


def _make_json_default() -> Callable[[Any], Any]:
    """orjson's ``default=`` hook: the fields of one object, one level deep.

    orjson writes tuples as arrays and calls the hook again for every nested object, so no
    nested dict or list is built. One generated function for the library's classes (the most
    common first); any other object of a block-config class goes through ``_unstructure``.
    """
    lines = ["def json_default(o):", "    t = type(o)"]
    env: dict[str, Any] = {"_unstructure": _unstructure, "_Base": BaseDataclass}
    order = [
        "AttentionConfig",
        "FFNConfig",
        "BlockConfig",
        "MoEConfig",
        "MambaConfig",
        "MLAConfig",
        "LinearAttentionConfig",
        "CompressedAttentionConfig",
    ]
    classes = sorted(
        (*_config._CLASSES.values(), _config.SubblockConfig),
        key=lambda c: order.index(c.__name__) if c.__name__ in order else len(order),
    )
    for cls in classes:
        env[cls.__name__] = cls
        rules = field_rules(cls)
        fields = ", ".join(f"{r.name!r}: o.{r.name}" for r in rules if not r.omit_if_none)
        omitted = [r.name for r in rules if r.omit_if_none]
        if not omitted:
            lines.append(f"    if t is {cls.__name__}: return {{{fields}}}")
            continue
        unset = " and ".join(f"o.{name} is None" for name in omitted)
        lines += [
            f"    if t is {cls.__name__}:",
            f"        if {unset}: return {{{fields}}}",
            f"        d = {{{fields}}}",
        ]
        for name in omitted:
            lines.append(f"        if (x := o.{name}) is not None: d[{name!r}] = x")
        lines.append("        return d")
    lines += [
        "    if isinstance(o, _Base): return _unstructure(o)",
        "    raise TypeError(f'cannot write {type(o).__name__} as JSON')",
    ]
    exec(compile("\n".join(lines) + "\n", "<block_config generated json_default>", "exec"), env)  # noqa: S102
    return env["json_default"]  # type: ignore[no-any-return]


#: Pass as ``default=`` to ``orjson.dumps`` to write block-config objects directly, with
#: ``option=orjson.OPT_PASSTHROUGH_DATACLASS``: the classes carry the dataclass protocol, and
#: orjson would otherwise write them itself, every field included (``null`` for the optional
#: fields that the library's writers leave out while unset).
json_default: Callable[[Any], Any] = _make_json_default()

_config._finish = _finish
_config._structure_nested = _structure_nested
_config._structure_from_dict = _structure_from_dict
_config._unstructure = _unstructure
