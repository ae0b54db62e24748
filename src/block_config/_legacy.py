"""The legacy nemotron-nas (DeciLM) dialect of ``block_configs``, and its translation.

The published Puzzle models spell each layer as ``{"attention": {"n_heads_in_group", ...},
"ffn": {"ffn_mult", ...}}``. This module reads those items through the converter (as the
three classes below, so type errors carry JSON paths like every other error), translates
them to native :class:`BlockConfig` objects, and writes native blocks back in this dialect.

Translation, as the serving engines compute it:

* ``num_key_value_heads = num_attention_heads // n_heads_in_group``; a group size that does
  not divide the head count is an error.
* ``intermediate_size = round_up(int(2 * ffn_mult * hidden_size / 3), 256)``.
* ``window_length`` is the native ``sliding_window`` (on any attention but a no-op one,
  which has none); the sink keys have no native counterpart and are kept as read.
* ``n_heads_in_group`` may be null on no-op and linear-replacement attention, ``ffn_mult`` on
  no-op and linear-replacement FFNs. A linear replacement has neither heads nor an inner
  width, yet the native classes want both: such a layer gets ``num_attention_heads`` KV heads
  and an ``intermediate_size`` of ``hidden_size``, values nothing reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs

from block_config._compat import install_dataclass_protocol
from block_config._config import AttentionConfig, BaseDataclass, BlockConfig, FFNConfig, _str_tuple
from block_config._converter import MAX_BLOCKS, MAX_INT, UnknownKeys, structure_block_configs
from block_config._errors import BlockConfigError, Path, Problem, describe
from block_config._warnings import warnings_under

__all__ = [
    "LEGACY_MODEL_TYPE",
    "LegacyAttentionConfig",
    "LegacyBlockConfig",
    "LegacyFFNConfig",
    "ffn_mult_to_intermediate_size",
    "intermediate_size_to_ffn_mult",
    "legacy_to_native",
    "native_to_legacy",
]

#: ``model_type`` of the published legacy configs.
LEGACY_MODEL_TYPE = "nemotron-nas"

#: Keys that only the legacy dialect uses, per subblock: their presence marks a legacy file.
LEGACY_ATTENTION_KEYS = frozenset(
    {
        "n_heads_in_group",
        "unshifted_sink",
        "use_prefill_window_in_sink_attention",
        "window_length",
        "num_sink_tokens",
    }
)
LEGACY_FFN_KEYS = frozenset({"ffn_mult"})

_MULTIPLE = 256
_DEFAULT_PRECISION = "bf16"
_MAX_DECIMALS = 17


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class LegacyAttentionConfig(BaseDataclass):
    """One layer's ``attention`` entry in the legacy dialect, exactly as the file spells it.

    ``window_length`` becomes the native ``sliding_window`` (but on a no-op attention); the
    sink keys have no native counterpart. All are kept so that writing the legacy dialect
    back reproduces them.
    """

    n_heads_in_group: int | None = None
    no_op: bool = False
    num_sink_tokens: int | None = attrs.field(default=None, metadata={"minimum": 0})
    replace_with_linear: bool = False
    sparsify: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    unshifted_sink: bool = False
    use_prefill_window_in_sink_attention: bool = False
    window_length: int | None = None

    @property
    def sink_or_window_settings(self) -> dict[str, bool | int]:
        """The sink and window settings that differ from plain causal attention, by key."""
        settings = {
            "unshifted_sink": self.unshifted_sink,
            "use_prefill_window_in_sink_attention": self.use_prefill_window_in_sink_attention,
            "window_length": self.window_length,
            "num_sink_tokens": self.num_sink_tokens,
        }
        return {
            key: value
            for key, value in settings.items()
            if value is not None and value is not False
        }

    @property
    def settings_native_cannot_say(self) -> dict[str, bool | int]:
        """The sink and window settings the native dialect has no field for, by key: the
        sink settings, and ``window_length`` on a no-op attention (which has no window)."""
        settings = self.sink_or_window_settings
        if not self.no_op:
            settings.pop("window_length", None)
        return settings

    @property
    def has_sink_or_window(self) -> bool:
        """Whether any sink or window setting differs from plain causal attention."""
        return bool(self.sink_or_window_settings)


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class LegacyFFNConfig(BaseDataclass):
    """One layer's ``ffn`` entry in the legacy dialect, exactly as the file spells it."""

    ffn_mult: float | None = None
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)


@attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
class LegacyBlockConfig(BaseDataclass):
    """One item of a legacy ``block_configs`` list: an attention entry and an FFN entry."""

    attention: LegacyAttentionConfig
    ffn: LegacyFFNConfig


for _cls in (LegacyAttentionConfig, LegacyFFNConfig, LegacyBlockConfig):
    install_dataclass_protocol(_cls)


# --------------------------------------------------------------------------- sizes


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def ffn_mult_to_intermediate_size(ffn_mult: float, hidden_size: int) -> int:
    """The FFN width a legacy ``ffn_mult`` stands for: truncate, then round up to 256.

    >>> ffn_mult_to_intermediate_size(5.25, 8192), ffn_mult_to_intermediate_size(0.5, 8192)
    (28672, 2816)
    """
    return _round_up(int(2 * ffn_mult * hidden_size / 3), _MULTIPLE)


def intermediate_size_to_ffn_mult(intermediate_size: int, hidden_size: int) -> float:
    """An ``ffn_mult`` that maps back to exactly ``intermediate_size``.

    The exact ratio ``3 * size / (2 * hidden)`` when a float holds it exactly and it maps back
    (the multipliers Puzzle-style searches use: 5.25, 2.625, 3.28125, 1.3125 for hidden 8192);
    otherwise the shortest decimal that maps back, the one nearest that ratio among equals.
    Raises :class:`ValueError` when no ``ffn_mult`` gives that size: it is not a positive
    multiple of 256, or it is so large (past about 2**61) that no float lands on it.

    >>> intermediate_size_to_ffn_mult(28672, 8192), intermediate_size_to_ffn_mult(14336, 8192)
    (5.25, 2.625)
    """
    if intermediate_size <= 0 or intermediate_size % _MULTIPLE:
        raise ValueError(
            f"intermediate_size {intermediate_size} is not a positive multiple of {_MULTIPLE}, "
            "so no ffn_mult stands for it"
        )
    ideal = Fraction(3 * intermediate_size, 2 * hidden_size)
    exact = float(ideal)
    if Fraction(exact) == ideal and ffn_mult_to_intermediate_size(exact, hidden_size) == (
        intermediate_size
    ):
        return exact
    # int(x) lands in (size - 256, size] exactly when size - 255 <= x < size + 1.
    low = Fraction(3 * (intermediate_size - _MULTIPLE + 1), 2 * hidden_size)
    high = Fraction(3 * (intermediate_size + 1), 2 * hidden_size)
    for decimals in range(_MAX_DECIMALS + 1):
        scale = 10**decimals
        first = -(-low.numerator * scale // low.denominator)  # ceil(low * scale)
        last = -(-high.numerator * scale // high.denominator) - 1  # below high * scale
        if first > last:
            continue
        nearest = min(max(round(ideal * scale), first), last)
        nearby = range(max(first, nearest - 8), min(last, nearest + 8) + 1)
        for numerator in sorted(nearby, key=lambda n: abs(n - nearest)):
            candidate = float(Fraction(numerator, scale))
            if ffn_mult_to_intermediate_size(candidate, hidden_size) == intermediate_size:
                return candidate
    raise ValueError(  # float rounding defeated every candidate
        f"no ffn_mult maps back to intermediate_size {intermediate_size} "
        f"with hidden_size {hidden_size}"
    )


# --------------------------------------------------------------------------- legacy -> native


def structure_legacy_items(
    data: Any, *, unknown_keys: UnknownKeys = "error"
) -> tuple[list[LegacyBlockConfig | None], list[Problem]]:
    """Read each legacy item of ``data`` on its own: the items (None where one does not read)
    and every item's problems, rooted at the list (``$[3].attention.n_heads_in_group``).

    Raises :class:`BlockConfigError` only when ``data`` is not a list or is past the limit.
    """
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes, bytearray)):
        raise BlockConfigError.at((), f"expected a list of block configs, got {describe(data)}")
    if len(data) > MAX_BLOCKS:
        raise BlockConfigError.at(
            (), f"holds {len(data)} blocks, more than the limit of {MAX_BLOCKS}"
        )
    problems: list[Problem] = []
    items: list[LegacyBlockConfig | None] = []
    for index, item in enumerate(data):
        try:
            with warnings_under((index,)):
                items.append(LegacyBlockConfig.from_dict(item, unknown_keys=unknown_keys))
        except BlockConfigError as error:
            items.append(None)
            problems.extend(error.under((index,)).problems)
    return items, problems


def structure_legacy_block_configs(
    data: Any, *, unknown_keys: UnknownKeys = "error"
) -> list[LegacyBlockConfig]:
    """Read a legacy ``block_configs`` list as written, checking types and unknown keys only.

    Problems, and the warnings of dropped keys, are rooted at the list
    (``$[3].attention.n_heads_in_group``).
    """
    items, problems = structure_legacy_items(data, unknown_keys=unknown_keys)
    if problems:
        raise BlockConfigError(problems)
    return [item for item in items if item is not None]


def _native_attention(
    attention: LegacyAttentionConfig, num_attention_heads: int, path: Path
) -> tuple[dict[str, Any], list[Problem]]:
    common: dict[str, Any] = {
        "no_op": attention.no_op,
        "replace_with_linear": attention.replace_with_linear,
        "sparsify": attention.sparsify,
    }
    group = attention.n_heads_in_group
    where = (*path, "n_heads_in_group")
    if attention.no_op:
        return common, []
    if attention.window_length is not None:
        common["sliding_window"] = attention.window_length
    if group is None:
        if attention.replace_with_linear:
            return {**common, "num_key_value_heads": num_attention_heads}, []
        return common, [Problem(where, "required unless the attention is no_op or linear")]
    if num_attention_heads % group:
        message = f"{group} does not divide num_attention_heads ({num_attention_heads})"
        return common, [Problem(where, message)]
    return {**common, "num_key_value_heads": num_attention_heads // group}, []


def _native_ffn(
    ffn: LegacyFFNConfig, hidden_size: int, path: Path
) -> tuple[dict[str, Any], list[Problem]]:
    common: dict[str, Any] = {
        "no_op": ffn.no_op,
        "replace_with_linear": ffn.replace_with_linear,
        "sparsify": ffn.sparsify,
    }
    mult = ffn.ffn_mult
    where = (*path, "ffn_mult")
    if ffn.no_op:
        return common, []
    if mult is None:
        if ffn.replace_with_linear:
            return {**common, "intermediate_size": hidden_size}, []
        return common, [Problem(where, "required unless the FFN is no_op or linear")]
    if not mult > 0:
        return common, [Problem(where, f"must be positive, got {mult!r}")]
    try:
        size = ffn_mult_to_intermediate_size(mult, hidden_size)
    except OverflowError:  # 2 * mult * hidden_size is past the largest float
        size = MAX_INT + 1
    if size > MAX_INT:
        message = (
            f"{mult!r} gives an intermediate_size past {MAX_INT} with hidden_size {hidden_size}"
        )
        return common, [Problem(where, message)]
    if size < 1:
        message = f"{mult!r} gives intermediate_size {size} with hidden_size {hidden_size}"
        return common, [Problem(where, message)]
    return {**common, "intermediate_size": size}, []


def _native_item(
    item: LegacyBlockConfig, num_attention_heads: int, hidden_size: int, index: int
) -> tuple[dict[str, Any], list[Problem]]:
    attention, attention_problems = _native_attention(
        item.attention, num_attention_heads, (index, "attention")
    )
    ffn, ffn_problems = _native_ffn(item.ffn, hidden_size, (index, "ffn"))
    return {"attention": attention, "ffn": ffn}, attention_problems + ffn_problems


def legacy_to_native(
    items: Sequence[LegacyBlockConfig], *, num_attention_heads: int, hidden_size: int
) -> list[BlockConfig]:
    """Translate legacy items to native blocks (the converter builds them).

    Problems are rooted at the list (``$[3].ffn.ffn_mult``), every one reported at once.
    """
    problems: list[Problem] = []
    native: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        mapping, item_problems = _native_item(item, num_attention_heads, hidden_size, index)
        native.append(mapping)
        problems.extend(item_problems)
    if problems:
        raise BlockConfigError(problems)
    return structure_block_configs(native)


def legacy_translation_problems(
    items: Sequence[LegacyBlockConfig | None], *, num_attention_heads: int, hidden_size: int
) -> list[Problem]:
    """What :func:`legacy_to_native` would refuse in the items that read (None is skipped),
    rooted at the list (``$[3].ffn.ffn_mult``)."""
    problems: list[Problem] = []
    for index, item in enumerate(items):
        if item is not None:
            problems.extend(_native_item(item, num_attention_heads, hidden_size, index)[1])
    return problems


# --------------------------------------------------------------------------- native -> legacy


def _refusals(block: BlockConfig, num_attention_heads: int, index: int) -> list[Problem]:
    """What in ``block`` the legacy dialect cannot say, each at the native path it sits at."""
    problems = []
    path: Path = (index,)

    def refuse(where: Path, what: str) -> None:
        problems.append(Problem(where, f"the legacy dialect cannot express {what}"))

    if block.parallel_blocks:
        refuse((*path, "parallel_blocks"), "parallel blocks")
    attention, ffn = block.attention, block.ffn
    if attention is None:
        refuse((*path, "attention"), "a missing attention entry (use no_op)")
    else:
        where = (*path, "attention")
        if attention.mamba is not None:
            refuse((*where, "mamba"), "Mamba layers")
        if attention.llama4 is not None:
            refuse((*where, "llama4"), "Llama-4 attention")
        if attention.mla is not None:
            refuse((*where, "mla"), "Multi-head Latent Attention (MLA)")
        if attention.num_attention_heads is not None:
            refuse((*where, "num_attention_heads"), "a query-head count of the layer's own")
        if attention.head_dim is not None:
            refuse((*where, "head_dim"), "a head width of the layer's own")
        if attention.linear_attention is not None:
            refuse((*where, "linear_attention"), "linear attention (Gated DeltaNet, KDA)")
        if attention.output_gate is not None:
            refuse((*where, "output_gate"), "attention output gates")
        if attention.kv_source_layer is not None:
            refuse((*where, "kv_source_layer"), "attention reading another layer's K/V")
        if attention.values_from_keys is not None:
            refuse((*where, "values_from_keys"), "attention whose values are its keys")
        if attention.compressed_attention is not None:
            refuse(
                (*where, "compressed_attention"),
                "DeepSeek-V4's shared-KV attention with compressed history",
            )
        if attention.weights_precision != _DEFAULT_PRECISION:
            refuse(
                (*where, "weights_precision"),
                f"weights_precision other than {_DEFAULT_PRECISION!r}",
            )
        kv = attention.num_key_value_heads
        if kv is not None and not attention.replace_with_linear and num_attention_heads % kv:
            refuse(
                (*where, "num_key_value_heads"),
                f"{kv} KV heads: they do not divide num_attention_heads ({num_attention_heads})",
            )
    if ffn is None:
        refuse((*path, "ffn"), "a missing ffn entry (use no_op)")
    else:
        where = (*path, "ffn")
        if ffn.moe is not None:
            refuse((*where, "moe"), "mixture-of-experts FFNs")
        if ffn.gated is False:
            refuse((*where, "gated"), "ungated (two-matrix) FFNs: every legacy FFN is SwiGLU")
        if ffn.weights_precision != _DEFAULT_PRECISION:
            refuse(
                (*where, "weights_precision"),
                f"weights_precision other than {_DEFAULT_PRECISION!r}",
            )
        size = ffn.intermediate_size
        if not ffn.no_op and not ffn.replace_with_linear and size is not None and size % _MULTIPLE:
            refuse(
                (*where, "intermediate_size"),
                f"intermediate_size {size}: ffn_mult only gives multiples of {_MULTIPLE}",
            )
    return problems


def _sparsify(value: tuple[str, ...] | None) -> list[str] | None:
    return None if value is None else list(value)


def _legacy_attention(
    attention: AttentionConfig, num_attention_heads: int, original: LegacyAttentionConfig | None
) -> dict[str, Any]:
    kv = attention.num_key_value_heads
    group = None
    if not attention.no_op and not attention.replace_with_linear and kv is not None:
        group = num_attention_heads // kv
    keep = original if original is not None else LegacyAttentionConfig()
    # A no-op attention has no window of its own: the original's key is kept as it was.
    window = keep.window_length if attention.no_op else attention.sliding_window
    return {
        "n_heads_in_group": group,
        "no_op": attention.no_op,
        "num_sink_tokens": keep.num_sink_tokens,
        "replace_with_linear": attention.replace_with_linear,
        "sparsify": _sparsify(attention.sparsify),
        "unshifted_sink": keep.unshifted_sink,
        "use_prefill_window_in_sink_attention": keep.use_prefill_window_in_sink_attention,
        "window_length": window,
    }


def _legacy_ffn(ffn: FFNConfig, hidden_size: int) -> dict[str, Any]:
    mult = None
    if not ffn.no_op and not ffn.replace_with_linear and ffn.intermediate_size is not None:
        mult = intermediate_size_to_ffn_mult(ffn.intermediate_size, hidden_size)
    return {
        "ffn_mult": mult,
        "no_op": ffn.no_op,
        "replace_with_linear": ffn.replace_with_linear,
        "sparsify": _sparsify(ffn.sparsify),
    }


def native_to_legacy(
    blocks: Sequence[BlockConfig],
    *,
    num_attention_heads: int,
    hidden_size: int,
    originals: Sequence[LegacyBlockConfig] | None = None,
) -> list[dict[str, Any]]:
    """Write native blocks as a legacy ``block_configs`` list.

    ``originals`` are the legacy items the blocks were read from (same length). Where a
    block's attention or FFN still is what its original translates to, the original entry is
    written unchanged (its exact ``ffn_mult``, its sink and window keys); otherwise the entry
    is computed afresh, keeping the original's sink keys, with ``sliding_window`` written as
    ``window_length``. Refuses, listing every layer, what the dialect cannot express: parallel
    blocks, MoE, Mamba, Llama-4 and MLA attention, ungated FFNs, KV heads that do not divide
    the head count, widths that are not multiples of 256.
    Problems are rooted at the list (``$[3].ffn.moe``).
    """
    if originals is not None and len(originals) != len(blocks):
        raise ValueError(f"originals has {len(originals)} items but there are {len(blocks)} blocks")
    problems: list[Problem] = []
    for index, block in enumerate(blocks):
        problems.extend(_refusals(block, num_attention_heads, index))
    if problems:
        raise BlockConfigError(problems)
    result = []
    for index, block in enumerate(blocks):
        assert block.attention is not None
        assert block.ffn is not None
        original = originals[index] if originals is not None else None
        was: BlockConfig | None = None
        if original is not None:
            mapping, failed = _native_item(original, num_attention_heads, hidden_size, index)
            if not failed:
                (was,) = structure_block_configs([mapping])
        if original is not None and was is not None and was.attention == block.attention:
            attention = original.attention.to_dict()
        else:
            attention = _legacy_attention(
                block.attention, num_attention_heads, original.attention if original else None
            )
        if original is not None and was is not None and was.ffn == block.ffn:
            ffn = original.ffn.to_dict()
        else:
            try:
                ffn = _legacy_ffn(block.ffn, hidden_size)
            except ValueError:  # past 2**53, no float lands on every multiple of 256
                problems.append(
                    Problem(
                        (index, "ffn", "intermediate_size"),
                        f"the legacy dialect cannot express intermediate_size "
                        f"{block.ffn.intermediate_size}: no float ffn_mult maps back to it "
                        f"with hidden_size {hidden_size}",
                    )
                )
                continue
        result.append({"attention": attention, "ffn": ffn})
    if problems:
        raise BlockConfigError(problems)
    return result


def looks_legacy(items: Any) -> bool | None:
    """Whether a ``block_configs`` list uses legacy keys (True), native keys (False), or
    neither (None). Raises :class:`BlockConfigError` when it mixes both."""
    legacy: Path | None = None
    native: Path | None = None
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes, bytearray)):
        return None
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        if "parallel_blocks" in item and native is None:
            native = (index, "parallel_blocks")
        for part, legacy_keys, native_keys in (
            ("attention", LEGACY_ATTENTION_KEYS, _NATIVE_ATTENTION_KEYS),
            ("ffn", LEGACY_FFN_KEYS, _NATIVE_FFN_KEYS),
        ):
            sub = item.get(part)
            if not isinstance(sub, Mapping):
                continue
            for key in sub:
                if legacy is None and key in legacy_keys:
                    legacy = (index, part, key)
                elif native is None and key in native_keys:
                    native = (index, part, key)
    if legacy is not None and native is not None:
        from block_config._errors import format_path

        raise BlockConfigError.at(
            (),
            "mixes the legacy and the native dialect: "
            f"{format_path(legacy)} is legacy, {format_path(native)} is native",
        )
    if legacy is not None:
        return True
    if native is not None:
        return False
    return None


_NATIVE_ATTENTION_KEYS = frozenset(
    {
        "num_key_value_heads",
        "llama4",
        "mamba",
        "weights_precision",
        "sliding_window",
        "mla",
        "num_attention_heads",
        "head_dim",
        "linear_attention",
        "output_gate",
        "kv_source_layer",
        "compressed_attention",
        "values_from_keys",
    }
)
_NATIVE_FFN_KEYS = frozenset({"intermediate_size", "moe", "weights_precision", "gated"})
