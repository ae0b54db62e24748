"""The typed contract of the dataclass protocol, as code written for the original uses it.

Never executed: ``mypy --strict`` checks it. The classes are attrs classes, yet a type checker
accepts them wherever the :mod:`dataclasses` functions want a dataclass, and the results keep
their precise types.
"""

from __future__ import annotations

import dataclasses
from typing import Any, assert_type

import attrs
import attrs.exceptions

from block_config import (
    AttentionConfig,
    BlockConfig,
    FFNConfig,
    FrozenInstanceError,
    MoEConfig,
    _get_dataclass_type,
    _is_dataclass_type,
    maybe_cast_block_configs,
)

block = BlockConfig(
    attention=AttentionConfig(num_key_value_heads=8), ffn=FFNConfig(intermediate_size=4)
)

# --- dataclasses functions on the attrs classes -------------------------------------------

assert_type(dataclasses.replace(block, ffn=None), BlockConfig)
assert_type(dataclasses.replace(FFNConfig(no_op=True), no_op=False), FFNConfig)
assert_type(dataclasses.fields(block), tuple[dataclasses.Field[Any], ...])
assert_type(dataclasses.fields(MoEConfig), tuple[dataclasses.Field[Any], ...])
assert_type(dataclasses.asdict(block), dict[str, Any])
assert_type(dataclasses.astuple(block), tuple[Any, ...])
assert_type(BlockConfig.__dataclass_fields__, dict[str, dataclasses.Field[Any]])
assert_type(attrs.evolve(block, ffn=None), BlockConfig)

if dataclasses.is_dataclass(block):
    assert_type(block, BlockConfig)

# --- the original module's helpers ---------------------------------------------------------

field_type = dataclasses.fields(BlockConfig)[0].type
assert_type(_is_dataclass_type(field_type), bool)
assert_type(_get_dataclass_type(field_type), Any)

# --- unknown keys, as a pipeline loading an older or newer config.json asks for -----------

assert_type(
    maybe_cast_block_configs([{"ffn": {"no_op": True, "old": 1}}], unknown_keys="warn"),
    list[BlockConfig] | None,
)
maybe_cast_block_configs([], unknown_keys="ignore")  # type: ignore[arg-type]

# --- the frozen error is both libraries' ----------------------------------------------------

frozen: dataclasses.FrozenInstanceError = FrozenInstanceError("cannot assign to field 'ffn'")
also_frozen: attrs.exceptions.FrozenInstanceError = FrozenInstanceError()
try:
    object.__setattr__(block, "ffn", None)
except dataclasses.FrozenInstanceError as error:
    assert_type(error, dataclasses.FrozenInstanceError)
