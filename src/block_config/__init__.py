"""block-config: typed, strict per-layer block configs for heterogeneous transformer models.

>>> from block_config import BlockConfig
>>> block = BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 28672})
>>> block.attention.num_key_value_heads
8
"""

from block_config._config import (
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MoEConfig,
    SubblockConfig,
)
from block_config._converter import (
    MAX_INT,
    MAX_PARALLEL_DEPTH,
    UnknownKeys,
    converter,
    maybe_cast_block_configs,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._errors import BlockConfigError, Problem, UnknownKeyWarning
from block_config._json import dumps, loads
from block_config._model import ModelArchitecture
from block_config._stats import (
    PRECISION_BITS,
    AttentionStats,
    FFNStats,
    LayerStats,
    MemoryEstimate,
    ModelStats,
    block_stats,
    model_stats,
    precision_bits,
)
from block_config._version import __version__

__all__ = [
    "MAX_INT",
    "MAX_PARALLEL_DEPTH",
    "PRECISION_BITS",
    "SUBBLOCK_CLS_DICT",
    "AttentionConfig",
    "AttentionStats",
    "BaseDataclass",
    "BlockConfig",
    "BlockConfigError",
    "FFNConfig",
    "FFNStats",
    "LayerStats",
    "Llama4AttentionConfig",
    "MambaConfig",
    "MemoryEstimate",
    "MoEConfig",
    "ModelArchitecture",
    "ModelStats",
    "Problem",
    "SubblockConfig",
    "UnknownKeyWarning",
    "UnknownKeys",
    "__version__",
    "block_stats",
    "converter",
    "dumps",
    "loads",
    "maybe_cast_block_configs",
    "model_stats",
    "precision_bits",
    "structure_block_configs",
    "unstructure_block_configs",
]
