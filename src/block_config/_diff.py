"""What changed between two models (a parent and its compressed child): layer by layer, totals.

>>> from block_config import BlockConfig, ModelArchitecture, diff_models
>>> def model(kv):
...     block = BlockConfig(attention={"num_key_value_heads": kv}, ffn={"intermediate_size": 8})
...     return ModelArchitecture(hidden_size=16, num_attention_heads=4, vocab_size=10,
...                              block_configs=(block,))
>>> diff = diff_models(model(4), model(2))
>>> [(c.path, c.a, c.b) for c in diff.layers[0].changes]
[('attention.num_key_value_heads', 4, 2)]
>>> diff.total("kv_cache_bytes_per_token")
(64, 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeGuard

import attr
import attrs

from block_config._config import BlockConfig
from block_config._model import ModelArchitecture, MTPLayers
from block_config._stats import LayerStats, ModelStats, model_stats

__all__ = ["FieldChange", "LayerDiff", "ModelDiff", "diff_block_configs", "diff_models"]

#: The model-level fields compared by :func:`diff_models`.
MODEL_FIELDS = (
    "hidden_size",
    "num_attention_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "mamba_conv_kernel",
    "torch_dtype",
    "per_layer_input_size",
    "per_layer_input_vocab_size",
    "log_position_scaling",
    "router_fp32",
    "learned_rope_frequencies",
    "hyper_connections",
    "hyper_connections_mean_head",
    "router_scales",
    "moe_branch_norms",
)

#: The :class:`ModelStats` totals compared by :func:`diff_models`.
TOTALS = (
    "total_params",
    "active_params",
    "weight_bytes",
    "kv_cache_bytes_per_token",
    "mamba_state_bytes_per_sequence",
    "mtp_params",
    "linear_attention_state_bytes_per_sequence",
)


@attrs.frozen
class FieldChange:
    """One value that differs: where (``attention.num_key_value_heads``), before and after."""

    path: str
    a: Any
    b: Any


@attrs.frozen(kw_only=True)
class LayerDiff:
    """One layer that differs between ``a`` and ``b``.

    ``only_in`` is ``"a"`` or ``"b"`` for a layer that one side does not have (then
    ``changes`` is empty); ``a_stats`` and ``b_stats`` are the layer's figures on each side
    (None on the side without the layer, or when no model dimensions were given).
    """

    index: int
    only_in: Literal["a", "b"] | None
    changes: tuple[FieldChange, ...]
    a_block: BlockConfig | None
    b_block: BlockConfig | None
    a_stats: LayerStats | None = None
    b_stats: LayerStats | None = None


@attrs.frozen(kw_only=True)
class ModelDiff:
    """Every difference between two models (or two block lists), and both sides' figures."""

    num_hidden_layers: tuple[int, int]
    #: Model-level differences (``hidden_size``, ``torch_dtype``, ...).
    model: tuple[FieldChange, ...]
    layers: tuple[LayerDiff, ...]
    #: Both sides' figures; None for block lists compared without model dimensions.
    a_stats: ModelStats | None = None
    b_stats: ModelStats | None = None

    def total(self, name: str) -> tuple[int, int]:
        """A total of :class:`ModelStats` (e.g. ``"total_params"``) on both sides."""
        if name not in TOTALS:
            raise ValueError(f"name must be one of {TOTALS}, got {name!r}")
        if self.a_stats is None or self.b_stats is None:
            raise ValueError("no totals: the block lists were compared without model dimensions")
        return getattr(self.a_stats, name), getattr(self.b_stats, name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data: both layer counts, the changes, each differing layer's
        figures, and each total with its change (``totals`` is empty without figures)."""
        totals = {}
        if self.a_stats is not None and self.b_stats is not None:
            for name in TOTALS:
                a, b = self.total(name)
                totals[name] = {"a": a, "b": b, "change": b - a}
        return {
            "num_hidden_layers": {"a": self.num_hidden_layers[0], "b": self.num_hidden_layers[1]},
            "model": [_plain(change) for change in self.model],
            "layers": [
                {
                    "index": layer.index,
                    "only_in": layer.only_in,
                    "changes": [_plain(change) for change in layer.changes],
                    "a": None if layer.a_stats is None else layer.a_stats.to_dict(),
                    "b": None if layer.b_stats is None else layer.b_stats.to_dict(),
                }
                for layer in self.layers
            ],
            "totals": totals,
        }


def _plain(change: FieldChange) -> dict[str, Any]:
    return attr.asdict(change, retain_collection_types=False)


def _is_table_list(value: Any) -> TypeGuard[list[Any]]:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _compare(a: Any, b: Any, path: str, out: list[FieldChange]) -> None:
    """Append the changes from ``a`` to ``b`` (plain data) under ``path``.

    Objects present on both sides (and lists of objects) are compared key by key (index by
    index); an object on one side only is one change carrying the whole object, so a missing
    side never shows as a row of ``null -> null`` leaves.
    """
    a_value = None if a is _ABSENT else a
    b_value = None if b is _ABSENT else b
    if a_value == b_value:
        return
    if isinstance(a_value, dict) and isinstance(b_value, dict):
        for key in [*a_value, *(key for key in b_value if key not in a_value)]:
            inner = f"{path}.{key}" if path else key
            _compare(a_value.get(key, _ABSENT), b_value.get(key, _ABSENT), inner, out)
    elif _is_table_list(a_value) and _is_table_list(b_value):
        for index in range(max(len(a_value), len(b_value))):
            _compare(
                a_value[index] if index < len(a_value) else _ABSENT,
                b_value[index] if index < len(b_value) else _ABSENT,
                f"{path}[{index}]",
                out,
            )
    else:
        out.append(FieldChange(path, a_value, b_value))


def _block_changes(a: BlockConfig, b: BlockConfig) -> tuple[FieldChange, ...]:
    out: list[FieldChange] = []
    a_dict = a.to_dict()
    _compare(a_dict, _without_unread_changes(a_dict, b.to_dict()), "", out)
    return tuple(out)


# The field no figure reads once its sub-block is a linear map or nothing, and that the
# legacy dialect does not keep (it reads back as num_attention_heads / hidden_size).
_UNREAD = (("attention", "num_key_value_heads"), ("ffn", "intermediate_size"))


def _without_unread_changes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``b`` with ``a``'s value of each field that neither side reads: no difference."""
    b = dict(b)
    for part, field in _UNREAD:
        old, new = a.get(part), b.get(part)
        if isinstance(old, dict) and isinstance(new, dict) and _unread(old) and _unread(new):
            b[part] = {**new, field: old.get(field)}
    old_parallel, new_parallel = a.get("parallel_blocks"), b.get("parallel_blocks")
    if isinstance(old_parallel, list) and isinstance(new_parallel, list):
        b["parallel_blocks"] = [
            _without_unread_changes(x, y) if isinstance(x, dict) and isinstance(y, dict) else y
            for x, y in zip(old_parallel, new_parallel, strict=False)
        ] + new_parallel[len(old_parallel) :]
    return b


def _unread(part: dict[str, Any]) -> bool:
    return part.get("no_op") is True or part.get("replace_with_linear") is True


_ABSENT = object()


def diff_block_configs(
    a: Sequence[BlockConfig],
    b: Sequence[BlockConfig],
    *,
    a_stats: ModelStats | None = None,
    b_stats: ModelStats | None = None,
) -> ModelDiff:
    """The layers that differ between two block lists, position by position.

    Give each side's :class:`ModelStats` to have every differing layer's figures and the
    totals; without them only the fields are compared.
    """
    layers = []
    for index in range(max(len(a), len(b))):
        old = a[index] if index < len(a) else None
        new = b[index] if index < len(b) else None
        if old == new:
            continue
        changes = () if old is None or new is None else _block_changes(old, new)
        if old is not None and new is not None and not changes:
            continue  # they differ only in fields no figure reads
        layers.append(
            LayerDiff(
                index=index,
                only_in="b" if old is None else "a" if new is None else None,
                changes=changes,
                a_block=old,
                b_block=new,
                a_stats=None if a_stats is None or old is None else a_stats.layers[index],
                b_stats=None if b_stats is None or new is None else b_stats.layers[index],
            )
        )
    return ModelDiff(
        num_hidden_layers=(len(a), len(b)),
        model=(),
        layers=tuple(layers),
        a_stats=a_stats,
        b_stats=b_stats,
    )


def diff_models(
    a: ModelArchitecture,
    b: ModelArchitecture,
    *,
    kv_cache_dtype: str | None = None,
    a_stats: ModelStats | None = None,
    b_stats: ModelStats | None = None,
) -> ModelDiff:
    """Model-level and per-layer differences between ``a`` and ``b``, with both sides' figures.

    The figures are :func:`model_stats` of each side (``kv_cache_dtype`` passed on) unless
    given. Raises :class:`BlockConfigError` when a side has an unknown precision.
    """
    if a_stats is None:
        a_stats = model_stats(a, kv_cache_dtype=kv_cache_dtype)
    if b_stats is None:
        b_stats = model_stats(b, kv_cache_dtype=kv_cache_dtype)
    diff = diff_block_configs(a.block_configs, b.block_configs, a_stats=a_stats, b_stats=b_stats)
    model = tuple(
        FieldChange(name, getattr(a, name), getattr(b, name))
        for name in MODEL_FIELDS
        if getattr(a, name) != getattr(b, name)
    )
    return attrs.evolve(diff, model=model + _mtp_changes(a.mtp, b.mtp))


def _mtp_changes(a: MTPLayers | None, b: MTPLayers | None) -> tuple[FieldChange, ...]:
    """What differs in the MTP layers: each field, or the whole when one side has none."""
    if a == b:
        return ()
    if a is None or b is None:
        return (FieldChange("mtp", _mtp_value(a), _mtp_value(b)),)
    changes = [
        FieldChange(f"mtp.{name}", getattr(a, name), getattr(b, name))
        for name in ("num_layers", "own_embeddings")
        if getattr(a, name) != getattr(b, name)
    ]
    if a.block_configs != b.block_configs:
        before = [block.to_dict() for block in a.block_configs]
        after = [block.to_dict() for block in b.block_configs]
        changes.append(FieldChange("mtp.block_configs", before, after))
    return tuple(changes)


def _mtp_value(mtp: MTPLayers | None) -> dict[str, Any] | None:
    """The MTP layers as plain data (as the native dialect writes them), or None."""
    if mtp is None:
        return None
    return {
        "num_layers": mtp.num_layers,
        "block_configs": [block.to_dict() for block in mtp.block_configs],
        "own_embeddings": mtp.own_embeddings,
    }
