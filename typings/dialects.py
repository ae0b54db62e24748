"""The typed contract of the dialects registry and of per-layer reading and writing.

Never executed: ``mypy --strict`` checks it, with ``warn_unused_ignores`` on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_type

from block_config import BlockConfig, ModelArchitecture, dialects, readers

assert_type(dialects.writable_dialects(), tuple[str, ...])
assert_type(dialects.registered(), Mapping[str, tuple[bool, bool]])
assert_type(dialects.dialect_for_model_type("gpt_oss_puzzle"), str | None)
writer = dialects.writer_of("per-layer")
assert_type(writer, dialects.Writer | None)
if writer is not None:
    model = ModelArchitecture.load("config.json")
    assert_type(writer(model), dict[str, Any])
    assert_type(model.to_mapping("per-layer"), dict[str, Any])
    model.to_mapping("homogeneous")  # type: ignore[arg-type]


@dialects.register_writer("my-dialect")
def write_mine(model: ModelArchitecture) -> dict[str, Any]:
    return {"block_configs": [block.to_dict() for block in model.block_configs]}


registered_writer: dialects.Writer = write_mine  # the decorator keeps the function's type

spec = readers.per_layer_of("llama")
assert_type(spec, readers.PerLayer | None)
if spec is not None:
    assert_type(spec.attributes, frozenset[str])
    assert_type(spec.skips, tuple[str, ...])
    assert_type(spec.aliases, Mapping[str, str])
    assert_type(spec.refusal, str | None)
    assert_type(spec.flag_keys, Mapping[str, str])


def no_globals(blocks: tuple[BlockConfig, ...]) -> dict[str, Any]:
    return {}


mine = readers.PerLayer(
    {"intermediate_size", "num_key_value_heads"}, skips=("mixer",), globals_from_blocks=no_globals
)
refused = readers.PerLayer(frozenset(), skips=(), refusal="its modelling code builds none")
assert_type(readers.architecture_of("llama"), str | None)
readers.PerLayer({"intermediate_size"}, skips="mixer")  # type: ignore[arg-type]
