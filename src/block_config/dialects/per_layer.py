"""transformers' ``per_layer_config``: sparse per-layer overrides on a standard architecture.

Written by transformers (>= 5.14) for heterogeneous configs of any family, by Gemma 4, and
by Model-Optimizer's deploy step (``architectures: ["AnyModel"]`` with a
``base_architecture``). The object maps layer indices (``"5"``, ``"05"``, or ints) to the
attributes that layer overrides, with the attribute names of the family's configuration
class, plus a ``skip`` list naming subblocks that layer does without.

Reading follows transformers' rules (``integrations/heterogeneity``): each layer is built
from the global config with its overrides set on it; ``skip`` must be a list of strings and
is a set; indices lie in ``[0, num_hidden_layers)``; one layer cannot have both
``sliding_window`` and ``attention_chunk_size``. On top of them, nothing is ignored: an
override of an attribute the family's reader does not read per layer, or of one that would
change the model as a whole (``hidden_size``, ``vocab_size``), is an error at its path, and
so is a ``skip`` naming a subblock the family does not have.

Writing (:func:`write_per_layer`) gives the family's own ``model_type`` and
``architectures``, every attribute at its most common value globally, the overrides sparse
with keys zero-padded as transformers pads them, and ``skip`` lists; it refuses, at the
layer's path, what the family cannot express.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from block_config._config import AttentionConfig, BlockConfig, FFNConfig
from block_config._errors import (
    BlockConfigError,
    ConversionWarning,
    LayerKey,
    Path,
    Problem,
    describe,
    format_path,
    key_label,
)
from block_config.dialects._registry import register_writer

if TYPE_CHECKING:
    from block_config._model import ModelArchitecture
    from block_config.readers._registry import PerLayer, Reader, ReadOptions

__all__ = ["KEY", "read_per_layer", "write_per_layer"]

#: The ``config.json`` key of the overrides.
KEY = "per_layer_config"
#: The fields a reader gives that a layer may hold as its own (the rest are the model's).
_OWN_FIELDS = ("num_attention_heads", "head_dim")
_SKIP = "skip"


def _index(key: Any) -> int | None:
    """A layer index as transformers reads a key (``int(key)``), for keys of decimal digits
    only: ``" 5"``, ``"+5"`` and ``"5_0"``, which ``int`` also takes, are refused."""
    if type(key) is str and key.isascii() and key.isdigit():
        # Past 18 digits no index can be a layer's (and past 4,300 int() refuses the text).
        return int(key) if len(key.lstrip("0")) <= 18 else _TOO_LARGE
    return None


#: The index of a key too long to be any layer's.
_TOO_LARGE = 10**18


def _shown(name: Any) -> str:
    return name if type(name) is str else describe(name)


def _label(key: Any) -> str:
    if type(key) is str:
        return LayerKey(key) if _index(key) is not None else key
    return key_label(key)


@attrs.frozen
class _Layer:
    """One layer's overrides, as written."""

    index: int
    path: Path
    #: The attributes set, with the family's own key names.
    values: dict[str, Any]
    #: The attribute names as written, by the key names.
    written: dict[str, str]
    skip: tuple[str, ...]


def _read_overrides(
    raw: Any, layers: int, spec: PerLayer, family: str, problems: list[Problem]
) -> list[_Layer]:
    if not isinstance(raw, Mapping):
        problems.append(
            Problem((KEY,), f"expected an object of per-layer overrides, got {describe(raw)}")
        )
        return []
    result = []
    seen: dict[int, Any] = {}
    for key, value in raw.items():
        path: Path = (KEY, _label(key))
        index = _index(key)
        if index is None:
            problems.append(
                Problem(path, "expected a layer index: decimal digits such as '5' or '05'")
            )
            continue
        if not 0 <= index < layers:
            shown = "a layer index" if index == _TOO_LARGE else f"layer {index}"
            problems.append(
                Problem(path, f"{shown} is outside [0, {layers}): num_hidden_layers is {layers}")
            )
            continue
        if index in seen:
            problems.append(Problem(path, f"layer {index} is given twice, also as {seen[index]!r}"))
            continue
        seen[index] = key
        if not isinstance(value, Mapping):
            problems.append(
                Problem(path, f"expected an object of attribute overrides, got {describe(value)}")
            )
            continue
        values: dict[str, Any] = {}
        written: dict[str, str] = {}
        skip: tuple[str, ...] = ()
        for name, item in value.items():
            where: Path = (*path, name if type(name) is str else key_label(name))
            if name == _SKIP:
                skip = _read_skip(item, where, spec, family, problems)
                continue
            own = spec.aliases.get(name, name) if type(name) is str else None
            if own is None or own not in spec.attributes:
                problems.append(
                    Problem(
                        where,
                        f"{family} layers are not read with their own {_shown(name)}: "
                        "block-config reads no per-layer value it does not model "
                        f"({_attributes_of(family, spec)})",
                    )
                )
                continue
            if own in values:
                problems.append(Problem(where, f"sets {own} again (also as {written[own]!r})"))
                continue
            values[own] = item
            written[own] = name
        result.append(_Layer(index, path, values, written, skip))
    return result


def _attributes_of(family: str, spec: PerLayer) -> str:
    if not spec.attributes and spec.refusal is not None:
        return f"{family} layers have no per-layer attributes: {spec.refusal}"
    if not spec.attributes:
        return f"{family} layers have no per-layer attributes yet"
    return f"per-layer attributes of {family}: {', '.join(sorted(spec.attributes))}"


def _read_skip(
    value: Any, path: Path, spec: PerLayer, family: str, problems: list[Problem]
) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.append(Problem(path, f"expected a list of str, got {describe(value)}"))
        return ()
    names = set()
    for position, item in enumerate(value):
        if type(item) is not str:
            problems.append(Problem((*path, position), f"expected str, got {describe(item)}"))
        elif item not in spec.skips:
            problems.append(
                Problem(
                    (*path, position),
                    f"{family} layers have no subblock {item!r} to skip "
                    + (
                        f"(expected one of: {', '.join(spec.skips)})"
                        if spec.skips
                        else "(no subblock of theirs is skipped per layer)"
                    ),
                )
            )
        else:
            names.add(item)
    return tuple(sorted(names))


def _check_windows(
    config: Mapping[str, Any], layers: int, overrides: list[_Layer], problems: list[Problem]
) -> None:
    """transformers' rule: no layer has both a sliding window and an attention chunk."""
    by_index = {layer.index: layer for layer in overrides}
    both = []
    for index in range(layers):
        layer = by_index.get(index)
        values = layer.values if layer is not None else {}
        window = values.get("sliding_window", config.get("sliding_window"))
        chunk = values.get("attention_chunk_size", config.get("attention_chunk_size"))
        if window is not None and chunk is not None:
            both.append(index)
    if both:
        problems.append(
            Problem(
                (KEY,),
                f"layers {both} have both sliding_window and attention_chunk_size, which "
                "exclude each other: set one of them to null for those layers",
            )
        )


def _layer_config(
    config: Mapping[str, Any], layer: _Layer, base: BlockConfig, base_fields: dict[str, Any]
) -> dict[str, Any]:
    """The global config with the layer's overrides set on it, and the values transformers'
    configuration class derives once from the globals (``head_dim``, the KV heads) kept."""
    merged = dict(config)
    del merged[KEY]
    if "head_dim" not in layer.values:
        head_dim = base_fields.get("head_dim")
        if head_dim is None:
            head_dim = base_fields["hidden_size"] // base_fields["num_attention_heads"]
        merged["head_dim"] = head_dim
    attention = base.attention
    if (
        "num_key_value_heads" not in layer.values
        and attention is not None
        and attention.num_key_value_heads is not None
    ):
        merged["num_key_value_heads"] = attention.num_key_value_heads
    merged.update(layer.values)
    return merged


def _own(block: BlockConfig, values: dict[str, Any]) -> BlockConfig:
    attention = block.attention
    if not values or attention is None or attention.no_op or attention.mamba is not None:
        return block
    if attention.linear_attention is not None:
        return block  # its widths are its own, whatever the layer's head_dim
    if attention.mla is not None:
        values = {k: v for k, v in values.items() if k != "head_dim"}
    return attrs.evolve(block, attention=attrs.evolve(attention, **values))


_NO_OP_ATTENTION = AttentionConfig(no_op=True)
_NO_OP_FFN = FFNConfig(no_op=True)


def _skipped(block: BlockConfig, skip: tuple[str, ...]) -> BlockConfig:
    if not skip:
        return block
    attention, ffn = block.attention, block.ffn
    if "attention" in skip or "mixer" in skip:
        attention = _NO_OP_ATTENTION
    if "mlp" in skip or "mixer" in skip:
        ffn = _NO_OP_FFN
    return BlockConfig(attention=attention, ffn=ffn)


def read_per_layer(
    config: Mapping[str, Any], reader: Reader, spec: PerLayer, options: ReadOptions
) -> dict[str, Any]:
    """Read a config with ``per_layer_config`` with its family's ``reader``: the model's
    keyword arguments, each layer built as transformers builds it."""
    family = options.model_type or "this family"
    plain = {key: value for key, value in config.items() if key != KEY}
    fields = reader(plain, options)
    blocks = list(fields["block_configs"])
    layers = len(blocks)
    problems: list[Problem] = []
    overrides = _read_overrides(config[KEY], layers, spec, family, problems)
    if "sliding_window" in spec.attributes or "attention_chunk_size" in spec.attributes:
        _check_windows(config, layers, overrides, problems)
    if problems:
        raise BlockConfigError(problems)
    read: dict[bytes, dict[str, Any]] = {}
    for layer in overrides:
        block = blocks[layer.index]
        if layer.values:
            merged = _layer_config(config, layer, block, fields)
            key = orjson.dumps(merged, option=orjson.OPT_SORT_KEYS)
            layer_fields = read.get(key)
            if layer_fields is None:
                try:
                    layer_fields = read[key] = reader(merged, options)
                except BlockConfigError as error:
                    problems.extend(_located(error, layer))
                    continue
            own, wrong = _model_wide(fields, layer_fields)
            for name in wrong:
                problems.append(
                    Problem(
                        layer.path,
                        f"its overrides ({', '.join(layer.written.values())}) change the "
                        f"model-wide {name} ({fields[name]!r} -> {layer_fields[name]!r}): a "
                        "model has one",
                    )
                )
            block = _own(layer_fields["block_configs"][layer.index], own)
        blocks[layer.index] = _skipped(block, layer.skip)
    if problems:
        raise BlockConfigError(problems)
    return {**fields, "block_configs": tuple(blocks), "dialect": "per-layer"}


def _located(error: BlockConfigError, layer: _Layer) -> list[Problem]:
    """A layer's read problems at the override that caused them, else at the layer."""
    located = []
    for problem in error.problems:
        head = problem.path[0] if problem.path else None
        if head in layer.written:
            located.append(
                Problem((*layer.path, layer.written[head], *problem.path[1:]), problem.message)
            )
        else:
            located.append(
                Problem(
                    layer.path,
                    f"with its overrides, {format_path(problem.path)}: {problem.message}",
                )
            )
    return located


def _model_wide(
    fields: dict[str, Any], layer_fields: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """What a layer's own read changes of the model's fields: the values the layer may hold
    as its own, and the names of those it may not."""
    own = {}
    wrong = []
    for name, value in layer_fields.items():
        # The MTP layers are built from the global config (transformers' per_layer_config
        # reaches the decoder layers only; MTP layers have mtp_per_layer_config).
        if name in ("block_configs", "dialect", "mtp") or value == fields.get(name):
            continue
        if name in _OWN_FIELDS:
            own[name] = value
        else:
            wrong.append(name)
    return own, wrong


# ----------------------------------------------------------------------------- writing

#: The family a model of another dialect is written as: its base architecture.
BASE_FAMILY = {
    "nemotron-nas": "llama",
    "gpt_oss_puzzle": "gpt_oss",
    "nemotron_h_puzzle": "nemotron_h",
}


def _family_of(model: ModelArchitecture) -> str:
    from block_config.readers._registry import per_layer_of

    model_type = model.model_type
    if model.dialect == "legacy" and model_type is None:
        model_type = "nemotron-nas"
    family = BASE_FAMILY.get(model_type or "", model_type)
    if family is None or per_layer_of(family) is None or family.endswith("_text"):
        raise BlockConfigError.at(
            ("model_type",),
            f"cannot write {describe(model.model_type)} per layer: per_layer_config is written "
            f"for the families whose readers read it ({', '.join(_writable_families())})",
        )
    return family


def _writable_families() -> list[str]:
    from block_config.readers._registry import _PER_LAYER

    return sorted(name for name in _PER_LAYER if not name.endswith("_text"))


def _layer_values(
    block: BlockConfig, model: ModelArchitecture, spec: PerLayer, path: Path
) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """A layer's attributes in the family's names, its ``skip`` list, and what the family
    cannot say of it (each at its path)."""
    values: dict[str, Any] = {}
    skip: list[str] = []
    problems: list[Problem] = []
    names = spec.attributes

    def cannot(where: Path, what: str) -> None:
        problems.append(Problem((*path, *where), f"the per-layer form cannot express {what}"))

    if block.parallel_blocks:
        cannot(("parallel_blocks",), "parallel blocks")
    attention, ffn = block.attention, block.ffn
    attention_off = attention is None or attention.no_op
    ffn_off = ffn is None or ffn.no_op
    if "mixer" in spec.skips:
        if attention_off and ffn_off:
            skip.append("mixer")
    else:
        if attention_off:
            skip.append("attention")
        if ffn_off:
            skip.append("mlp")
    if attention is not None and not attention.no_op:
        if attention.replace_with_linear:
            cannot(("attention", "replace_with_linear"), "a linear replacement of attention")
        elif attention.mamba is not None:
            mamba = attention.mamba
            values.update(
                ssm_state_size=mamba.state_dim,
                mamba_num_heads=mamba.num_heads,
                mamba_head_dim=mamba.head_dim,
                n_groups=mamba.num_groups,
            )
        elif attention.linear_attention is not None:
            linear = attention.linear_attention
            for field in ("num_key_heads", "key_head_dim", "num_value_heads", "value_head_dim"):
                name = spec.linear_names.get(field)
                if name is not None:
                    values[name] = getattr(linear, field)
            if "conv_kernel" in spec.linear_names:
                values[spec.linear_names["conv_kernel"]] = linear.conv_kernel
        elif attention.mla is not None:
            mla = attention.mla
            values.update(
                num_attention_heads=attention.num_attention_heads or model.num_attention_heads,
                q_lora_rank=mla.q_lora_rank,
                kv_lora_rank=mla.kv_lora_rank,
                qk_nope_head_dim=mla.qk_nope_head_dim,
                qk_rope_head_dim=mla.qk_rope_head_dim,
                v_head_dim=mla.v_head_dim,
            )
        else:
            values.update(
                num_attention_heads=attention.num_attention_heads or model.num_attention_heads,
                num_key_value_heads=attention.num_key_value_heads,
                head_dim=attention.head_dim or model.head_dim,
            )
            if "sliding_window" in names:
                values["sliding_window"] = attention.sliding_window
            elif attention.sliding_window is not None:
                cannot(("attention", "sliding_window"), "a sliding window in this family")
            if attention.llama4 is not None and "attention_chunk_size" in names:
                values["attention_chunk_size"] = attention.llama4.attention_chunk_size
    if ffn is not None and not ffn.no_op:
        if ffn.replace_with_linear:
            cannot(("ffn", "replace_with_linear"), "a linear replacement of the FFN")
        elif ffn.moe is not None:
            moe = ffn.moe
            for field, value in (
                ("experts", moe.num_local_experts),
                ("per_token", moe.num_experts_per_tok),
                ("expert_size", moe.expert_intermediate_dim),
                ("shared_size", moe.shared_expert_intermediate_dim),
                ("latent", moe.latent_dim),
            ):
                name = spec.moe_names.get(field)
                if name is not None:
                    values[name] = value
        elif "intermediate_size" in names:
            values["intermediate_size"] = ffn.intermediate_size
    return {k: v for k, v in values.items() if k in names}, skip, problems


def _most_common(per_layer: list[dict[str, Any]]) -> dict[str, Any]:
    """Each attribute's most common value over the layers that have it (the first seen of
    the most common ones on a tie)."""
    counts: dict[str, Counter[str]] = {}
    first: dict[str, dict[str, Any]] = {}
    for values in per_layer:
        for name, value in values.items():
            key = orjson.dumps(value).decode()
            counts.setdefault(name, Counter())[key] += 1
            first.setdefault(name, {}).setdefault(key, value)
    return {name: first[name][counter.most_common(1)[0][0]] for name, counter in counts.items()}


@register_writer("per-layer")
def write_per_layer(model: ModelArchitecture) -> dict[str, Any]:
    """The model as its base family's config with ``per_layer_config`` overrides.

    Raises :class:`BlockConfigError` at each layer's path for what the family cannot say;
    every written form reads back to an equal model, or nothing is returned.
    """
    from block_config._json import copy_json
    from block_config.readers._registry import architecture_of, per_layer_of

    family = _family_of(model)
    spec = per_layer_of(family)
    assert spec is not None  # _family_of checked it
    if model.source.get("text_config") is not None:
        raise BlockConfigError.at(
            ("text_config",), "a multimodal wrapper is not written per layer (write its text part)"
        )
    problems: list[Problem] = []
    per_layer: list[dict[str, Any]] = []
    skips: list[list[str]] = []
    for index, block in enumerate(model.block_configs):
        values, skip, cannot = _layer_values(block, model, spec, ("block_configs", index))
        problems.extend(cannot)
        per_layer.append(values)
        skips.append(skip)
    if problems:
        raise BlockConfigError(problems)
    out = copy_json(model.source)
    out.pop("block_configs", None)
    out.pop(KEY, None)
    model._write_scalars(out, None)
    for flag, key in spec.flag_keys.items():
        # The family reads this fact under its own key, the only one its classes know.
        out[key] = getattr(model, flag)
        if flag not in model.source:
            out.pop(flag, None)
    out["model_type"] = family
    architecture = architecture_of(family)
    if architecture is not None:
        out["architectures"] = [architecture]
    out.pop("base_architecture", None)
    for name, value in spec.globals_from_blocks(model.block_configs).items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    globals_ = _most_common(per_layer)
    out.update(globals_)
    overrides: dict[int, dict[str, Any]] = {}
    for index, (values, skip) in enumerate(zip(per_layer, skips, strict=True)):
        own = {name: value for name, value in values.items() if globals_.get(name) != value}
        if skip:
            own["skip"] = skip
        if own:
            overrides[index] = own
    width = len(str(max(overrides))) if overrides else 1
    out[KEY] = {str(index).zfill(width): own for index, own in sorted(overrides.items())}
    _warn_of_auto_map(out, family)
    _check_reads_back(model, out, family)
    return out


def _warn_of_auto_map(out: dict[str, Any], family: str) -> None:
    auto_map = out.get("auto_map")
    if auto_map:
        warnings.warn(
            ConversionWarning(
                f"auto_map {auto_map!r} is kept, but the code it names may not read "
                f"per_layer_config; transformers' own {family} classes do"
            ),
            stacklevel=3,
        )


def _check_reads_back(model: ModelArchitecture, out: dict[str, Any], family: str) -> None:
    """Read ``out`` back; every layer and model field that differs is refused at its path."""
    from block_config.dialects._flat import read_back_differences

    problems = read_back_differences(model, out, f"{family} family")
    if problems:
        raise BlockConfigError(problems)
