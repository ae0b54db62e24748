"""Code written for the original dataclass implementation keeps working with these classes.

The original module (``modelopt/torch/puzzletron/block_config.py`` in NVIDIA Model-Optimizer)
made every config a stdlib dataclass, and its pipeline relies on that. Each helper below
reproduces one pattern of that pipeline, in a few lines written for this suite and without its
heavy dependencies (torch, transformers, pandas, typeguard, omegaconf); its docstring names the
file and function it mirrors. The tests then run our classes through them.

The last part re-implements the original reader (stdlib dataclasses with the original's
``__post_init__`` rules) and checks that everything we write from seed-expressible configs
reads back through it to the same data.
"""

# ruff: noqa: UP007, UP045  # the original reader's annotations are spelt Optional[...]

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import pickle
import types
import typing
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional, Union

import attrs
import attrs.exceptions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import block_config
from block_config import (
    SUBBLOCK_CLS_DICT,
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    BlockConfigError,
    ConversionWarning,
    FFNConfig,
    FrozenInstanceError,
    LegacyAttentionConfig,
    LegacyBlockConfig,
    LegacyFFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    ModelArchitecture,
    MoEConfig,
    SubblockConfig,
    UnknownKeyWarning,
    _get_dataclass_type,
    _is_dataclass_type,
    dumps,
    maybe_cast_block_configs,
    unstructure_block_configs,
)
from block_config.strategies import llama4_attention_configs, mamba_configs, sizes

DATA = Path(__file__).parent / "data"
# Models to save as native config.json files: published Puzzle configs (legacy dialect) and
# homogeneous Hugging Face configs, dense, MoE and Mamba hybrids.
SHARED = Path(__file__).parents[1] / ".." / "shared" / "data"
SAVED_MODELS = [
    SHARED / "Llama-3_3-Nemotron-Super-49B-v1.config.json",
    SHARED / "Llama-3_1-Nemotron-Ultra-253B-v1.config.json",
    *sorted((DATA / "hf").glob("*.config.json")),
]

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MAMBA = MambaConfig(state_dim=128, num_heads=64, head_dim=64, num_groups=8)
GQA = BlockConfig(
    attention=AttentionConfig(num_key_value_heads=8), ffn=FFNConfig(intermediate_size=28672)
)
SKIP = BlockConfig(attention=AttentionConfig(no_op=True), ffn=FFNConfig(intermediate_size=5632))
MOE = BlockConfig(
    attention=AttentionConfig(num_key_value_heads=8, sparsify=["q_proj"]),
    ffn=FFNConfig(moe=MoEConfig(num_local_experts=16, num_experts_per_tok=2)),
)
HYBRID = BlockConfig(attention=AttentionConfig(mamba=MAMBA), ffn=FFNConfig(no_op=True))
PARALLEL = BlockConfig(parallel_blocks=[GQA, SKIP])
LLAMA4 = BlockConfig(
    attention=AttentionConfig(
        num_key_value_heads=8, llama4=Llama4AttentionConfig(attention_chunk_size=8192)
    ),
    ffn=FFNConfig(intermediate_size=16384),
)
EXAMPLES = [GQA, SKIP, MOE, HYBRID, PARALLEL, LLAMA4]

# Every class the library defines: the protocol must hold for each, fields added later included.
LIBRARY_CLASSES: list[type[BaseDataclass]] = [
    SubblockConfig,
    *block_config._config._CLASSES.values(),
    LegacyAttentionConfig,
    LegacyFFNConfig,
    LegacyBlockConfig,
]

# What the seed documents for each class: field names in order, with their defaults.
SEED_FIELDS: dict[type[BaseDataclass], list[tuple[str, Any]]] = {
    SubblockConfig: [
        ("no_op", False),
        ("replace_with_linear", False),
        ("sparsify", None),
        ("weights_precision", "bf16"),
    ],
    MoEConfig: [
        ("num_local_experts", 8),
        ("num_experts_per_tok", 1),
        ("expert_intermediate_dim", 8192),
        ("shared_expert_intermediate_dim", 8192),
    ],
    MambaConfig: [
        ("state_dim", dataclasses.MISSING),
        ("num_heads", dataclasses.MISSING),
        ("head_dim", dataclasses.MISSING),
        ("num_groups", dataclasses.MISSING),
    ],
    Llama4AttentionConfig: [
        (name, None)
        for name in (
            "attention_chunk_size",
            "use_rope",
            "use_qk_norm",
            "attn_scale",
            "floor_scale",
            "attn_temperature_tuning",
            "attention_dropout",
        )
    ],
    BlockConfig: [("attention", None), ("ffn", None), ("parallel_blocks", None)],
}
SEED_FIELDS[AttentionConfig] = [
    *SEED_FIELDS[SubblockConfig],
    ("num_key_value_heads", None),
    ("llama4", None),
    ("mamba", None),
]
SEED_FIELDS[FFNConfig] = [*SEED_FIELDS[SubblockConfig], ("moe", None), ("intermediate_size", None)]

# Optional fields added after the seed (none, or e.g. sliding_window): to_dict() and dumps()
# leave them out while unset, and so do fields(obj) and asdict(); the original cannot read them.
NEWER_FIELDS = {
    a.name
    for cls, seed in SEED_FIELDS.items()
    for a in attrs.fields(typing.cast(Any, cls))
    if a.name not in {name for name, _ in seed}
}


# --------------------------------------------------------------------------- seed-only configs
# The shipped strategies also generate the newer fields, which the original cannot express.

_SPARSIFY = st.none() | st.lists(st.text(max_size=12), max_size=3)
_PRECISION = st.sampled_from(["bf16", "fp8", "int4", None])


def seed_attention_configs() -> st.SearchStrategy[AttentionConfig]:
    common = {"sparsify": _SPARSIFY, "weights_precision": _PRECISION}
    return st.one_of(
        st.builds(AttentionConfig, num_key_value_heads=sizes(), **common),
        st.builds(
            AttentionConfig,
            num_key_value_heads=sizes(),
            llama4=llama4_attention_configs(),
            **common,
        ),
        st.builds(
            AttentionConfig,
            replace_with_linear=st.just(True),
            num_key_value_heads=sizes(),
            **common,
        ),
        st.builds(AttentionConfig, mamba=mamba_configs(), **common),
        st.builds(AttentionConfig, no_op=st.just(True), **common),
    )


def seed_moe_configs() -> st.SearchStrategy[MoEConfig]:
    return st.integers(1, 64).flatmap(
        lambda per_token: st.builds(
            MoEConfig,
            num_local_experts=st.integers(per_token, 512),
            num_experts_per_tok=st.just(per_token),
            expert_intermediate_dim=sizes(),
            shared_expert_intermediate_dim=st.just(0) | sizes(),
        )
    )


def seed_ffn_configs() -> st.SearchStrategy[FFNConfig]:
    common = {"sparsify": _SPARSIFY, "weights_precision": _PRECISION}
    return st.one_of(
        st.builds(FFNConfig, intermediate_size=sizes(), **common),
        st.builds(
            FFNConfig, replace_with_linear=st.just(True), intermediate_size=sizes(), **common
        ),
        st.builds(FFNConfig, moe=seed_moe_configs(), **common),
        st.builds(FFNConfig, no_op=st.just(True), **common),
    )


def seed_block_configs(depth: int = 2) -> st.SearchStrategy[BlockConfig]:
    """Blocks the seed can express, with ``parallel_blocks`` nested up to ``depth``."""
    attention = st.none() | seed_attention_configs()
    ffn = st.none() | seed_ffn_configs()
    leaf = st.builds(BlockConfig, attention=attention, ffn=ffn)
    if depth <= 0:
        return leaf
    inner = st.lists(seed_block_configs(depth - 1), min_size=1, max_size=3)
    return leaf | st.builds(BlockConfig, attention=attention, ffn=ffn, parallel_blocks=inner)


def assert_asdict_holds(asdict_data: Any, to_dict_data: Any) -> None:
    """``asdict()`` data (as JSON reads it back) holds what ``to_dict()`` holds, key for key:
    the newer optional fields ``to_dict()`` leaves out while unset are left out of both."""
    if isinstance(to_dict_data, dict):
        assert isinstance(asdict_data, dict)
        assert set(asdict_data) == set(to_dict_data)
        for key, value in asdict_data.items():
            assert_asdict_holds(value, to_dict_data[key])
    elif isinstance(to_dict_data, list):
        assert isinstance(asdict_data, list)
        assert len(asdict_data) == len(to_dict_data)
        for item, expected in zip(asdict_data, to_dict_data, strict=True):
            assert_asdict_holds(item, expected)
    else:
        assert asdict_data == to_dict_data


def newer_fields_set(data: Any) -> set[str]:
    """The newer fields a written block sets (not null): what the original cannot read."""
    if isinstance(data, dict):
        found = {k for k, v in data.items() if k in NEWER_FIELDS and v is not None}
        return found.union(*(newer_fields_set(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(newer_fields_set(v) for v in data))
    return set()


# --------------------------------------------------------------------------- the consumers


class _Precision(enum.Enum):
    BF16 = "bf16"


def robust_json_dumps(obj: Any) -> str:
    """Mirrors ``modelopt/torch/utils/robust_json.py``: ``RobustJSONEncoder`` + ``json_dumps``.

    ``default`` turns dataclasses into ``dataclasses.asdict`` dicts, paths and enums into
    text, and, as its last resort, any other object into its class path: an object that is not
    a dataclass is silently written as ``"module.ClassName"``.
    """

    class Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if dataclasses.is_dataclass(o) and not isinstance(o, type):
                return dataclasses.asdict(o)
            if isinstance(o, Path):
                return str(o)
            if isinstance(o, enum.Enum):
                return o.name
            if isinstance(o, type):
                return f"{o.__module__}.{o.__qualname__}"
            return f"{type(o).__module__}.{type(o).__qualname__}"

    return json.dumps(obj, cls=Encoder, indent=2)


class FakePretrainedConfig:
    """The part of transformers' ``PretrainedConfig`` the pipeline touches: attributes, and
    ``to_json_string`` (``json.dumps(self.__dict__, indent=2, sort_keys=True) + "\\n"``)."""

    block_configs: list[Any]

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def to_json_string(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n"


def save_model_config(model_config: FakePretrainedConfig) -> str:
    """Mirrors ``puzzletron/tools/checkpoint_utils_hf.py``: ``save_model_config``.

    Block configs that ``dataclasses.is_dataclass`` accepts become ``dataclasses.asdict`` dicts;
    anything else is left as it is, and ``save_pretrained`` then fails on it ("not JSON
    serializable").
    """
    model_config.block_configs = [
        dataclasses.asdict(conf) if dataclasses.is_dataclass(conf) else conf  # type: ignore[arg-type]
        for conf in model_config.block_configs
    ]
    return model_config.to_json_string()


def check_type(value: Any, tp: Any) -> None:
    """What ``typeguard.check_type`` checks for the field types the classes have."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        errors = []
        for member in typing.get_args(tp):
            try:
                check_type(value, member)
            except TypeError as error:
                errors.append(error)
            else:
                return
        raise TypeError(f"{value!r} is none of {tp}: {errors}")
    if tp is type(None):
        if value is not None:
            raise TypeError(f"{value!r} is not None")
        return
    if origin is tuple:
        item_type, _ellipsis = typing.get_args(tp)
        if not isinstance(value, tuple):
            raise TypeError(f"{value!r} is not a tuple")
        for item in value:
            check_type(item, item_type)
        return
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise TypeError(f"{value!r} is not a list")
        for item in value:
            check_type(item, item_type)
        return
    if not isinstance(value, tp):
        raise TypeError(f"{value!r} is not a {tp}")


def parse_model_config_overrides(
    overrides: dict[str, list[Any]] | list[dict[str, Any]], n_layer: int
) -> list[dict[str, Any]]:
    """Mirrors ``child_init._parse_model_config_overrides``: per-subblock lists (one item, or
    one per layer) become one override dict per layer, keyed by ``SUBBLOCK_CLS_DICT``."""
    if isinstance(overrides, list):
        return overrides
    per_layer: list[dict[str, Any]] = [{} for _ in range(n_layer)]
    for key, values in overrides.items():
        if key not in SUBBLOCK_CLS_DICT:
            raise KeyError(f"Unknown config key: {key}")
        if len(values) == 1:
            values = values * n_layer
        for index in range(n_layer):
            per_layer[index][key] = values[index]
    return per_layer


def update_model_config(
    block_configs: list[Any], overrides: dict[str, list[Any]] | list[dict[str, Any]]
) -> list[Any]:
    """Mirrors ``puzzletron/tools/bypassed_training/child_init.py``: ``update_model_config``.

    A deep copy, then overrides merged recursively: ``None`` leaves a value unchanged, a
    dataclass (``dataclasses.is_dataclass``) is merged field by field and rebuilt with
    ``dataclasses.replace``, a ``None`` field whose type holds a dataclass
    (``_is_dataclass_type``) is built from the override dict (``_get_dataclass_type``), and
    every new value is checked against its ``dataclasses.fields`` type. Anything that is not a
    dataclass is replaced by its override as a whole.
    """
    new_configs = copy.deepcopy(block_configs)
    layer_overrides = parse_model_config_overrides(overrides, len(new_configs))

    def override(item: Any, item_overrides: Any) -> Any:
        if item_overrides is None:
            return item
        if dataclasses.is_dataclass(item):
            if not isinstance(item_overrides, dict):
                raise TypeError("a dataclass is overridden with a dict")
            return dataclass_override(item, item_overrides)
        if isinstance(item, list):
            return list_override(item, item_overrides)
        return item_overrides

    def list_override(items: list[Any], items_overrides: list[Any]) -> list[Any]:
        if len(items) != len(items_overrides):
            raise ValueError("one override per item")
        return [override(i, o) for i, o in zip(items, items_overrides, strict=True)]

    def dataclass_override(dc: Any, dc_overrides: dict[str, Any]) -> Any:
        unknown = set(dc_overrides) - dataclasses.asdict(dc).keys()
        if unknown:
            raise ValueError(f"Uknown overrides for dataclass {type(dc)}: {', '.join(unknown)}")
        field_types = {field.name: field.type for field in dataclasses.fields(dc)}
        changes = {}
        for key, item_overrides in dc_overrides.items():
            previous, item_type = getattr(dc, key), field_types[key]
            if getattr(dc, "no_op", False):
                return dc
            if previous is None and _is_dataclass_type(item_type):
                new_value = _get_dataclass_type(item_type)(**item_overrides)
            else:
                new_value = override(previous, item_overrides)
            check_type(new_value, item_type)
            changes[key] = new_value
        return dataclasses.replace(dc, **changes)

    return list_override(new_configs, layer_overrides)


def subblock_config_to_str(subblock_config: Any, subblock_name: str | None = None) -> str | None:
    """Mirrors ``puzzletron/utils/misc.py``: ``subblock_config_to_str``."""
    if subblock_config is None:
        return None
    if isinstance(subblock_config, FFNConfig):
        subblock_name = "ffn"
    elif isinstance(subblock_config, AttentionConfig):
        subblock_name = "mamba" if subblock_config.is_mamba else "attention"
    if subblock_name is None:
        raise ValueError("Must provide subblock_name if subblock_config is a dict.")
    if dataclasses.is_dataclass(subblock_config):
        subblock_config = dataclasses.asdict(subblock_config)  # type: ignore[arg-type]
    if subblock_name == "attention" and subblock_config.get("mamba") is not None:
        subblock_name = "mamba"
    if subblock_name == "ffn" and subblock_config.get("moe") is not None:
        subblock_name = "moe"
    rep = f"  {subblock_name}"
    if subblock_config.get("no_op"):
        rep += "  no_op".ljust(8)
    elif subblock_config.get("replace_with_linear"):
        rep += "  linear".ljust(8)
    elif subblock_name == "ffn":
        rep += f"  intermediate_{subblock_config['intermediate_size']}".ljust(8)
    elif subblock_name == "attention":
        rep += f"  kv_heads_{subblock_config['num_key_value_heads']}".ljust(8)
    elif subblock_name == "mamba":
        mamba = subblock_config["mamba"]
        rep += f"  num_heads_{mamba['num_heads']}  head_dim_{mamba['head_dim']}".ljust(8)
    else:
        moe = subblock_config["moe"]
        rep += (
            f"  num_experts_{moe['num_local_experts']}"
            f"  expert_intermediate_dim_{moe['expert_intermediate_dim']}"
            f"  shared_expert_intermediate_dim_{moe['shared_expert_intermediate_dim']}"
            f"  num_experts_per_tok_{moe['num_experts_per_tok']}"
        ).ljust(8)
    return rep


def block_config_to_str(block: Any) -> str | None:
    """Mirrors ``puzzletron/utils/misc.py``: ``block_config_to_str`` (a dataclass is read
    through ``dataclasses.asdict``, then indexed like the dict it gives)."""
    if block is None:
        return None
    if dataclasses.is_dataclass(block):
        block = dataclasses.asdict(block)  # type: ignore[arg-type]
    return "".join(subblock_config_to_str(block[name], name) or "" for name in ("attention", "ffn"))


def solution_to_str(blocks: list[Any]) -> str:
    """Mirrors ``puzzletron/utils/misc.py``: ``solution_to_str`` (deep-copies first)."""
    blocks = copy.deepcopy(blocks)
    lines = [f"block_{i}:".ljust(9) + (block_config_to_str(b) or "") for i, b in enumerate(blocks)]
    return "\n".join(lines) + "\n"


def subblock_stats_table(entries: Iterable[dict[str, Any]]) -> dict[tuple[Any, Any], Any]:
    """Mirrors ``puzzletron/mip/run_puzzle.py``: ``filter_subblock_stats_by_args``.

    Subblock stats read back from JSON become a dict keyed by ``(config, parent_layer_index)``,
    the config rebuilt with ``cls(**subblock_config)`` from its class name.
    """
    classes = {cls.__name__: cls for cls in (AttentionConfig, FFNConfig)}
    table = {}
    for entry in copy.deepcopy(list(entries)):
        config = classes[entry.pop("subblock_config_class")](**entry.pop("subblock_config"))
        table[(config, entry.get("parent_layer_index"))] = entry
    return table


def get_block_stats(
    table: dict[tuple[Any, Any], Any], block: Any, parent_layer_index: int | None = None
) -> dict[str, Any]:
    """Mirrors ``puzzletron/mip/run_puzzle.py``: ``_get_block_stats`` (``== "non_block"`` test,
    lookups by subblock, and ``parallel_blocks[0]`` for a parallel block)."""
    if block == "non_block":
        return {"non_block": True}
    if block.parallel_blocks is None:
        attention = table[(block.attention, parent_layer_index)]
        ffn = table[(block.ffn, parent_layer_index)]
        return {
            "num_params": attention["num_params"] + ffn["num_params"],
            "has_attention": int(not block.attention.no_op and block.attention.mamba is None),
            "num_kv_heads": block.attention.num_key_value_heads or 0,
        }
    inner = [get_block_stats(table, b, parent_layer_index) for b in block.parallel_blocks]
    return {key: sum(stats[key] for stats in inner) for key in inner[0]}


def drop_duplicates(values: list[Any]) -> list[Any]:
    """What pandas' ``Series.drop_duplicates`` does with objects (``calc_subblock_stats``'s
    ``_load_subblock_configs_from_subblock_library``): a hash table of the values, equal when
    ``a is b or a == b``, first occurrence kept."""
    buckets: dict[int, list[Any]] = {}
    kept = []
    for value in values:
        bucket = buckets.setdefault(hash(value), [])
        if not any(value is seen or value == seen for seen in bucket):
            bucket.append(value)
            kept.append(value)
    return kept


def series_eq(values: list[Any], scalar: Any) -> list[bool]:
    """What pandas' ``==`` of an object Series and a scalar does: ``bool(x == scalar)`` each."""
    return [bool(value == scalar) for value in values]


# --------------------------------------------------------------------------- the protocol


@pytest.mark.parametrize("cls", LIBRARY_CLASSES, ids=lambda cls: cls.__name__)
class TestDataclassProtocol:
    def test_class_is_a_dataclass_with_the_attrs_fields(self, cls: type[BaseDataclass]) -> None:
        assert dataclasses.is_dataclass(cls)
        fields = dataclasses.fields(cls)
        attributes = attrs.fields(typing.cast(Any, cls))
        assert [f.name for f in fields] == [a.name for a in attributes]
        for field, attribute in zip(fields, attributes, strict=True):
            assert isinstance(field, dataclasses.Field)
            assert not isinstance(field.type, str)
            assert field.type == attribute.type
            expected = (
                dataclasses.MISSING if attribute.default is attrs.NOTHING else attribute.default
            )
            assert field.default == expected
            assert field.kw_only is True

    def test_protocol_lives_on_the_class_not_the_instances(self, cls: type[BaseDataclass]) -> None:
        assert "__dataclass_fields__" in cls.__dict__
        assert "__dataclass_params__" in cls.__dict__
        params = cls.__dict__["__dataclass_params__"]
        assert params.frozen is True
        assert params.eq is True
        assert params.order is False
        assert "__dict__" not in dir(cls)  # still slotted: nothing per instance


@pytest.mark.parametrize("cls", list(SEED_FIELDS), ids=lambda cls: cls.__name__)
def test_fields_start_with_the_seed_fields_and_defaults(cls: type[BaseDataclass]) -> None:
    seed = SEED_FIELDS[cls]
    fields = dataclasses.fields(cls)[: len(seed)]
    assert [(f.name, f.default) for f in fields] == seed


def test_optional_field_types_are_spelt_as_the_original_spelt_them() -> None:
    types_by_name = {f.name: f.type for f in dataclasses.fields(AttentionConfig)}
    assert types_by_name["num_key_value_heads"] == Optional[int]
    assert typing.get_origin(types_by_name["num_key_value_heads"]) is Union
    assert types_by_name["llama4"] == Optional[Llama4AttentionConfig]
    assert types_by_name["no_op"] is bool


def test_base_class_is_a_dataclass_without_fields() -> None:
    assert dataclasses.is_dataclass(BaseDataclass)
    assert dataclasses.fields(BaseDataclass) == ()


@pytest.mark.parametrize("block", EXAMPLES)
def test_instances_are_dataclasses(block: BlockConfig) -> None:
    assert dataclasses.is_dataclass(block)
    assert block.attention is None or dataclasses.is_dataclass(block.attention)
    assert not hasattr(block, "__dict__")


def test_a_subclass_gets_the_protocol_with_its_own_fields() -> None:
    @attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
    class TaggedFFN(FFNConfig):
        tag: str | None = None

    assert [f.name for f in dataclasses.fields(TaggedFFN)][-1] == "tag"
    tagged = TaggedFFN(intermediate_size=4, tag="x")
    assert dataclasses.asdict(tagged)["tag"] == "x"
    assert dataclasses.replace(tagged, tag="y").tag == "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        tagged.tag = "z"  # type: ignore[misc]


class TestAsdictAndAstuple:
    @pytest.mark.parametrize("block", EXAMPLES)
    def test_asdict_holds_the_data_of_to_dict(self, block: BlockConfig) -> None:
        as_json = json.loads(json.dumps(dataclasses.asdict(block)))
        assert_asdict_holds(as_json, block.to_dict())
        if not NEWER_FIELDS:
            assert json.dumps(dataclasses.asdict(block)) == json.dumps(block.to_dict())

    def test_asdict_keeps_tuples_which_json_writes_as_arrays(self) -> None:
        data = dataclasses.asdict(MOE)
        assert data["attention"]["sparsify"] == ("q_proj",)
        assert json.loads(json.dumps(data))["attention"]["sparsify"] == ["q_proj"]
        assert dataclasses.asdict(PARALLEL)["parallel_blocks"] == (
            dataclasses.asdict(GQA),
            dataclasses.asdict(SKIP),
        )

    @pytest.mark.parametrize("block", EXAMPLES)
    def test_astuple_is_json_serialisable(self, block: BlockConfig) -> None:
        values = dataclasses.astuple(block)
        assert len(values) == len(dataclasses.fields(BlockConfig))
        json.dumps(values)


class TestReplaceAndEvolve:
    def test_replace_gives_a_checked_normalised_copy(self) -> None:
        ffn = FFNConfig(intermediate_size=4, sparsify=["x"])
        assert dataclasses.replace(ffn, intermediate_size=8) == FFNConfig(
            intermediate_size=8, sparsify=("x",)
        )
        assert dataclasses.replace(ffn, no_op=True) == FFNConfig(no_op=True)
        assert dataclasses.replace(GQA, ffn={"intermediate_size": 8}).ffn == FFNConfig(
            intermediate_size=8
        )

    @pytest.mark.parametrize("evolve", [dataclasses.replace, attrs.evolve])
    def test_invalid_changes_raise_located_errors(self, evolve: Callable[..., Any]) -> None:
        assert GQA.attention is not None
        with pytest.raises(BlockConfigError, match=r"\$\.num_key_value_heads: expected int"):
            evolve(GQA.attention, num_key_value_heads="8")
        with pytest.raises(BlockConfigError, match=r"\$\.ffn\.intermediate_size: expected int"):
            evolve(GQA, ffn={"intermediate_size": 3.7})
        with pytest.raises(BlockConfigError, match="num_experts_per_tok: must not exceed"):
            evolve(MoEConfig(), num_experts_per_tok=9)
        with pytest.raises(BlockConfigError, match="intermediate_size: required"):
            evolve(FFNConfig(no_op=True), no_op=False)

    def test_unknown_fields_are_type_errors_as_in_the_original(self) -> None:
        with pytest.raises(TypeError):
            dataclasses.replace(GQA, bogus=1)

    def test_replace_keeps_the_hash_and_repr_right(self) -> None:
        changed = dataclasses.replace(SKIP, attention=GQA.attention, ffn=GQA.ffn)
        assert hash(changed) == hash(GQA)
        assert repr(changed) == repr(GQA)


class TestFrozen:
    @pytest.mark.parametrize(
        "caught", [dataclasses.FrozenInstanceError, attrs.exceptions.FrozenInstanceError]
    )
    def test_assignment_is_caught_as_either_libraries_error(self, caught: type[Exception]) -> None:
        block = BlockConfig(ffn=FFNConfig(intermediate_size=4))
        with pytest.raises(caught, match="cannot assign to field 'ffn'"):
            block.ffn = None  # type: ignore[misc]
        assert block.ffn is not None
        with pytest.raises(caught, match="cannot delete field 'ffn'"):
            del block.ffn
        with pytest.raises(AttributeError):
            block.bogus = 1  # type: ignore[attr-defined]

    def test_the_error_pickles_and_is_named_where_users_import_it(self) -> None:
        error = FrozenInstanceError("cannot assign to field 'ffn'")
        assert repr(pickle.loads(pickle.dumps(error))) == repr(error)
        assert type(error).__module__ == "block_config"

    def test_force_setattr_works_only_while_building(self) -> None:
        with pytest.raises(FrozenInstanceError, match=r"dataclasses\.replace"):
            GQA._force_setattr("ffn", None)
        assert GQA.ffn is not None

        @attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
        class WideFFN(FFNConfig):
            def _normalise(self) -> list[tuple[str, str]]:
                problems = super()._normalise()
                if self.intermediate_size is not None and self.intermediate_size < 1024:
                    self._force_setattr("intermediate_size", 1024)
                return problems

        assert WideFFN(intermediate_size=4).intermediate_size == 1024
        assert WideFFN.from_dict({"intermediate_size": 8}).intermediate_size == 1024

        finished = FFNConfig(intermediate_size=4)

        @attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
        class MeddlingFFN(FFNConfig):
            def _normalise(self) -> list[tuple[str, str]]:
                finished._force_setattr("intermediate_size", 8)  # not the object being built
                return super()._normalise()

        with pytest.raises(FrozenInstanceError):
            MeddlingFFN(intermediate_size=4)
        assert finished.intermediate_size == 4


class TestOriginalHelpers:
    def test_dataclass_type_in_field_types(self) -> None:
        field_types = {f.name: f.type for f in dataclasses.fields(BlockConfig)}
        assert _is_dataclass_type(field_types["attention"])
        assert _get_dataclass_type(field_types["attention"]) is AttentionConfig
        assert not _is_dataclass_type(field_types["parallel_blocks"])

    @pytest.mark.parametrize(
        ("tp", "expected"),
        [
            (Optional[FFNConfig], FFNConfig),
            (Union[None, int, MoEConfig, FFNConfig], MoEConfig),
            (MambaConfig | None, MambaConfig),
            (BlockConfig, BlockConfig),
        ],
    )
    def test_get_dataclass_type_finds_the_first_dataclass(self, tp: Any, expected: type) -> None:
        assert _get_dataclass_type(tp) is expected
        assert _is_dataclass_type(tp)

    @pytest.mark.parametrize(
        "tp", [int, Optional[int], list[BlockConfig], "AttentionConfig", None, Path]
    )
    def test_anything_else_is_not_a_dataclass_type(self, tp: Any) -> None:
        assert not _is_dataclass_type(tp)
        with pytest.raises(ValueError, match="Not a dataclass"):
            _get_dataclass_type(tp)

    def test_an_instance_is_returned_as_it_is(self) -> None:
        # dataclasses.is_dataclass accepts instances, and so the original helper did too.
        assert _get_dataclass_type(GQA) is GQA


# --------------------------------------------------------------------------- the patterns


class TestJsonEncoders:
    def test_robust_json_encoder_writes_the_data_not_the_class_path(self) -> None:
        solutions = [
            {"chosen_block_configs": EXAMPLES, "path": Path("/x"), "dtype": _Precision.BF16}
        ]
        written = json.loads(robust_json_dumps(solutions))
        assert_asdict_holds(written[0]["chosen_block_configs"], [b.to_dict() for b in EXAMPLES])
        assert "block_config." not in robust_json_dumps(solutions)

    def test_robust_json_encoder_on_subblock_stats(self) -> None:
        assert GQA.attention is not None
        entry = {"subblock_config": GQA.attention, "subblock_config_class": "AttentionConfig"}
        written = json.loads(robust_json_dumps(entry))["subblock_config"]
        assert_asdict_holds(written, GQA.attention.to_dict())

    def test_save_model_config_writes_what_to_dict_holds(self) -> None:
        config = FakePretrainedConfig(num_hidden_layers=len(EXAMPLES), block_configs=EXAMPLES)
        text = save_model_config(config)
        assert_asdict_holds(json.loads(text)["block_configs"], unstructure_block_configs(EXAMPLES))
        assert block_config.loads(json.dumps(json.loads(text)["block_configs"])) == EXAMPLES


class TestOverrides:
    def test_compact_override_changes_one_field_everywhere(self) -> None:
        blocks = [GQA, GQA, SKIP]
        new = update_model_config(blocks, {"attention": [{"num_key_value_heads": 4}]})
        assert [b.attention.num_key_value_heads for b in new] == [4, 4, None]
        assert new[0].ffn == GQA.ffn
        assert new[2] == SKIP  # a no_op subblock is never overridden
        assert blocks == [GQA, GQA, SKIP]

    def test_none_leaves_a_subblock_unchanged(self) -> None:
        overrides = [{"attention": {"num_key_value_heads": 4}, "ffn": None}]
        (new,) = update_model_config([GQA], overrides)
        assert isinstance(new, BlockConfig)  # not the override dict put in its place
        assert new.ffn == GQA.ffn
        assert new.attention == AttentionConfig(num_key_value_heads=4)

    def test_a_missing_subblock_is_built_from_its_field_type(self) -> None:
        (new,) = update_model_config(
            [BlockConfig(attention=AttentionConfig(no_op=True))],
            [{"ffn": {"moe": {"num_local_experts": 4, "num_experts_per_tok": 2}}}],
        )
        assert new.ffn == FFNConfig(moe=MoEConfig(num_local_experts=4, num_experts_per_tok=2))

    def test_nested_dataclasses_are_merged_field_by_field(self) -> None:
        (new,) = update_model_config([MOE], {"ffn": [{"moe": {"num_local_experts": 32}}]})
        assert new.ffn.moe == MoEConfig(num_local_experts=32, num_experts_per_tok=2)

    def test_invalid_overrides_raise_block_config_errors(self) -> None:
        # The pipeline's own type check refuses "4"; what passes it is checked by the class.
        with pytest.raises(TypeError, match="'4' is none of"):
            update_model_config([GQA], {"attention": [{"num_key_value_heads": "4"}]})
        with pytest.raises(BlockConfigError, match=r"\$\.num_key_value_heads: expected int from 1"):
            update_model_config([GQA], {"attention": [{"num_key_value_heads": 0}]})
        with pytest.raises(BlockConfigError, match="expected int, got bool True"):
            update_model_config([GQA], {"ffn": [{"intermediate_size": True}]})
        with pytest.raises(ValueError, match="Uknown overrides"):
            update_model_config([GQA], {"attention": [{"n_heads_in_group": 4}]})


class TestStringsAndStats:
    def test_block_config_to_str(self) -> None:
        assert solution_to_str([GQA, SKIP, MOE, HYBRID]) == (
            "block_0:   attention  kv_heads_8  ffn  intermediate_28672\n"
            "block_1:   attention  no_op   ffn  intermediate_5632\n"
            "block_2:   attention  kv_heads_8  moe  num_experts_16  expert_intermediate_dim_8192"
            "  shared_expert_intermediate_dim_8192  num_experts_per_tok_2\n"
            "block_3:   mamba  num_heads_64  head_dim_64  ffn  no_op \n"
        )

    def test_subblock_config_to_str_detects_the_kind_itself(self) -> None:
        assert HYBRID.attention is not None
        assert subblock_config_to_str(HYBRID.attention) == "  mamba  num_heads_64  head_dim_64"

    def test_stats_written_and_read_back_find_every_subblock(self) -> None:
        # The last one was given "parallel_blocks": [], which the original indexes [0] in.
        blocks = [GQA, SKIP, PARALLEL, BlockConfig(**{**SKIP.to_dict(), "parallel_blocks": []})]
        entries = [
            {
                "subblock_config": sub,
                "subblock_config_class": type(sub).__name__,
                "num_params": index,
                "parent_layer_index": None,
            }
            for index, sub in enumerate({s for b in (GQA, SKIP) for s in (b.attention, b.ffn)})
        ]
        table = subblock_stats_table(json.loads(robust_json_dumps(entries)))
        stats = [get_block_stats(table, block) for block in blocks]
        assert stats[2]["num_params"] == stats[0]["num_params"] + stats[1]["num_params"]
        assert stats[3] == stats[1]
        assert get_block_stats(table, "non_block") == {"non_block": True}

    def test_empty_parallel_blocks_are_none_and_never_written_empty(self) -> None:
        block = BlockConfig(attention={"no_op": True}, ffn={"no_op": True}, parallel_blocks=[])
        assert block.parallel_blocks is None
        assert block == BlockConfig.from_dict({**block.to_dict(), "parallel_blocks": []})
        assert json.loads(dumps([block]))[0]["parallel_blocks"] is None
        assert dataclasses.asdict(block)["parallel_blocks"] is None


class TestIdentity:
    @pytest.mark.parametrize("block", EXAMPLES)
    def test_pickle_and_deepcopy_keep_equality_hash_and_frozenness(
        self, block: BlockConfig
    ) -> None:
        for copied in (pickle.loads(pickle.dumps(block)), copy.deepcopy(block), copy.copy(block)):
            assert copied == block
            assert hash(copied) == hash(block)
            assert repr(copied) == repr(block)
            with pytest.raises(dataclasses.FrozenInstanceError):
                copied.ffn = None  # type: ignore[misc]
            assert dataclasses.is_dataclass(copied)

    def test_sorting_mixed_subblocks_follows_the_representation(self) -> None:
        """Mirrors ``calc_subblock_stats.calculate_subblock_stats``: entries sorted by their
        (mixed Attention and FFN) ``subblock_config``, which the original orders by ``str``."""
        subblocks = [s for b in EXAMPLES for s in (b.attention, b.ffn) if s is not None]
        entries = [{"subblock_config": s, "parent_layer_indices": (0,)} for s in subblocks]
        ordered = [
            e["subblock_config"] for e in sorted(entries, key=lambda e: e["subblock_config"])
        ]
        assert [str(s) for s in ordered] == sorted(str(s) for s in subblocks)

    def test_deduplication_and_equality_like_pandas(self) -> None:
        assert GQA.attention is not None
        assert MOE.attention is not None
        rebuilt = [
            AttentionConfig(**json.loads(json.dumps(s.to_dict())))
            for s in (GQA.attention, MOE.attention)
        ]
        values = [GQA.attention, MOE.attention, *rebuilt, SKIP.attention, None]
        assert drop_duplicates(values) == [GQA.attention, MOE.attention, SKIP.attention, None]
        assert series_eq(values, GQA.attention) == [True, False, True, False, False, False]
        assert series_eq([GQA, "non_block"], "non_block") == [False, True]

    def test_set_of_frozen_dicts_holding_configs(self) -> None:
        """Mirrors ``_load_subblock_configs_from_replacement_library``: a set of immutable
        dicts ``{"subblock_config": ..., "parent_layer_indices": (...)}``."""
        configs = [GQA.attention, BlockConfig(**GQA.to_dict()).attention, SKIP.attention]
        seen = {
            frozenset({"subblock_config": c, "parent_layer_indices": (0,)}.items()) for c in configs
        }
        assert len(seen) == 2


class TestMaybeCast:
    def test_unknown_keys_are_errors_unless_asked_to_warn(self) -> None:
        data = [{"attention": {"no_op": True, "window_length": None}, "ffn": {"no_op": True}}]
        with pytest.raises(BlockConfigError, match=r"\$\[0\]\.attention\.window_length"):
            maybe_cast_block_configs(data)
        with pytest.warns(UnknownKeyWarning, match=r"\$\[0\]\.attention\.window_length"):
            blocks = maybe_cast_block_configs(data, unknown_keys="warn")
        assert blocks == [BlockConfig(attention={"no_op": True}, ffn={"no_op": True})]
        with pytest.raises(ValueError, match="unknown_keys"):
            maybe_cast_block_configs(data, unknown_keys="ignore")  # type: ignore[arg-type]

    def test_empty_and_none(self) -> None:
        # The seed documents None for an empty list (the original returned the list itself).
        assert maybe_cast_block_configs([]) is None
        assert maybe_cast_block_configs(None) is None


# --------------------------------------------------------------------------- the original reader


class _RemovedFields(UserWarning):
    """The original's warning ("Removed unsupported fields [...] from ..."), names attached."""

    def __init__(self, fields: list[str], cls: type) -> None:
        super().__init__(f"Removed unsupported fields {fields} from {cls}")
        self.fields = fields


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefBase:
    """The original ``BaseDataclass`` semantics: nested dicts become their field's dataclass,
    unknown nested keys dropped with a warning; ``==`` and ``hash`` field-wise (the dataclass
    defaults of each subclass), so lists make objects unhashable."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, dict) and _ref_is_dataclass_type(hints[field.name]):
                cls = _ref_get_dataclass_type(hints[field.name])
                known = {f.name for f in dataclasses.fields(cls)}
                unknown = [key for key in value if key not in known]
                if unknown:
                    warnings.warn(_RemovedFields(unknown, cls), stacklevel=2)
                kept = {k: v for k, v in value.items() if k in known}
                object.__setattr__(self, field.name, cls(**kept))


def _ref_get_dataclass_type(tp: Any) -> Any:
    # The original checks typing.Union only: its annotations are all Optional[...].
    if typing.get_origin(tp) is Union:
        for member in typing.get_args(tp):
            if dataclasses.is_dataclass(member):
                return member
    if dataclasses.is_dataclass(tp):
        return tp
    raise ValueError("Not a dataclass")


def _ref_is_dataclass_type(tp: Any) -> bool:
    try:
        _ref_get_dataclass_type(tp)
    except Exception:
        return False
    return True


def _ref_assert(condition: bool, message: str) -> None:
    # The original uses assert statements; stated explicitly so that -O runs check the same.
    if not condition:
        raise AssertionError(message)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefSubblock(_RefBase):
    no_op: bool = False
    replace_with_linear: bool = False
    sparsify: Optional[list[str]] = None
    weights_precision: Optional[str] = "bf16"

    def __post_init__(self) -> None:
        super().__post_init__()
        _ref_assert(not (self.no_op and self.replace_with_linear), "no_op and linear")
        if self.no_op:
            object.__setattr__(self, "sparsify", None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefMoE(_RefBase):
    num_local_experts: int = 8
    num_experts_per_tok: int = 1
    expert_intermediate_dim: int = 8192
    shared_expert_intermediate_dim: int = 8192

    def __post_init__(self) -> None:
        if self.num_local_experts <= 0 or self.num_experts_per_tok <= 0:
            raise ValueError("counts must be positive")
        if self.num_experts_per_tok > self.num_local_experts:
            raise ValueError("num_experts_per_tok > num_local_experts")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefMamba(_RefBase):
    state_dim: int
    num_heads: int
    head_dim: int
    num_groups: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefLlama4(_RefBase):
    attention_chunk_size: Optional[int] = None
    use_rope: Optional[bool] = None
    use_qk_norm: Optional[bool] = None
    attn_scale: Optional[float] = None
    floor_scale: Optional[float] = None
    attn_temperature_tuning: Optional[bool] = None
    attention_dropout: Optional[float] = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefAttention(_RefSubblock):
    num_key_value_heads: Optional[int] = None
    llama4: Optional[_RefLlama4] = None
    mamba: Optional[_RefMamba] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.no_op:
            _ref_assert(self.mamba is None and self.llama4 is None, "no_op mamba or llama4")
        if self.no_op or self.mamba is not None:
            object.__setattr__(self, "num_key_value_heads", None)
        else:
            _ref_assert(self.num_key_value_heads is not None, "num_key_value_heads")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefFFN(_RefSubblock):
    moe: Optional[_RefMoE] = None
    intermediate_size: Optional[int] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.no_op:
            object.__setattr__(self, "moe", None)
            object.__setattr__(self, "intermediate_size", None)
        elif self.moe is not None:
            object.__setattr__(self, "intermediate_size", None)
        else:
            _ref_assert(self.intermediate_size is not None, "intermediate_size")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _RefBlock(_RefBase):
    attention: Optional[_RefAttention] = None
    ffn: Optional[_RefFFN] = None
    parallel_blocks: Optional[list[_RefBlock]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # The original indexes [0] without a length check: an empty list is an IndexError.
        if self.parallel_blocks is not None and isinstance(self.parallel_blocks[0], dict):
            given: list[Any] = self.parallel_blocks
            blocks = [_RefBlock(**item) for item in given]
            object.__setattr__(self, "parallel_blocks", blocks)


def reference_maybe_cast_block_configs(block_configs: list[Any] | None) -> list[Any] | None:
    """The original ``maybe_cast_block_configs``: dicts (judged by the first) become blocks."""
    if not block_configs:
        return block_configs
    if isinstance(block_configs[0], dict):
        return [_RefBlock(**item) for item in block_configs]
    return block_configs


def reference_read(text: str) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dropped key would mean we wrote one it cannot read
        blocks = reference_maybe_cast_block_configs(json.loads(text))
    assert blocks is not None
    return blocks


class TestReferenceReader:
    def test_the_reimplementation_refuses_what_the_original_refused(self) -> None:
        with pytest.raises(IndexError):
            reference_read('[{"parallel_blocks": []}]')
        with pytest.raises(AssertionError):
            reference_read('[{"ffn": {"no_op": false}}]')
        with pytest.raises(TypeError):
            reference_read('[{"bogus": 1}]')

    @pytest.mark.parametrize("block", EXAMPLES)
    def test_examples_read_back_to_the_same_data(self, block: BlockConfig) -> None:
        (read,) = reference_read(dumps([block]))
        assert json.dumps(dataclasses.asdict(read)) == json.dumps(block.to_dict())

    @PROPERTY
    @given(st.lists(seed_block_configs(), min_size=1, max_size=4))
    def test_everything_we_write_reads_back_through_the_original(
        self, blocks: list[BlockConfig]
    ) -> None:
        for text in (dumps(blocks), json.dumps(unstructure_block_configs(blocks), indent=2)):
            read = reference_read(text)
            assert [dataclasses.asdict(b) for b in read] == json.loads(
                json.dumps([b.to_dict() for b in blocks])
            )
            # ... and what the original writes back (asdict, json.dumps) reads back here.
            written_back = json.dumps([dataclasses.asdict(b) for b in read])
            assert block_config.loads(written_back) == blocks

    @pytest.mark.parametrize("source", SAVED_MODELS, ids=lambda path: path.name)
    def test_saved_native_config_json_reads_back_through_the_original(
        self, source: Path, tmp_path: Path
    ) -> None:
        if not source.exists():
            pytest.skip(f"{source.name} is not here: ../shared/data/ beside the repository")
        arch = ModelArchitecture.load(source)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", ConversionWarning
            )  # legacy ffn_mult text, tested elsewhere
            written = arch.save(tmp_path / "config.json", dialect="native")
        saved = json.loads(written.read_text())["block_configs"]
        if newer_fields_set(saved):
            pytest.skip(f"not seed-expressible: sets {sorted(newer_fields_set(saved))}")
        read = reference_read(json.dumps(saved))
        assert len(read) == len(arch.block_configs) == arch.num_hidden_layers
        assert [dataclasses.asdict(b) for b in read] == saved

    @PROPERTY
    @given(seed_block_configs())
    def test_save_model_config_output_reads_back_through_the_original(
        self, block: BlockConfig
    ) -> None:
        text = save_model_config(FakePretrainedConfig(block_configs=[block]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (read,) = reference_maybe_cast_block_configs(json.loads(text)["block_configs"]) or []
        # asdict() holds the newer fields as None; the original drops exactly those, warning.
        for warning in caught:
            assert isinstance(warning.message, _RemovedFields), warning.message
            assert set(warning.message.fields) <= NEWER_FIELDS
        assert json.dumps(dataclasses.asdict(read)) == json.dumps(block.to_dict())


class TestOmitIfNoneInTheDataclassView:
    """``fields(obj)``/``asdict`` list the ``omit_if_none`` fields only when set; the class
    lists them all, and ``replace``/``evolve`` accept them."""

    def test_asdict_of_a_seed_block_has_only_the_seed_keys(self) -> None:
        block = BlockConfig(
            attention={"num_key_value_heads": 4}, ffn={"intermediate_size": 16, "moe": None}
        )
        data = dataclasses.asdict(block)
        assert list(data["attention"]) == [name for name, _ in SEED_FIELDS[AttentionConfig]]
        assert list(data["ffn"]) == [name for name, _ in SEED_FIELDS[FFNConfig]]
        assert "sliding_window" not in json.dumps(data)

    def test_a_set_newer_field_is_listed(self) -> None:
        attention = AttentionConfig(num_key_value_heads=4, sliding_window=128)
        names = [f.name for f in dataclasses.fields(attention)]
        assert "sliding_window" in names
        assert dataclasses.asdict(attention)["sliding_window"] == 128

    def test_the_class_lists_every_field(self) -> None:
        names = {f.name for f in dataclasses.fields(AttentionConfig)}
        omitted = {
            a.name
            for a in attrs.fields(typing.cast(Any, AttentionConfig))
            if a.metadata.get("omit_if_none")
        }
        assert omitted
        assert omitted <= names

    def test_replace_and_evolve_accept_the_unlisted_fields(self) -> None:
        attention = AttentionConfig(num_key_value_heads=4)
        assert "sliding_window" not in {f.name for f in dataclasses.fields(attention)}
        assert dataclasses.replace(attention, sliding_window=64).sliding_window == 64
        assert attrs.evolve(attention, sliding_window=32).sliding_window == 32
        windowed = AttentionConfig(num_key_value_heads=4, sliding_window=64)
        assert dataclasses.replace(windowed, num_key_value_heads=2).sliding_window == 64
        assert dataclasses.replace(windowed, sliding_window=None) == attention

    def test_keyed_on_the_metadata_not_on_names(self) -> None:
        @attrs.frozen(kw_only=True, cache_hash=True, repr=False, order=False)
        class NotedFFN(FFNConfig):
            note: str | None = attrs.field(default=None, metadata={"omit_if_none": True})
            label: str | None = None

        plain = NotedFFN(intermediate_size=4)
        assert "note" not in dataclasses.asdict(plain)
        assert dataclasses.asdict(plain)["label"] is None
        assert dataclasses.asdict(NotedFFN(intermediate_size=4, note="n"))["note"] == "n"
        assert dataclasses.replace(plain, note="m").note == "m"
        assert [f.name for f in dataclasses.fields(NotedFFN)][-2:] == ["note", "label"]

    def test_astuple_follows_the_instance_view(self) -> None:
        attention = AttentionConfig(num_key_value_heads=4)
        assert len(dataclasses.astuple(attention)) == len(SEED_FIELDS[AttentionConfig])
