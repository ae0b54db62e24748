"""GLM-5.3-Flash (``glm5_next``, read through its language model's ``text_config``,
``glm5_next_text``): Kimi Delta Attention and MLA layers with a pooled-key sparse-attention
indexer, dense then MoE MLPs, hyper-connections around every subblock.

Follows transformers 5.25's ``configuration_glm5_next.py`` and ``modeling_glm5_next.py`` for
the text model (the vision tower is not counted), defaults included:

* each layer's mixer from ``layer_types``: ``linear_attention`` is Kimi Delta Attention;
  ``indexed_attention``, and the names transformers maps to it (``full_attention``,
  ``deepseek_sparse_attention``), MLA; without the list, every fourth layer (``i % 4 == 3``)
  is MLA and the others KDA;
* Kimi Delta Attention, the tensors of Kimi-Linear's: ``linear_num_heads`` (64) heads of
  ``linear_head_dim`` (128) and a short convolution of ``linear_conv_kernel_dim`` (4), each
  taken from ``linear_attn_config`` (``num_heads``, ``head_dim``, ``short_conv_kernel_size``)
  where that object gives it, as the configuration class does; its ``kda_layers`` and
  ``full_attn_layers`` are not read, as transformers does not read them; no KV cache, a
  fixed-size state per sequence;
* MLA without a RoPE slice: ``q_lora_rank`` (1536; null is refused, as transformers refuses
  it), ``kv_lora_rank`` (512), ``qk_nope_head_dim`` (256), ``v_head_dim`` (256),
  ``qk_rope_head_dim`` 0 (anything else is refused, as transformers refuses it; ``head_dim``
  is not read, as transformers overrides it), over ``num_attention_heads`` (64) heads, with
  ``num_key_value_heads`` equal to them (transformers refuses another value);
* the sparse-attention indexer of ``index_n_heads`` (32) heads of ``index_head_dim`` (128)
  with its keys pooled over ``index_kpool`` (16) tokens (``index_topk`` must be a multiple of
  it), in the layers ``indexer_types`` marks ``full`` (defaults as GLM-5:
  ``index_topk_pattern``, else the ``index_topk_freq`` / ``index_skip_topk_offset``
  schedule, every layer); a ``shared`` layer reuses an earlier layer's choice and has no
  indexer. transformers always builds the pooling's parameters, so ``index_kpool_compress``
  false is refused;
* the KV cache of an MLA layer: the 512-value latent (no RoPE slice) and, with its indexer,
  the token's indexer key and pool-gate logits (``index_head_dim`` each); transformers' cache
  packs one padding-mask value per token beside them, which is not counted;
* each layer's MLP from ``mlp_layer_types`` (``dense`` / ``sparse``), else the first three
  layers dense (``min(3, num_hidden_layers)``): a SwiGLU MLP of ``intermediate_size``
  (12288), or ``n_routed_experts`` (288) SwiGLU experts of ``moe_intermediate_size`` (2048),
  ``num_experts_per_tok`` (8) active, a shared expert of ``n_shared_experts`` (1) times
  ``moe_intermediate_size`` and a sigmoid router with a score-correction bias (a buffer).
  transformers does not read ``first_k_dense_replace`` nor ``moe_layer_freq``: a value that
  gives other dense layers than the class builds is refused;
* hyper-connections: ``hc_mult`` (4) residual streams, mixed around every attention and MLP,
  collapsed by an unweighted mean after the last layer (no weights);
* ``tie_word_embeddings`` is the wrapper's (default False), else the text part's;
* a ``glm5_next`` config without a ``text_config`` (a text-only checkpoint) is read as its
  text part, as ``Glm5NextConfig`` forwards its own keys to it.

The multi-token-prediction layer (``num_nextn_predict_layers``) is not counted: transformers
builds none (its loader drops the checkpoint's layer 45).

A config of another ``model_type`` read as GLM-5.3-Flash (``family="glm5_next_text"``) gets
none of the class's defaults: it must state every size above (and ``hc_mult``), else any
config would read as a GLM-5.3-Flash of the class's sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from block_config._errors import BlockConfigError, Problem, describe
from block_config._keys import ConfigReader, is_count
from block_config.readers._common import (
    HYPER_CONNECTIONS_KEY,
    NO_PER_LAYER,
    homogeneous,
    layer_count,
    model_fields,
    routed_experts,
)
from block_config.readers._registry import ReadOptions, register, register_text_wrapper
from block_config.readers.glm_moe_dsa import indexer_flags as indexed_layers

__all__ = ["read_glm5_next_text"]

#: Glm5NextTextConfig's defaults for the keys a published config may leave out.
_DEFAULTS = {
    "vocab_size": 154880,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 45,
    "num_attention_heads": 64,
    "n_routed_experts": 288,
    "num_experts_per_tok": 8,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 0,
    "v_head_dim": 256,
    "qk_nope_head_dim": 256,
    "index_n_heads": 32,
    "index_head_dim": 128,
    "index_topk": 2048,
    "index_kpool": 16,
    HYPER_CONNECTIONS_KEY: 4,
}
#: The ``model_type`` values of GLM-5.3-Flash's configs (the wrapper's and its text part's).
_MODEL_TYPES = ("glm5_next_text", "glm5_next")
_LINEAR = "linear_attention"
#: ``layer_types`` values transformers builds MLA for (it maps the last two to the first).
_INDEXED = ("indexed_attention", "full_attention", "deepseek_sparse_attention")
#: Kimi Delta Attention's sizes: the top-level key, ``linear_attn_config``'s, the default.
_LINEAR_KEYS = (
    ("linear_num_heads", "num_heads", 64),
    ("linear_head_dim", "head_dim", 128),
    ("linear_conv_kernel_dim", "short_conv_kernel_size", 4),
)
_LINEAR_CONFIG = "linear_attn_config"
#: The dense layers transformers builds when ``mlp_layer_types`` is absent.
_DENSE = 3


def _mixers(keys: ConfigReader, layers: int) -> list[bool]:
    """Whether each layer is KDA (else MLA); problems recorded in ``keys``."""
    if keys.config.get("layer_types") is None:
        return [index % 4 != 3 for index in range(layers)]
    kinds = keys.name_list("layer_types", layers, (_LINEAR, *_INDEXED))
    return [] if kinds is None else [kind == _LINEAR for kind in kinds]


def _sparse(keys: ConfigReader, layers: int) -> list[bool]:
    """Whether each layer's MLP is an MoE; problems recorded in ``keys``."""
    value = keys.config.get("mlp_layer_types")
    if value is None:
        dense = min(_DENSE, layers)
        first = keys.integer("first_k_dense_replace", default=None, minimum=0)
        if type(first) is int and min(first, layers) != dense:
            keys.problems.append(
                Problem(
                    ("first_k_dense_replace",),
                    f"not supported: {first}; transformers 5.25 does not read it and builds "
                    f"the first {dense} layers dense (say which layers are in mlp_layer_types)",
                )
            )
        freq = keys.integer("moe_layer_freq", default=None)
        if type(freq) is int and freq != 1:
            keys.problems.append(
                Problem(
                    ("moe_layer_freq",),
                    f"not supported: {freq}; transformers 5.25 does not read it and builds an "
                    "MoE in every layer after the dense ones (say which layers are in "
                    "mlp_layer_types)",
                )
            )
        return [index >= dense for index in range(layers)]
    kinds = keys.name_list("mlp_layer_types", layers, ("dense", "sparse"))
    return [] if kinds is None else [kind == "sparse" for kind in kinds]


def _kda(keys: ConfigReader, *, own: bool) -> dict[str, Any]:
    """Kimi Delta Attention, its sizes from ``linear_attn_config`` where it gives them, else
    from the top-level keys, else (for a config of this family only) the class's defaults."""
    nested: Any = keys.config.get(_LINEAR_CONFIG)
    inner: ConfigReader | None = None
    if isinstance(nested, Mapping):
        inner = ConfigReader(nested)
    elif nested is not None:
        keys.problems.append(
            Problem((_LINEAR_CONFIG,), f"expected an object, got {describe(nested)}")
        )
    sizes = []
    for top, name, default in _LINEAR_KEYS:
        if inner is not None and name in inner.config:
            sizes.append(inner.integer(name, default=default))
        else:
            sizes.append(keys.integer(top, required=not own, default=default))
    if inner is not None:
        keys.problems += [problem.under((_LINEAR_CONFIG,)) for problem in inner.problems]
    heads, head_dim, kernel = sizes
    return {
        "linear_attention": {
            "kind": "kda",
            "num_key_heads": heads,
            "key_head_dim": head_dim,
            "num_value_heads": heads,
            "value_head_dim": head_dim,
            "conv_kernel": kernel,
        }
    }


def _mla(keys: ConfigReader, heads: Any) -> dict[str, Any]:
    """MLA without a RoPE slice; what transformers refuses is refused at its key."""
    config = keys.config
    if "q_lora_rank" in config and config["q_lora_rank"] is None:
        keys.problems.append(
            Problem(
                ("q_lora_rank",),
                "not supported: null (one query projection); transformers builds the query "
                "latent, which the indexer reads, in every MLA layer",
            )
        )
    rope = keys.integer("qk_rope_head_dim", default=0, minimum=0)
    if type(rope) is int and rope:
        keys.problems.append(
            Problem(
                ("qk_rope_head_dim",),
                f"not supported: {rope}; GLM-5.3-Flash's MLA has no RoPE slice (transformers "
                "refuses any other value than 0)",
            )
        )
    kv = keys.integer("num_key_value_heads", default=None)
    if is_count(kv) and is_count(heads) and kv != heads:
        keys.problems.append(
            Problem(
                ("num_key_value_heads",),
                f"must equal num_attention_heads ({heads}) as transformers requires, got {kv}",
            )
        )
    return {
        "kv_lora_rank": keys.integer("kv_lora_rank", required=True),
        "qk_nope_head_dim": keys.integer("qk_nope_head_dim", required=True),
        "qk_rope_head_dim": 0,
        "v_head_dim": keys.integer("v_head_dim", required=True),
        # Absent only in a config of another family (the class's default fills in its own).
        "q_lora_rank": keys.integer("q_lora_rank", required="q_lora_rank" not in config),
    }


def _indexer(keys: ConfigReader) -> dict[str, Any]:
    """The indexer's sizes and its key pool, checked as transformers checks them."""
    pool = keys.integer("index_kpool", required=True)
    top = keys.integer("index_topk", required=True)
    if is_count(pool) and is_count(top) and top % pool:
        keys.problems.append(
            Problem(("index_topk",), f"{top} is not a multiple of index_kpool ({pool})")
        )
    if keys.config.get("index_kpool_compress", True) is not True:
        keys.problems.append(
            Problem(
                ("index_kpool_compress",),
                f"not supported: {describe(keys.config['index_kpool_compress'])}; "
                "transformers 5.25 always builds the pooled-key compression "
                "(index_kpool_compress_gate, index_kpool_compress_ape)",
            )
        )
    return {
        "index_n_heads": keys.integer("index_n_heads", required=True),
        "index_head_dim": keys.integer("index_head_dim", required=True),
        "index_kpool": pool,
    }


@register(
    "glm5_next_text",
    per_layer=NO_PER_LAYER,
    # Never built (the MTP layer), numerical only, or read only where the config has such
    # layers (the dense MLP, the experts, the top-level KDA sizes that linear_attn_config
    # overrides).
    unused=(
        "num_nextn_predict_layers",
        "index_kpool_always_select_tail",
        "linear_lower_bound",
        "hc_eps",
        "hc_sinkhorn_iters",
        "linear_num_heads",
        "linear_head_dim",
        "linear_conv_kernel_dim",
        "intermediate_size",
        "moe_intermediate_size",
        "n_routed_experts",
        "n_shared_experts",
        "num_experts_per_tok",
    ),
)
def read_glm5_next_text(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A GLM-5.3-Flash text config: KDA and MLA layers, dense then MoE MLPs, hyper-connections."""
    del options  # one family
    # The class's defaults fill in a config of this family only (a wrapper's text part may
    # leave its model_type out).
    own = config.get("model_type") in (None, *_MODEL_TYPES)
    # transformers sets head_dim to qk_rope_head_dim whatever the config says (0 in the
    # published one, which is no head width): it is not read.
    given = {key: value for key, value in config.items() if key != "head_dim"}
    keys = ConfigReader({**_DEFAULTS, **given} if own else given)
    fields = {
        **model_fields(keys, mlp_bias=False),
        "router_score_correction_bias": True,
        "hyper_connections": keys.integer(HYPER_CONNECTIONS_KEY, required=True),
        "hyper_connections_mean_head": True,
    }
    layers = layer_count(keys)
    if layers is None:
        raise BlockConfigError(keys.problems)
    linear = _mixers(keys, layers)
    sparse = _sparse(keys, layers)
    full = indexed_layers(keys, layers)
    kda = {"attention": _kda(keys, own=own)} if any(linear) else {}
    mla = _mla(keys, fields["num_attention_heads"])
    attentions = {
        True: {"mla": {**mla, **_indexer(keys)}},
        False: {"mla": mla},
    }
    ffns: dict[bool, dict[str, Any]] = {}
    if any(sparse):
        shared = keys.integer("n_shared_experts", default=1, minimum=0)
        moe = routed_experts(keys, "n_routed_experts", "moe_intermediate_size", None)
        width = moe["moe"]["expert_intermediate_dim"]
        if type(width) is int and type(shared) is int:
            moe["moe"]["shared_expert_intermediate_dim"] = shared * width
        ffns[True] = moe
    if not all(sparse):
        ffns[False] = {"intermediate_size": keys.integer("intermediate_size", required=True)}
    made: dict[tuple[bool, bool, bool], dict[str, Any]] = {}
    items = [
        made.setdefault(
            (is_kda, has_indexer and not is_kda, is_moe),
            {
                "attention": kda["attention"] if is_kda else attentions[has_indexer],
                "ffn": ffns[is_moe],
            },
        )
        for is_kda, has_indexer, is_moe in zip(linear, full, sparse, strict=False)
    ]
    return homogeneous(keys, fields, items)


register_text_wrapper("glm5_next", text_model_type="glm5_next_text", flat=True)
