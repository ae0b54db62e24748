"""A JSON Schema (draft 2020-12) of the native ``block_configs`` list, derived from the classes.

The schema is generated from the converter's :func:`~block_config._converter.field_rules`,
the same rules that structuring applies, so it cannot drift from the classes; the few rules
between fields are stated once here, next to the generator.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from block_config._config import (
    LINEAR_ATTENTION_KINDS,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    FFNConfig,
    LinearAttentionConfig,
)
from block_config._converter import MAX_INT, FieldRule, Kind, field_rules

__all__ = ["JSON_SCHEMA_DIALECT", "block_configs_json_schema"]

#: The JSON Schema dialect the generated schema declares.
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_CACHE: dict[str, Any] = {}


def block_configs_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a native ``block_configs`` list.

    Every class is a ``$defs`` entry: an object with exactly its fields
    (``additionalProperties: false``), the required ones listed, each field typed and
    ranged as the converter checks it (ints from their minimum to ``MAX_INT``, nullable
    fields accepting ``null``), with its default. The rules between fields are
    ``if``/``then`` conditions: ``num_key_value_heads`` is required unless the attention
    is ``no_op``, Mamba or MLA, ``intermediate_size`` unless the FFN is ``no_op`` or MoE; a
    ``no_op`` subblock is not ``replace_with_linear``, a ``no_op`` attention is not Mamba,
    Llama-4 or MLA and has no ``sliding_window``, a Mamba attention has neither
    ``sliding_window`` nor ``mla`` (nor a head count or width of its own), and an MLA attention
    is not Llama-4 and has no ``head_dim``. The fields written only when set
    (``sliding_window``, ``mla``, ``gated``, ...) are optional and nullable, like
    the others. A linear attention drops ``num_key_value_heads`` too and has no ``llama4``,
    ``sliding_window``, ``output_gate`` nor a head count or width of its own; a no-op, Mamba or
    MLA attention has neither ``linear_attention`` nor ``output_gate`` (``false`` is allowed:
    it means no gate); a linear attention's ``kind`` is one of
    :data:`~block_config.LINEAR_ATTENTION_KINDS`. A ``compressed_attention`` (DeepSeek-V4)
    keeps ``num_key_value_heads`` and has no ``llama4``, ``output_gate`` or
    ``kv_source_layer``, and a no-op, Mamba, MLA or linear attention has none.
    ``values_from_keys`` (Gemma 4) is on a GQA attention that computes its own keys only:
    never with a no-op, Mamba, MLA, linear or compressed attention nor ``kv_source_layer``
    (``false`` is allowed: it means values of their own).

    What a JSON Schema cannot express, so the converter alone checks it:

    * ``num_experts_per_tok <= num_local_experts`` (a comparison of two values), a
      linear attention's head counts and widths (equal for ``kda``, value heads a multiple
      of key heads for ``gdn``), and the indexer fields of an MLA or compressed attention
      (both or neither; a compressed attention's only with ``compress_rate``);
    * the nesting limit of ``parallel_blocks`` (:data:`block_config.MAX_PARALLEL_DEPTH`)
      and the list length limit (:data:`block_config.MAX_BLOCKS`);
    * JSON Schema's ``integer`` is a mathematical integer, so ``8.0`` validates where the
      converter wants the JSON integer ``8``;
    * a string holding a lone surrogate, which no UTF-8 text can carry.

    Each call returns a fresh copy, safe to modify.

    >>> schema = block_configs_json_schema()
    >>> schema["items"]
    {'$ref': '#/$defs/BlockConfig'}
    """
    if not _CACHE:
        _CACHE.update(_generate())
    return copy.deepcopy(_CACHE)


def _generate() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    pending: list[type[BaseDataclass]] = [BlockConfig]
    while pending:
        cls = pending.pop()
        if cls.__name__ in defs:
            continue
        defs[cls.__name__] = _object_schema(cls)
        pending.extend(
            rule.target
            for rule in field_rules(cls)
            if rule.target is not None and rule.target.__name__ not in defs
        )
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "block_configs",
        "description": "Per-layer block configs of a heterogeneous transformer, one per layer.",
        "type": "array",
        "items": {"$ref": "#/$defs/BlockConfig"},
        "$defs": dict(sorted(defs.items())),
    }


# The rules between fields, mirroring SubblockConfig._normalise, AttentionConfig._normalise
# and FFNConfig._normalise. A field is "set" when it is present and differs from its
# default (a true ``no_op``, a non-null ``mamba`` or ``moe``); an absent field has its default.

#: For each class, a field and the fields that must keep their defaults while it is set.
_EXCLUDED_BY: dict[type[BaseDataclass], dict[str, tuple[str, ...]]] = {
    AttentionConfig: {
        "no_op": (
            "replace_with_linear",
            "mamba",
            "llama4",
            "sliding_window",
            "mla",
            "num_attention_heads",
            "head_dim",
            "linear_attention",
            "output_gate",
            "kv_source_layer",
            "compressed_attention",
            "values_from_keys",
        ),
        "mamba": (
            "sliding_window",
            "mla",
            "num_attention_heads",
            "head_dim",
            "linear_attention",
            "output_gate",
            "kv_source_layer",
            "compressed_attention",
            "values_from_keys",
        ),
        "mla": (
            "llama4",
            "head_dim",
            "linear_attention",
            "output_gate",
            "compressed_attention",
            "values_from_keys",
        ),
        "linear_attention": (
            "llama4",
            "sliding_window",
            "output_gate",
            "num_attention_heads",
            "head_dim",
            "kv_source_layer",
            "compressed_attention",
            "values_from_keys",
        ),
        "compressed_attention": ("llama4", "output_gate", "kv_source_layer", "values_from_keys"),
        "kv_source_layer": ("values_from_keys",),
    },
    FFNConfig: {"no_op": ("replace_with_linear",)},
}

#: For each class, a field that must be present and non-null unless one of the others is set.
_REQUIRED_UNLESS: dict[type[BaseDataclass], dict[str, tuple[str, ...]]] = {
    AttentionConfig: {"num_key_value_heads": ("no_op", "mamba", "mla", "linear_attention")},
    FFNConfig: {"intermediate_size": ("no_op", "moe")},
}

#: Fields whose ``false`` means the same as ``null`` (the converter normalises it): excluded,
#: they may be either.
_FALSE_IS_NULL: dict[type[BaseDataclass], frozenset[str]] = {
    AttentionConfig: frozenset({"output_gate", "values_from_keys"}),
}

#: String fields that take one of a few values.
_CHOICES: dict[type[BaseDataclass], dict[str, tuple[str, ...]]] = {
    LinearAttentionConfig: {"kind": LINEAR_ATTENTION_KINDS},
}


def _cross_field_rules(cls: type[BaseDataclass]) -> list[dict[str, Any]]:
    defaults = {rule.name: rule.default for rule in field_rules(cls)}
    conditions: list[dict[str, Any]] = []
    for key, excluded in _EXCLUDED_BY.get(cls, {}).items():
        conditions.append(
            {
                "if": {"required": [key], "properties": {key: {"not": {"const": defaults[key]}}}},
                "then": {
                    "properties": {
                        name: (
                            {"enum": [defaults[name], False]}
                            if name in _FALSE_IS_NULL.get(cls, ())
                            else {"const": defaults[name]}
                        )
                        for name in excluded
                    }
                },
            }
        )
    for name, unless in _REQUIRED_UNLESS.get(cls, {}).items():
        conditions.append(
            {
                "if": {"properties": {key: {"const": defaults[key]} for key in unless}},
                "then": {"required": [name], "properties": {name: {"not": {"type": "null"}}}},
            }
        )
    return conditions


def _object_schema(cls: type[BaseDataclass]) -> dict[str, Any]:
    rules = field_rules(cls)
    schema: dict[str, Any] = {
        "type": "object",
        "description": (inspect.getdoc(cls) or cls.__name__).split("\n\n")[0].replace("\n", " "),
        "properties": {
            rule.name: _field_schema(rule, _CHOICES.get(cls, {}).get(rule.name)) for rule in rules
        },
        "additionalProperties": False,
    }
    required = [rule.name for rule in rules if rule.required]
    if required:
        schema["required"] = required
    conditions = _cross_field_rules(cls)
    if conditions:
        schema["allOf"] = conditions
    return schema


def _value_schema(rule: FieldRule) -> dict[str, Any]:
    kind = rule.kind
    if kind is Kind.BOOL:
        return {"type": "boolean"}
    if kind is Kind.INT:
        return {"type": "integer", "minimum": rule.minimum, "maximum": MAX_INT}
    if kind is Kind.FLOAT:
        return {"type": "number"}
    if kind is Kind.STR:
        return {"type": "string"}
    if kind is Kind.STR_SEQ:
        return {"type": "array", "items": {"type": "string"}}
    if kind is Kind.NESTED:
        assert rule.target is not None
        return {"$ref": f"#/$defs/{rule.target.__name__}"}
    return {"type": "array", "items": {"$ref": "#/$defs/BlockConfig"}}  # Kind.BLOCK_SEQ


def _field_schema(rule: FieldRule, choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    schema = _value_schema(rule)
    if choices is not None:
        schema["enum"] = list(choices)
    if rule.optional:
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    if not rule.required:
        schema["default"] = rule.default
    return schema
