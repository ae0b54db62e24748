"""The model-level picture: a model's dimensions beside its per-layer block configs.

:class:`ModelArchitecture` reads a Hugging Face ``config.json`` in any of three dialects
(native ``block_configs``, legacy nemotron-nas ``block_configs``, or a homogeneous config
without them), checks it, and writes the native or legacy dialect back, leaving every key it
does not own as it was.
"""

from __future__ import annotations

import errno
import os
import typing
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path as FilePath
from typing import Any, Literal

import attrs

from block_config import _hf, _legacy
from block_config._config import BlockConfig
from block_config._converter import (
    _NOT_TEXT,
    MAX_BLOCKS,
    UnknownKeys,
    _is_text,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._errors import (
    BlockConfigError,
    ConversionWarning,
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
from block_config._keys import ConfigReader, check_int, is_count
from block_config._legacy import LegacyBlockConfig
from block_config._quantization import WeightQuantization, quantization_from_config
from block_config._warnings import quiet, warnings_under
from block_config._yaml import dump_yaml, parse_yaml

__all__ = ["Dialect", "ModelArchitecture", "WritableDialect"]

#: How ``block_configs`` are spelled in a ``config.json``: the seed's classes ("native"), the
#: published nemotron-nas / DeciLM form ("legacy"), or no ``block_configs`` at all
#: ("homogeneous": a plain Hugging Face config, one block shape repeated per layer).
Dialect = Literal["native", "legacy", "homogeneous"]
#: The dialects :meth:`ModelArchitecture.to_mapping` writes.
WritableDialect = Literal["native", "legacy"]

_DIALECTS: tuple[str, ...] = typing.get_args(Dialect)
_UNSET = -1  # head_dim not given and not derivable; reported by the checks

_DEFAULT_CONV_KERNEL = 4
#: The model-wide facts read from and written to ``config.json`` keys of the same names
#: (written only when true, so a model without them is written as before).
_FLAGS = (
    "qkv_bias",
    "qk_norm",
    "sandwich_norms",
    "router_bias",
    "expert_bias",
    "attention_sinks",
    "shared_expert_gate",
    "router_score_correction_bias",
)
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


def _legacy_tuple(
    value: Iterable[LegacyBlockConfig] | None,
) -> tuple[LegacyBlockConfig, ...] | None:
    return None if value is None else tuple(value)


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
    #: A norm after each attention and FFN besides the one before it (Gemma-2, Gemma-3).
    sandwich_norms: bool = False
    #: The router has a bias of ``num_local_experts`` (gpt-oss).
    router_bias: bool = False
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
                _check_kv(block, self.num_attention_heads, ("block_configs", index), problems)
        return problems

    # ----------------------------------------------------------------------- reading

    @classmethod
    def from_mapping(
        cls,
        config: Mapping[str, Any],
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
    ) -> ModelArchitecture:
        """Read a ``config.json`` object, detecting its dialect unless ``dialect`` is given.

        A ``block_configs`` list with legacy keys (``n_heads_in_group``, ``ffn_mult``, ...) is
        legacy, one with native keys native; one with neither is legacy when ``model_type`` is
        ``"nemotron-nas"``, else native. Without ``block_configs`` the config is homogeneous.
        ``unknown_keys`` applies to the block items; unknown model-level keys are kept in
        :attr:`source`. Raises :class:`BlockConfigError` listing every problem, with paths
        rooted at the ``config.json`` (``$.block_configs[3].attention.n_heads_in_group``).
        """
        return cls._read(config, unknown_keys, dialect, owned=False)

    @classmethod
    def _read(
        cls,
        config: Mapping[str, Any],
        unknown_keys: UnknownKeys,
        dialect: Dialect | None,
        *,
        owned: bool,
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
        if dialect is None:
            dialect = _detect(config)
        elif dialect not in _DIALECTS:
            raise ValueError(f"dialect must be one of {_DIALECTS}, got {dialect!r}")
        reader = ConfigReader(config)
        hidden = reader.integer("hidden_size", required=True)
        heads = reader.integer("num_attention_heads", required=True)
        fields: dict[str, Any] = {
            "hidden_size": hidden,
            "num_attention_heads": heads,
            "vocab_size": reader.integer("vocab_size", required=True),
            "tie_word_embeddings": reader.boolean("tie_word_embeddings"),
            "attention_bias": reader.boolean("attention_bias"),
            "mlp_bias": reader.boolean("mlp_bias"),
            "mamba_conv_kernel": reader.integer("conv_kernel", default=_DEFAULT_CONV_KERNEL),
            # "" is no dtype: the object holds None (and writing keeps the "").
            "torch_dtype": reader.string("torch_dtype") or reader.string("dtype") or None,
            "mamba_ssm_cache_dtype": reader.string("mamba_ssm_cache_dtype"),
            "model_type": reader.string("model_type"),
            **{name: reader.boolean(name) for name in _FLAGS},
        }
        head_dim = reader.integer("head_dim", default=None)
        if head_dim is not None:
            fields["head_dim"] = head_dim
        layers = None
        if dialect != "homogeneous":
            layers = reader.integer("num_hidden_layers", default=None, minimum=0)
        problems = reader.problems
        if config.get("quantization_config") is not None:
            try:
                fields["quantization"] = quantization_from_config(config["quantization_config"])
            except BlockConfigError as error:
                problems.extend(error.problems)
        blocks: list[BlockConfig] | None = None
        legacy_items: list[LegacyBlockConfig] | None = None
        raw: Any = config.get("block_configs")
        try:
            if dialect == "native":
                with warnings_under(("block_configs",)):
                    try:
                        blocks = structure_block_configs(raw, unknown_keys=unknown_keys)
                    except BlockConfigError as error:
                        # Check the items that read, so that every problem is told at once.
                        kv_problems: list[Problem] = []
                        if is_count(heads):
                            for index, block in _blocks_that_read(raw, unknown_keys):
                                _check_kv(block, heads, (index,), kv_problems)
                        raise BlockConfigError([*error.problems, *kv_problems]) from None
            elif dialect == "legacy":
                with warnings_under(("block_configs",)):
                    read, item_problems = _legacy.structure_legacy_items(
                        raw, unknown_keys=unknown_keys
                    )
                if item_problems:
                    # Translate the items that read, so that every problem is told at once.
                    if hidden is not None and heads is not None:
                        item_problems += _legacy.legacy_translation_problems(
                            read, num_attention_heads=heads, hidden_size=hidden
                        )
                    raise BlockConfigError(item_problems)
                legacy_items = [item for item in read if item is not None]
                if hidden is not None and heads is not None:
                    blocks = _legacy.legacy_to_native(
                        legacy_items, num_attention_heads=heads, hidden_size=hidden
                    )
        except BlockConfigError as error:
            problems.extend(error.under(("block_configs",)).problems)
        if dialect == "homogeneous":
            try:
                blocks = _hf.homogeneous_block_configs(config, num_attention_heads=heads)
            except BlockConfigError as error:
                problems.extend(error.problems)
        elif layers is not None and _is_list(raw) and layers != len(raw):
            # Counted on the list as written, so that it is told even when items do not read.
            problems.append(
                Problem(
                    ("num_hidden_layers",),
                    f"is {layers} but block_configs has {len(raw)} items",
                )
            )
        if problems and blocks is not None and is_count(heads):
            # The constructor's check, which is not reached when something else is wrong.
            for index, block in enumerate(blocks):
                _check_kv(block, heads, ("block_configs", index), problems)
        if problems or blocks is None:
            raise BlockConfigError(problems)
        source = config if owned and type(config) is dict else copy_json(config)
        token = _checked_source.set(source)  # checked above, as config
        try:
            return cls(
                **fields,
                block_configs=tuple(blocks),
                dialect=dialect,
                legacy_block_configs=None if legacy_items is None else tuple(legacy_items),
                source=source,
            )
        finally:
            _checked_source.reset(token)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
    ) -> ModelArchitecture:
        """Read a ``config.json`` file, the one inside a model folder, or a YAML file.

        Files ending in ``.yaml`` or ``.yml`` are read as YAML (see :meth:`from_yaml`).
        Raises :class:`FileNotFoundError` when there is no such file, :class:`BlockConfigError`
        when it is not valid (see :meth:`from_mapping`).
        """
        target = resolve_config_path(path)
        if target.suffix.lower() in YAML_SUFFIXES:
            return cls.from_yaml(read_limited(target), unknown_keys=unknown_keys, dialect=dialect)
        _, config = read_config_json(target)
        return cls._read(config, unknown_keys, dialect, owned=True)

    @classmethod
    def from_yaml(
        cls,
        text: str | bytes,
        *,
        unknown_keys: UnknownKeys = "error",
        dialect: Dialect | None = None,
    ) -> ModelArchitecture:
        """Read a whole config written in YAML (safe loading; needs the ``yaml`` extra)."""
        config = parse_yaml(text)
        if not isinstance(config, dict):
            raise BlockConfigError.at((), f"expected a mapping, got {describe(config)}")
        return cls._read(config, unknown_keys, dialect, owned=True)

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
            dialect = "legacy" if self.dialect == "legacy" else "native"
        elif dialect not in ("native", "legacy"):
            raise ValueError(f"dialect must be 'native' or 'legacy', got {dialect!r}")
        original = self._original()
        out = copy_json(self.source)
        self._write_scalars(out)
        same_blocks = (
            original is not None
            and original.dialect == dialect
            and original.block_configs == self.block_configs
            and original.legacy_block_configs == self.legacy_block_configs
            and "block_configs" in out
        )
        if not same_blocks:
            if dialect == "native":
                out["block_configs"] = self._native_items()
            else:
                out["block_configs"] = self._legacy_items()
                if original is None or original.dialect != "legacy":
                    for key in ("num_key_value_heads", "intermediate_size"):
                        if key in out:
                            out[key] = None
        return out

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
                    return ModelArchitecture._read(self.source, "warn", dialect, owned=True)
            except BlockConfigError:
                pass
        return None

    def _write_scalars(self, out: dict[str, Any]) -> None:
        """Write each owned model-level key whose value, as ``out`` would be read, differs."""
        for name in ("hidden_size", "num_attention_heads", "vocab_size"):
            if out.get(name) != getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("tie_word_embeddings", "attention_bias", "mlp_bias", *_FLAGS):
            if out.get(name, False) != getattr(self, name):
                out[name] = getattr(self, name)
        for name in ("mamba_ssm_cache_dtype", "model_type"):
            if out.get(name) != getattr(self, name):
                out[name] = getattr(self, name)
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

    def _native_items(self) -> list[dict[str, Any]]:
        problems = []
        for index, item in enumerate(self.legacy_block_configs or ()):
            for key, value in item.attention.settings_native_cannot_say.items():
                problems.append(
                    Problem(
                        ("block_configs", index, "attention", key),
                        f"the native dialect cannot express sink or window attention "
                        f"({key}={value!r}); write the legacy dialect",
                    )
                )
        if problems:
            raise BlockConfigError(problems)
        self._warn_of_lost_ffn_mults()
        return unstructure_block_configs(self.block_configs)

    def _warn_of_lost_ffn_mults(self) -> None:
        """Warn when the native dialect cannot keep the original ``ffn_mult`` text."""
        lost = []
        for index, (item, block) in enumerate(
            zip(self.legacy_block_configs or (), self.block_configs, strict=False)
        ):
            mult, ffn = item.ffn.ffn_mult, block.ffn
            if mult is None or ffn is None or ffn.no_op or ffn.replace_with_linear:
                continue
            size = ffn.intermediate_size
            if size is None or size % 256:
                continue
            try:
                again: float | None = _legacy.intermediate_size_to_ffn_mult(size, self.hidden_size)
            except ValueError:  # no float ffn_mult maps back to a size this large
                again = None
            if again != mult:
                shown = "no ffn_mult maps back" if again is None else repr(again)
                lost.append(f"$.block_configs[{index}].ffn.ffn_mult {mult!r} -> {shown}")
        if lost:
            shown = "; ".join(lost[:3]) + ("; ..." if len(lost) > 3 else "")
            warnings.warn(
                f"the native dialect keeps intermediate sizes, not ffn_mult: converting back to "
                f"legacy writes other multipliers for the same sizes in {len(lost)} layers "
                f"({shown})",
                ConversionWarning,
                stacklevel=4,
            )

    def _legacy_items(self) -> list[dict[str, Any]]:
        try:
            return _legacy.native_to_legacy(
                self.block_configs,
                num_attention_heads=self.num_attention_heads,
                hidden_size=self.hidden_size,
                originals=self.legacy_block_configs,
            )
        except BlockConfigError as error:
            raise error.under(("block_configs",)) from None


def _check_kv(block: BlockConfig, heads: int, path: Path, problems: list[Problem]) -> None:
    attention = block.attention
    if attention is not None and not attention.replace_with_linear:
        kv = attention.num_key_value_heads
        if kv is not None and heads % kv:
            problems.append(
                Problem(
                    (*path, "attention", "num_key_value_heads"),
                    f"{kv} does not divide num_attention_heads ({heads})",
                )
            )
    for index, child in enumerate(block.parallel_blocks or ()):
        _check_kv(child, heads, (*path, "parallel_blocks", index), problems)


def _blocks_that_read(raw: Any, unknown_keys: UnknownKeys) -> Iterable[tuple[int, BlockConfig]]:
    """Each item of ``raw`` that structures on its own, with its index (warnings silenced:
    they were given when the whole list was read)."""
    if not _is_list(raw) or len(raw) > MAX_BLOCKS:
        return
    for index, item in enumerate(raw):
        try:
            with quiet():
                (block,) = structure_block_configs([item], unknown_keys=unknown_keys)
        except BlockConfigError:
            continue
        yield index, block


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _detect(config: Mapping[str, Any]) -> Dialect:
    raw = config.get("block_configs")
    if raw is None:
        return "homogeneous"
    try:
        legacy = _legacy.looks_legacy(raw)
    except BlockConfigError as error:
        raise error.under(("block_configs",)) from None
    if legacy is None:
        legacy = config.get("model_type") == _legacy.LEGACY_MODEL_TYPE
    return "legacy" if legacy else "native"
