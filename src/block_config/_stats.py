"""What a model is made of: parameters, weight bytes, KV cache and Mamba state, per layer.

Pure arithmetic on a :class:`ModelArchitecture`; no torch, no weights. The formulas (``h`` is
``hidden_size``, ``H`` ``num_attention_heads``, ``d`` ``head_dim``; every projection is a weight
matrix, with a bias vector only where noted):

* embeddings ``vocab_size * h``; ``lm_head`` the same unless ``tie_word_embeddings``; the final
  norm ``h``.
* GQA attention (Llama-4 attention too, its QK norm has no weights), with ``kv`` KV heads:
  q ``h * H*d``, k and v ``h * kv*d`` each, o ``H*d * h``, plus its input norm ``h``; with
  ``attention_bias``, biases ``H*d + 2*kv*d + h``.
* linear replacement (attention or FFN): ``h * h`` plus its norm ``h``; no bias.
* SwiGLU FFN of width ``i``: ``3 * h * i`` plus its norm ``h``; with ``mlp_bias``, biases
  ``2*i + h``.
* MoE: router ``h * experts``, experts ``experts * 3 * h * expert_dim``, the shared expert
  ``3 * h * shared_dim`` (none when ``shared_dim`` is 0), plus its norm ``h``; with
  ``mlp_bias`` every expert has SwiGLU biases.
* Mamba-2, with ``d_in = num_heads * head_dim``, ``conv_dim = d_in + 2 * groups * state``:
  in_proj ``h * (2*d_in + 2*groups*state + num_heads)``, conv1d ``conv_dim * kernel`` plus its
  bias ``conv_dim``, ``dt_bias``, ``A_log`` and ``D`` (``num_heads`` each), the gated norm
  ``d_in``, out_proj ``d_in * h``, plus its input norm ``h``.
* a no-op (or absent) subblock: nothing. ``parallel_blocks`` add up with the block's own.

Every dense FFN and expert is counted as SwiGLU (three matrices). Models whose MLPs are not
gated, such as Nemotron-H's ``relu2`` MLPs (two matrices), are over-counted by ``h * i`` per
FFN or expert; Qwen2's built-in q/k/v biases (present without ``attention_bias``) are not
counted, nor are the block scales of microscaled formats (nvfp4, mxfp4).

Memory:

* weight bytes: a subblock's parameters at its ``weights_precision`` (the model's dtype when
  it is null); embeddings, ``lm_head`` and the final norm at the model's dtype. Sizes per
  precision are in :data:`PRECISION_BITS`.
* KV cache per token: ``2 * kv * head_dim * bytes`` for every GQA attention; no-op, linear and
  Mamba layers hold none. ``bytes`` is the KV-cache dtype: the model's ``torch_dtype``, bf16
  when it says nothing, unless the caller names one.
* Mamba state per sequence: the conv state ``conv_dim * (kernel - 1)`` (the last ``kernel - 1``
  inputs of the causal convolution) plus the SSM state ``num_heads * head_dim * state``, in the
  state dtype (the KV-cache dtype unless the caller names one). It does not grow with length.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attr
import attrs

from block_config._config import AttentionConfig, BlockConfig, FFNConfig, MambaConfig, MLAConfig
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

AttentionKind = Literal["gqa", "linear", "no_op", "mamba", "mla"]
FFNKind = Literal["dense", "linear", "no_op", "moe"]

#: Bits per parameter for every precision name this library knows, as ``weights_precision``
#: and ``torch_dtype`` spell them. Block-scaled formats (nvfp4, mxfp4, mxfp6, mxfp8) count their
#: elements only; their per-block scales (under 7% more) are not included.
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present."""
        return _as_dict(self)


@attrs.frozen(kw_only=True)
class LayerStats:
    """One block: its attention and FFN, its ``parallel_blocks``, and their sums.

    ``params``, ``active_params``, ``weight_bytes``, ``kv_cache_bytes_per_token`` and
    ``mamba_state_bytes_per_sequence`` include the parallel blocks. A parallel block carries
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present."""
        return _as_dict(self)

    def kv_cache_bytes(self, sequence_length: int) -> int:
        """KV-cache bytes this layer holds for one sequence of ``sequence_length`` tokens."""
        _check_count("sequence_length", sequence_length, minimum=0)
        total = 0
        for attention in self._attentions():
            tokens = sequence_length
            if attention.attention_chunk_size is not None:
                tokens = min(tokens, attention.attention_chunk_size)
            total += attention.kv_cache_bytes_per_token * tokens
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

    @property
    def total_bytes(self) -> int:
        """Weights, KV cache and Mamba state together."""
        return self.weight_bytes + self.kv_cache_bytes + self.mamba_state_bytes

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data, every field present (the shape ``block-config show --json``)."""
        return _as_dict(self)

    def kv_cache_bytes(self, batch_size: int, sequence_length: int) -> int:
        """KV-cache bytes for ``batch_size`` sequences of ``sequence_length`` tokens each.

        Llama-4 chunked attention layers hold at most ``attention_chunk_size`` tokens.
        """
        _check_count("batch_size", batch_size, minimum=0)
        return batch_size * sum(layer.kv_cache_bytes(sequence_length) for layer in self.layers)

    def mamba_state_bytes(self, batch_size: int) -> int:
        """Mamba conv and SSM state bytes for ``batch_size`` sequences (any length)."""
        _check_count("batch_size", batch_size, minimum=0)
        return batch_size * self.mamba_state_bytes_per_sequence

    def memory(self, batch_size: int, sequence_length: int) -> MemoryEstimate:
        """Weights plus caches for ``batch_size`` sequences of ``sequence_length`` tokens."""
        return MemoryEstimate(
            batch_size=batch_size,
            sequence_length=sequence_length,
            weight_bytes=self.weight_bytes,
            kv_cache_bytes=self.kv_cache_bytes(batch_size, sequence_length),
            mamba_state_bytes=self.mamba_state_bytes(batch_size),
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


def _subblock_precision(
    sub: AttentionConfig | FFNConfig | None, ctx: _Context, path: Path
) -> tuple[str, int]:
    if sub is None or sub.weights_precision is None:
        return ctx.dtype, ctx.dtype_bits
    return sub.weights_precision, precision_bits(sub.weights_precision, path)


def _mamba_params(mamba: MambaConfig, ctx: _Context) -> int:
    h = ctx.hidden
    d_in = mamba.num_heads * mamba.head_dim
    group_state = 2 * mamba.num_groups * mamba.state_dim
    conv_dim = d_in + group_state
    in_proj = h * (2 * d_in + group_state + mamba.num_heads)
    conv1d = conv_dim * ctx.conv_kernel + conv_dim
    per_head = 3 * mamba.num_heads  # dt_bias, A_log, D
    return in_proj + conv1d + per_head + d_in + d_in * h + h


def _mamba_state_elements(mamba: MambaConfig, ctx: _Context) -> int:
    d_in = mamba.num_heads * mamba.head_dim
    conv_dim = d_in + 2 * mamba.num_groups * mamba.state_dim
    return conv_dim * (ctx.conv_kernel - 1) + d_in * mamba.state_dim


def attention_kind(attention: AttentionConfig | None) -> AttentionKind:
    """What an attention subblock is: ``no_op`` (or absent), ``linear``, ``mamba``, ``mla``
    (Multi-head Latent Attention) or ``gqa``.

    A linear replacement wins over the Mamba or GQA settings it replaces.
    """
    if attention is None or attention.no_op:
        return "no_op"
    if attention.replace_with_linear:
        return "linear"
    if attention.mamba is not None:
        return "mamba"
    if attention.mla is not None:
        return "mla"
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


def _attention_stats(
    attention: AttentionConfig | None, ctx: _Context, path: Path
) -> AttentionStats:
    precision, bits = _subblock_precision(attention, ctx, (*path, "weights_precision"))
    h = ctx.hidden
    kv_heads: int | None = None
    kv_bytes = 0
    state_bytes = 0
    chunk: int | None = None
    kind = attention_kind(attention)
    if kind == "no_op":
        params = 0
    elif kind == "linear":
        params = h * h + h
    elif kind == "mamba":
        assert attention is not None
        assert attention.mamba is not None
        params = _mamba_params(attention.mamba, ctx)
        state_bytes = _bytes(_mamba_state_elements(attention.mamba, ctx), ctx.state_bits)
    elif kind == "mla":
        assert attention is not None
        assert attention.mla is not None
        params = _mla_params(attention.mla, ctx)
        # The cache holds the KV latent and the one shared rotary key, per token.
        kv_bytes = _bytes(attention.mla.kv_lora_rank + attention.mla.qk_rope_head_dim, ctx.kv_bits)
    else:
        assert attention is not None
        kv_heads = attention.num_key_value_heads
        assert kv_heads is not None  # the class requires it for a GQA attention
        q_width = ctx.heads * ctx.head_dim
        kv_width = kv_heads * ctx.head_dim
        params = 2 * h * q_width + 2 * h * kv_width + h
        if ctx.attention_bias:
            params += q_width + 2 * kv_width + h
        kv_bytes = _bytes(2 * kv_width, ctx.kv_bits)
        if attention.llama4 is not None:
            chunk = attention.llama4.attention_chunk_size
    return AttentionStats(
        kind=kind,
        num_key_value_heads=kv_heads,
        params=params,
        weights_precision=precision,
        weight_bytes=_bytes(params, bits),
        kv_cache_bytes_per_token=kv_bytes,
        mamba_state_bytes_per_sequence=state_bytes,
        attention_chunk_size=chunk,
    )


def _mla_params(mla: MLAConfig, ctx: _Context) -> int:
    """Multi-head Latent Attention as transformers' DeepseekV3Attention builds it, with the
    norm before it: ``attention_bias`` puts biases on the two down projections and on o."""
    h, heads = ctx.hidden, ctx.heads
    qk_head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim
    if mla.q_lora_rank is None:
        query = h * heads * qk_head_dim
    else:
        # q_a_proj, its norm, q_b_proj.
        query = h * mla.q_lora_rank + mla.q_lora_rank + mla.q_lora_rank * heads * qk_head_dim
        if ctx.attention_bias:
            query += mla.q_lora_rank
    kv_down = mla.kv_lora_rank + mla.qk_rope_head_dim
    # kv_a_proj_with_mqa, its norm (the latent only), kv_b_proj.
    key_value = (
        h * kv_down
        + mla.kv_lora_rank
        + mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
    )
    output = heads * mla.v_head_dim * h
    params = query + key_value + output + h
    if ctx.attention_bias:
        params += kv_down + h
    return params


def _swiglu(width: int, ctx: _Context) -> int:
    params = 3 * ctx.hidden * width
    if ctx.mlp_bias:
        params += 2 * width + ctx.hidden
    return params


def _ffn_stats(ffn: FFNConfig | None, ctx: _Context, path: Path) -> FFNStats:
    precision, bits = _subblock_precision(ffn, ctx, (*path, "weights_precision"))
    h = ctx.hidden
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
        params = h * h + h
        return FFNStats(
            kind="linear",
            intermediate_size=None,
            params=params,
            active_params=params,
            weights_precision=precision,
            weight_bytes=_bytes(params, bits),
        )
    moe = ffn.moe
    if moe is not None:
        router = h * moe.num_local_experts
        expert = _swiglu(moe.expert_intermediate_dim, ctx)
        shared = (
            _swiglu(moe.shared_expert_intermediate_dim, ctx)
            if moe.shared_expert_intermediate_dim
            else 0
        )
        params = router + moe.num_local_experts * expert + shared + h
        active = router + moe.num_experts_per_tok * expert + shared + h
        return FFNStats(
            kind="moe",
            intermediate_size=None,
            params=params,
            active_params=active,
            weights_precision=precision,
            weight_bytes=_bytes(params, bits),
            num_local_experts=moe.num_local_experts,
            num_experts_per_tok=moe.num_experts_per_tok,
            expert_intermediate_dim=moe.expert_intermediate_dim,
            shared_expert_intermediate_dim=moe.shared_expert_intermediate_dim,
        )
    width = ffn.intermediate_size
    assert width is not None  # the class requires it for a dense FFN
    params = _swiglu(width, ctx) + h
    return FFNStats(
        kind="dense",
        intermediate_size=width,
        params=params,
        active_params=params,
        weights_precision=precision,
        weight_bytes=_bytes(params, bits),
    )


def _layer_stats(
    block: BlockConfig, index: int, ctx: _Context, path: Path, problems: list[Problem]
) -> LayerStats | None:
    """The stats of ``block``, or None after adding what is wrong with it to ``problems``."""
    ok = True
    attention: AttentionStats | None = None
    ffn: FFNStats | None = None
    try:
        attention = _attention_stats(block.attention, ctx, (*path, "attention"))
    except BlockConfigError as error:
        problems.extend(error.problems)
        ok = False
    try:
        ffn = _ffn_stats(block.ffn, ctx, (*path, "ffn"))
    except BlockConfigError as error:
        problems.extend(error.problems)
        ok = False
    parallel = []
    for position, inner in enumerate(block.parallel_blocks or ()):
        stats = _layer_stats(inner, index, ctx, (*path, "parallel_blocks", position), problems)
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
    if mamba_state_dtype is not None:
        state_bits = _argument_bits("mamba_state_dtype", mamba_state_dtype)
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
    model_level = embedding + lm_head + h
    return ModelStats(
        total_params=model_level + sum(layer.params for layer in layers),
        active_params=model_level + sum(layer.active_params for layer in layers),
        weight_bytes=_bytes(model_level, ctx.dtype_bits)
        + sum(layer.weight_bytes for layer in layers),
        kv_cache_bytes_per_token=sum(layer.kv_cache_bytes_per_token for layer in layers),
        mamba_state_bytes_per_sequence=sum(
            layer.mamba_state_bytes_per_sequence for layer in layers
        ),
        embedding_params=embedding,
        lm_head_params=lm_head,
        final_norm_params=h,
        dtype=ctx.dtype,
        kv_cache_dtype=kv_cache_dtype or ctx.dtype,
        mamba_state_dtype=mamba_state_dtype or kv_cache_dtype or ctx.dtype,
        layers=tuple(layers),
    )
