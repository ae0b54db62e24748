"""The native Puzzle dialect: a ``block_configs`` list of the seed's block classes.

Chosen for any config whose ``block_configs`` items use the native keys
(``num_key_value_heads``, ``intermediate_size``, ``moe``, ``mamba``, ...), whatever its
``model_type``. Each item is read by the converter as a :class:`~block_config.BlockConfig`;
the model-level keys are those of a Llama config. Counts exactly what the blocks say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from block_config._config import BlockConfig
from block_config._converter import MAX_BLOCKS, UnknownKeys, structure_block_configs
from block_config._errors import BlockConfigError, Problem
from block_config._keys import ConfigReader, is_count
from block_config._warnings import quiet, warnings_under
from block_config.dialects._registry import register_reader
from block_config.readers._common import check_kv, flag_fields, model_fields
from block_config.readers._registry import ReadOptions

__all__ = ["finish_dialect", "is_list", "read_native"]


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
