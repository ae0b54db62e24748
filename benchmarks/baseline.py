"""The baseline: stdlib frozen dataclasses that behave as the seed documents ``BaseDataclass``.

Nested fields are initialised from dicts in ``__post_init__``, no-op subblocks are normalised
there, and ``==``, ``hash`` and the orderings go through ``str(self)``. Nothing is checked:
a wrong type or a negative count is stored as given.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class BaseDataclass:
    """Comparison via the string representation; nested fields initialised from dicts."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other: BaseDataclass) -> bool:
        return str(self) < str(other)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _nested(self, name: str, cls: type[Any]) -> None:
        value = getattr(self, name)
        if isinstance(value, dict):
            self._set(name, cls(**value))

    def to_dict(self) -> dict[str, Any]:
        """Every field, nested dataclasses as dicts."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


_OPTIONS = {"frozen": True, "kw_only": True, "eq": False}


@dataclasses.dataclass(**_OPTIONS)
class SubblockConfig(BaseDataclass):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: list[str] | None = None
    weights_precision: str | None = "bf16"

    def __post_init__(self) -> None:
        if self.no_op:
            self._set("sparsify", None)


@dataclasses.dataclass(**_OPTIONS)
class MoEConfig(BaseDataclass):
    num_local_experts: int = 8
    num_experts_per_tok: int = 1
    expert_intermediate_dim: int = 8192
    shared_expert_intermediate_dim: int = 8192


@dataclasses.dataclass(**_OPTIONS)
class MambaConfig(BaseDataclass):
    state_dim: int
    num_heads: int
    head_dim: int
    num_groups: int


@dataclasses.dataclass(**_OPTIONS)
class Llama4AttentionConfig(BaseDataclass):
    attention_chunk_size: int | None = None
    use_rope: bool | None = None
    use_qk_norm: bool | None = None
    attn_scale: float | None = None
    floor_scale: float | None = None
    attn_temperature_tuning: bool | None = None
    attention_dropout: float | None = None


@dataclasses.dataclass(**_OPTIONS)
class AttentionConfig(SubblockConfig):
    num_key_value_heads: int | None = None
    llama4: Llama4AttentionConfig | None = None
    mamba: MambaConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._nested("llama4", Llama4AttentionConfig)
        self._nested("mamba", MambaConfig)
        if self.no_op or self.mamba is not None:
            self._set("num_key_value_heads", None)


@dataclasses.dataclass(**_OPTIONS)
class FFNConfig(SubblockConfig):
    moe: MoEConfig | None = None
    intermediate_size: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._nested("moe", MoEConfig)
        if self.no_op:
            self._set("moe", None)
        if self.no_op or self.moe is not None:
            self._set("intermediate_size", None)


@dataclasses.dataclass(**_OPTIONS)
class BlockConfig(BaseDataclass):
    attention: AttentionConfig | None = None
    ffn: FFNConfig | None = None
    parallel_blocks: list[BlockConfig] | None = None

    def __post_init__(self) -> None:
        self._nested("attention", AttentionConfig)
        self._nested("ffn", FFNConfig)
        given: list[Any] | None = self.parallel_blocks  # dicts, as the seed accepts them
        if given is not None:
            self._set(
                "parallel_blocks", [BlockConfig(**b) if isinstance(b, dict) else b for b in given]
            )
