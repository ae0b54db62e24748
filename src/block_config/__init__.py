"""block-config: typed, strict per-layer block configs for heterogeneous transformer models.

>>> from block_config import BlockConfig
>>> block = BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 28672})
>>> block.attention.num_key_value_heads
8
"""

from block_config import dialects as dialects
from block_config import readers
from block_config._candidates import (
    LIBRARY_FORMAT_VERSION,
    Candidate,
    CandidateLibrary,
    SpanCandidate,
    build_candidates,
)

# Not public API, but module-level names that code written for the original module imports
# from it; the redundant aliases re-export them.
from block_config._compat import _get_dataclass_type as _get_dataclass_type
from block_config._compat import _is_dataclass_type as _is_dataclass_type
from block_config._config import (
    LINEAR_ATTENTION_KINDS,
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    CompressedAttentionConfig,
    FFNConfig,
    LinearAttentionConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MLAConfig,
    MoEConfig,
    SubblockConfig,
)
from block_config._converter import (
    MAX_BLOCKS,
    MAX_INT,
    MAX_PARALLEL_DEPTH,
    UnknownKeys,
    converter,
    maybe_cast_block_configs,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._diff import FieldChange, LayerDiff, ModelDiff, diff_block_configs, diff_models
from block_config._errors import (
    BlockConfigError,
    ConversionWarning,
    FrozenInstanceError,
    Problem,
    UnknownKeyWarning,
)
from block_config._json import MAX_JSON_DEPTH, MAX_JSON_SIZE, dumps, loads
from block_config._legacy import (
    LegacyAttentionConfig,
    LegacyBlockConfig,
    LegacyFFNConfig,
    ffn_mult_to_intermediate_size,
    intermediate_size_to_ffn_mult,
)
from block_config._model import Dialect, ModelArchitecture, MTPLayers, WritableDialect
from block_config._quantization import (
    QuantizationMethod,
    WeightQuantization,
    quantization_from_config,
)
from block_config._schema import block_configs_json_schema
from block_config._search import (
    Bound,
    BudgetName,
    Budgets,
    InfeasibleBudgetError,
    InfeasibleConstraintError,
    ReplacementChoice,
    SearchResult,
    SearchStatus,
    SolverNotInstalledError,
    SpanSearchResult,
    SweepPoint,
    search,
    search_replacements,
    search_spans,
    sweep,
)
from block_config._stats import (
    PRECISION_BITS,
    AttentionKind,
    AttentionStats,
    FFNKind,
    FFNStats,
    LayerStats,
    MemoryEstimate,
    ModelStats,
    block_stats,
    model_stats,
    precision_bits,
)
from block_config._version import __version__
from block_config._yaml import dumps_yaml, loads_yaml
from block_config.readers import supported_model_types

__all__ = [
    "LIBRARY_FORMAT_VERSION",
    "LINEAR_ATTENTION_KINDS",
    "MAX_BLOCKS",
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MAX_JSON_SIZE",
    "MAX_PARALLEL_DEPTH",
    "PRECISION_BITS",
    "SUBBLOCK_CLS_DICT",
    "AttentionConfig",
    "AttentionKind",
    "AttentionStats",
    "BaseDataclass",
    "BlockConfig",
    "BlockConfigError",
    "Bound",
    "BudgetName",
    "Budgets",
    "Candidate",
    "CandidateLibrary",
    "CompressedAttentionConfig",
    "ConversionWarning",
    "Dialect",
    "FFNConfig",
    "FFNKind",
    "FFNStats",
    "FieldChange",
    "FrozenInstanceError",
    "InfeasibleBudgetError",
    "InfeasibleConstraintError",
    "LayerDiff",
    "LayerStats",
    "LegacyAttentionConfig",
    "LegacyBlockConfig",
    "LegacyFFNConfig",
    "LinearAttentionConfig",
    "Llama4AttentionConfig",
    "MLAConfig",
    "MTPLayers",
    "MambaConfig",
    "MemoryEstimate",
    "MoEConfig",
    "ModelArchitecture",
    "ModelDiff",
    "ModelStats",
    "Problem",
    "QuantizationMethod",
    "ReplacementChoice",
    "SearchResult",
    "SearchStatus",
    "SolverNotInstalledError",
    "SpanCandidate",
    "SpanSearchResult",
    "SubblockConfig",
    "SweepPoint",
    "UnknownKeyWarning",
    "UnknownKeys",
    "WeightQuantization",
    "WritableDialect",
    "__version__",
    "block_configs_json_schema",
    "block_stats",
    "build_candidates",
    "converter",
    "diff_block_configs",
    "diff_models",
    "dumps",
    "dumps_yaml",
    "ffn_mult_to_intermediate_size",
    "intermediate_size_to_ffn_mult",
    "loads",
    "loads_yaml",
    "maybe_cast_block_configs",
    "model_stats",
    "precision_bits",
    "quantization_from_config",
    "readers",
    "search",
    "search_replacements",
    "search_spans",
    "structure_block_configs",
    "supported_model_types",
    "sweep",
    "unstructure_block_configs",
]
