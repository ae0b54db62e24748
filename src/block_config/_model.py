"""The model-level picture: a model's dimensions beside its per-layer block configs."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from block_config._config import BlockConfig

__all__ = ["Dialect", "ModelArchitecture"]

#: How ``block_configs`` are spelled in a ``config.json``: the seed's classes ("native"), the
#: published nemotron-nas / DeciLM form ("legacy"), or no ``block_configs`` at all
#: ("homogeneous": a plain Hugging Face config, one block shape repeated per layer).
Dialect = Literal["native", "legacy", "homogeneous"]


@attrs.frozen(kw_only=True)
class ModelArchitecture:
    """A model's dimensions and the tuple of its per-layer :class:`BlockConfig` objects.

    ``head_dim`` defaults to ``hidden_size // num_attention_heads``. ``source`` is the
    ``config.json`` mapping it was read from (if any): every key this class does not own is
    written back unchanged.
    """

    hidden_size: int
    num_attention_heads: int
    vocab_size: int
    block_configs: tuple[BlockConfig, ...]
    head_dim: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    #: Mamba-2 conv1d kernel width (``conv_kernel`` in Nemotron-H configs).
    mamba_conv_kernel: int = 4
    #: dtype the weights are stored in (``torch_dtype``), e.g. ``"bfloat16"``; None if unsaid.
    torch_dtype: str | None = None
    dialect: Dialect = "native"
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def num_hidden_layers(self) -> int:
        """The number of layers: one per block config."""
        return len(self.block_configs)
