"""The legacy nemotron-nas (DeciLM) dialect of ``block_configs`` (``model_type``
``"nemotron-nas"``): Llama-3.3-Nemotron-Super-49B, Llama-3.1-Nemotron-Ultra-253B and the
other published Puzzle models.

Chosen for any config whose ``block_configs`` items use the legacy keys (``n_heads_in_group``,
``ffn_mult``, the sink and window keys), or use neither dialect's keys under
``model_type: "nemotron-nas"``. Follows the ``modeling_decilm.py`` those models ship: each
layer's attention (``num_attention_heads // n_heads_in_group`` KV heads, or no-op, or a
linear replacement) and SwiGLU FFN (``ffn_mult`` -> ``intermediate_size``, see
:func:`~block_config.ffn_mult_to_intermediate_size`). The items are kept as read
(:attr:`~block_config.ModelArchitecture.legacy_block_configs`) so that writing the dialect
back reproduces them byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from block_config import _legacy
from block_config._config import BlockConfig
from block_config._errors import BlockConfigError
from block_config._keys import ConfigReader
from block_config._warnings import warnings_under
from block_config.dialects._registry import register_reader, register_writer
from block_config.dialects.native import finish_dialect, write_block_list
from block_config.readers._common import flag_fields, model_fields
from block_config.readers._registry import ReadOptions

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture

__all__ = ["read_nemotron_nas", "write_legacy"]


@register_reader("legacy")
def read_nemotron_nas(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    """A config with legacy ``block_configs``: the model's keyword arguments."""
    keys = ConfigReader(config)
    fields = model_fields(keys)
    fields.update(flag_fields(keys), model_type=keys.string("model_type"))
    layers = keys.integer("num_hidden_layers", default=None, minimum=0)
    hidden, heads = fields["hidden_size"], fields["num_attention_heads"]
    blocks: list[BlockConfig] | None = None
    legacy_items = None
    try:
        with warnings_under(("block_configs",)):
            read, item_problems = _legacy.structure_legacy_items(
                config.get("block_configs"), unknown_keys=options.unknown_keys
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
        keys.problems.extend(error.under(("block_configs",)).problems)
    blocks = finish_dialect(config, keys, fields, layers, blocks)
    return {
        **fields,
        "block_configs": tuple(blocks),
        "dialect": "legacy",
        "legacy_block_configs": None if legacy_items is None else tuple(legacy_items),
    }


@register_writer("legacy")
def write_legacy(model: ModelArchitecture) -> dict[str, Any]:
    """``model`` with legacy ``block_configs``; the legacy items read are reused where a
    layer's attention or FFN is unchanged, so a legacy file round-trips byte for byte.

    Raises :class:`BlockConfigError` at each layer's path for what the dialect cannot say
    (MoE, Mamba, MLA, Llama-4 attention, parallel blocks, ...).
    """
    return write_block_list(model, "legacy", lambda: _legacy_items(model), _nulls)


def _legacy_items(model: ModelArchitecture) -> list[dict[str, Any]]:
    try:
        return _legacy.native_to_legacy(
            model.block_configs,
            num_attention_heads=model.num_attention_heads,
            hidden_size=model.hidden_size,
            originals=model.legacy_block_configs,
        )
    except BlockConfigError as error:
        raise error.under(("block_configs",)) from None


def _nulls(out: dict[str, Any]) -> None:
    # The published nemotron-nas configs say these per layer only.
    for key in ("num_key_value_heads", "intermediate_size"):
        if key in out:
            out[key] = None
