"""The model-level picture: a model's dimensions beside its per-layer block configs.

:class:`ModelArchitecture` reads a Hugging Face ``config.json`` in any of three dialects
(native ``block_configs``, legacy nemotron-nas ``block_configs``, or a homogeneous config
without them, read by its family's reader: see :mod:`block_config.readers`), checks it, and
writes the native or legacy dialect back, leaving every key it does not own as it was.
"""

from __future__ import annotations

import errno
import os
import typing
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path as FilePath
from typing import Any, Literal

import attrs

from block_config import readers
from block_config._config import AttentionConfig, BlockConfig
from block_config._converter import (
    _NOT_TEXT,
    UnknownKeys,
    _is_text,
    structure_block_configs,
)
from block_config._errors import (
    BlockConfigError,
    Path,
    Problem,
    describe,
    key_label,
)
from block_config._io import (
    CONFIG_FILENAME,
    atomic_write,
    dump_config_json,
    read_config_json,
    read_limited,
    resolve_config_path,
)
from block_config._json import copy_json, json_value_problems
from block_config._keys import check_int, is_count
from block_config._legacy import LegacyBlockConfig
from block_config._quantization import WeightQuantization, quantization_from_config
from block_config._warnings import quiet
from block_config._yaml import dump_yaml, parse_yaml
from block_config.readers._common import DEFAULT_CONV_KERNEL as _DEFAULT_CONV_KERNEL
from block_config.readers._common import (
    FLAG_KEYS,
    HYPER_CONNECTIONS_KEY,
    MODEL_COUNT_KEYS,
    PER_LAYER_INPUT_KEYS,
    check_kv,
)

__all__ = ["Dialect", "MTPLayers", "ModelArchitecture", "WritableDialect"]

#: How ``block_configs`` are spelled in a ``config.json``: the seed's classes ("native"), the
#: published nemotron-nas / DeciLM form ("legacy"), or no ``block_configs`` at all
#: ("homogeneous": a plain Hugging Face config, its layers built by its family's reader).
Dialect = Literal[
    "native", "legacy", "homogeneous", "per-layer", "gpt_oss_puzzle", "nemotron_h_puzzle"
]
#: The dialects :meth:`ModelArchitecture.to_mapping` writes.
WritableDialect = Literal["native", "legacy", "per-layer", "gpt_oss_puzzle", "nemotron_h_puzzle"]
_WRITABLE: tuple[str, ...] = typing.get_args(WritableDialect)

_DIALECTS: tuple[str, ...] = typing.get_args(Dialect)
_UNSET = -1  # head_dim not given and not derivable; reported by the checks
#: The model-wide facts read from and written to ``config.json`` keys of the same names
#: (written only when true, so a model without them is written as before).
_FLAGS = FLAG_KEYS
_BOOL_FIELDS = ("tie_word_embeddings", "attention_bias", "mlp_bias", *_FLAGS)
_UNREADABLE = object()
_STR_FIELDS = ("torch_dtype", "mamba_ssm_cache_dtype", "model_type")
#: File suffixes read and written as YAML instead of JSON.
YAML_SUFFIXES = (".yaml", ".yml")


# The source the constructor may take as checked: from_mapping checked it as its input, and
# with_block_configs keeps the one checked when the object was made.
_checked_source: ContextVar[dict[str, Any] | None] = ContextVar(
    "block_config_checked_source", default=None
)


def _default_head_dim(self: ModelArchitecture) -> int:
    hidden, heads = self.hidden_size, self.num_attention_heads
    if is_count(hidden) and is_count(heads) and hidden % heads == 0:
        return hidden // heads
    return _UNSET


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _block_tuple(value: Iterable[BlockConfig | Mapping[str, Any]]) -> tuple[BlockConfig, ...]:
    given: Any = value
    if type(given) is tuple and all(type(block) is BlockConfig for block in given):
        return given
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise BlockConfigError.at(
            ("block_configs",), f"expected a list of block configs, got {describe(given)}"
        )
    try:
        return tuple(structure_block_configs(list(given)))
    except BlockConfigError as error:
        raise error.under(("block_configs",)) from None


def _own_values_dropped(block: BlockConfig, heads: int, head_dim: int) -> BlockConfig:
    attention = block.attention
    if attention is not None and (
        attention.num_attention_heads == heads or attention.head_dim == head_dim
    ):
        attention = attrs.evolve(
            attention,
            num_attention_heads=(
                None if attention.num_attention_heads == heads else attention.num_attention_heads
            ),
            head_dim=None if attention.head_dim == head_dim else attention.head_dim,
        )
        block = attrs.evolve(block, attention=attention)
    if block.parallel_blocks:
        inner = tuple(_own_values_dropped(b, heads, head_dim) for b in block.parallel_blocks)
        if inner != block.parallel_blocks:
            block = attrs.evolve(block, parallel_blocks=inner)
    return block


def _has_own_values(block: BlockConfig) -> bool:
    attention = block.attention
    if attention is not None and (
        attention.num_attention_heads is not None or attention.head_dim is not None
    ):
        return True
    return any(_has_own_values(inner) for inner in block.parallel_blocks or ())


def _without_model_values(
    blocks: tuple[BlockConfig, ...], heads: int, head_dim: int
) -> tuple[BlockConfig, ...] | None:
    """``blocks`` with each layer's own head count and width dropped where they equal the
    model's (so that a layer says them only where it differs); None when nothing changes."""
    changed: dict[int, BlockConfig] = {}
    for block in blocks:
        if id(block) not in changed and _has_own_values(block):
            new = _own_values_dropped(block, heads, head_dim)
            if new is not block:
                changed[id(block)] = new
    if not changed:
        return None
    return tuple(changed.get(id(block), block) for block in blocks)


def _legacy_tuple(
    value: Iterable[LegacyBlockConfig] | None,
) -> tuple[LegacyBlockConfig, ...] | None:
    return None if value is None else tuple(value)


def _mtp_blocks(value: Iterable[BlockConfig | Mapping[str, Any]]) -> tuple[BlockConfig, ...]:
    try:
        return _block_tuple(value)
    except BlockConfigError as error:
        # _block_tuple names $.block_configs: here they are the MTP layer's.
        raise BlockConfigError(
            p.under(("mtp",)) if p.path[:1] == ("block_configs",) else p for p in error.problems
        ) from None


@attrs.frozen(kw_only=True)
class MTPLayers:
    """The multi-token-prediction (MTP) layers a checkpoint holds beside the model's own.

    ``num_layers`` (``num_nextn_predict_layers``) MTP layers follow the last layer, each made
    of ``block_configs`` (DeepSeek-V3: one decoder layer; Nemotron-H: its
    ``mtp_hybrid_override_pattern``, ``*E`` for Nemotron-3-Super) between two norms of the
    embedding and the hidden state, a projection ``eh_proj`` from both (``2 * h`` to ``h``)
    and a final norm. ``own_embeddings``: each layer stores its own copy of the embedding and
    the output head (DeepSeek-V3 does; Nemotron-H's share the model's).

    transformers builds none of them: they are counted apart from the model
    (:attr:`ModelStats.mtp_params <block_config.ModelStats.mtp_params>`).

    >>> mtp = MTPLayers(num_layers=1, block_configs=[
    ...     {"attention": {"num_key_value_heads": 2}, "ffn": {"no_op": True}}])
    >>> mtp.num_layers, len(mtp.block_configs)
    (1, 1)
    """

    num_layers: int
    block_configs: tuple[BlockConfig, ...] = attrs.field(converter=_mtp_blocks)
    own_embeddings: bool = False

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        check_int(self.num_layers, ("mtp", "num_layers"), problems)
        if not self.block_configs:
            problems.append(
                Problem(("mtp", "block_configs"), "an MTP layer has at least one block")
            )
        if self.own_embeddings is not True and self.own_embeddings is not False:
            problems.append(
                Problem(
                    ("mtp", "own_embeddings"), f"expected bool, got {describe(self.own_embeddings)}"
                )
            )
        if problems:
            raise BlockConfigError(problems)


@attrs.frozen(kw_only=True)
class ModelArchitecture:
    """A model's dimensions and the tuple of its per-layer :class:`BlockConfig` objects.

    ``head_dim`` defaults to ``hidden_size // num_attention_heads`` (which must then divide
    evenly). The constructor checks every field strictly and that each attention's KV heads
    divide ``num_attention_heads``; problems are :class:`BlockConfigError` with paths named as
    in ``config.json`` (``$.block_configs[3].attention.num_key_value_heads``).

    ``source`` is the ``config.json`` mapping the object was read from (if any): every key this
    class does not own is written back unchanged. ``legacy_block_configs`` holds the legacy
    items as read (legacy dialect only), so that writing the legacy dialect back reproduces
    them exactly, sink and window keys and original ``ffn_mult`` values included.

    >>> arch = ModelArchitecture(hidden_size=4096, num_attention_heads=32, vocab_size=32000,
    ...     block_configs=[{"attention": {"num_key_value_heads": 8},
    ...                     "ffn": {"intermediate_size": 14336}}] * 2)
    >>> arch.head_dim, arch.num_hidden_layers
    (128, 2)
    """

    hidden_size: int
    num_attention_heads: int
    vocab_size: int
    block_configs: tuple[BlockConfig, ...] = attrs.field(converter=_block_tuple)
    head_dim: int = attrs.field(default=attrs.Factory(_default_head_dim, takes_self=True))
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    #: Mamba-2 conv1d kernel width (``conv_kernel`` in Nemotron-H configs).
    mamba_conv_kernel: int = _DEFAULT_CONV_KERNEL
    #: dtype the weights are stored in (``torch_dtype``), e.g. ``"bfloat16"``; None if unsaid.
    torch_dtype: str | None = None
    #: Biases on q, k and v only (Qwen2, Qwen2-MoE); o has one only with ``attention_bias``.
    qkv_bias: bool = False
    #: An RMSNorm weight of ``head_dim`` on q and one on k in every attention layer (Qwen3,
    #: Qwen3-MoE, Gemma-3). Llama-4's weightless L2 QK-norm is not this.
    qk_norm: bool = False
    #: One RMSNorm weight over all query heads (``H * head_dim``) and one over all key heads
    #: (``kv * head_dim``) in every attention layer, instead of one per head (OLMo-3,
    #: MiniMax-M2). Not with ``qk_norm``: the two are forms of the same norm.
    qk_norm_across_heads: bool = False
    #: The subblocks of a layer's ``parallel_blocks`` read the layer's input norm and have
    #: none of their own (Falcon-H1: one norm before attention and Mamba side by side).
    parallel_blocks_share_input_norm: bool = False
    #: Mamba mixers have no gated RMSNorm before out_proj (Falcon-H1's ``mamba_rms_norm``
    #: false).
    mamba_without_norm: bool = False
    #: Each attention, and each sparse-attention indexer, scales its queries per head by
    #: ``scale * log(position + 1) + bias``: two parameters per head (Mistral-Large-4).
    log_position_scaling: bool = False
    #: The routers' weights are kept in fp32 whatever the model's dtype (Mistral-Large-4,
    #: transformers' ``_keep_in_fp32_modules_strict``): 4 bytes each in weight bytes.
    router_fp32: bool = False
    #: LeRoPE (Mistral-Large-4's ``rotary_emb.alpha``): this many learned scales, one per
    #: rotary frequency, model-level parameters kept in fp32; None when the model has none.
    learned_rope_frequencies: int | None = None
    #: A norm after each attention and FFN besides the one before it (Gemma-2, Gemma-3).
    sandwich_norms: bool = False
    #: The router has a bias of ``num_local_experts`` (gpt-oss).
    router_bias: bool = False
    #: The router scales its input by a learned vector of ``hidden_size`` and each chosen
    #: expert's weight by a learned scalar of its own (Gemma 4's ``router.scale`` and
    #: ``router.per_expert_scale``): ``hidden_size + num_local_experts`` more per router.
    router_scales: bool = False
    #: Each MoE layer has three norms of ``hidden_size`` more, one after its shared expert and
    #: one before and one after its routed experts (Gemma 4, whose dense MLP runs beside the
    #: routed experts as the shared expert: ``post_feedforward_layernorm_1``,
    #: ``pre_feedforward_layernorm_2`` and ``post_feedforward_layernorm_2``).
    moe_branch_norms: bool = False
    #: Each expert has biases: ``2 * expert_dim`` on gate/up and ``hidden_size`` on down
    #: (gpt-oss).
    expert_bias: bool = False
    #: One learned sink logit per attention head in every attention layer (gpt-oss).
    attention_sinks: bool = False
    #: A ``hidden_size -> 1`` sigmoid gate on the shared expert (Qwen2-MoE).
    shared_expert_gate: bool = False
    #: A score-correction bias of ``num_local_experts`` in every router (DeepSeek-V3
    #: ``e_score_correction_bias``, Nemotron-H MoE): stored in fp32 by the checkpoints, a
    #: buffer rather than a parameter to transformers, so counted in weight bytes only.
    router_score_correction_bias: bool = False
    #: How the quantized weight matrices are stored (``quantization_config``); None: all at
    #: ``torch_dtype``.
    quantization: WeightQuantization | None = None
    #: dtype of the Mamba SSM state (``mamba_ssm_cache_dtype``); None if unsaid.
    mamba_ssm_cache_dtype: str | None = None
    #: The ``model_type`` the model was read as; None if unsaid.
    model_type: str | None = None
    #: Per-layer embeddings (Gemma 4's ``hidden_size_per_layer_input``): each layer adds a
    #: gated input of this width, looked up in a table of ``per_layer_input_vocab_size`` rows
    #: of ``num_hidden_layers * per_layer_input_size`` and projected from the embeddings;
    #: None when the model has none (then ``per_layer_input_vocab_size`` is None too).
    per_layer_input_size: int | None = None
    #: Rows of the per-layer embedding table (``vocab_size_per_layer_input``).
    per_layer_input_vocab_size: int | None = None
    #: Hyper-connections (DeepSeek-V4, GLM-5.3-Flash; ``hc_mult``): the residual stream is
    #: this many copies of the hidden state, mixed around every attention and FFN by learned
    #: weights, and collapsed into one after the last layer; None when the model has none.
    hyper_connections: int | None = None
    #: The streams are collapsed after the last layer by an unweighted mean, with no weights of
    #: its own (GLM-5.3-Flash), instead of DeepSeek-V4's learned ``hc_head``.
    hyper_connections_mean_head: bool = False
    #: The multi-token-prediction layers the checkpoint holds (``num_nextn_predict_layers``),
    #: counted apart from the model; None when it has none.
    mtp: MTPLayers | None = None
    dialect: Dialect = "native"
    #: The legacy items as read, one per layer; None unless read from the legacy dialect.
    legacy_block_configs: tuple[LegacyBlockConfig, ...] | None = attrs.field(
        default=None, converter=_legacy_tuple, repr=False
    )
    source: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise BlockConfigError(problems)
        blocks = _without_model_values(self.block_configs, self.num_attention_heads, self.head_dim)
        if blocks is not None:
            object.__setattr__(self, "block_configs", blocks)

    @property
    def num_hidden_layers(self) -> int:
        """The number of layers: one per block config."""
        return len(self.block_configs)

    # ----------------------------------------------------------------------- checks

    def _problems(self) -> list[Problem]:
        problems: list[Problem] = []
        for name in ("hidden_size", "num_attention_heads", "vocab_size", "mamba_conv_kernel"):
            check_int(getattr(self, name), (name,), problems)
        valid_shape = is_count(self.hidden_size) and is_count(self.num_attention_heads)
        if self.head_dim == _UNSET and (
            not valid_shape or self.hidden_size % self.num_attention_heads
        ):
            if valid_shape:
                problems.append(
                    Problem(
                        ("head_dim",),
                        f"not given, and hidden_size ({self.hidden_size}) is not a multiple "
                        f"of num_attention_heads ({self.num_attention_heads})",
                    )
                )
        else:
            check_int(self.head_dim, ("head_dim",), problems)
        for name in _BOOL_FIELDS:
            value = getattr(self, name)
            if value is not True and value is not False:
                problems.append(Problem((name,), f"expected bool, got {describe(value)}"))
        for name in _STR_FIELDS:
            value = getattr(self, name)
            if value is not None and type(value) is not str:
                problems.append(Problem((name,), f"expected str or null, got {describe(value)}"))
            elif value is not None and not _is_text(value):
                problems.append(Problem((name,), _NOT_TEXT))
        for name in ("per_layer_input_size", "per_layer_input_vocab_size", *MODEL_COUNT_KEYS):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), (name,), problems)
        if (self.per_layer_input_size is None) != (self.per_layer_input_vocab_size is None):
            problems.append(
                Problem(
                    ("per_layer_input_vocab_size",),
                    "must be given with per_layer_input_size and only with it",
                )
            )
        problems += self._hyper_connection_problems()
        if self.qk_norm is True and self.qk_norm_across_heads is True:
            problems.append(
                Problem(
                    ("qk_norm_across_heads",),
                    "cannot be true with qk_norm: a model norms q and k per head or across "
                    "heads, not both",
                )
            )
        if self.torch_dtype == "":  # reads back as no dtype at all
            problems.append(
                Problem(("torch_dtype",), "expected a dtype name (text, not empty) or null, got ''")
            )
        if self.quantization is not None and type(self.quantization) is not WeightQuantization:
            problems.append(
                Problem(
                    ("quantization",),
                    f"expected WeightQuantization or null, got {describe(self.quantization)}",
                )
            )
        if self.dialect not in _DIALECTS:
            problems.append(
                Problem(("dialect",), f"expected one of {_DIALECTS}, got {describe(self.dialect)}")
            )
        if type(self.source) is not dict:
            problems.append(Problem(("source",), f"expected dict, got {describe(self.source)}"))
        elif _checked_source.get() is not self.source:
            # Written back by save(): it must be JSON that reads back the same.
            problems += json_value_problems(self.source, ("source",))
        legacy = self.legacy_block_configs
        if legacy is not None:
            if any(type(item) is not LegacyBlockConfig for item in legacy):
                problems.append(
                    Problem(("legacy_block_configs",), "expected LegacyBlockConfig objects")
                )
            elif len(legacy) != len(self.block_configs):
                problems.append(
                    Problem(
                        ("legacy_block_configs",),
                        f"has {len(legacy)} items but block_configs has "
                        f"{len(self.block_configs)}; use with_block_configs() to change layers",
                    )
                )
        if is_count(self.num_attention_heads):
            for index, block in enumerate(self.block_configs):
                check_kv(block, self.num_attention_heads, ("block_configs", index), problems)
        problems += _kv_source_problems(self.block_configs)
        if self.mtp is not None:
            if type(self.mtp) is not MTPLayers:
                problems.append(
                    Problem(("mtp",), f"expected MTPLayers or null, got {describe(self.mtp)}")
                )
            elif is_count(self.num_attention_heads):
                for index, block in enumerate(self.mtp.block_configs):
                    check_kv(
                        block, self.num_attention_heads, ("mtp", "block_configs", index), problems
                    )
        return problems

    def _hyper_connection_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        if self.hyper_connections is None:
            if self.hyper_connections_mean_head is True:
                problems.append(
                    Problem(
                        ("hyper_connections_mean_head",),
                        "cannot be true without hyper_connections (hc_mult): there are no "
                        "streams to collapse",
                    )
                )
            return problems
        check_int(self.hyper_connections, ("hyper_connections",), problems)
        # No family mixes streams around parallel subblocks: what their weights would be is
        # not known, so such a model is refused rather than counted.
        for index, block in enumerate(self.block_configs):
            if block.parallel_blocks:
                problems.append(
                    Problem(
                        ("block_configs", index, "parallel_blocks"),
                        "hyper-connections around parallel blocks are not modelled",
                    )
                )
        return problems

    # ----------------------------------------------------------------------- reading

    @classmethod
    def from_mapping(
        cls,
        config: Mapping[str, Any],
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
        family: str | None = None,
    ) -> ModelArchitecture:
        """Read a ``config.json`` object with the reader its dialect or family calls for.

        A ``block_configs`` list with legacy keys (``n_heads_in_group``, ``ffn_mult``, ...) is
        legacy, one with native keys native; one with neither is legacy when ``model_type`` is
        ``"nemotron-nas"``, else native. Without ``block_configs`` the config is homogeneous
        and read by the reader registered for its ``model_type`` (see
        :mod:`block_config.readers`; multimodal wrappers through their ``text_config``), or for
        ``family`` when given (which reads a config whose ``model_type`` no reader knows, or
        reads one as another family, refusing a key that family would leave out: see
        :mod:`block_config.readers._family_check`). ``unknown_keys`` applies to the block
        items and to those keys; unknown model-level keys are kept in :attr:`source`. Raises
        :class:`BlockConfigError` listing every problem, with paths rooted at the ``config.json``
        (``$.block_configs[3].attention.n_heads_in_group``); an unknown or missing
        ``model_type`` is one at ``$.model_type`` naming the supported types. Raises
        :class:`ValueError` for a ``family`` no reader is registered for.
        """
        return cls._read(config, unknown_keys, dialect, owned=False, family=family)

    @classmethod
    def _read(
        cls,
        config: Mapping[str, Any],
        unknown_keys: UnknownKeys,
        dialect: Dialect | None,
        *,
        owned: bool,
        family: str | None = None,
    ) -> ModelArchitecture:
        """:meth:`from_mapping`; ``owned``: ``config`` was parsed here and is kept, not copied."""
        if not isinstance(config, Mapping):
            raise BlockConfigError.at((), f"expected a config.json object, got {describe(config)}")
        keys: Iterable[Any] = config
        bad_keys = [key for key in keys if not isinstance(key, str)]
        if bad_keys:
            raise BlockConfigError(
                Problem((key_label(key),), f"keys must be strings, got {describe(key)}")
                for key in bad_keys
            )
        # Kept verbatim in source and written back by save(): it must be JSON that reads
        # back the same (no NaN, no sets, no 100-bit ints, not nested past the limit).
        json_problems = json_value_problems(config)
        if json_problems:
            raise BlockConfigError(json_problems)
        if dialect is not None and dialect not in _DIALECTS:
            raise ValueError(f"dialect must be one of {_DIALECTS}, got {dialect!r}")
        fields = readers.read_fields(
            config, family=family, dialect=dialect, unknown_keys=unknown_keys
        )
        source = config if owned and type(config) is dict else copy_json(config)
        token = _checked_source.set(source)  # checked above, as config
        try:
            return cls(**fields, source=source)
        finally:
            _checked_source.reset(token)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
        family: str | None = None,
    ) -> ModelArchitecture:
        """Read a ``config.json`` file, the one inside a model folder, or a YAML file.

        Files ending in ``.yaml`` or ``.yml`` are read as YAML (see :meth:`from_yaml`).
        Raises :class:`FileNotFoundError` when there is no such file, :class:`BlockConfigError`
        when it is not valid (see :meth:`from_mapping`).
        """
        target = resolve_config_path(path)
        if target.suffix.lower() in YAML_SUFFIXES:
            return cls.from_yaml(
                read_limited(target), unknown_keys=unknown_keys, dialect=dialect, family=family
            )
        _, config = read_config_json(target)
        return cls._read(config, unknown_keys, dialect, owned=True, family=family)

    @classmethod
    def from_yaml(
        cls,
        text: str | bytes,
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
        family: str | None = None,
    ) -> ModelArchitecture:
        """Read a whole config written in YAML (safe loading; needs the ``yaml`` extra)."""
        config = parse_yaml(text)
        if not isinstance(config, dict):
            raise BlockConfigError.at((), f"expected a mapping, got {describe(config)}")
        return cls._read(config, unknown_keys, dialect, owned=True, family=family)

    # ----------------------------------------------------------------------- changing

    def with_block_configs(
        self, block_configs: Iterable[BlockConfig | Mapping[str, Any]]
    ) -> ModelArchitecture:
        """A copy with other blocks; the legacy items are kept when the layer count is the same.

        Writing the legacy dialect then reuses each original entry only where the layer's
        attention or FFN is unchanged.
        """
        blocks = _block_tuple(block_configs)
        legacy = self.legacy_block_configs
        if legacy is not None and len(legacy) != len(blocks):
            legacy = None
        # The source was checked when self was made (save() checks it again).
        token = _checked_source.set(self.source)
        try:
            return attrs.evolve(self, block_configs=blocks, legacy_block_configs=legacy)
        finally:
            _checked_source.reset(token)

    # ----------------------------------------------------------------------- writing

    def to_mapping(self, dialect: WritableDialect | None = None) -> dict[str, Any]:
        """The ``config.json`` object, in ``dialect`` (default: the dialect read, or native).

        Starts from :attr:`source` and changes only what differs from it: keys this class
        does not own (rope scaling, token ids, ``auto_map``, unknown keys) keep their values
        and their order. Raises :class:`BlockConfigError` for what the chosen dialect cannot
        express: the legacy dialect has no MoE, Mamba, Llama-4 attention or parallel blocks;
        the native dialect has no sink or window attention settings.
        """
        if dialect is None:
            dialect = "native"
            if self.dialect != "homogeneous":
                dialect = self.dialect
        elif dialect not in _WRITABLE:
            raise ValueError(f"dialect must be one of {_WRITABLE}, got {dialect!r}")
        from block_config.dialects import BLOCK_LISTS, writer_of

        writer = writer_of(dialect)
        if writer is None:
            raise ValueError(f"no writer for dialect {dialect!r}")
        if dialect not in BLOCK_LISTS:
            # A dialect that says the whole config: unchanged, it is written as it was read.
            original = self._original()
            if original is not None and original.dialect == dialect and original == self:
                return copy_json(self.source)
        return writer(self)

    def to_yaml(self, dialect: WritableDialect | None = None) -> str:
        """:meth:`to_mapping` as YAML text (needs the ``yaml`` extra)."""
        return dump_yaml(self.to_mapping(dialect))

    def save(
        self, path: str | os.PathLike[str], *, dialect: WritableDialect | None = None
    ) -> FilePath:
        """Write :meth:`to_mapping` to a ``config.json`` path, into a model folder, or as YAML.

        A path ending in ``.yaml`` or ``.yml`` gets YAML, any other JSON as ``transformers``
        writes it. The write is atomic: a reader sees the old file or the new one, never a
        half-written file. Returns the path written.
        """
        if not os.fspath(path):  # Path("") is the current folder: refuse, as open("") does
            raise FileNotFoundError(errno.ENOENT, "cannot write '': no file name given")
        target = FilePath(path)
        if target.is_dir():
            target = target / CONFIG_FILENAME
        mapping = self.to_mapping(dialect)
        # source is a dict, changeable after the object was made: what would not read back
        # the same is refused before anything is written.
        problems = json_value_problems(mapping)
        if problems:
            raise BlockConfigError(problems)
        if target.suffix.lower() in YAML_SUFFIXES:
            return atomic_write(target, dump_yaml(mapping))
        return atomic_write(target, dump_config_json(mapping))

    def _original(self) -> ModelArchitecture | None:
        """The object :attr:`source` reads as, to tell what changed; None if it does not read."""
        if not self.source:
            return None
        for dialect in (self.dialect, None):
            try:
                with quiet():
                    # Only compared, never kept: its source needs no copy of its own.
                    return ModelArchitecture._read(
                        self.source, "warn", dialect, owned=True, family=self._family()
                    )
            except BlockConfigError:
                pass
        return None

    def _family(self) -> str | None:
        """The family :attr:`source` was read as, when a reader is registered for it."""
        if self.model_type in readers.supported_model_types():
            return self.model_type
        return None

    def _write_scalars(self, out: dict[str, Any], original: ModelArchitecture | None) -> None:
        """Write each owned model-level key whose value, as ``out`` would be read, differs."""
        for name in ("hidden_size", "num_attention_heads", "vocab_size"):
            if out.get(name) != getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("tie_word_embeddings", "attention_bias", "mlp_bias", *_FLAGS):
            if out.get(name, False) != getattr(self, name):
                out[name] = getattr(self, name)
        for name, key in PER_LAYER_INPUT_KEYS.items():
            if out.get(key) != getattr(self, name):
                out[key] = getattr(self, name)
        for name, key in MODEL_COUNT_KEYS.items():
            # Written only when set, so a model without them is written as before.
            if out.get(key) != getattr(self, name):
                if getattr(self, name) is None:
                    out.pop(key, None)
                else:
                    out[key] = getattr(self, name)
        if out.get(HYPER_CONNECTIONS_KEY) != self.hyper_connections:
            out[HYPER_CONNECTIONS_KEY] = self.hyper_connections
        if out.get("mamba_ssm_cache_dtype") != self.mamba_ssm_cache_dtype:
            out["mamba_ssm_cache_dtype"] = self.mamba_ssm_cache_dtype
        # The type read as may be family=... or a wrapper's: kept as the source spells it.
        unchanged = original is not None and original.model_type == self.model_type
        if out.get("model_type") != self.model_type and not unchanged:
            out["model_type"] = self.model_type
        self._write_quantization(out)
        if _or_default(out.get("conv_kernel"), _DEFAULT_CONV_KERNEL) != self.mamba_conv_kernel:
            out["conv_kernel"] = self.mamba_conv_kernel
        # After hidden_size and num_attention_heads: an absent head_dim is derived from them.
        derived = _default_head_dim(self)
        if _or_default(out.get("head_dim"), derived) != self.head_dim:
            out["head_dim"] = self.head_dim
        dtype_keys = [key for key in ("torch_dtype", "dtype") if key in out] or ["torch_dtype"]
        if (out.get("torch_dtype") or out.get("dtype") or None) != self.torch_dtype:
            for key in dtype_keys:
                out[key] = self.torch_dtype
        # An absent count is derived from the blocks; a fresh object states it, as HF needs it.
        layers = out.get("num_hidden_layers", None if self.source else -1)
        if _or_default(layers, self.num_hidden_layers) != self.num_hidden_layers:
            out["num_hidden_layers"] = self.num_hidden_layers

    def _write_quantization(self, out: dict[str, Any]) -> None:
        written = out.get("quantization_config")
        current: object = None
        if written is not None:
            try:
                current = quantization_from_config(written)
            except BlockConfigError:
                current = _UNREADABLE  # a source given by hand: replaced or dropped below
        if current == self.quantization:
            return
        if self.quantization is None:
            out.pop("quantization_config", None)
        else:
            out["quantization_config"] = self.quantization.to_config()


def _own_kv(attention: AttentionConfig | None) -> bool:
    """Whether ``attention`` computes keys and values of its own (a GQA or MLA attention
    reading no other layer's)."""
    return (
        attention is not None
        and not attention.no_op
        and not attention.replace_with_linear
        and attention.mamba is None
        and attention.linear_attention is None
        and attention.kv_source_layer is None
    )


def _kv_mismatch(reader: AttentionConfig, source: AttentionConfig) -> str | None:
    """Why ``reader`` cannot read ``source``'s K/V (None when it can): a GQA attention reads a
    GQA attention's keys and values, an MLA attention a latent of its own widths."""
    if source.compressed_attention is not None:
        return "a compressed attention's K/V is read by no other layer"
    if reader.mla is not None and source.mla is None:
        return "an MLA attention cannot read a GQA attention's K/V"
    if reader.mla is None and source.mla is not None:
        return "a GQA attention cannot read an MLA attention's latent"
    if reader.mla is not None and source.mla is not None:
        for name in ("kv_lora_rank", "qk_rope_head_dim"):
            mine, theirs = getattr(reader.mla, name), getattr(source.mla, name)
            if mine != theirs:
                return f"its latent has {name} {theirs}, this layer's {mine}"
    return None


def _nested_kv_sources(block: BlockConfig, path: Path, problems: list[Problem]) -> None:
    """Refuse ``kv_source_layer`` inside ``parallel_blocks``: it names a whole layer."""
    for index, inner in enumerate(block.parallel_blocks or ()):
        where = (*path, "parallel_blocks", index)
        if inner.attention is not None and inner.attention.kv_source_layer is not None:
            problems.append(
                Problem(
                    (*where, "attention", "kv_source_layer"),
                    "is only read on a layer's own attention, not inside parallel_blocks",
                )
            )
        _nested_kv_sources(inner, where, problems)


def _kv_source_problems(blocks: tuple[BlockConfig, ...]) -> list[Problem]:
    """Each ``kv_source_layer`` names an earlier layer whose attention has its own K/V."""
    problems: list[Problem] = []
    for index, block in enumerate(blocks):
        _nested_kv_sources(block, ("block_configs", index), problems)
        attention = block.attention
        source = None if attention is None else attention.kv_source_layer
        if source is None:
            continue
        where = ("block_configs", index, "attention", "kv_source_layer")
        if source >= index:
            problems.append(
                Problem(where, f"must name an earlier layer than {index}, got {source}")
            )
        elif not _own_kv(blocks[source].attention):
            problems.append(
                Problem(
                    where,
                    f"names layer {source}, whose attention has no keys and values of its own",
                )
            )
        else:
            source_attention = blocks[source].attention
            assert attention is not None
            assert source_attention is not None
            why = _kv_mismatch(attention, source_attention)
            if why is not None:
                problems.append(Problem(where, f"names layer {source}: {why}"))
    return problems
