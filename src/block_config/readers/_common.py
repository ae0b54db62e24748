"""What the family readers share: the model-level keys every Hugging Face config has, the
layer count, grouped-query attention, routed experts, and building the blocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from block_config._config import BlockConfig
from block_config._converter import MAX_BLOCKS, structure_block_configs
from block_config._errors import BlockConfigError, Path, Problem
from block_config._keys import ConfigReader, is_count
from block_config._quantization import quantization_from_config
from block_config.readers._registry import PerLayer

__all__ = [
    "DEFAULT_CONV_KERNEL",
    "FLAG_KEYS",
    "FULL",
    "GQA_PER_LAYER",
    "GQA_PER_LAYER_FIXED_HEADS",
    "HYPER_CONNECTIONS_KEY",
    "MAX_BLOCKS",
    "MODEL_COUNT_KEYS",
    "NO_OP",
    "NO_PER_LAYER",
    "PER_LAYER_INPUT_KEYS",
    "SLIDING",
    "attention",
    "build_blocks",
    "check_kv",
    "dense_layers",
    "flag_fields",
    "homogeneous",
    "layer_count",
    "layer_types",
    "model_fields",
    "moe_per_layer",
    "qwen_sliding",
    "refused_per_layer",
    "routed_experts",
    "window_attentions",
    "window_types",
    "windowed",
    "with_mtp",
]

DEFAULT_CONV_KERNEL = 4
#: The model-wide facts the native and legacy dialects read from (and write to) keys of the
#: same names; a family reader sets them from what its modelling code builds.
FLAG_KEYS = (
    "qkv_bias",
    "qk_norm",
    "sandwich_norms",
    "router_bias",
    "expert_bias",
    "attention_sinks",
    "shared_expert_gate",
    "router_score_correction_bias",
    # The 2026 families' model-wide facts.
    "qk_norm_across_heads",
    "parallel_blocks_share_input_norm",
    "mamba_without_norm",
    "log_position_scaling",
    "router_fp32",
    "hyper_connections_mean_head",
    "router_scales",
    "moe_branch_norms",
)
NO_OP: dict[str, Any] = {"no_op": True}
#: ``per_layer_config`` of a family whose per-layer overrides are not modelled yet: an empty
#: one is read, any override (or skip) is refused at its key.
NO_PER_LAYER = PerLayer(frozenset(), skips=())


def refused_per_layer(model_class: str, flag_keys: Mapping[str, str] | None = None) -> PerLayer:
    """``per_layer_config`` of a family whose modelling code builds no layer with overrides:
    an empty one is read, any override (or skip) is refused at its key, saying why.

    transformers 5.25's ``model_class`` reads each layer's sizes from the global config, which
    raises ``AmbiguousGlobalPerLayerAttributeError`` once any layer overrides them, so no
    count of such a model can be checked against transformers'. ``flag_keys`` as
    :attr:`PerLayer.flag_keys`."""
    return PerLayer(
        frozenset(),
        skips=(),
        flag_keys=flag_keys or {},
        refusal=(
            f"transformers 5.25's {model_class} builds no layer with its own values: it reads "
            "them from the global config, which raises AmbiguousGlobalPerLayerAttributeError "
            "on any override"
        ),
    )


#: The attention attributes of grouped-query attention a layer may override in
#: ``per_layer_config``: its query heads, KV heads and head width.
GQA_PER_LAYER = frozenset({"num_attention_heads", "num_key_value_heads", "head_dim"})
#: The same for a family whose configuration class checks ``hidden_size`` against the global
#: ``num_attention_heads`` (transformers 5.25's Llama, Gemma-2/3 and DeepSeek-V2 classes refuse
#: a config with a layer's own head count, so no such layer is read or written).
GQA_PER_LAYER_FIXED_HEADS = GQA_PER_LAYER - {"num_attention_heads"}


def moe_per_layer(
    experts: str,
    expert_size: str,
    *others: str,
    shared_size: str | None = None,
    globals_from_blocks: Callable[[tuple[BlockConfig, ...]], dict[str, Any]] | None = None,
) -> PerLayer:
    """What a layer of a GQA family with routed experts may override: the attention sizes,
    ``experts`` experts of ``expert_size`` (``num_experts_per_tok`` active), the shared
    expert's ``shared_size``, and ``others``, under the family's own names."""
    names = {"experts": experts, "per_token": "num_experts_per_tok", "expert_size": expert_size}
    if shared_size is not None:
        names["shared_size"] = shared_size
    extra: dict[str, Any] = {}
    if globals_from_blocks is not None:
        extra["globals_from_blocks"] = globals_from_blocks
    return PerLayer(GQA_PER_LAYER | {*names.values(), *others}, moe_names=names, **extra)


def model_fields(
    keys: ConfigReader,
    *,
    tie_word_embeddings: bool = False,
    head_dim: int | None = None,
    attention_bias: bool | None = False,
    mlp_bias: bool = True,
) -> dict[str, Any]:
    """The model-level keys every family spells the same way, ``quantization_config`` too.

    ``tie_word_embeddings``, ``head_dim`` and ``attention_bias`` are the family's defaults
    when the key is absent (``head_dim`` None: ``hidden_size // num_attention_heads``).
    ``attention_bias`` None and ``mlp_bias`` False: the family's modelling code never reads
    that key, so it is not read and the field is False.
    """
    fields: dict[str, Any] = {
        "hidden_size": keys.integer("hidden_size", required=True),
        "num_attention_heads": keys.integer("num_attention_heads", required=True),
        "vocab_size": keys.integer("vocab_size", required=True),
        "tie_word_embeddings": keys.boolean("tie_word_embeddings", tie_word_embeddings),
        "attention_bias": (
            False if attention_bias is None else keys.boolean("attention_bias", attention_bias)
        ),
        "mlp_bias": keys.boolean("mlp_bias") if mlp_bias else False,
        # Looked up only when given: the default matters to Mamba blocks alone.
        "mamba_conv_kernel": (
            keys.integer("conv_kernel", default=DEFAULT_CONV_KERNEL)
            if "conv_kernel" in keys.config
            else DEFAULT_CONV_KERNEL
        ),
        "torch_dtype": keys.string("torch_dtype") or keys.string("dtype"),
        "mamba_ssm_cache_dtype": keys.string("mamba_ssm_cache_dtype"),
    }
    head_dim = keys.integer("head_dim", default=head_dim)
    if head_dim is not None:
        fields["head_dim"] = head_dim
    if keys.config.get("quantization_config") is not None:
        try:
            fields["quantization"] = quantization_from_config(keys.config["quantization_config"])
        except BlockConfigError as error:
            keys.problems.extend(error.problems)
    return fields


#: The model-wide per-layer-embedding sizes (Gemma 4) and the keys the native and legacy
#: dialects (and Gemma 4's configs) spell them with.
PER_LAYER_INPUT_KEYS = {
    "per_layer_input_size": "hidden_size_per_layer_input",
    "per_layer_input_vocab_size": "vocab_size_per_layer_input",
}


#: The model-wide counts the native and legacy dialects spell under their own names:
#: LeRoPE's learned frequency scales (Mistral-Large-4's ``rotary_emb.alpha``).
MODEL_COUNT_KEYS = {"learned_rope_frequencies": "learned_rope_frequencies"}

#: The key the native and legacy dialects (and DeepSeek-V4's and GLM-5.3-Flash's configs)
#: spell the number of hyper-connection residual streams with.
HYPER_CONNECTIONS_KEY = "hc_mult"


def flag_fields(keys: ConfigReader) -> dict[str, Any]:
    """The model-wide facts as the native and legacy dialects spell them (:data:`FLAG_KEYS`,
    the per-layer-embedding sizes of :data:`PER_LAYER_INPUT_KEYS` and the hyper-connection
    streams of :data:`HYPER_CONNECTIONS_KEY`, absent or null when a model has none)."""
    fields: dict[str, Any] = {name: keys.boolean(name) for name in FLAG_KEYS}
    for name, key in {**PER_LAYER_INPUT_KEYS, **MODEL_COUNT_KEYS}.items():
        fields[name] = keys.integer(key, default=None)
    fields["hyper_connections"] = keys.integer(HYPER_CONNECTIONS_KEY, default=None)
    return fields


def layer_count(keys: ConfigReader) -> int | None:
    """``num_hidden_layers``, required and at most :data:`MAX_BLOCKS` (None after a problem)."""
    layers: int | None = keys.integer("num_hidden_layers", required=True, minimum=0)
    if layers is not None and layers > MAX_BLOCKS:
        keys.problems.append(
            Problem(
                ("num_hidden_layers",),
                f"gives {layers} layers, more than the limit of {MAX_BLOCKS}",
            )
        )
        return None
    return layers


def attention(
    keys: ConfigReader,
    heads: int | None,
    *,
    kv_default: int | None = None,
    kv_absent: int | None = None,
) -> dict[str, Any]:
    """Grouped-query attention: ``num_key_value_heads`` (``kv_absent``, the configuration
    class's default, when the key is absent; else ``kv_default`` when absent or null, the head
    count when that is None)."""
    default = heads if kv_default is None else kv_default
    if kv_absent is not None and "num_key_value_heads" not in keys.config:
        default = kv_absent
    kv = keys.integer("num_key_value_heads", default=default)
    if is_count(heads) and is_count(kv) and heads % kv:
        keys.problems.append(
            Problem(("num_key_value_heads",), f"{kv} does not divide num_attention_heads ({heads})")
        )
    return {"num_key_value_heads": kv}


def routed_experts(
    keys: ConfigReader,
    experts_key: str,
    size_key: str,
    shared: int | None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An MoE FFN: ``experts_key`` experts of width ``size_key``, ``num_experts_per_tok``
    active, a shared expert ``shared`` wide, and ``extra`` :class:`MoEConfig` fields."""
    experts = keys.integer(experts_key, required=True)
    per_token = keys.integer("num_experts_per_tok", required=True)
    if is_count(experts) and is_count(per_token) and per_token > experts:
        keys.problems.append(
            Problem(
                ("num_experts_per_tok",),
                f"must not exceed {experts_key} ({experts}), got {per_token}",
            )
        )
    return {
        "moe": {
            "num_local_experts": experts,
            "num_experts_per_tok": per_token,
            "expert_intermediate_dim": keys.integer(size_key, required=True),
            "shared_expert_intermediate_dim": shared,
            **(extra or {}),
        }
    }


def build_blocks(keys: ConfigReader, items: list[dict[str, Any]]) -> list[BlockConfig]:
    """One block per item (the converter builds them), one object per distinct item object.

    Raises :class:`BlockConfigError` with every problem :attr:`ConfigReader.problems` holds.
    """
    if keys.problems:
        raise BlockConfigError(keys.problems)
    distinct: dict[int, BlockConfig] = {}
    blocks = []
    for item in items:
        if id(item) not in distinct:
            (distinct[id(item)],) = structure_block_configs([item])
        blocks.append(distinct[id(item)])
    return blocks


def check_kv(block: BlockConfig, heads: int, path: Path, problems: list[Problem]) -> None:
    """Record a problem where a layer's KV heads do not divide its query heads (the layer's
    own ``num_attention_heads`` where it has one, else the model's ``heads``)."""
    attention = block.attention
    if attention is not None and not attention.replace_with_linear:
        kv = attention.num_key_value_heads
        own = attention.num_attention_heads
        if kv is not None and (own or heads) % kv:
            where = "the layer's num_attention_heads" if own else "num_attention_heads"
            problems.append(
                Problem(
                    (*path, "attention", "num_key_value_heads"),
                    f"{kv} does not divide {where} ({own or heads})",
                )
            )
    for index, child in enumerate(block.parallel_blocks or ()):
        check_kv(child, heads, (*path, "parallel_blocks", index), problems)


def homogeneous(
    keys: ConfigReader, fields: dict[str, Any], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The model's keyword arguments: ``fields`` and one block per item, or every problem."""
    blocks = build_blocks(keys, items)
    return {**fields, "block_configs": tuple(blocks), "dialect": "homogeneous"}


def with_mtp(
    keys: ConfigReader,
    fields: dict[str, Any],
    items: list[dict[str, Any]],
    mtp: tuple[str, Any, list[dict[str, Any]]] | None,
    *,
    own_embeddings: bool = False,
) -> dict[str, Any]:
    """As :func:`homogeneous`, with the multi-token-prediction layers ``mtp``: the key that
    counts them, their number (an int, or whatever :meth:`ConfigReader.integer` gave) and the
    items of the blocks of one MTP layer; none when ``mtp`` is None or the number is 0.

    The blocks of every MTP layer are counted one by one, so their number is held to the
    limit of the model's own blocks."""
    from block_config._model import MTPLayers  # _model reads this module's constants

    if mtp is None or not mtp[1] or not mtp[2]:
        return homogeneous(keys, fields, items)
    key, depth, mtp_items = mtp
    if type(depth) is int and depth * len(mtp_items) > MAX_BLOCKS:
        keys.problems.append(
            Problem(
                (key,),
                f"gives {depth * len(mtp_items)} MTP blocks, more than the limit of {MAX_BLOCKS}",
            )
        )
    read = homogeneous(keys, fields, items + mtp_items)
    blocks = read["block_configs"]
    read["block_configs"] = blocks[: len(items)]
    read["mtp"] = MTPLayers(
        num_layers=depth, block_configs=blocks[len(items) :], own_embeddings=own_embeddings
    )
    return read


#: ``layer_types`` values of full and of sliding-window attention.
FULL, SLIDING = "full_attention", "sliding_attention"


def layer_types(
    keys: ConfigReader, layers: int, allowed: tuple[str, ...] = (FULL, SLIDING)
) -> list[str] | None:
    """``layer_types``, one of ``allowed`` per layer; None when absent, null or invalid."""
    return keys.name_list("layer_types", layers, allowed)


def window_types(blocks: tuple[BlockConfig, ...]) -> list[str]:
    """``layer_types`` of ``blocks``: sliding where a layer's attention has a window."""
    return [
        SLIDING
        if block.attention is not None and block.attention.sliding_window is not None
        else FULL
        for block in blocks
    ]


def windowed(attention: dict[str, Any], window: int | None) -> dict[str, Any]:
    """``attention`` with a sliding window of ``window`` tokens (itself when None)."""
    if window is None:
        return attention
    return {**attention, "sliding_window": window}


def qwen_sliding(
    keys: ConfigReader, layers: int, *, max_window_layers: int | None, alternate: bool = False
) -> list[int | None]:
    """Each layer's window in the Qwen families: ``sliding_window`` (default 4096) when
    ``use_sliding_window``, on the layers ``layer_types`` marks when given, else on layers from
    ``max_window_layers`` on (Qwen2, Qwen3), on the even layers below it with ``alternate``
    (Qwen2-MoE), or on every layer when ``max_window_layers`` is None (Qwen3-MoE, whose
    modelling code reads neither key)."""
    window = None
    if keys.boolean("use_sliding_window"):
        window = keys.nullable("sliding_window", absent=4096)
    if max_window_layers is None:
        return [window] * layers
    # Its default matters only with a window; a value given is checked either way.
    first = (
        keys.integer("max_window_layers", default=max_window_layers, minimum=0)
        if window is not None or "max_window_layers" in keys.config
        else None
    )
    types = layer_types(keys, layers)
    if types is not None:
        return [window if kind == SLIDING else None for kind in types]
    if window is None or first is None:
        return [None] * layers
    if alternate:
        return [window if index % 2 == 0 and index < first else None for index in range(layers)]
    return [window if index >= first else None for index in range(layers)]


def dense_layers(attentions: list[dict[str, Any]], ffn: dict[str, Any]) -> list[dict[str, Any]]:
    """One item per layer from each layer's attention and a shared FFN, one item object per
    distinct attention object (so that equal layers share one block)."""
    items: dict[int, dict[str, Any]] = {}
    return [
        items.setdefault(id(attention), {"attention": attention, "ffn": ffn})
        for attention in attentions
    ]


def window_attentions(attention: dict[str, Any], windows: list[int | None]) -> list[dict[str, Any]]:
    """``attention`` per layer with that layer's window (one object per distinct window)."""
    made: dict[int | None, dict[str, Any]] = {}
    return [made.setdefault(window, windowed(attention, window)) for window in windows]
