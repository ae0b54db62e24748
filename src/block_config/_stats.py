"""What a model is made of: parameters, weight bytes, KV cache and Mamba state, per layer.

Pure arithmetic on a :class:`ModelArchitecture`; no torch, no weights. The formulas follow
each family's transformers modelling code (``h`` is ``hidden_size``, ``H``
``num_attention_heads``, ``d`` ``head_dim``; every projection is a weight matrix, with a bias
vector only where noted; "norm" is one weight vector of ``h``):

* embeddings ``vocab_size * h``; ``lm_head`` the same unless ``tie_word_embeddings``; the final
  norm ``h``. Per-layer embeddings (Gemma 4, ``P`` ``per_layer_input_size``, ``L`` layers):
  the table ``per_layer_input_vocab_size * L*P``, its projection ``h * L*P`` and norm ``P``,
  and in each layer a gate ``h * P``, a projection ``P * h`` and a norm ``h``; counted with
  the model-level weights, active for every token.
* every subblock that is not a no-op has its input norm ``h``; with ``sandwich_norms``
  (Gemma-2/3) one more after it.
* GQA attention (Llama-4 attention too, its QK norm has no weights), with ``kv`` KV heads:
  q ``h * H*d``, k and v ``h * kv*d`` each, o ``H*d * h``. Biases: ``H*d + 2*kv*d`` on q, k
  and v with ``qkv_bias`` (Qwen2) or ``attention_bias``, and ``h`` on o with
  ``attention_bias`` only. ``qk_norm`` (Qwen3, Gemma-3): ``2*d`` (a norm on q and one on k).
  ``attention_sinks`` (gpt-oss): ``H``. ``qk_norm_across_heads`` (OLMo-3, MiniMax-M2): one
  norm over all query heads and one over all key heads, ``H*d + kv*d``.
* MLA attention (DeepSeek-V2/V3, as ``DeepseekV3Attention``), with ``r_q`` ``q_lora_rank``,
  ``r_kv`` ``kv_lora_rank``, ``n``/``p``/``v`` the nope, rope and value head dims: q_a_proj
  ``h * r_q``, q_a_layernorm ``r_q`` and q_b_proj ``r_q * H*(n+p)``, or one q_proj
  ``h * H*(n+p)`` when ``r_q`` is null; kv_a_proj_with_mqa ``h * (r_kv + p)``; kv_a_layernorm
  ``r_kv``; kv_b_proj ``r_kv * H*(n+v)``; o_proj ``H*v * h``. With ``attention_bias``, biases
  on q_a_proj, kv_a_proj_with_mqa and o_proj: ``r_q + r_kv + p + h``. An indexer of ``n_i``
  heads of ``d_i`` (DeepSeek-V3.2, GLM-5): wq_b ``r_q * n_i*d_i``, wk ``h * d_i``, k_norm
  ``2*d_i`` (a LayerNorm with bias), weights_proj ``h * n_i``; with key pooling over ``k``
  tokens (``index_kpool``, GLM-5.3-Flash) also index_kpool_compress_gate ``h * d_i`` and
  index_kpool_compress_ape ``k * d_i``; with ``index_from_hidden``
  (Mistral-Large-4) wq_b reads the hidden state, ``h * n_i*d_i``, through its own LayerNorm
  ``q_input_norm`` with bias, ``2*h``. An MLA attention with ``kv_source_layer``
  (Mistral-Large-4's ``kv_source_layers``) has no kv_a_proj_with_mqa (nor its bias) and no
  kv_a_layernorm, and caches no latent: only its indexer keys, when it has an indexer.
* ``log_position_scaling`` (Mistral-Large-4): a scale and a bias per query head, ``2*H``, in
  every GQA or MLA attention, and ``2*n_i`` in every indexer.
* ``learned_rope_frequencies`` (Mistral-Large-4's LeRoPE ``rotary_emb.alpha``): that many
  model-level parameters, stored in fp32 (4 bytes each).
* linear replacement (attention or FFN): ``h * h`` plus its norm; no bias.
* dense FFN of width ``i``: gated (SwiGLU: gate, up, down) ``3 * h * i``, or with
  ``gated=False`` (relu2, two matrices: up, down) ``2 * h * i``; with ``mlp_bias``, biases
  ``2*i + h`` (gated) or ``i + h``.
* a latent MoE (``MoEConfig.latent_dim`` ``l``, Nemotron-3-Super): ``fc1_latent_proj``
  ``h * l`` and ``fc2_latent_proj`` ``l * h`` (biases ``l + h`` with ``mlp_bias``), active for
  every token, and the routed experts below work from and back to ``l`` instead of ``h``.
* a layer's own ``num_attention_heads`` and ``head_dim`` (``AttentionConfig``) replace ``H``
  and ``d`` above for that layer, its KV cache included.
* MoE with ``E`` experts of width ``e``: router ``h * E``, plus ``E`` with ``router_bias``
  (gpt-oss); experts ``E * 3*h*e``
  gated or ``E * 2*h*e`` ungated (``MoEConfig.gated``), with ``expert_bias`` or ``mlp_bias``
  each expert's biases as a dense FFN's; the shared expert of width ``s`` the same shape
  (none when ``s`` is 0), with ``shared_expert_gate`` (Qwen2-MoE) ``h`` more. With
  ``router_scales`` (Gemma 4) the router has ``h + E`` more (a scale on its input, one per
  expert on the weights), and with ``moe_branch_norms`` (Gemma 4, whose dense MLP is the
  shared expert) the layer has three norms ``h`` more. Active per token: router,
  ``num_experts_per_tok`` experts, the shared expert and its gate, the norms.
  ``router_score_correction_bias`` (DeepSeek-V3's and Nemotron-H's
  ``e_score_correction_bias``) is not a parameter: transformers registers it as a buffer,
  and the published totals (Nemotron-3-Nano's Hub total, DeepSeek-V3's 671B) leave it out.
  The checkpoints store it in fp32, so it adds ``4 * E`` bytes to the weight bytes. A
  hash-routed MoE (``MoEConfig.hash_routed``, DeepSeek-V4's ``hash_moe`` layers) has the same
  parameters and active experts, no score-correction bias, and a buffer of
  ``vocab_size * num_experts_per_tok`` expert ids (``tid2eid``, int32 in the checkpoint: 4
  bytes each, in the weight bytes only).
* Mamba-2, with ``d_in = num_heads * head_dim``, ``conv_dim = d_in + 2 * groups * state``:
  in_proj ``h * (2*d_in + 2*groups*state + num_heads)``, conv1d ``conv_dim * kernel`` plus its
  bias ``conv_dim``, ``dt_bias``, ``A_log`` and ``D`` (``num_heads`` each), the gated norm
  ``d_in`` (none with ``mamba_without_norm``: Falcon-H1's ``mamba_rms_norm`` false), out_proj
  ``d_in * h``.
* linear attention (``LinearAttentionConfig``), with ``K``/``dk`` key heads and width,
  ``V``/``dv`` value heads and width, ``c`` the conv kernel, ``conv = 2*K*dk + V*dv``: Gated
  DeltaNet (``gdn``) in-projections ``h * (2*K*dk + 2*V*dv + 2*V)`` (q, k, v, the output gate
  z, beta and the decay; fused in two matrices or one per tensor), conv1d ``conv * c`` without
  bias, ``dt_bias`` and ``A_log`` (``V`` each), the gated norm ``dv``, out_proj ``V*dv * h``;
  Kimi Delta Attention (``kda``, ``K == V``, ``dk == dv``): q, k, v ``3 * h * K*dk``, conv1d
  ``3*K*dk * c``, the forget gate's ``f_a`` ``h * dk`` and ``f_b`` ``dk * K*dk``, its
  ``dt_bias`` ``K*dk`` and ``A_log`` ``K``, beta ``h * K``, the output gate's ``g_a``
  ``h * dk`` and ``g_b`` ``dk * K*dk``, ``o_norm`` ``dk``, o_proj ``K*dk * h``.
* an attention with ``kv_source_layer`` (Gemma 4's KV-shared layers): no k_proj, v_proj (nor
  their biases) or k-norm, and no KV cache: it reads the K/V of the layer it names;
* an attention with ``output_gate`` (Qwen3-Next, Qwen3.5): q_proj (and its bias) twice as
  wide, ``2 * H*d`` outputs.
* an attention with ``values_from_keys`` (Gemma 4's global layers with
  ``attention_k_eq_v``): no v_proj (nor its bias); the value norm has no weight, and the
  cache holds the keys and the values apart, so its KV cache is a GQA attention's.
* a compressed attention (``compressed_attention``, DeepSeek-V4's ``DeepseekV4Attention``),
  with ``r_q`` ``q_lora_rank``, ``g`` ``o_groups``, ``r_o`` ``o_lora_rank``: q_a_proj
  ``h * r_q``, q_a_norm ``r_q``, q_b_proj ``r_q * H*d``, kv_proj ``h * kv*d`` (each key is
  also the value), kv_norm ``d``, o_a_proj ``H*d/g * g*r_o``, o_b_proj ``g*r_o * h``, and
  ``H`` sinks with ``attention_sinks``. With a ``compress_rate`` ``m``, the compressor:
  kv_proj and gate_proj ``h * s*d`` each, position_bias ``m * s*d`` and kv_norm ``d``, where
  ``s`` is 2 with an indexer (two overlapping series) and 1 without; the indexer (``n_i``
  heads of ``d_i``): kv_proj and gate_proj ``h * 2*d_i`` each, position_bias ``m * 2*d_i``,
  kv_norm ``d_i``, q_b_proj ``r_q * n_i*d_i``, weights_proj ``h * n_i``. No biases;
  ``attention_bias``, ``qkv_bias`` and the QK-norm facts are refused with it.
* a no-op (or absent) subblock: nothing. ``parallel_blocks`` add up with the block's own; with
  ``parallel_blocks_share_input_norm`` (Falcon-H1) their subblocks read the layer's input norm
  and have none of their own.
* hyper-connections (DeepSeek-V4, GLM-5.3-Flash), ``n`` streams (``hyper_connections``):
  around every subblock that is not a no-op (``attn_hc``, ``ffn_hc``), ``fn``
  ``(2n + n*n) * n*h``, ``base`` ``2n + n*n`` and ``scale`` 3, active for every token and
  stored at the subblock's precision like its norm; after the last layer DeepSeek-V4's
  ``hc_head`` ``n * n*h + n + 1`` with the model-level weights (none with
  ``hyper_connections_mean_head``: GLM-5.3-Flash averages the streams).
* multi-token-prediction layers (:class:`~block_config.MTPLayers`), which transformers does
  not build: per layer its blocks as above, ``enorm`` and ``hnorm`` ``h`` each, ``eh_proj``
  ``2h * h`` (no bias), the final norm ``h`` (DeepSeek-V3's ``shared_head.norm``), and with
  ``own_embeddings`` its own embedding and head ``2 * vocab_size * h`` (DeepSeek-V3 stores
  them in each MTP layer). They are ``mtp_params``, never in ``total_params``;
  ``checkpoint_weight_bytes`` is ``weight_bytes`` plus their bytes (``eh_proj``, norms and
  embeddings at the model's dtype), what a checkpoint holding them stores.

Memory:

* weight bytes: a subblock's parameters at its ``weights_precision`` (the model's dtype when
  it is null); embeddings, ``lm_head`` and the final norm at the model's dtype; with
  ``router_fp32`` (Mistral-Large-4) the routers' weights at 4 bytes each. Sizes per
  precision are in :data:`PRECISION_BITS`. With a ``quantization`` (read from
  ``quantization_config``), every weight matrix of a linear layer (the projections above,
  expert and shared-expert matrices, Mamba's in_proj and out_proj) is stored as
  :meth:`WeightQuantization.matrix_bytes` says, scales included, unless its module is named
  in ``unquantized_modules``; embeddings, ``lm_head``, norms, biases, routers and their gates,
  conv1d and Mamba's per-head vectors stay at the precision above.
* KV cache per token of one layer: ``2 * kv * d * bytes`` for a GQA attention; for MLA one
  latent ``(r_kv + p) * bytes`` shared by every head (no factor 2), plus ``d_i * bytes`` of
  indexer keys with an indexer, and as many again of pool-gate logits with key pooling
  (transformers' GLM-5.3-Flash cache also stores one padding-mask value per token beside
  them, which this library does not count); no-op, linear and Mamba
  layers hold none. ``bytes`` is the KV-cache dtype: the model's ``torch_dtype``, bf16 when it
  says nothing, unless the caller names one. A sliding-window layer holds at most
  ``sliding_window`` tokens and a Llama-4 chunked layer at most ``attention_chunk_size``:
  :meth:`ModelStats.kv_cache_bytes` counts ``min(limit, sequence_length)`` tokens for them.
  ``kv_cache_bytes_per_token`` adds every layer's per-token figure as if no window applied:
  the cost of one token while the sequence is shorter than every window, an upper bound
  after. ``kv_cache_bytes_per_token_unbounded`` (the layers without a limit) and
  ``kv_cache_bytes_bounded_max`` (the most the limited layers hold) give every length:
  ``unbounded * L + bounded_max`` once ``L`` passes every window.
* a compressed attention (DeepSeek-V4, as ``DeepseekV4HCACache`` / ``DeepseekV4CSACache``
  keep it) holds its ``sliding_window`` of raw tokens at ``kv * d * bytes`` each (a key that
  is also the value is stored once) plus, with a ``compress_rate`` ``m``, ``floor(L / m)``
  compressed entries of ``(d + d_i) * bytes`` (``d_i`` the indexer's key, 0 without one):
  not proportional to ``L``, so :meth:`ModelStats.kv_cache_bytes` counts them from the rate,
  and ``kv_cache_bytes_per_token`` and the two figures above hold the window part only. The
  compressor's inputs waiting for a full group of ``m`` tokens, and compressed sparse
  attention's overlap state (one group's first series), are not counted: they are not
  key-value entries and hold at most ``2 * m`` tokens' projections per layer.
* Mamba state per sequence: the conv state ``conv_dim * (kernel - 1)`` (the last ``kernel - 1``
  inputs of the causal convolution) in the state dtype (the KV-cache dtype unless the caller
  names one), plus the SSM state ``num_heads * head_dim * state`` in the model's
  ``mamba_ssm_cache_dtype`` when it gives one (else the state dtype; a state dtype the caller
  names wins for both). It does not grow with length.
* linear-attention state per sequence, reported apart from Mamba's in the same dtypes: the
  conv state ``conv * (c - 1)`` and the recurrent state ``V * dk * dv`` (one ``dk x dv``
  matrix per value head). Such a layer holds no KV cache. (transformers' cache allocates
  ``c`` conv columns, one more than the convolution needs; this library counts ``c - 1`` for
  linear attention as for Mamba.)
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attr
import attrs

from block_config._config import (
    AttentionConfig,
    BlockConfig,
    CompressedAttentionConfig,
    FFNConfig,
    LinearAttentionConfig,
    MambaConfig,
    MLAConfig,
)
from block_config._errors import BlockConfigError, Path, Problem
from block_config._model import ModelArchitecture

__all__ = [
    "PRECISION_BITS",
    "AttentionKind",
    "AttentionStats",
    "FFNKind",
    "FFNStats",
    "LayerStats",
    "MemoryEstimate",
    "ModelStats",
    "attention_kind",
    "block_stats",
    "ffn_kind",
    "model_stats",
    "precision_bits",
]

AttentionKind = Literal["gqa", "linear", "no_op", "mamba", "mla", "gdn", "kda"]
FFNKind = Literal["dense", "linear", "no_op", "moe"]

#: Bits per parameter for every precision name this library knows, as ``weights_precision``
#: and ``torch_dtype`` spell them. Block-scaled formats named here (nvfp4, mxfp4, mxfp6, mxfp8)
#: count their elements only; a model's ``quantization`` counts the scales as stored.
PRECISION_BITS: Mapping[str, int] = types.MappingProxyType(
    {
        "fp64": 64,
        "float64": 64,
        "double": 64,
        "fp32": 32,
        "float32": 32,
        "float": 32,
        "tf32": 32,
        "bf16": 16,
        "bfloat16": 16,
        "fp16": 16,
        "float16": 16,
        "half": 16,
        "fp8": 8,
        "fp8_e4m3": 8,
        "fp8_e5m2": 8,
        "float8_e4m3fn": 8,
        "float8_e4m3fnuz": 8,
        "float8_e5m2": 8,
        "float8_e5m2fnuz": 8,
        "mxfp8": 8,
        "int8": 8,
        "uint8": 8,
        "mxfp6": 6,
        "fp6": 6,
        "int4": 4,
        "uint4": 4,
        "fp4": 4,
        "nvfp4": 4,
        "mxfp4": 4,
    }
)

_DEFAULT_DTYPE = "bf16"
_KNOWN = (
    "known: fp32, bf16, fp16, fp8, int8, mxfp6, int4, nvfp4, mxfp4 and the torch dtype names "
    "(block_config.PRECISION_BITS lists them all)"
)


def precision_bits(name: str, path: Path = ()) -> int:
    """Bits per parameter of the precision ``name`` (case-insensitive; ``torch.`` prefix ok).

    >>> precision_bits("bf16"), precision_bits("nvfp4"), precision_bits("torch.float32")
    (16, 4, 32)

    An unknown name raises :class:`BlockConfigError` located at ``path``.
    """
    key = name.lower()
    key = key.removeprefix("torch.")
    try:
        return PRECISION_BITS[key]
    except KeyError:
        raise BlockConfigError.at(path, f"unknown precision {name!r}; {_KNOWN}") from None


def _bytes(count: int, bits: int) -> int:
    """Bytes for ``count`` values of ``bits`` each, rounded up to a whole byte."""
    return -(-count * bits // 8)


def _as_dict(instance: Any) -> dict[str, Any]:
    # Every field is an int, str, None, nested stats or a tuple of them: attrs' own recursion
    # turns it into plain JSON-ready data (tuples become lists).
    return attr.asdict(instance, retain_collection_types=False)


@attrs.frozen(kw_only=True)
class AttentionStats:
    """The attention (or Mamba mixer) of one block: its kind, size, weights and cache."""

    kind: AttentionKind
    #: KV heads of a GQA attention; None for the kinds that hold no KV cache.
    num_key_value_heads: int | None
    params: int
    weights_precision: str
    weight_bytes: int
    kv_cache_bytes_per_token: int
    mamba_state_bytes_per_sequence: int
    #: Llama-4 chunked attention keeps at most this many tokens of KV cache; None: all of them.
    attention_chunk_size: int | None = None
    #: A sliding-window attention keeps at most this many tokens of KV cache; None: all.
    sliding_window: int | None = None
    #: Query heads and head width of a GQA or MLA attention (the layer's own where it has
    #: them, else the model's; an MLA attention has no head_dim); None for the other kinds.
    num_attention_heads: int | None = None
    head_dim: int | None = None
    #: A linear attention's conv and recurrent state for one sequence, whatever its length.
    linear_attention_state_bytes_per_sequence: int = 0
    #: A GQA attention with an output gate (``q_proj`` twice as wide).
    output_gate: bool = False
    #: The layer whose K/V this GQA or MLA attention reads (it holds no KV cache of its own,
    #: an MLA attention's indexer keys apart); None: its own.
    kv_source_layer: int | None = None
    #: A GQA attention without v_proj, whose values are its keys (Gemma 4's global layers
    #: with ``attention_k_eq_v``); its cache still holds both.
    values_from_keys: bool = False
    #: A compressed attention (DeepSeek-V4) keeps one compressed entry per this many tokens
    #: beside its window; None: no compressed entries.
    compress_rate: int | None = None
    #: Bytes of one compressed entry (the pooled key-value, and the indexer's key with an
    #: indexer); 0 without compression.
    compressed_kv_bytes_per_entry: int = 0

    @property
    def kv_cache_token_limit(self) -> int | None:
        """The most tokens this attention keeps in its KV cache (window or chunk); None: all."""
        limits = [n for n in (self.attention_chunk_size, self.sliding_window) if n is not None]
        return min(limits) if limits else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present."""
        return _as_dict(self)


@attrs.frozen(kw_only=True)
class FFNStats:
    """The FFN of one block: its kind, width, weights, and the weights active per token."""

    kind: FFNKind
    #: Width of a dense SwiGLU FFN; None for the other kinds.
    intermediate_size: int | None
    params: int
    #: Parameters one token goes through: for an MoE, the router, ``num_experts_per_tok``
    #: experts and the shared expert; for every other kind, ``params``.
    active_params: int
    weights_precision: str
    weight_bytes: int
    num_local_experts: int | None = None
    num_experts_per_tok: int | None = None
    expert_intermediate_dim: int | None = None
    shared_expert_intermediate_dim: int | None = None
    #: The latent width a latent MoE's experts work in; None: the hidden width.
    latent_dim: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present."""
        return _as_dict(self)


@attrs.frozen(kw_only=True)
class LayerStats:
    """One block: its attention and FFN, its ``parallel_blocks``, and their sums.

    ``params``, ``active_params``, ``weight_bytes``, ``kv_cache_bytes_per_token``,
    ``mamba_state_bytes_per_sequence`` and ``linear_attention_state_bytes_per_sequence``
    include the parallel blocks. A parallel block carries
    the index of the layer it belongs to.
    """

    index: int
    attention: AttentionStats
    ffn: FFNStats
    params: int
    active_params: int
    weight_bytes: int
    kv_cache_bytes_per_token: int
    mamba_state_bytes_per_sequence: int
    parallel_blocks: tuple[LayerStats, ...] = ()
    linear_attention_state_bytes_per_sequence: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present."""
        return _as_dict(self)

    def kv_cache_bytes(self, sequence_length: int) -> int:
        """KV-cache bytes this layer holds for one sequence of ``sequence_length`` tokens."""
        _check_count("sequence_length", sequence_length, minimum=0)
        total = 0
        for attention in self._attentions():
            limit = attention.kv_cache_token_limit
            tokens = sequence_length if limit is None else min(sequence_length, limit)
            total += attention.kv_cache_bytes_per_token * tokens
            if attention.compress_rate is not None:
                entries = sequence_length // attention.compress_rate
                total += attention.compressed_kv_bytes_per_entry * entries
        return total

    def _attentions(self) -> Iterable[AttentionStats]:
        yield self.attention
        for block in self.parallel_blocks:
            yield from block._attentions()


@attrs.frozen(kw_only=True)
class MemoryEstimate:
    """Bytes a model needs for its weights and the caches of a batch of sequences."""

    batch_size: int
    sequence_length: int
    weight_bytes: int
    kv_cache_bytes: int
    mamba_state_bytes: int
    linear_attention_state_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        """Weights, KV cache, Mamba state and linear-attention state together."""
        return (
            self.weight_bytes
            + self.kv_cache_bytes
            + self.mamba_state_bytes
            + self.linear_attention_state_bytes
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, ``total_bytes`` included."""
        return {**_as_dict(self), "total_bytes": self.total_bytes}


@attrs.frozen(kw_only=True)
class ModelStats:
    """A whole model: totals, the model-level weights, and one :class:`LayerStats` per layer.

    >>> from block_config import BlockConfig, ModelArchitecture, model_stats
    >>> block = BlockConfig(attention={"num_key_value_heads": 2}, ffn={"intermediate_size": 32})
    >>> model = ModelArchitecture(hidden_size=16, num_attention_heads=4, vocab_size=100,
    ...                           head_dim=4, block_configs=(block,))
    >>> stats = model_stats(model)
    >>> stats.total_params, stats.kv_cache_bytes_per_token
    (5552, 32)
    """

    total_params: int
    active_params: int
    weight_bytes: int
    kv_cache_bytes_per_token: int
    mamba_state_bytes_per_sequence: int
    embedding_params: int
    lm_head_params: int
    final_norm_params: int
    dtype: str
    kv_cache_dtype: str
    mamba_state_dtype: str
    layers: tuple[LayerStats, ...]
    #: Per token, the KV cache of the attention layers that keep every token (no window or
    #: chunk): for a sequence longer than every window, each more token adds this much.
    kv_cache_bytes_per_token_unbounded: int
    #: Per sequence, the most KV cache the sliding-window and chunked layers hold (each its
    #: per-token bytes times its window or chunk).
    kv_cache_bytes_bounded_max: int
    #: dtype of the Mamba SSM state (the conv state is in ``mamba_state_dtype``).
    mamba_ssm_state_dtype: str
    #: The weight quantization method (``fp8``, ``mxfp4``, ``nvfp4``); None if unquantized.
    quantization: str | None
    #: Parameters of the multi-token-prediction layers (:class:`~block_config.MTPLayers`),
    #: which transformers does not build: never part of ``total_params``.
    mtp_params: int = 0
    #: ``weight_bytes`` plus the bytes of the MTP layers: what a checkpoint holding them
    #: stores (``weight_bytes`` when the model has none).
    checkpoint_weight_bytes: int = 0
    #: Per sequence, the conv and recurrent state of the linear-attention layers (Gated
    #: DeltaNet, KDA), in the dtypes of the Mamba state; it does not grow with length.
    linear_attention_state_bytes_per_sequence: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present (the shape ``block-config show --json``)."""
        return _as_dict(self)

    def kv_cache_bytes(self, batch_size: int, sequence_length: int) -> int:
        """KV-cache bytes for ``batch_size`` sequences of ``sequence_length`` tokens each.

        Sliding-window layers hold at most ``sliding_window`` tokens, Llama-4 chunked layers
        at most ``attention_chunk_size``, every other attention all of them.
        """
        _check_count("batch_size", batch_size, minimum=0)
        return batch_size * sum(layer.kv_cache_bytes(sequence_length) for layer in self.layers)

    def mamba_state_bytes(self, batch_size: int) -> int:
        """Mamba conv and SSM state bytes for ``batch_size`` sequences (any length)."""
        _check_count("batch_size", batch_size, minimum=0)
        return batch_size * self.mamba_state_bytes_per_sequence

    def linear_attention_state_bytes(self, batch_size: int) -> int:
        """Linear-attention conv and recurrent state bytes for ``batch_size`` sequences."""
        _check_count("batch_size", batch_size, minimum=0)
        return batch_size * self.linear_attention_state_bytes_per_sequence

    def memory(self, batch_size: int, sequence_length: int) -> MemoryEstimate:
        """Weights plus caches for ``batch_size`` sequences of ``sequence_length`` tokens."""
        return MemoryEstimate(
            batch_size=batch_size,
            sequence_length=sequence_length,
            weight_bytes=self.weight_bytes,
            kv_cache_bytes=self.kv_cache_bytes(batch_size, sequence_length),
            mamba_state_bytes=self.mamba_state_bytes(batch_size),
            linear_attention_state_bytes=self.linear_attention_state_bytes(batch_size),
        )


def _check_count(name: str, value: int, *, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


@attrs.frozen
class _Context:
    """The model-level figures every block formula needs."""

    hidden: int
    heads: int
    head_dim: int
    attention_bias: bool
    mlp_bias: bool
    conv_kernel: int
    dtype: str
    dtype_bits: int
    kv_bits: int
    state_bits: int
    ssm_bits: int
    #: The model itself, for its model-wide facts (biases, norms, sinks, quantization).
    model: ModelArchitecture


#: How the families name the modules of a layer, for matching ``unquantized_modules``: the
#: model roots, then the attention and FFN (or mixer) containers.
_ROOTS = ("model", "backbone", "model.language_model", "language_model.model")
_CONTAINERS = {
    "attention": ("self_attn", "mixer", "attention", "linear_attn"),
    "ffn": ("mlp", "mixer", "feed_forward", "block_sparse_moe"),
}


class _Tally:
    """The tensors of one subblock: parameters, and how the checkpoint stores them.

    Weight matrices of linear layers are stored in the model's quantization format unless
    it leaves their module unquantized; everything else at the subblock's precision.
    """

    def __init__(self, ctx: _Context, index: int, where: str, *, norms: bool = True) -> None:
        self.ctx = ctx
        self.index = index
        self.where = where
        #: Whether the subblock has a norm before it (not when a parallel block reads the
        #: layer's input norm: ``parallel_blocks_share_input_norm``).
        self.norms = norms
        self.params = 0
        self.plain = 0
        self.quantized_bytes = 0
        self.buffer_bytes = 0

    def vector(self, count: int) -> None:
        """Parameters stored at the subblock's precision (norms, biases, routers, ...)."""
        self.params += count
        self.plain += count

    def fp32(self, count: int) -> None:
        """Parameters kept in fp32 whatever the subblock's precision (4 bytes each)."""
        self.params += count
        self.buffer_bytes += 4 * count

    def fp32_buffer(self, count: int) -> None:
        """Values the checkpoint stores in fp32 that are not parameters (transformers registers
        them as buffers): bytes only."""
        self.buffer(count, 4)

    def buffer(self, count: int, value_bytes: int) -> None:
        """``count`` values of ``value_bytes`` each that the checkpoint stores and that are
        not parameters (transformers registers them as buffers): bytes only."""
        self.buffer_bytes += value_bytes * count

    def matrix(self, rows: int, cols: int, *leaves: str, stacked: int = 1) -> None:
        """``stacked`` weight matrices of ``rows`` outputs by ``cols`` inputs."""
        count = stacked * rows * cols
        self.params += count
        quantization = self.ctx.model.quantization
        if quantization is not None and quantization.is_quantized(self._names(leaves)):
            self.quantized_bytes += stacked * quantization.matrix_bytes(rows, cols)
        else:
            self.plain += count

    def _names(self, leaves: tuple[str, ...]) -> list[str]:
        return [
            f"{root}.layers.{self.index}.{container}.{leaf}"
            for root in _ROOTS
            for container in _CONTAINERS[self.where]
            for leaf in leaves
        ]

    def weight_bytes(self, bits: int) -> int:
        return _bytes(self.plain, bits) + self.quantized_bytes + self.buffer_bytes


def _subblock_precision(
    sub: AttentionConfig | FFNConfig | None, ctx: _Context, path: Path
) -> tuple[str, int]:
    if sub is None or sub.weights_precision is None:
        return ctx.dtype, ctx.dtype_bits
    return sub.weights_precision, precision_bits(sub.weights_precision, path)


def _mamba_weights(mamba: MambaConfig, tally: _Tally) -> None:
    h = tally.ctx.hidden
    d_in = mamba.num_heads * mamba.head_dim
    group_state = 2 * mamba.num_groups * mamba.state_dim
    conv_dim = d_in + group_state
    tally.matrix(2 * d_in + group_state + mamba.num_heads, h, "in_proj")
    tally.vector(conv_dim * tally.ctx.conv_kernel + conv_dim)  # conv1d weight and bias
    tally.vector(3 * mamba.num_heads)  # dt_bias, A_log, D
    if not tally.ctx.model.mamba_without_norm:
        tally.vector(d_in)  # the gated norm
    tally.matrix(h, d_in, "out_proj")


def _mamba_state_bytes(mamba: MambaConfig, ctx: _Context) -> int:
    d_in = mamba.num_heads * mamba.head_dim
    conv_dim = d_in + 2 * mamba.num_groups * mamba.state_dim
    conv = _bytes(conv_dim * (ctx.conv_kernel - 1), ctx.state_bits)
    return conv + _bytes(d_in * mamba.state_dim, ctx.ssm_bits)


def attention_kind(attention: AttentionConfig | None) -> AttentionKind:
    """What an attention subblock is: ``no_op`` (or absent), ``linear``, ``mamba``, ``mla``,
    ``gdn`` or ``kda`` (linear attention: Gated DeltaNet, Kimi Delta Attention) or ``gqa``.

    A linear replacement wins over the Mamba, MLA, linear-attention or GQA settings it
    replaces.
    """
    if attention is None or attention.no_op:
        return "no_op"
    if attention.replace_with_linear:
        return "linear"
    if attention.mamba is not None:
        return "mamba"
    if attention.mla is not None:
        return "mla"
    if attention.linear_attention is not None:
        return "kda" if attention.linear_attention.kind == "kda" else "gdn"
    return "gqa"


def ffn_kind(ffn: FFNConfig | None) -> FFNKind:
    """What an FFN subblock is: ``no_op`` (or absent), ``linear``, ``moe`` or ``dense``."""
    if ffn is None or ffn.no_op:
        return "no_op"
    if ffn.replace_with_linear:
        return "linear"
    if ffn.moe is not None:
        return "moe"
    return "dense"


def _norms(tally: _Tally) -> None:
    """The norm before the subblock, and with sandwich norms the one after it; with
    hyper-connections, the weights that mix the streams around it."""
    if tally.norms:
        tally.vector(tally.ctx.hidden * (2 if tally.ctx.model.sandwich_norms else 1))
    streams = tally.ctx.model.hyper_connections
    if streams is not None:
        tally.vector(_hyper_connection_params(streams, tally.ctx.hidden))


def _hyper_connection_params(streams: int, hidden: int) -> int:
    """One subblock's hyper-connection (``DeepseekV4HyperConnection``): ``fn`` maps the
    ``n * h`` streams to the ``2n + n*n`` mixing weights (pre, post, comb), ``base`` their
    biases and ``scale`` one scale for each of the three."""
    mixes = (2 + streams) * streams
    return mixes * streams * hidden + mixes + 3


def _hyper_connection_head_params(model: ModelArchitecture) -> int:
    """DeepSeek-V4's ``hc_head``, collapsing the ``n`` streams after the last layer: ``hc_fn``
    ``n * n*h``, ``hc_base`` ``n`` and ``hc_scale`` 1; none without hyper-connections or with
    an unweighted mean (GLM-5.3-Flash)."""
    streams = model.hyper_connections
    if streams is None or model.hyper_connections_mean_head:
        return 0
    return streams * streams * model.hidden_size + streams + 1


def _gqa_weights(
    kv_heads: int,
    heads: int,
    head_dim: int,
    tally: _Tally,
    *,
    output_gate: bool = False,
    shared_kv: bool = False,
    values_from_keys: bool = False,
) -> None:
    """A GQA attention's weights; ``shared_kv``: it reads another layer's K/V, and has no
    k/v projections (nor their biases) and no key norm; ``values_from_keys``: it has no
    v_proj (nor its bias)."""
    ctx = tally.ctx
    h = ctx.hidden
    q_width = heads * head_dim
    kv_width = 0 if shared_kv else kv_heads * head_dim
    # An output gate doubles q_proj: each head's query and its gate side by side.
    q_rows = 2 * q_width if output_gate else q_width
    tally.matrix(q_rows, h, "q_proj")
    projections = 1 if values_from_keys else 2  # k_proj, and v_proj unless values are keys
    if not shared_kv:
        tally.matrix(kv_width, h, "k_proj")
        if not values_from_keys:
            tally.matrix(kv_width, h, "v_proj")
    tally.matrix(h, q_width, "o_proj")
    if ctx.attention_bias or ctx.model.qkv_bias:
        tally.vector(q_rows + projections * kv_width)
    if ctx.attention_bias:
        tally.vector(h)
    if ctx.model.qk_norm:
        tally.vector(head_dim if shared_kv else 2 * head_dim)
    if ctx.model.qk_norm_across_heads:
        tally.vector(q_width + kv_width)
    if ctx.model.attention_sinks:
        tally.vector(heads)
    if ctx.model.log_position_scaling:
        tally.vector(2 * heads)
    _norms(tally)


def _mla_weights(mla: MLAConfig, heads: int, tally: _Tally, *, shared_kv: bool = False) -> None:
    """DeepSeek-V2/V3 attention, as transformers' ``DeepseekV3Attention`` builds it;
    ``shared_kv``: it reads another layer's latent (Mistral-Large-4's
    ``MistralLarge4TextAttention`` of a KV-sharing layer), and has no kv_a_proj_with_mqa
    (nor its bias) and no kv_a_layernorm."""
    ctx = tally.ctx
    h = ctx.hidden
    qk_head = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    if mla.q_lora_rank is None:
        tally.matrix(heads * qk_head, h, "q_proj")
    else:
        tally.matrix(mla.q_lora_rank, h, "q_a_proj")
        tally.vector(mla.q_lora_rank)  # q_a_layernorm
        tally.matrix(heads * qk_head, mla.q_lora_rank, "q_b_proj")
        if ctx.attention_bias:
            tally.vector(mla.q_lora_rank)
    latent = mla.kv_lora_rank + mla.qk_rope_head_dim
    if not shared_kv:
        tally.matrix(latent, h, "kv_a_proj_with_mqa")
        tally.vector(mla.kv_lora_rank)  # kv_a_layernorm
    tally.matrix(heads * (mla.qk_nope_head_dim + mla.v_head_dim), mla.kv_lora_rank, "kv_b_proj")
    tally.matrix(h, heads * mla.v_head_dim, "o_proj")
    if ctx.attention_bias:
        tally.vector((0 if shared_kv else latent) + h)
    if ctx.model.attention_sinks:
        tally.vector(heads)
    if ctx.model.log_position_scaling:
        tally.vector(2 * heads)
    if mla.index_n_heads is not None and mla.index_head_dim is not None:
        _indexer_weights(mla.index_n_heads, mla.index_head_dim, mla, tally)
    _norms(tally)


# --------------------------------------------------------------------------- linear attention


def _linear_attention_weights(linear: LinearAttentionConfig, tally: _Tally) -> None:
    """Gated DeltaNet as transformers' ``Qwen3NextGatedDeltaNet`` (fused projections),
    ``Qwen3_5GatedDeltaNet`` and ``OlmoHybridGatedDeltaNet`` build it, or Kimi Delta
    Attention as ``KimiLinearDeltaAttention`` does."""
    h = tally.ctx.hidden
    keys = linear.num_key_heads * linear.key_head_dim
    values = linear.num_value_heads * linear.value_head_dim
    heads = linear.num_value_heads
    if linear.kind == "kda":
        head_dim = linear.key_head_dim
        for name in ("q_proj", "k_proj", "v_proj"):
            tally.matrix(keys, h, name)
        tally.vector(linear.conv_dim * linear.conv_kernel)  # conv1d, no bias
        tally.matrix(head_dim, h, "forget_gate.f_a_proj")
        tally.matrix(keys, head_dim, "forget_gate.f_b_proj")
        tally.vector(keys + heads)  # forget_gate.dt_bias (per channel), forget_gate.A_log
        tally.matrix(heads, h, "b_proj")
        tally.matrix(head_dim, h, "g_a_proj")
        tally.matrix(keys, head_dim, "g_b_proj")
        tally.vector(head_dim)  # o_norm
        tally.matrix(h, keys, "o_proj")
        return
    if linear.fused_projections:
        tally.matrix(2 * keys + 2 * values, h, "in_proj_qkvz")
        tally.matrix(2 * heads, h, "in_proj_ba")
    else:
        tally.matrix(2 * keys + values, h, "in_proj_qkv")
        tally.matrix(values, h, "in_proj_z", "g_proj")
        tally.matrix(heads, h, "in_proj_b", "b_proj")
        tally.matrix(heads, h, "in_proj_a", "a_proj")
    tally.vector(linear.conv_dim * linear.conv_kernel)  # conv1d, no bias
    tally.vector(2 * heads)  # dt_bias, A_log
    tally.vector(linear.value_head_dim)  # the gated norm
    tally.matrix(h, values, "out_proj", "o_proj")


def _linear_attention_state_bytes(linear: LinearAttentionConfig, ctx: _Context) -> int:
    """The last ``conv_kernel - 1`` convolution inputs in the state dtype, and one
    ``key_head_dim x value_head_dim`` matrix per value head in the SSM-state dtype."""
    conv = _bytes(linear.conv_dim * (linear.conv_kernel - 1), ctx.state_bits)
    recurrent = linear.num_value_heads * linear.key_head_dim * linear.value_head_dim
    return conv + _bytes(recurrent, ctx.ssm_bits)


# ----------------------------------------------------------------------- end linear attention


def _refuse_unmodelled_with_compression(ctx: _Context, path: Path) -> None:
    """The model-wide attention facts no compressed attention is built with."""
    model = ctx.model
    facts = {
        "attention_bias": ctx.attention_bias,
        "qkv_bias": model.qkv_bias,
        "qk_norm": model.qk_norm,
        "qk_norm_across_heads": model.qk_norm_across_heads,
    }
    found = [name for name, value in facts.items() if value]
    if found:
        raise BlockConfigError.at(
            (*path, "compressed_attention"),
            f"not modelled with {', '.join(found)}: DeepSeek-V4's attention has no biases and "
            "no q/k norms of that kind",
        )


def _compressed_attention_weights(
    compressed: CompressedAttentionConfig, kv_heads: int, heads: int, head_dim: int, tally: _Tally
) -> None:
    """DeepSeek-V4's attention, as transformers' ``DeepseekV4Attention`` builds it, with its
    compressor (``DeepseekV4HCACompressor``, or ``DeepseekV4CSACompressor`` and its
    ``DeepseekV4Indexer`` with an indexer)."""
    h = tally.ctx.hidden
    rank = compressed.q_lora_rank
    tally.matrix(rank, h, "q_a_proj")
    tally.vector(rank)  # q_a_norm (q_b_norm has no weight)
    tally.matrix(heads * head_dim, rank, "q_b_proj")
    tally.matrix(kv_heads * head_dim, h, "kv_proj")  # each key is also the value
    tally.vector(head_dim)  # kv_norm
    groups, out_rank = compressed.o_groups, compressed.o_lora_rank
    tally.matrix(groups * out_rank, heads * head_dim // groups, "o_a_proj")
    tally.matrix(h, groups * out_rank, "o_b_proj")
    if tally.ctx.model.attention_sinks:
        tally.vector(heads)
    rate = compressed.compress_rate
    if rate is None:
        return
    # Compressed sparse attention pools two overlapping series, each head_dim wide.
    series = 2 if compressed.has_indexer else 1
    tally.matrix(series * head_dim, h, "compressor.kv_proj")
    tally.matrix(series * head_dim, h, "compressor.gate_proj")
    tally.vector(rate * series * head_dim + head_dim)  # position_bias, kv_norm
    index_heads, index_dim = compressed.index_n_heads, compressed.index_head_dim
    if index_heads is None or index_dim is None:
        return
    tally.matrix(2 * index_dim, h, "compressor.indexer.kv_proj")
    tally.matrix(2 * index_dim, h, "compressor.indexer.gate_proj")
    tally.vector(rate * 2 * index_dim + index_dim)  # position_bias, kv_norm
    tally.matrix(index_heads * index_dim, rank, "compressor.indexer.q_b_proj")
    tally.matrix(index_heads, h, "compressor.indexer.scorer.weights_proj")


def _indexer_weights(index_heads: int, index_dim: int, mla: MLAConfig, tally: _Tally) -> None:
    """DeepSeek Sparse Attention's indexer, as transformers' ``DeepseekV32Indexer`` builds it,
    or with ``index_from_hidden`` as ``MistralLarge4TextIndexer`` does."""
    h = tally.ctx.hidden
    if mla.index_from_hidden:
        tally.vector(2 * h)  # q_input_norm, a LayerNorm: weight and bias
        tally.matrix(index_heads * index_dim, h, "indexer.wq_b")
    else:
        assert mla.q_lora_rank is not None  # the class requires it with such an indexer
        tally.matrix(index_heads * index_dim, mla.q_lora_rank, "indexer.wq_b")
    tally.matrix(index_dim, h, "indexer.wk")
    tally.vector(2 * index_dim)  # k_norm, a LayerNorm: weight and bias
    tally.matrix(index_heads, h, "indexer.weights_proj")
    if mla.index_kpool is not None:
        # GLM-5.3-Flash's key pooling: a gate projection and a bias per position in a pool,
        # both registered as plain parameters, not linear layers.
        tally.vector(index_dim * h)  # index_kpool_compress_gate
        tally.vector(mla.index_kpool * index_dim)  # index_kpool_compress_ape
    if tally.ctx.model.log_position_scaling:
        tally.vector(2 * index_heads)


def _attention_stats(
    attention: AttentionConfig | None,
    ctx: _Context,
    path: Path,
    index: int = 0,
    *,
    input_norm: bool = True,
) -> AttentionStats:
    precision, bits = _subblock_precision(attention, ctx, (*path, "weights_precision"))
    tally = _Tally(ctx, index, "attention", norms=input_norm)
    kv_heads: int | None = None
    kv_bytes = 0
    state_bytes = 0
    chunk: int | None = None
    window: int | None = None
    heads: int | None = None
    head_dim: int | None = None
    linear_state = 0
    compress_rate: int | None = None
    entry_bytes = 0
    kind = attention_kind(attention)
    if kind == "linear":
        tally.matrix(ctx.hidden, ctx.hidden, "linear_attn")
        _norms(tally)
    elif kind == "mamba":
        assert attention is not None
        assert attention.mamba is not None
        _mamba_weights(attention.mamba, tally)
        _norms(tally)
        state_bytes = _mamba_state_bytes(attention.mamba, ctx)
    elif kind == "mla":
        assert attention is not None
        assert attention.mla is not None
        heads = attention.num_attention_heads or ctx.heads
        shared_kv = attention.kv_source_layer is not None
        _mla_weights(attention.mla, heads, tally, shared_kv=shared_kv)
        # One latent per token and layer, shared by every head: no K/V pair; an indexer keeps
        # one key of its own per token beside it, and with key pooling that token's pool-gate
        # logits too. A layer reading another's latent keeps only its indexer's.
        mla = attention.mla
        latent = 0 if shared_kv else mla.kv_lora_rank + mla.qk_rope_head_dim
        indexer = (mla.index_head_dim or 0) * (2 if mla.index_kpool is not None else 1)
        kv_bytes = _bytes(latent + indexer, ctx.kv_bits)
        window = attention.sliding_window
    elif kind in ("gdn", "kda"):
        assert attention is not None
        assert attention.linear_attention is not None
        _linear_attention_weights(attention.linear_attention, tally)
        _norms(tally)
        linear_state = _linear_attention_state_bytes(attention.linear_attention, ctx)
    elif kind == "gqa":
        assert attention is not None
        kv_heads = attention.num_key_value_heads
        assert kv_heads is not None  # the class requires it for a GQA attention
        head_dim = attention.head_dim or ctx.head_dim
        heads = attention.num_attention_heads or ctx.heads
        shared_kv = attention.kv_source_layer is not None
        compressed = attention.compressed_attention
        if compressed is not None:
            _refuse_unmodelled_with_compression(ctx, path)
            _compressed_attention_weights(compressed, kv_heads, heads, head_dim, tally)
            _norms(tally)
            # Each key is its own value: one vector per token and KV head in the window; one
            # pooled entry (and the indexer's key) per compress_rate tokens beside it.
            kv_bytes = _bytes(kv_heads * head_dim, ctx.kv_bits)
            compress_rate = compressed.compress_rate
            if compress_rate is not None:
                entry_bytes = _bytes(head_dim + (compressed.index_head_dim or 0), ctx.kv_bits)
        else:
            _gqa_weights(
                kv_heads,
                heads,
                head_dim,
                tally,
                output_gate=attention.output_gate is True,
                shared_kv=shared_kv,
                values_from_keys=attention.values_from_keys is True,
            )
            # A layer reading another's K/V holds no cache of its own.
            kv_bytes = 0 if shared_kv else _bytes(2 * kv_heads * head_dim, ctx.kv_bits)
        if attention.llama4 is not None:
            chunk = attention.llama4.attention_chunk_size
        window = attention.sliding_window
    return AttentionStats(
        kind=kind,
        num_key_value_heads=kv_heads,
        params=tally.params,
        weights_precision=precision,
        weight_bytes=tally.weight_bytes(bits),
        kv_cache_bytes_per_token=kv_bytes,
        mamba_state_bytes_per_sequence=state_bytes,
        attention_chunk_size=chunk,
        sliding_window=window,
        num_attention_heads=heads,
        head_dim=head_dim,
        linear_attention_state_bytes_per_sequence=linear_state,
        output_gate=kind == "gqa" and attention is not None and attention.output_gate is True,
        kv_source_layer=None if attention is None else attention.kv_source_layer,
        values_from_keys=kind == "gqa"
        and attention is not None
        and attention.values_from_keys is True,
        compress_rate=compress_rate,
        compressed_kv_bytes_per_entry=entry_bytes,
    )


def _mlp(
    width: int,
    gated: bool,
    tally: _Tally,
    *leaf: str,
    biased: bool,
    stacked: int = 1,
    outer: int | None = None,
) -> None:
    """A gated (gate, up, down) or two-matrix (up, down) MLP of ``width``, ``stacked`` times,
    from and back to ``outer`` values (the hidden size unless given: a latent MoE's latent).

    ``leaf`` is the module's name inside the FFN (empty for a dense FFN's own projections).
    """
    h = tally.ctx.hidden if outer is None else outer
    prefix = leaf[0] + "." if leaf else ""
    if gated:
        tally.matrix(
            width, h, *leaf, f"{prefix}gate_proj", f"{prefix}gate_up_proj", stacked=stacked
        )
    tally.matrix(width, h, *leaf, f"{prefix}up_proj", f"{prefix}gate_up_proj", stacked=stacked)
    tally.matrix(h, width, *leaf, f"{prefix}down_proj", stacked=stacked)
    if biased:
        tally.vector(stacked * ((2 if gated else 1) * width + h))


def _ffn_stats(
    ffn: FFNConfig | None, ctx: _Context, path: Path, index: int = 0, *, input_norm: bool = True
) -> FFNStats:
    precision, bits = _subblock_precision(ffn, ctx, (*path, "weights_precision"))
    h = ctx.hidden
    tally = _Tally(ctx, index, "ffn", norms=input_norm)
    if ffn is None or ffn.no_op:
        return FFNStats(
            kind="no_op",
            intermediate_size=None,
            params=0,
            active_params=0,
            weights_precision=precision,
            weight_bytes=0,
        )
    if ffn.replace_with_linear:
        tally.matrix(h, h, "linear_mlp")
        _norms(tally)
        return FFNStats(
            kind="linear",
            intermediate_size=None,
            params=tally.params,
            active_params=tally.params,
            weights_precision=precision,
            weight_bytes=tally.weight_bytes(bits),
        )
    moe = ffn.moe
    if moe is not None:
        experts, shared_dim = moe.num_local_experts, moe.shared_expert_intermediate_dim
        gated = moe.is_gated
        # Routers are never quantized (their module is not a plain linear layer to the
        # quantizers, or every published config excludes it).
        if ctx.model.router_fp32:
            tally.fp32(h * experts)
        else:
            tally.vector(h * experts)
        if ctx.model.router_bias:
            tally.vector(experts)
        if ctx.model.router_scales:
            tally.vector(h + experts)  # router.scale and router.per_expert_scale
        if moe.hash_routed:
            # The token-id -> expert-ids table, int32 in the checkpoint (DeepSeek-V4's
            # tid2eid); such a router has no score-correction bias.
            tally.buffer(ctx.model.vocab_size * moe.num_experts_per_tok, 4)
        elif ctx.model.router_score_correction_bias:
            tally.fp32_buffer(experts)
        latent = moe.latent_dim
        if latent is not None:
            # Into the latent and back out, for every token (NemotronHMoE's fc1/fc2).
            tally.matrix(latent, h, "fc1_latent_proj")
            tally.matrix(h, latent, "fc2_latent_proj")
            if ctx.mlp_bias:
                tally.vector(latent + h)
        router = tally.params
        _mlp(
            moe.expert_intermediate_dim,
            gated,
            tally,
            "experts",
            biased=ctx.mlp_bias or ctx.model.expert_bias,
            stacked=experts,
            outer=latent,
        )
        expert = (tally.params - router) // experts
        before_shared = tally.params
        if shared_dim:
            _mlp(shared_dim, gated, tally, "shared_expert", "shared_experts", biased=ctx.mlp_bias)
            if ctx.model.shared_expert_gate:
                tally.vector(h)  # shared_expert_gate, h -> 1: kept with the router
        shared = tally.params - before_shared
        _norms(tally)
        if ctx.model.moe_branch_norms:
            tally.vector(3 * h)  # after the shared expert, before and after the experts
        norms = tally.params - before_shared - shared
        active = router + moe.num_experts_per_tok * expert + shared + norms
        return FFNStats(
            kind="moe",
            intermediate_size=None,
            params=tally.params,
            active_params=active,
            weights_precision=precision,
            weight_bytes=tally.weight_bytes(bits),
            num_local_experts=moe.num_local_experts,
            num_experts_per_tok=moe.num_experts_per_tok,
            expert_intermediate_dim=moe.expert_intermediate_dim,
            shared_expert_intermediate_dim=moe.shared_expert_intermediate_dim,
            latent_dim=moe.latent_dim,
        )
    width = ffn.intermediate_size
    assert width is not None  # the class requires it for a dense FFN
    _mlp(width, ffn.is_gated, tally, biased=ctx.mlp_bias)
    _norms(tally)
    return FFNStats(
        kind="dense",
        intermediate_size=width,
        params=tally.params,
        active_params=tally.params,
        weights_precision=precision,
        weight_bytes=tally.weight_bytes(bits),
    )


def _layer_stats(
    block: BlockConfig,
    index: int,
    ctx: _Context,
    path: Path,
    problems: list[Problem],
    *,
    parallel_block: bool = False,
) -> LayerStats | None:
    """The stats of ``block`` (a layer's parallel block with ``parallel_block``), or None
    after adding what is wrong with it to ``problems``."""
    ok = True
    attention: AttentionStats | None = None
    ffn: FFNStats | None = None
    # A parallel block reads the layer's input norm when the model says so (Falcon-H1).
    input_norm = not (parallel_block and ctx.model.parallel_blocks_share_input_norm)
    try:
        attention = _attention_stats(
            block.attention, ctx, (*path, "attention"), index, input_norm=input_norm
        )
    except BlockConfigError as error:
        problems.extend(error.problems)
        ok = False
    try:
        ffn = _ffn_stats(block.ffn, ctx, (*path, "ffn"), index, input_norm=input_norm)
    except BlockConfigError as error:
        problems.extend(error.problems)
        ok = False
    parallel = []
    for position, inner in enumerate(block.parallel_blocks or ()):
        stats = _layer_stats(
            inner,
            index,
            ctx,
            (*path, "parallel_blocks", position),
            problems,
            parallel_block=True,
        )
        if stats is None:
            ok = False
        else:
            parallel.append(stats)
    if not ok or attention is None or ffn is None:
        return None
    return LayerStats(
        index=index,
        attention=attention,
        ffn=ffn,
        params=attention.params + ffn.params + sum(p.params for p in parallel),
        active_params=attention.params + ffn.active_params + sum(p.active_params for p in parallel),
        weight_bytes=attention.weight_bytes
        + ffn.weight_bytes
        + sum(p.weight_bytes for p in parallel),
        kv_cache_bytes_per_token=attention.kv_cache_bytes_per_token
        + sum(p.kv_cache_bytes_per_token for p in parallel),
        mamba_state_bytes_per_sequence=attention.mamba_state_bytes_per_sequence
        + sum(p.mamba_state_bytes_per_sequence for p in parallel),
        parallel_blocks=tuple(parallel),
        linear_attention_state_bytes_per_sequence=(
            attention.linear_attention_state_bytes_per_sequence
            + sum(p.linear_attention_state_bytes_per_sequence for p in parallel)
        ),
    )


def _argument_bits(name: str, value: str) -> int:
    """Bits of a precision the caller named (not read from a document): a plain ValueError."""
    try:
        return precision_bits(value)
    except BlockConfigError as error:
        raise ValueError(f"{name}: {error.problems[0].message}") from None


def _context(
    model: ModelArchitecture, kv_cache_dtype: str | None, mamba_state_dtype: str | None
) -> _Context:
    dtype = model.torch_dtype if model.torch_dtype is not None else _DEFAULT_DTYPE
    dtype_bits = precision_bits(dtype, ("torch_dtype",))
    kv_bits = dtype_bits
    if kv_cache_dtype is not None:
        kv_bits = _argument_bits("kv_cache_dtype", kv_cache_dtype)
    state_bits = kv_bits
    ssm_bits = state_bits
    if mamba_state_dtype is not None:
        state_bits = ssm_bits = _argument_bits("mamba_state_dtype", mamba_state_dtype)
    elif model.mamba_ssm_cache_dtype is not None:
        ssm_bits = precision_bits(model.mamba_ssm_cache_dtype, ("mamba_ssm_cache_dtype",))
    return _Context(
        hidden=model.hidden_size,
        heads=model.num_attention_heads,
        head_dim=model.head_dim,
        attention_bias=model.attention_bias,
        mlp_bias=model.mlp_bias,
        conv_kernel=model.mamba_conv_kernel,
        dtype=dtype,
        dtype_bits=dtype_bits,
        kv_bits=kv_bits,
        state_bits=state_bits,
        ssm_bits=ssm_bits,
        model=model,
    )


def _unknown_precisions(blocks: Iterable[BlockConfig], blocks_path: Path) -> list[Problem]:
    """Every unknown ``weights_precision`` in ``blocks``, without any model dimensions."""
    problems: list[Problem] = []

    def visit(block: BlockConfig, path: Path) -> None:
        for name in ("attention", "ffn"):
            sub: AttentionConfig | FFNConfig | None = getattr(block, name)
            if sub is not None and sub.weights_precision is not None:
                try:
                    precision_bits(sub.weights_precision, (*path, name, "weights_precision"))
                except BlockConfigError as error:
                    problems.extend(error.problems)
        for position, inner in enumerate(block.parallel_blocks or ()):
            visit(inner, (*path, "parallel_blocks", position))

    for index, block in enumerate(blocks):
        visit(block, (*blocks_path, index))
    return problems


def block_stats(
    block: BlockConfig,
    model: ModelArchitecture,
    *,
    index: int = 0,
    kv_cache_dtype: str | None = None,
    mamba_state_dtype: str | None = None,
) -> LayerStats:
    """The stats of one block, with the dimensions of ``model`` (its own blocks are not read).

    Raises :class:`BlockConfigError` for an unknown precision, located in the block
    (``$.ffn.weights_precision``).
    """
    ctx = _context(model, kv_cache_dtype, mamba_state_dtype)
    problems: list[Problem] = []
    stats = _layer_stats(block, index, ctx, (), problems)
    if stats is None:
        raise BlockConfigError(problems)
    return stats


def model_stats(
    model: ModelArchitecture,
    *,
    kv_cache_dtype: str | None = None,
    mamba_state_dtype: str | None = None,
) -> ModelStats:
    """Parameters, weight bytes, KV cache and Mamba state of ``model``, per layer and in total.

    ``kv_cache_dtype`` (e.g. ``"fp8"``) overrides the model's dtype for the KV cache;
    ``mamba_state_dtype`` for the Mamba state (default: the KV-cache dtype); an unknown name
    given there raises :class:`ValueError`. An unknown precision in the model raises
    :class:`BlockConfigError` listing every one with its path
    (``$.block_configs[3].ffn.weights_precision``, ``$.torch_dtype``).
    """
    return _model_stats(model, kv_cache_dtype, mamba_state_dtype, ("block_configs",))


def _model_stats(
    model: ModelArchitecture,
    kv_cache_dtype: str | None,
    mamba_state_dtype: str | None,
    blocks_path: Path,
) -> ModelStats:
    """:func:`model_stats`, reporting block problems under ``blocks_path`` (``()``: a list)."""
    ctx = _context(model, kv_cache_dtype, mamba_state_dtype)
    problems: list[Problem] = []
    layers = []
    for index, block in enumerate(model.block_configs):
        stats = _layer_stats(block, index, ctx, (*blocks_path, index), problems)
        if stats is not None:
            layers.append(stats)
    if problems:
        raise BlockConfigError(problems)
    h = model.hidden_size
    embedding = model.vocab_size * h
    lm_head = 0 if model.tie_word_embeddings else embedding
    model_level = (
        embedding
        + lm_head
        + h
        + _per_layer_input_params(model)
        + _hyper_connection_head_params(model)
    )
    rope_scales = model.learned_rope_frequencies or 0  # fp32: 4 bytes each
    unbounded = bounded = 0
    for layer in layers:
        for attention in layer._attentions():
            limit = attention.kv_cache_token_limit
            if limit is None:
                unbounded += attention.kv_cache_bytes_per_token
            else:
                bounded += attention.kv_cache_bytes_per_token * limit
    state_dtype = mamba_state_dtype or kv_cache_dtype or ctx.dtype
    mtp_params, mtp_bytes = _mtp_stats(model, ctx, problems)
    if problems:
        raise BlockConfigError(problems)
    weight_bytes = (
        _bytes(model_level, ctx.dtype_bits)
        + 4 * rope_scales
        + sum(layer.weight_bytes for layer in layers)
    )
    return ModelStats(
        total_params=model_level + rope_scales + sum(layer.params for layer in layers),
        active_params=model_level + rope_scales + sum(layer.active_params for layer in layers),
        weight_bytes=weight_bytes,
        kv_cache_bytes_per_token=sum(layer.kv_cache_bytes_per_token for layer in layers),
        mamba_state_bytes_per_sequence=sum(
            layer.mamba_state_bytes_per_sequence for layer in layers
        ),
        embedding_params=embedding,
        lm_head_params=lm_head,
        final_norm_params=h,
        dtype=ctx.dtype,
        kv_cache_dtype=kv_cache_dtype or ctx.dtype,
        mamba_state_dtype=state_dtype,
        layers=tuple(layers),
        kv_cache_bytes_per_token_unbounded=unbounded,
        kv_cache_bytes_bounded_max=bounded,
        mamba_ssm_state_dtype=mamba_state_dtype or model.mamba_ssm_cache_dtype or state_dtype,
        quantization=None if model.quantization is None else model.quantization.method,
        mtp_params=mtp_params,
        checkpoint_weight_bytes=weight_bytes + mtp_bytes,
        linear_attention_state_bytes_per_sequence=sum(
            layer.linear_attention_state_bytes_per_sequence for layer in layers
        ),
    )


def _per_layer_input_params(model: ModelArchitecture) -> int:
    """Gemma 4's per-layer embeddings: the table (``per_layer_input_vocab_size`` rows of
    ``L * P``), its projection from the embeddings (``h -> L * P``) and norm (``P``); in each
    layer the input gate (``h -> P``), the projection back (``P -> h``) and its norm (``h``)."""
    width, rows = model.per_layer_input_size, model.per_layer_input_vocab_size
    if width is None or rows is None:
        return 0
    h, layers = model.hidden_size, model.num_hidden_layers
    model_wide = rows * layers * width + layers * width * h + width
    return model_wide + layers * (2 * width * h + h)


def _mtp_stats(model: ModelArchitecture, ctx: _Context, problems: list[Problem]) -> tuple[int, int]:
    """Parameters and weight bytes of the model's MTP layers (0, 0 without any)."""
    mtp = model.mtp
    if mtp is None:
        return 0, 0
    h = model.hidden_size
    # enorm, hnorm, eh_proj (2h -> h) and the final norm; the embedding and head when owned.
    own = 2 * h + 2 * h * h + h
    if mtp.own_embeddings:
        own += 2 * model.vocab_size * h
    params = mtp.num_layers * own
    weight_bytes = mtp.num_layers * _bytes(own, ctx.dtype_bits)
    first = model.num_hidden_layers
    for depth in range(mtp.num_layers):
        for position, block in enumerate(mtp.block_configs):
            index = first + depth * len(mtp.block_configs) + position
            path = ("mtp", "block_configs", position)
            # Every depth repeats the blocks: their problems are told once.
            told = problems if depth == 0 else []
            stats = _layer_stats(block, index, ctx, path, told)
            if stats is not None:
                params += stats.params
                weight_bytes += stats.weight_bytes
    return params, weight_bytes
