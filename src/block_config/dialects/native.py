"""The native Puzzle dialect: a ``block_configs`` list of the seed's block classes, read and
written (and the writing every ``block_configs`` dialect shares, :func:`write_block_list`).

Chosen for any config whose ``block_configs`` items use the native keys
(``num_key_value_heads``, ``intermediate_size``, ``moe``, ``mamba``, ...), whatever its
``model_type``. Each item is read by the converter as a :class:`~block_config.BlockConfig`;
the model-level keys are those of a Llama config. Counts exactly what the blocks say.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from block_config._config import BlockConfig
from block_config._converter import (
    MAX_BLOCKS,
    UnknownKeys,
    structure_block_configs,
    unstructure_block_configs,
)
from block_config._errors import BlockConfigError, ConversionWarning, Problem
from block_config._json import copy_json
from block_config._keys import ConfigReader, is_count
from block_config._legacy import intermediate_size_to_ffn_mult
from block_config._warnings import quiet, warnings_under
from block_config.dialects._registry import (
    dialect_for_model_type,
    register_reader,
    register_writer,
)
from block_config.readers._common import check_kv, flag_fields, model_fields
from block_config.readers._registry import TEXT_CONFIG, ReadOptions, text_part_key

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture, MTPLayers

#: The key of transformers' per-layer overrides (:mod:`block_config.dialects.per_layer`).
PER_LAYER_KEY = "per_layer_config"

__all__ = ["finish_dialect", "is_list", "read_native", "write_block_list", "write_native"]


def is_list(value: Any) -> bool:
    """Whether ``value`` is a JSON array (a sequence that is not text)."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _blocks_that_read(raw: Any, unknown_keys: UnknownKeys) -> Iterable[tuple[int, BlockConfig]]:
    """Each item of ``raw`` that structures on its own, with its index (warnings silenced:
    they were given when the whole list was read)."""
    if not is_list(raw) or len(raw) > MAX_BLOCKS:
        return
    for index, item in enumerate(raw):
        try:
            with quiet():
                (block,) = structure_block_configs([item], unknown_keys=unknown_keys)
        except BlockConfigError:
            continue
        yield index, block


def finish_dialect(
    config: Mapping[str, Any],
    keys: ConfigReader,
    fields: dict[str, Any],
    layers: int | None,
    blocks: list[BlockConfig] | None,
) -> list[BlockConfig]:
    """Check ``num_hidden_layers`` against the list as written, and report every problem.

    Returns the blocks when there is none.
    """
    problems = keys.problems
    raw: Any = config.get("block_configs")
    if layers is not None and is_list(raw) and layers != len(raw):
        # Counted on the list as written, so that it is told even when items do not read.
        problems.append(
            Problem(("num_hidden_layers",), f"is {layers} but block_configs has {len(raw)} items")
        )
    heads = fields["num_attention_heads"]
    if problems and blocks is not None and is_count(heads):
        # The constructor's check, which is not reached when something else is wrong.
        for index, block in enumerate(blocks):
            check_kv(block, heads, ("block_configs", index), problems)
    if problems or blocks is None:
        raise BlockConfigError(problems)
    return blocks


@register_reader("native")
def read_native(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A config with native ``block_configs``: the model's keyword arguments."""
    keys = ConfigReader(config)
    fields = model_fields(keys)
    fields.update(flag_fields(keys), model_type=keys.string("model_type"))
    layers = keys.integer("num_hidden_layers", default=None, minimum=0)
    heads = fields["num_attention_heads"]
    raw: Any = config.get("block_configs")
    blocks = None
    try:
        with warnings_under(("block_configs",)):
            blocks = structure_block_configs(raw, unknown_keys=options.unknown_keys)
    except BlockConfigError as error:
        # Check the items that read, so that every problem is told at once.
        kv_problems: list[Problem] = []
        if is_count(heads):
            for index, block in _blocks_that_read(raw, options.unknown_keys):
                check_kv(block, heads, (index,), kv_problems)
        keys.problems.extend(
            BlockConfigError([*error.problems, *kv_problems]).under(("block_configs",)).problems
        )
    mtp = _read_mtp(config, keys, options)
    blocks = finish_dialect(config, keys, fields, layers, blocks)
    if mtp is not None:
        fields["mtp"] = mtp
    return {**fields, "block_configs": tuple(blocks), "dialect": "native"}


def _read_mtp(config: Mapping[str, Any], keys: ConfigReader, options: ReadOptions) -> Any:
    """The MTP layers: ``num_nextn_predict_layers`` of native ``mtp_block_configs`` (the
    blocks of one), with ``mtp_own_embeddings``; None when there are none."""
    from block_config._model import MTPLayers

    depth = keys.integer("num_nextn_predict_layers", default=0, minimum=0)
    if not depth:
        return None
    raw: Any = config.get("mtp_block_configs")
    if raw is None:
        keys.problems.append(
            Problem(
                ("mtp_block_configs",),
                f"missing: num_nextn_predict_layers is {depth}, and the native dialect gives "
                "the blocks of an MTP layer here",
            )
        )
        return None
    own = keys.boolean("mtp_own_embeddings")
    try:
        with warnings_under(("mtp_block_configs",)):
            blocks = structure_block_configs(raw, unknown_keys=options.unknown_keys)
        return MTPLayers(num_layers=depth, block_configs=blocks, own_embeddings=own)
    except BlockConfigError as error:
        keys.problems.extend(
            p if p.path[:1] == ("mtp",) else p.under(("mtp_block_configs",)) for p in error.problems
        )
        return None


def _text_key(model: ModelArchitecture) -> str | None:
    """The key of the text part a multimodal wrapper was read through (None without one)."""
    if TEXT_CONFIG in model.source:
        return text_part_key(model.source, model._family())
    return None


def _model_part(model: ModelArchitecture, whole: dict[str, Any]) -> dict[str, Any]:
    """The object of ``whole`` (a copy of :attr:`source`) that holds the model's keys: a
    multimodal wrapper read through its text part is written there."""
    text_key = _text_key(model)
    part: dict[str, Any] = whole if text_key is None else whole[text_key]
    return part


def write_block_list(
    model: ModelArchitecture,
    dialect: str,
    items: Callable[[], list[dict[str, Any]]],
    fresh: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The ``config.json`` object of ``model`` with a ``block_configs`` list: :attr:`source`
    with only what differs changed (keys the model does not own keep their values and order;
    a multimodal wrapper's text part gets the list). ``items`` builds the list when the
    blocks changed; ``fresh`` then adjusts the model-level keys of a config that was not in
    ``dialect`` before."""
    original = model._original()
    whole = copy_json(model.source)
    text_key = _text_key(model)
    out = _model_part(model, whole)
    model._write_scalars(out, original)
    from block_config.dialects.per_layer import BASE_FAMILY

    if dialect_for_model_type(out.get("model_type")) is not None:
        # A model_type that names a dialect would be read in that dialect, not in this one:
        # the blocks are written on the family it is a child of.
        out["model_type"] = BASE_FAMILY[out["model_type"]]
    if (
        text_key is not None
        and "tie_word_embeddings" in whole
        and whole["tie_word_embeddings"] != model.tie_word_embeddings
    ):  # the wrapper's own key is the one read
        whole["tie_word_embeddings"] = model.tie_word_embeddings
    same_blocks = (
        original is not None
        and original.dialect == dialect
        and original.block_configs == model.block_configs
        and original.legacy_block_configs == model.legacy_block_configs
        and "block_configs" in out
    )
    if not same_blocks:
        # The blocks say every layer: overrides read into them are not written again.
        out.pop(PER_LAYER_KEY, None)
        out["block_configs"] = items()
        if fresh is not None and (original is None or original.dialect != dialect):
            fresh(out)
    return whole


@register_writer("native")
def write_native(model: ModelArchitecture) -> dict[str, Any]:
    """``model`` with native ``block_configs``: every field of the seed's classes.

    Raises :class:`BlockConfigError` where a legacy item read holds sink or window attention
    settings the native dialect cannot say; warns (:class:`ConversionWarning`) where the
    original ``ffn_mult`` text will not come back.
    """
    whole = write_block_list(model, "native", lambda: _native_items(model))
    out = _model_part(model, whole)
    if model.mtp is not None:
        _write_mtp(out, model.mtp)
    elif out.get("num_nextn_predict_layers"):
        # A model whose MTP layers were taken away keeps the key from its config; the native
        # dialect would then ask for blocks the model does not hold.
        out["num_nextn_predict_layers"] = 0
    return whole


def _write_mtp(out: dict[str, Any], mtp: MTPLayers) -> None:
    """The MTP layers in the native dialect: ``num_nextn_predict_layers``, the blocks of one
    MTP layer as native ``mtp_block_configs``, and ``mtp_own_embeddings`` when true."""
    out["num_nextn_predict_layers"] = mtp.num_layers
    items = unstructure_block_configs(mtp.block_configs)
    if out.get("mtp_block_configs") != items:
        out["mtp_block_configs"] = items
    for key in ("mtp_hybrid_override_pattern", "mtp_layers_block_type"):
        out.pop(key, None)
    if mtp.own_embeddings:
        out["mtp_own_embeddings"] = True
    else:
        out.pop("mtp_own_embeddings", None)


def _native_items(model: ModelArchitecture) -> list[dict[str, Any]]:
    problems = []
    for index, item in enumerate(model.legacy_block_configs or ()):
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
    _warn_of_lost_ffn_mults(model)
    return unstructure_block_configs(model.block_configs)


def _warn_of_lost_ffn_mults(model: ModelArchitecture) -> None:
    """Warn when the native dialect cannot keep the original ``ffn_mult`` text."""
    lost = []
    for index, (item, block) in enumerate(
        zip(model.legacy_block_configs or (), model.block_configs, strict=False)
    ):
        mult, ffn = item.ffn.ffn_mult, block.ffn
        if mult is None or ffn is None or ffn.no_op or ffn.replace_with_linear:
            continue
        size = ffn.intermediate_size
        if size is None or size % 256:
            continue
        try:
            again: float | None = intermediate_size_to_ffn_mult(size, model.hidden_size)
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
            stacklevel=7,  # the caller of to_mapping()
        )
