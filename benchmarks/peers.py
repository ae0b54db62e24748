"""The same classes in pydantic v2 and in msgspec, each as strict as the library allows.

pydantic: frozen models, strict mode, extra keys forbidden, counts bounded by ``Field``.
Strict mode refuses a list where a tuple is declared, so the two sequence fields alone are
lax about the container (never about the items), as a user would write them.
msgspec: frozen Structs with ``forbid_unknown_fields`` and bounds from ``Meta``; msgspec
is strict by default. Neither checks the rules between fields (e.g. ``num_experts_per_tok <=
num_local_experts``); block-config does.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pydantic
from pydantic import ConfigDict, Field

MAX_INT = 2**63 - 1

# ------------------------------------------------------------------------------- pydantic

Count = Annotated[int, Field(ge=1, le=MAX_INT)]
Count0 = Annotated[int, Field(ge=0, le=MAX_INT)]
Floats = Annotated[float, Field(allow_inf_nan=False)]
Strs = Annotated[tuple[str, ...] | None, Field(strict=False)]


class _Model(pydantic.BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class PMoE(_Model):
    num_local_experts: Count = 8
    num_experts_per_tok: Count = 1
    expert_intermediate_dim: Count = 8192
    shared_expert_intermediate_dim: Count0 = 8192


class PMamba(_Model):
    state_dim: Count
    num_heads: Count
    head_dim: Count
    num_groups: Count


class PLlama4(_Model):
    attention_chunk_size: Count | None = None
    use_rope: bool | None = None
    use_qk_norm: bool | None = None
    attn_scale: Floats | None = None
    floor_scale: Floats | None = None
    attn_temperature_tuning: bool | None = None
    attention_dropout: Floats | None = None


class PAttention(_Model):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: Strs = None
    weights_precision: str | None = "bf16"
    num_key_value_heads: Count | None = None
    llama4: PLlama4 | None = None
    mamba: PMamba | None = None


class PFFN(_Model):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: Strs = None
    weights_precision: str | None = "bf16"
    moe: PMoE | None = None
    intermediate_size: Count | None = None


class PBlock(_Model):
    attention: PAttention | None = None
    ffn: PFFN | None = None
    parallel_blocks: Annotated[tuple[PBlock, ...] | None, Field(strict=False)] = None


pydantic_blocks: pydantic.TypeAdapter[list[PBlock]] = pydantic.TypeAdapter(list[PBlock])

# ------------------------------------------------------------------------------- msgspec

MCount = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT)]
MCount0 = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
_STRUCT: dict[str, Any] = {"frozen": True, "forbid_unknown_fields": True, "cache_hash": True}


class MMoE(msgspec.Struct, **_STRUCT):
    num_local_experts: MCount = 8
    num_experts_per_tok: MCount = 1
    expert_intermediate_dim: MCount = 8192
    shared_expert_intermediate_dim: MCount0 = 8192


class MMamba(msgspec.Struct, **_STRUCT):
    state_dim: MCount
    num_heads: MCount
    head_dim: MCount
    num_groups: MCount


class MLlama4(msgspec.Struct, **_STRUCT):
    attention_chunk_size: MCount | None = None
    use_rope: bool | None = None
    use_qk_norm: bool | None = None
    attn_scale: float | None = None
    floor_scale: float | None = None
    attn_temperature_tuning: bool | None = None
    attention_dropout: float | None = None


class MAttention(msgspec.Struct, **_STRUCT):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: tuple[str, ...] | None = None
    weights_precision: str | None = "bf16"
    num_key_value_heads: MCount | None = None
    llama4: MLlama4 | None = None
    mamba: MMamba | None = None


class MFFN(msgspec.Struct, **_STRUCT):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: tuple[str, ...] | None = None
    weights_precision: str | None = "bf16"
    moe: MMoE | None = None
    intermediate_size: MCount | None = None


class MBlock(msgspec.Struct, **_STRUCT):
    attention: MAttention | None = None
    ffn: MFFN | None = None
    parallel_blocks: tuple[MBlock, ...] | None = None


msgspec_decoder = msgspec.json.Decoder(list[MBlock])
msgspec_encoder = msgspec.json.Encoder()
