"""The block-config classes: frozen, keyword-only attrs classes, as the seed API describes them.

Typing rules (strict scalars, ranges, unknown keys, paths) live in the converter; the classes
hold the fields, the seed's normalisation and the rules that tie fields together. Every
constructor call runs the same checks as structuring a document, so no invalid object exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import attrs

from block_config._compat import FIELDS, PARAMS, DataclassAttribute, install_dataclass_protocol
from block_config._errors import BlockConfigError, FrozenInstanceError, Path

if TYPE_CHECKING:
    import dataclasses
    from typing import Self

__all__ = [
    "LINEAR_ATTENTION_KINDS",
    "SUBBLOCK_CLS_DICT",
    "AttentionConfig",
    "BaseDataclass",
    "BlockConfig",
    "CompressedAttentionConfig",
    "FFNConfig",
    "LinearAttentionConfig",
    "Llama4AttentionConfig",
    "MLAConfig",
    "MambaConfig",
    "MoEConfig",
    "SubblockConfig",
]

_T = TypeVar("_T", bound="BaseDataclass")

#: What to do with keys a class does not know: raise (the default), or warn and drop them.
UnknownKeys = Literal["error", "warn"]

#: Field metadata marking a field that is written (``to_dict``, JSON, YAML, config.json) and
#: shown in ``repr`` only when it is not ``None``: the fields added after the seed's, so that
#: an object that does not use them is written exactly as the seed writes it.
OMIT_IF_NONE: Mapping[str, Any] = MappingProxyType({"omit_if_none": True})


def _converter_not_imported(*args: Any) -> Any:
    raise RuntimeError("block_config._converter must be imported before the classes are used")


# Late-bound by block_config._converter, which imports this module: the converter owns the
# typing rules, and the classes call into it when constructed.
_finish: Callable[[BaseDataclass], None] = _converter_not_imported
_structure_nested: Callable[[Mapping[Any, Any], type[Any], Path], Any] = _converter_not_imported
_structure_from_dict: Callable[[Any, type[Any], str], Any] = _converter_not_imported
_unstructure: Callable[[BaseDataclass], dict[str, Any]] = _converter_not_imported


class BaseDataclass:
    """Base of every block-config class.

    As the seed documents: comparison via string representation (``==``, ``hash`` and the
    orderings agree with ``repr``, so ``sorted()`` is deterministic), initialisation of nested
    fields from dicts, and normalisation at construction time. Instances are frozen.

    Every class is also a dataclass as far as the :mod:`dataclasses` module can tell
    (``is_dataclass``, ``fields``, ``asdict``, ``astuple``, ``replace``), as the original
    dataclass implementation was; see :mod:`block_config._compat`.
    """

    __slots__ = ("_repr_cache",)
    # repr(self) once computed, else None (or unset, after unpickling); the orderings compare
    # these directly.
    _repr_cache: str | None

    if TYPE_CHECKING:
        # What type checkers look for in a dataclass (typeshed's DataclassInstance), so that
        # dataclasses.replace(block, ...), fields() and asdict() type-check on these classes.
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
        __dataclass_params__: ClassVar[Any]
    else:
        __dataclass_fields__ = DataclassAttribute(FIELDS)
        __dataclass_params__ = DataclassAttribute(PARAMS)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Each class its own (lazily built) protocol, never its parent's fields.
        type.__setattr__(cls, FIELDS, DataclassAttribute(FIELDS))
        type.__setattr__(cls, PARAMS, DataclassAttribute(PARAMS))

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_repr_cache", None)
        _finish(self)

    def __repr__(self) -> str:
        try:
            cached = self._repr_cache
        except AttributeError:
            cached = None
        if cached is not None:
            return cached
        cls = type(self)
        names = _fields(cls) if attrs.has(cls) else ()
        fields = ", ".join(
            f"{a.name}={value!r}"
            for a in names
            if (value := getattr(self, a.name)) is not None or not a.metadata.get("omit_if_none")
        )
        text = f"{cls.__name__}({fields})"
        object.__setattr__(self, "_repr_cache", text)
        return text

    def __lt__(self, other: BaseDataclass) -> bool:
        if not isinstance(other, BaseDataclass):
            return NotImplemented
        try:
            return (self._repr_cache or repr(self)) < (other._repr_cache or repr(other))
        except AttributeError:
            return repr(self) < repr(other)

    def __le__(self, other: BaseDataclass) -> bool:
        if not isinstance(other, BaseDataclass):
            return NotImplemented
        try:
            return (self._repr_cache or repr(self)) <= (other._repr_cache or repr(other))
        except AttributeError:
            return repr(self) <= repr(other)

    def __gt__(self, other: BaseDataclass) -> bool:
        if not isinstance(other, BaseDataclass):
            return NotImplemented
        try:
            return (self._repr_cache or repr(self)) > (other._repr_cache or repr(other))
        except AttributeError:
            return repr(self) > repr(other)

    def __ge__(self, other: BaseDataclass) -> bool:
        if not isinstance(other, BaseDataclass):
            return NotImplemented
        try:
            return (self._repr_cache or repr(self)) >= (other._repr_cache or repr(other))
        except AttributeError:
            return repr(self) >= repr(other)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], *, unknown_keys: UnknownKeys = "error") -> Self:
        """Structure one mapping into this class, with every check of the converter.

        ``unknown_keys="warn"`` drops unknown keys with an :class:`UnknownKeyWarning` each,
        as the seed does, instead of raising :class:`BlockConfigError`.
        """
        return _structure_from_dict(mapping, cls, unknown_keys)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        """Every field, with nested dicts and lists for sequences.

        ``None`` is written as ``None``, except in the fields added after the seed's
        (``AttentionConfig.sliding_window``, ``mla``, ``linear_attention``, ``output_gate``
        and ``values_from_keys``, ``FFNConfig.gated``, ``MoEConfig.gated``), which are left out when
        ``None``: a block that does not use them is written exactly as before they existed.
        """
        return _unstructure(self)

    def _normalise(self) -> list[tuple[str, str]]:
        """Apply the seed's normalisation; return ``(field, message)`` for each broken rule."""
        return []

    def _set(self, name: str, value: Any) -> None:
        # Only for _normalise, which runs inside __init__ before anyone sees the object.
        object.__setattr__(self, name, value)

    def _force_setattr(self, name: str, value: Any) -> None:
        """Set a field of this frozen object, while it is being built only.

        As in the original implementation, for a subclass's normalisation: allowed when called
        (directly or not) from this object's ``_normalise``, ``__attrs_post_init__`` or
        ``__post_init__``; anywhere else it raises :class:`FrozenInstanceError` (an
        ``AttributeError``), whatever the interpreter's ``-O`` flag. For a changed copy, use
        ``dataclasses.replace`` or ``attrs.evolve``.
        """
        frame = inspect.currentframe()
        while frame is not None:
            # This object's own building: another object's __post_init__ up the stack is no
            # licence to change one that is finished (and whose hash may be cached).
            if frame.f_code.co_name in _BUILDING and frame.f_locals.get("self") is self:
                object.__setattr__(self, name, value)
                return
            frame = frame.f_back
        raise FrozenInstanceError(
            f"cannot assign to field {name!r}: _force_setattr only works while the object is "
            "built (from _normalise or __post_init__); use dataclasses.replace or attrs.evolve "
            "for a changed copy"
        )


# The functions during which an object is still being built, and may be normalised.
_BUILDING = frozenset({"_normalise", "__attrs_post_init__", "__post_init__"})


_FIELDS_CACHE: dict[type[Any], tuple[attrs.Attribute[Any], ...]] = {}


def _fields(cls: type[Any]) -> tuple[attrs.Attribute[Any], ...]:
    try:
        return _FIELDS_CACHE[cls]
    except KeyError:
        result = _FIELDS_CACHE[cls] = tuple(attrs.fields(cls))
        return result


def _nested(value: Any, cls_name: str, field_name: str) -> Any:
    """Structure a mapping given for a nested class; anything else is left for the checks.

    A mapping that does not structure is left for the checks too, which then report its
    problems together with those of the other fields.
    """
    if isinstance(value, Mapping):
        try:
            return _structure_nested(value, _CLASSES[cls_name], (field_name,))
        except BlockConfigError:
            return value
    return value


def _block_or_mapping(item: Any, index: int) -> Any:
    try:
        return _structure_nested(item, BlockConfig, ("parallel_blocks", index))
    except BlockConfigError:
        return item  # reported by the checks, with every other problem


def _llama4(
    value: Llama4AttentionConfig | Mapping[str, Any] | None,
) -> Llama4AttentionConfig | None:
    return _nested(value, "Llama4AttentionConfig", "llama4")  # type: ignore[no-any-return]


def _mamba(value: MambaConfig | Mapping[str, Any] | None) -> MambaConfig | None:
    return _nested(value, "MambaConfig", "mamba")  # type: ignore[no-any-return]


def _moe(value: MoEConfig | Mapping[str, Any] | None) -> MoEConfig | None:
    return _nested(value, "MoEConfig", "moe")  # type: ignore[no-any-return]


def _mla(value: MLAConfig | Mapping[str, Any] | None) -> MLAConfig | None:
    return _nested(value, "MLAConfig", "mla")  # type: ignore[no-any-return]


def _linear_attention(
    value: LinearAttentionConfig | Mapping[str, Any] | None,
) -> LinearAttentionConfig | None:
    return _nested(value, "LinearAttentionConfig", "linear_attention")  # type: ignore[no-any-return]


def _compressed_attention(
    value: CompressedAttentionConfig | Mapping[str, Any] | None,
) -> CompressedAttentionConfig | None:
    return _nested(value, "CompressedAttentionConfig", "compressed_attention")  # type: ignore[no-any-return]


def _attention(value: AttentionConfig | Mapping[str, Any] | None) -> AttentionConfig | None:
    return _nested(value, "AttentionConfig", "attention")  # type: ignore[no-any-return]


def _ffn(value: FFNConfig | Mapping[str, Any] | None) -> FFNConfig | None:
    return _nested(value, "FFNConfig", "ffn")  # type: ignore[no-any-return]


def _str_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    """Store ``sparsify`` immutably; anything that is not a sequence is left for the checks."""
    given: Any = value
    if given is None or type(given) is tuple:
        return given
    if isinstance(given, Sequence) and not isinstance(given, (str, bytes, bytearray)):
        return tuple(given)
    return given  # type: ignore[no-any-return]


def _float(value: float | None) -> float | None:
    """An int given for a float field becomes that float; -0.0 becomes 0.0 (equal by value)."""
    given: Any = value
    if type(given) is int:
        try:
            return float(given)
        except OverflowError:
            return given  # reported as not finite
    if type(given) is float and given == 0.0:
        return 0.0
    return given  # type: ignore[no-any-return]


def _block_tuple(
    value: Sequence[BlockConfig | Mapping[str, Any]] | None,
) -> tuple[BlockConfig, ...] | None:
    """Store ``parallel_blocks`` as a tuple, structuring mappings given for blocks."""
    given: Any = value
    if given is None:
        return None
    if not isinstance(given, Sequence) or isinstance(given, (str, bytes, bytearray)):
        return given  # type: ignore[return-value]  # reported by the checks
    if type(given) is tuple and all(type(item) is BlockConfig for item in given):
        return given
    return tuple(
        _block_or_mapping(item, index) if isinstance(item, Mapping) else item
        for index, item in enumerate(given)
    )


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class SubblockConfig(BaseDataclass):
    """Base configuration for a subblock (e.g. attention or FFN) within a transformer block."""

    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    weights_precision: str | None = "bf16"

    def _normalise(self) -> list[tuple[str, str]]:
        problems = []
        if self.no_op:
            if self.replace_with_linear:
                problems.append(("replace_with_linear", "cannot be true when no_op is true"))
            self._set("sparsify", None)
        return problems

    def to_blockconfig(self) -> BlockConfig:
        """Convert to a block including this subblock only."""
        raise NotImplementedError


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class MoEConfig(BaseDataclass):
    """Configuration class for Mixture of Experts parameters.

    ``shared_expert_intermediate_dim=0`` means the model has no shared expert (Mixtral,
    Qwen3-MoE, GPT-OSS); every other count is at least 1. ``gated=False`` means the routed
    experts and the shared expert are two-matrix MLPs (up, down: Nemotron-H's relu2);
    ``None`` means gated (gate, up, down: SwiGLU), and ``True`` is normalised to ``None``.

    ``latent_dim`` (latent MoE, Nemotron-3-Super): the routed experts work in a latent of
    that width, between a projection from the hidden state down to it and one back up; the
    router and the shared expert stay at the hidden width. ``None``: no latent.

    ``hash_routed`` (DeepSeek-V4's ``hash_moe`` layers): which experts a token goes to is
    fixed by its token id, in a table of ``vocab_size x num_experts_per_tok`` expert ids (a
    buffer, not parameters); the router still weighs them, and ``num_experts_per_tok``
    experts are active as in any MoE. Such a router has no score-correction bias. ``False``
    is normalised to ``None`` (routed by score).
    """

    num_local_experts: int = 8
    num_experts_per_tok: int = 1
    expert_intermediate_dim: int = 8192
    shared_expert_intermediate_dim: int = attrs.field(default=8192, metadata={"minimum": 0})
    gated: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    latent_dim: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    hash_routed: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)

    @property
    def is_gated(self) -> bool:
        """Whether the experts (and the shared expert) are gated: gate, up and down."""
        return self.gated is not False

    def _normalise(self) -> list[tuple[str, str]]:
        if self.gated is True:
            self._set("gated", None)
        if self.hash_routed is False:
            self._set("hash_routed", None)
        if self.num_experts_per_tok > self.num_local_experts:
            return [
                (
                    "num_experts_per_tok",
                    f"must not exceed num_local_experts ({self.num_local_experts}), "
                    f"got {self.num_experts_per_tok}",
                )
            ]
        return []


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class MambaConfig(BaseDataclass):
    """Configuration for a Mamba (state-space model) subblock. All four fields are required."""

    state_dim: int
    num_heads: int
    head_dim: int
    num_groups: int


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class Llama4AttentionConfig(BaseDataclass):
    """Configuration for Llama-4-specific attention parameters."""

    attention_chunk_size: int | None = None
    use_rope: bool | None = None
    use_qk_norm: bool | None = None
    attn_scale: float | None = attrs.field(default=None, converter=_float)
    floor_scale: float | None = attrs.field(default=None, converter=_float)
    attn_temperature_tuning: bool | None = None
    attention_dropout: float | None = attrs.field(default=None, converter=_float)


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class MLAConfig(BaseDataclass):
    """Multi-head Latent Attention (DeepSeek-V2/V3): queries, keys and values through
    low-rank latents.

    Keys and values are projected from the hidden state to a latent of ``kv_lora_rank``
    (which is what the KV cache holds, with the ``qk_rope_head_dim`` rotary key), then up to
    every head's ``qk_nope_head_dim`` key part and ``v_head_dim`` value. Queries go through a
    latent of ``q_lora_rank``, or, when it is ``None`` (DeepSeek-V2-Lite), through one full
    projection. A head's query and key have ``qk_nope_head_dim + qk_rope_head_dim`` values;
    the number of heads is the model's ``num_attention_heads``.

    ``qk_rope_head_dim`` may be 0: no RoPE slice, the whole key from the latent (GLM-5.3-Flash's
    MLA; Mistral-Large-4's NoPE layers, whose latent is narrower than their RoPE layers' by
    that slice, each layer its own :class:`MLAConfig`).

    ``index_n_heads`` and ``index_head_dim`` (both or neither; written only when set): the
    DeepSeek Sparse Attention indexer (DeepSeek-V3.2, GLM-5), ``index_n_heads`` heads of
    ``index_head_dim`` that read the query latent (so ``q_lora_rank`` is required) and choose
    the tokens the layer attends to. Its key cache holds ``index_head_dim`` values per token
    beside the latent.

    ``index_kpool`` (written only when set; needs the indexer): the indexer's key pooling
    (GLM-5.3-Flash): it scores groups of ``index_kpool`` consecutive tokens, each group's key a
    softmax-weighted mean of its tokens' keys, the weights from a gate projection
    (``index_kpool_compress_gate``, ``index_head_dim x hidden_size``) plus a learned bias per
    position in the group (``index_kpool_compress_ape``, ``index_kpool x index_head_dim``).
    Its cache keeps each token's ``index_head_dim`` gate logits beside its indexer key.

    ``index_from_hidden`` (written only when set; ``False`` is normalised to ``None``): the
    indexer's queries come from the hidden state, through a LayerNorm of its own (with bias)
    and a projection from ``hidden_size``, instead of from the query latent
    (Mistral-Large-4, whose MLA has no query latent). It needs an indexer.
    """

    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int = attrs.field(metadata={"minimum": 0})
    v_head_dim: int
    q_lora_rank: int | None = None
    index_n_heads: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    index_head_dim: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    index_kpool: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    index_from_hidden: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)

    def _normalise(self) -> list[tuple[str, str]]:
        if self.index_from_hidden is False:
            self._set("index_from_hidden", None)
        if (self.index_n_heads is None) != (self.index_head_dim is None):
            missing = "index_n_heads" if self.index_n_heads is None else "index_head_dim"
            return [(missing, "required with the other indexer field: an indexer has both")]
        if self.index_from_hidden is not None and self.index_n_heads is None:
            return [("index_from_hidden", "must be null without an indexer (index_n_heads)")]
        if (
            self.index_n_heads is not None
            and self.q_lora_rank is None
            and self.index_from_hidden is None
        ):
            return [
                (
                    "q_lora_rank",
                    "required with an indexer that reads the query latent "
                    "(index_from_hidden is not set)",
                )
            ]
        if self.index_kpool is not None and self.index_n_heads is None:
            return [("index_kpool", "must be null without an indexer: it pools the indexer's keys")]
        return []

    @property
    def has_indexer(self) -> bool:
        """Whether this attention has a sparse-attention indexer (DeepSeek-V3.2, GLM-5)."""
        return self.index_n_heads is not None


# --------------------------------------------------------------------------- linear attention

#: The linear-attention mixers :class:`LinearAttentionConfig` describes: ``"gdn"`` (Gated
#: DeltaNet: Qwen3-Next, Qwen3.5, Olmo-Hybrid) and ``"kda"`` (Kimi Delta Attention:
#: Kimi-Linear).
LINEAR_ATTENTION_KINDS: tuple[str, ...] = ("gdn", "kda")


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class LinearAttentionConfig(BaseDataclass):
    """A linear-attention mixer: a short causal convolution over queries, keys and values and
    a delta-rule recurrence over a fixed-size state, in place of softmax attention.

    ``kind`` ``"gdn"`` is Gated DeltaNet (transformers' ``Qwen3NextGatedDeltaNet``,
    ``Qwen3_5GatedDeltaNet``, ``OlmoHybridGatedDeltaNet``): ``num_key_heads`` query and key
    heads of ``key_head_dim``, ``num_value_heads`` value heads of ``value_head_dim`` (a
    multiple of the key heads), one decay and one beta per value head, an output gate as wide
    as the values. ``fused_projections`` says the family builds the input projections as two
    fused matrices (Qwen3-Next's ``in_proj_qkvz`` and ``in_proj_ba``) rather than one per
    tensor; the parameters are the same either way. ``kind`` ``"kda"`` is Kimi Delta Attention
    (``KimiLinearDeltaAttention``): as many key as value heads, of one width, with a
    per-channel forget gate and a low-rank output gate. ``conv_kernel`` is the width of the
    causal convolution. Such a layer keeps no KV cache: its state per sequence is the last
    ``conv_kernel - 1`` inputs of the convolution and one ``key_head_dim x value_head_dim``
    matrix per value head, whatever the length.
    """

    kind: str
    num_key_heads: int
    key_head_dim: int
    num_value_heads: int
    value_head_dim: int
    conv_kernel: int = 4
    fused_projections: bool = False

    def _normalise(self) -> list[tuple[str, str]]:
        problems = []
        if self.kind not in LINEAR_ATTENTION_KINDS:
            problems.append(
                ("kind", f"expected one of {', '.join(LINEAR_ATTENTION_KINDS)}, got {self.kind!r}")
            )
        elif self.kind == "kda":
            if self.num_value_heads != self.num_key_heads:
                problems.append(
                    (
                        "num_value_heads",
                        f"must equal num_key_heads ({self.num_key_heads}) for kda, "
                        f"got {self.num_value_heads}",
                    )
                )
            if self.value_head_dim != self.key_head_dim:
                problems.append(
                    (
                        "value_head_dim",
                        f"must equal key_head_dim ({self.key_head_dim}) for kda, "
                        f"got {self.value_head_dim}",
                    )
                )
            if self.fused_projections:
                problems.append(("fused_projections", "must be false for kda"))
        elif self.num_value_heads % self.num_key_heads:
            problems.append(
                (
                    "num_value_heads",
                    f"must be a multiple of num_key_heads ({self.num_key_heads}), "
                    f"got {self.num_value_heads}",
                )
            )
        return problems

    @property
    def conv_dim(self) -> int:
        """Channels of the causal convolution: queries, keys and values."""
        keys = self.num_key_heads * self.key_head_dim
        return 2 * keys + self.num_value_heads * self.value_head_dim


# ---------------------------------------------------------------------- end linear attention


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class CompressedAttentionConfig(BaseDataclass):
    """DeepSeek-V4's attention (transformers' ``DeepseekV4Attention``): shared-KV multi-query
    attention over a sliding window, with the older tokens compressed.

    The attention's ``num_key_value_heads`` heads are each one key that is also the value
    (``kv_proj`` and ``kv_norm``; DeepSeek-V4 has one), so the KV cache holds each token once,
    not twice; its ``sliding_window`` is the window of raw tokens. Queries go through a latent
    of ``q_lora_rank`` (``q_a_proj``, ``q_a_norm``, ``q_b_proj``); the heads' outputs are
    projected in ``o_groups`` groups, each to ``o_lora_rank`` (``o_a_proj``), then together to
    the hidden size (``o_b_proj``).

    ``compress_rate`` (written only when set): a compressor pools every ``compress_rate``
    tokens into one compressed key-value entry, which the cache keeps beside the window;
    ``None``: the window only (DeepSeek-V4's ``sliding_attention`` layers). With
    ``index_n_heads`` and ``index_head_dim`` (both or neither, only with ``compress_rate``) it
    is DeepSeek-V4's Compressed Sparse Attention: the compressor keeps two overlapping series
    (its projections twice as wide) and an indexer of ``index_n_heads`` heads of
    ``index_head_dim`` chooses the entries each query reads, keeping a compressed key of
    ``index_head_dim`` per entry of its own. Without them it is Heavily Compressed Attention:
    one series, no indexer.
    """

    q_lora_rank: int
    o_groups: int
    o_lora_rank: int
    compress_rate: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    index_n_heads: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    index_head_dim: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)

    def _normalise(self) -> list[tuple[str, str]]:
        if (self.index_n_heads is None) != (self.index_head_dim is None):
            missing = "index_n_heads" if self.index_n_heads is None else "index_head_dim"
            return [(missing, "required with the other indexer field: an indexer has both")]
        if self.index_n_heads is not None and self.compress_rate is None:
            return [("compress_rate", "required with an indexer, which reads compressed entries")]
        return []

    @property
    def has_indexer(self) -> bool:
        """Whether the compressed entries are chosen by an indexer (Compressed Sparse
        Attention)."""
        return self.index_n_heads is not None


#: The attention fields a no-op, Mamba or MLA attention leaves null.
_EXCLUDED_ELSEWHERE = (
    "linear_attention",
    "output_gate",
    "kv_source_layer",
    "compressed_attention",
    "values_from_keys",
)


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class AttentionConfig(SubblockConfig):
    """Configuration for an attention subblock within a transformer block.

    A ``no_op``, Mamba or MLA attention drops ``num_key_value_heads``; any other attention,
    linear replacements included, needs it. A ``no_op`` attention is neither Mamba, Llama-4
    nor MLA and has no ``sliding_window``; an MLA attention is neither Mamba nor Llama-4; a
    Mamba mixer has no ``sliding_window``.

    ``sliding_window``: this layer attends to at most the last ``sliding_window`` tokens
    (Gemma's local layers, gpt-oss's alternating layers, Mistral's and Qwen's sliding window,
    the legacy dialect's ``window_length``); ``None`` means full attention.

    ``num_attention_heads`` and ``head_dim``: this layer's own query-head count and head width
    where they differ from the model's (a ``per_layer_config`` override, Gemma 4's global
    layers); ``None`` means the model's. A no-op or Mamba attention has neither, and an MLA
    attention no ``head_dim`` (its widths are in :class:`MLAConfig`). A model keeps them only
    where they differ from its own (:class:`~block_config.ModelArchitecture` drops the others).

    ``linear_attention``: the layer is a linear-attention mixer (:class:`LinearAttentionConfig`:
    Gated DeltaNet, Kimi Delta Attention) with no KV cache; it drops ``num_key_value_heads``
    and has no ``llama4``, ``sliding_window``, ``output_gate``, ``num_attention_heads`` or
    ``head_dim`` (its widths are its own), and neither a no-op, a Mamba nor an MLA attention
    has one. ``output_gate``: a GQA attention whose query projection is twice as wide, the
    second half a sigmoid gate on each head's output before ``o_proj`` (Qwen3-Next, Qwen3.5);
    ``False`` is normalised to ``None``.

    ``kv_source_layer``: the index of the earlier layer whose keys and values this attention
    reads (Gemma 4's ``num_kv_shared_layers``, Mistral-Large-4's ``kv_source_layers``) and
    holds no KV cache of its own; ``None`` means it computes its own. A GQA attention then has
    no k/v projections and no key norm; an MLA attention has no ``kv_a_proj_with_mqa`` and no
    ``kv_a_layernorm`` (it still expands the source's latent with its own ``kv_b_proj``, and
    an indexer keeps its own keys). Neither a no-op, a Mamba nor a linear attention has one;
    the model checks that it names an earlier layer of the same kind with keys and values of
    its own (for MLA, a latent of the same widths).

    ``compressed_attention``: the attention is DeepSeek-V4's (:class:`CompressedAttentionConfig`:
    keys that are also the values, a query latent, a grouped output projection, compressed
    history); it keeps ``num_key_value_heads``, ``sliding_window`` (the raw window),
    ``num_attention_heads`` and ``head_dim``, and has no ``llama4``, ``output_gate`` or
    ``kv_source_layer``; neither a no-op, a Mamba, an MLA nor a linear attention has one.

    ``values_from_keys``: a GQA attention with no value projection, whose values are its
    keys as ``k_proj`` gives them (before the key norm and RoPE; Gemma 4's global layers with
    ``attention_k_eq_v``). The cache still holds keys and values apart, so the KV cache is
    that of any GQA attention. ``False`` is normalised to ``None``. Only a GQA attention that
    computes its own keys has it: not a no-op, Mamba, MLA, linear or compressed attention,
    nor one with ``kv_source_layer``.
    """

    num_key_value_heads: int | None = None
    llama4: Llama4AttentionConfig | None = attrs.field(default=None, converter=_llama4)
    mamba: MambaConfig | None = attrs.field(default=None, converter=_mamba)
    sliding_window: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    mla: MLAConfig | None = attrs.field(default=None, converter=_mla, metadata=OMIT_IF_NONE)
    num_attention_heads: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    head_dim: int | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    linear_attention: LinearAttentionConfig | None = attrs.field(
        default=None, converter=_linear_attention, metadata=OMIT_IF_NONE
    )
    output_gate: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)
    kv_source_layer: int | None = attrs.field(default=None, metadata={**OMIT_IF_NONE, "minimum": 0})
    compressed_attention: CompressedAttentionConfig | None = attrs.field(
        default=None, converter=_compressed_attention, metadata=OMIT_IF_NONE
    )
    values_from_keys: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)

    def _normalise(self) -> list[tuple[str, str]]:
        problems = super()._normalise()
        if self.output_gate is False:
            self._set("output_gate", None)
        if self.values_from_keys is False:
            self._set("values_from_keys", None)
        if self.no_op:
            if self.mamba is not None:
                problems.append(("mamba", "must be null when no_op is true"))
            if self.llama4 is not None:
                problems.append(("llama4", "must be null when no_op is true"))
            if self.sliding_window is not None:
                problems.append(("sliding_window", "must be null when no_op is true"))
            if self.mla is not None:
                problems.append(("mla", "must be null when no_op is true"))
            if self.num_attention_heads is not None:
                problems.append(("num_attention_heads", "must be null when no_op is true"))
            if self.head_dim is not None:
                problems.append(("head_dim", "must be null when no_op is true"))
            problems += self._linear_attention_problems("no_op is true")
        else:
            if self.mamba is not None:
                if self.sliding_window is not None:
                    problems.append(("sliding_window", "must be null when mamba is set"))
                if self.mla is not None:
                    problems.append(("mla", "must be null when mamba is set"))
                if self.num_attention_heads is not None:
                    problems.append(("num_attention_heads", "must be null when mamba is set"))
                if self.head_dim is not None:
                    problems.append(("head_dim", "must be null when mamba is set"))
                problems += self._linear_attention_problems("mamba is set")
            elif self.mla is not None:
                # An MLA attention may read another layer's latent (kv_source_layer).
                problems += [
                    problem
                    for problem in self._linear_attention_problems("mla is set")
                    if problem[0] != "kv_source_layer"
                ]
            elif self.linear_attention is not None:
                linear_excludes = (
                    "llama4",
                    "sliding_window",
                    "output_gate",
                    "num_attention_heads",
                    "head_dim",
                    "kv_source_layer",
                    "compressed_attention",
                    "values_from_keys",
                )
                for name in linear_excludes:
                    if getattr(self, name) is not None:
                        problems.append((name, "must be null when linear_attention is set"))
            elif self.compressed_attention is not None:
                for name in ("llama4", "output_gate", "kv_source_layer", "values_from_keys"):
                    if getattr(self, name) is not None:
                        problems.append((name, "must be null when compressed_attention is set"))
            elif self.kv_source_layer is not None and self.values_from_keys is not None:
                problems.append(("values_from_keys", "must be null when kv_source_layer is set"))
            if self.mla is not None and self.llama4 is not None:
                problems.append(("mla", "must be null when llama4 is set"))
            if self.mla is not None and self.head_dim is not None:
                problems.append(("head_dim", "must be null when mla is set"))
        if (
            self.no_op
            or self.mamba is not None
            or self.mla is not None
            or self.linear_attention is not None
        ):
            self._set("num_key_value_heads", None)
        elif self.num_key_value_heads is None:
            problems.append(
                (
                    "num_key_value_heads",
                    "required unless the attention is no_op, Mamba, MLA or linear attention",
                )
            )
        return problems

    def _linear_attention_problems(self, because: str) -> list[tuple[str, str]]:
        """``linear_attention``, ``output_gate``, ``kv_source_layer``,
        ``compressed_attention`` and ``values_from_keys`` set where ``because`` forbids them."""
        return [
            (name, f"must be null when {because}")
            for name in _EXCLUDED_ELSEWHERE
            if getattr(self, name) is not None
        ]

    def to_blockconfig(self) -> BlockConfig:
        """A block holding this attention and a no-op FFN."""
        return BlockConfig(attention=self, ffn=FFNConfig(no_op=True))

    @property
    def is_llama4(self) -> bool:
        """Whether this attention carries Llama-4 parameters."""
        return self.llama4 is not None

    @property
    def is_mamba(self) -> bool:
        """Whether this attention is a Mamba (state-space) mixer."""
        return self.mamba is not None

    @property
    def is_mla(self) -> bool:
        """Whether this attention is Multi-head Latent Attention (DeepSeek-V2/V3)."""
        return self.mla is not None

    @property
    def is_linear_attention(self) -> bool:
        """Whether this attention is a linear-attention mixer (Gated DeltaNet, KDA)."""
        return self.linear_attention is not None

    @property
    def is_compressed_attention(self) -> bool:
        """Whether this attention is DeepSeek-V4's shared-KV attention with compression."""
        return self.compressed_attention is not None


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class FFNConfig(SubblockConfig):
    """Configuration for a feed-forward network subblock within a transformer block.

    A ``no_op`` FFN drops ``moe`` and ``intermediate_size``; an MoE FFN drops
    ``intermediate_size``; any other FFN, linear replacements included, needs it.

    ``gated=False`` means a two-matrix MLP (up, down: Nemotron-H's relu2, GPT-2-style MLPs);
    ``None`` means gated (gate, up, down: the seed's SwiGLU), and ``True`` is normalised to
    ``None``. A ``no_op`` or MoE FFN drops it (an MoE says it in :attr:`MoEConfig.gated`).
    """

    moe: MoEConfig | None = attrs.field(default=None, converter=_moe)
    intermediate_size: int | None = None
    gated: bool | None = attrs.field(default=None, metadata=OMIT_IF_NONE)

    def _normalise(self) -> list[tuple[str, str]]:
        problems = super()._normalise()
        if self.no_op:
            self._set("moe", None)
            self._set("intermediate_size", None)
            self._set("gated", None)
        elif self.moe is not None:
            self._set("intermediate_size", None)
            self._set("gated", None)
        else:
            if self.gated is True:
                self._set("gated", None)
            if self.intermediate_size is None:
                problems.append(("intermediate_size", "required unless the FFN is no_op or MoE"))
        return problems

    def to_blockconfig(self) -> BlockConfig:
        """A block holding this FFN and a no-op attention."""
        return BlockConfig(attention=AttentionConfig(no_op=True), ffn=self)

    @property
    def is_moe(self) -> bool:
        """Whether this FFN is a Mixture of Experts."""
        return self.moe is not None

    @property
    def is_gated(self) -> bool:
        """Whether this FFN's MLPs are gated (gate, up, down), its experts' if it is an MoE.

        ``True`` for a ``no_op`` FFN, which has no MLP at all.
        """
        if self.moe is not None:
            return self.moe.gated is not False
        return self.gated is not False


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class BlockConfig(BaseDataclass):
    """Configuration for a single transformer block, including its attention and FFN subblocks.

    ``parallel_blocks`` hold blocks that run side by side; they nest, up to
    :data:`block_config.MAX_PARALLEL_DEPTH` levels.
    """

    attention: AttentionConfig | None = attrs.field(default=None, converter=_attention)
    ffn: FFNConfig | None = attrs.field(default=None, converter=_ffn)
    parallel_blocks: tuple[BlockConfig, ...] | None = attrs.field(
        default=None, converter=_block_tuple
    )

    def _normalise(self) -> list[tuple[str, str]]:
        # No parallel blocks is None, never an empty list: readers written for the original
        # (which indexes parallel_blocks[0]) cannot read an empty one.
        if self.parallel_blocks is not None and not self.parallel_blocks:
            self._set("parallel_blocks", None)
        return []


_CLASSES: dict[str, type[BaseDataclass]] = {
    c.__name__: c
    for c in (
        MoEConfig,
        MambaConfig,
        MLAConfig,
        LinearAttentionConfig,
        CompressedAttentionConfig,
        Llama4AttentionConfig,
        AttentionConfig,
        FFNConfig,
        BlockConfig,
    )
}

SUBBLOCK_CLS_DICT: dict[str, type[SubblockConfig]] = {
    "attention": AttentionConfig,
    "ffn": FFNConfig,
}

_PROTOCOL_CLASSES: tuple[type[BaseDataclass], ...] = (SubblockConfig, *_CLASSES.values())
for _protocol_cls in _PROTOCOL_CLASSES:
    install_dataclass_protocol(_protocol_cls)
