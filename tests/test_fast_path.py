"""The generated fast path against the detailed path, and the attrs details the fast path uses.

The fast path builds objects without ``__init__`` and applies every check and normalisation
inline; these tests hold it to the detailed path (which collects every problem with its
path and builds through the constructors) on generated valid and broken documents.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import pickle
import subprocess
import sys
import textwrap
import weakref
from collections.abc import Callable
from typing import Any

import attrs
import orjson
import pytest
from attr import _make as attrs_make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import block_config
from block_config import (
    AttentionConfig,
    BaseDataclass,
    BlockConfig,
    BlockConfigError,
    CompressedAttentionConfig,
    FFNConfig,
    Llama4AttentionConfig,
    MambaConfig,
    MLAConfig,
    MoEConfig,
    SubblockConfig,
    _converter,
)
from block_config._errors import Problem
from block_config.strategies import (
    attention_configs,
    block_configs,
    compressed_attention_configs,
    ffn_configs,
    llama4_attention_configs,
    mamba_configs,
    mla_configs,
    moe_configs,
)

CLASSES: list[type[BaseDataclass]] = [
    SubblockConfig,
    MoEConfig,
    MambaConfig,
    MLAConfig,
    CompressedAttentionConfig,
    Llama4AttentionConfig,
    AttentionConfig,
    FFNConfig,
    BlockConfig,
]

#: One valid instance of each class, built through ``__init__``.
EXAMPLES: dict[type[BaseDataclass], Callable[[], BaseDataclass]] = {
    SubblockConfig: lambda: SubblockConfig(sparsify=["a"]),
    MoEConfig: lambda: MoEConfig(num_experts_per_tok=2),
    MambaConfig: lambda: MambaConfig(state_dim=128, num_heads=64, head_dim=64, num_groups=8),
    MLAConfig: lambda: MLAConfig(
        kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128
    ),
    CompressedAttentionConfig: lambda: CompressedAttentionConfig(
        q_lora_rank=1024, o_groups=8, o_lora_rank=1024
    ),
    Llama4AttentionConfig: lambda: Llama4AttentionConfig(attn_scale=0.1, use_rope=True),
    AttentionConfig: lambda: AttentionConfig(num_key_value_heads=8, llama4={}),
    FFNConfig: lambda: FFNConfig(moe={"num_local_experts": 16}),
    BlockConfig: lambda: BlockConfig(
        attention={"no_op": True}, ffn={"intermediate_size": 4}, parallel_blocks=[{}]
    ),
}

#: Instances that set the fields written only when set (the seed-shaped ones are above).
EXAMPLES_WITH_OPTIONAL_FIELDS: dict[type[BaseDataclass], Callable[[], BaseDataclass]] = {
    MoEConfig: lambda: MoEConfig(gated=False, hash_routed=True),
    CompressedAttentionConfig: lambda: CompressedAttentionConfig(
        q_lora_rank=1024,
        o_groups=8,
        o_lora_rank=1024,
        compress_rate=4,
        index_n_heads=64,
        index_head_dim=128,
    ),
    MLAConfig: lambda: MLAConfig(
        kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128, q_lora_rank=8
    ),
    AttentionConfig: lambda: AttentionConfig(
        sliding_window=4096,
        mla={"kv_lora_rank": 1, "qk_nope_head_dim": 2, "qk_rope_head_dim": 3, "v_head_dim": 4},
    ),
    FFNConfig: lambda: FFNConfig(intermediate_size=4, gated=False),
    BlockConfig: lambda: BlockConfig(
        attention={"num_key_value_heads": 8, "sliding_window": 128},
        ffn={"moe": {"gated": False}},
    ),
}

MAMBA_FIELDS = ("state_dim", "num_heads", "head_dim", "num_groups")
MLA = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}

FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def fast(value: Any, cls: type[BaseDataclass] = BlockConfig) -> Any:
    """The fast path's object, or None where it bails out to the detailed path."""
    try:
        return _converter._FAST[cls](value, 0)
    except _converter._Slow:
        return None


def detailed(value: Any, cls: type[BaseDataclass] = BlockConfig) -> tuple[Any, list[Problem]]:
    """The detailed path's object (None if it found problems) and its problems."""
    ctx = _converter._Context("error")
    result = _converter._structure_detailed(value, cls, (), ctx, 0)
    return result, ctx.problems


def assert_same(a: Any, b: Any) -> None:
    """Equal, with the same repr (so the same types all the way down) and the same hash."""
    assert type(a) is type(b)
    assert a == b
    assert repr(a) == repr(b)
    assert hash(a) == hash(b)


def assert_paths_agree(value: Any, cls: type[BaseDataclass] = BlockConfig) -> None:
    """The fast path accepts only what the detailed path accepts, and builds the same object;
    the public entry point gives what the detailed path gives, object or problems."""
    fast_result = fast(value, cls)
    detailed_result, problems = detailed(value, cls)
    assert (detailed_result is None) == bool(problems)
    if fast_result is not None:
        assert not problems, f"the fast path accepted what the detailed path rejects: {problems}"
        assert_same(fast_result, detailed_result)
    if problems:
        with pytest.raises(BlockConfigError) as caught:
            _converter.structure_one(value, cls)
        assert list(caught.value.problems) == problems
    else:
        assert_same(_converter.structure_one(value, cls), detailed_result)


def _plain(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return strategy.map(lambda obj: obj.to_dict())


#: Values to put anywhere in a document: edge cases of every kind a field can hold, valid
#: subdocuments of every class, and already-built objects.
VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            1,
            -1,
            8,
            block_config.MAX_INT,
            block_config.MAX_INT + 1,
            10**400,
            0.0,
            -0.0,
            1.0,
            2.5,
            -3.5,
            1e308,
            math.nan,
            math.inf,
            -math.inf,
            "",
            "8",
            "bf16",
            "true",
            b"x",
            [],
            (),
            ["a"],
            ("a", "b"),
            [1],
            ["a", None],
            {},
            {"no_op": True},
            {"num_key_value_heads": 8},
            {"intermediate_size": 4},
            {1: 2},
            [{}],
            [{"attention": None}],
            ({"ffn": {"no_op": True}},),
            [[]],
            frozenset(),
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=4),
    _plain(moe_configs()),
    _plain(mamba_configs()),
    _plain(mla_configs()),
    _plain(compressed_attention_configs()),
    _plain(llama4_attention_configs()),
    _plain(attention_configs()),
    _plain(ffn_configs()),
    _plain(block_configs(max_depth=1)),
    st.lists(_plain(block_configs(max_depth=0)), max_size=2),
    attention_configs(),
    ffn_configs(),
    block_configs(max_depth=0),
)

KEYS = st.sampled_from(
    [
        *sorted({rule.name for cls in CLASSES for rule in _converter.field_rules(cls)}),
        *["unknown", "n_heads_in_group", "ffn_mult"],
    ]
)


def _containers(value: Any) -> list[dict[Any, Any] | list[Any]]:
    """Every dict and list in a document, the document itself first."""
    found: list[dict[Any, Any] | list[Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _containers(item)
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            found += _containers(item)
    return found


def _kinds() -> dict[str, _converter.Kind]:
    kinds = {}
    for cls in CLASSES:
        for rule in _converter.field_rules(cls):
            kinds[rule.name] = rule.kind
    return kinds


KINDS = _kinds()
Kind = _converter.Kind

#: Per kind of field, the values just inside and just outside what it accepts.
NEAR_MISSES: dict[_converter.Kind, st.SearchStrategy[Any]] = {
    Kind.BOOL: st.sampled_from([True, False, None, 0, 1, 1.0, "true", "false"]),
    Kind.INT: st.one_of(
        st.integers(0, 20),
        st.sampled_from(
            [
                *(None, -1, block_config.MAX_INT, block_config.MAX_INT + 1),
                *(True, False, 8.0, "8", 10**400),
            ]
        ),
    ),
    Kind.FLOAT: st.sampled_from(
        [
            *(None, 0, 1, 0.0, -0.0, 1.5, -2.5, 1e308, math.nan, math.inf, -math.inf),
            *(True, "1.0", 10**400, 2**1023, -(2**1024)),
        ]
    ),
    Kind.STR: st.sampled_from([None, "", "bf16", "fp8", 1, b"bf16", ["bf16"], True]),
    Kind.STR_SEQ: st.sampled_from(
        [None, [], (), ["a"], ("a", "b"), [1], "ab", ["a", None], {"a": 1}, b"ab", frozenset()]
    ),
    Kind.NESTED: st.one_of(
        st.sampled_from([None, {}, [], "x", True, {"no_op": True}, {1: 1}]),
        VALUES,
    ),
    Kind.BLOCK_SEQ: st.one_of(
        st.sampled_from([None, [], (), [{}], [None], "x", {}, [[]], [BlockConfig()]]),
        st.lists(_plain(block_configs(max_depth=1)), max_size=2),
    ),
}


def fresh(value: Any) -> Any:
    """A copy of a drawn value: the strategies hand out shared lists and dicts, and the
    mutations below must not change them for later examples."""
    return copy.deepcopy(value)


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid block's document with one to three things changed anywhere in it: a value
    replaced by a near miss for its field (or anything), a key dropped or added (known
    elsewhere, unknown, not a string), a list item replaced or added."""
    document: dict[str, Any] = draw(_plain(block_configs(max_depth=1)))
    for _ in range(draw(st.integers(1, 3))):
        container = draw(st.sampled_from(_containers(document)))
        action = draw(st.sampled_from(["set", "set", "set", "drop", "add", "odd key"]))
        if isinstance(container, list):
            if container and action != "add":
                container[draw(st.integers(0, len(container) - 1))] = fresh(draw(VALUES))
            else:
                container.append(fresh(draw(VALUES)))
        elif action == "drop" and container:
            del container[draw(st.sampled_from(list(container)))]
        elif action == "odd key":
            container[draw(st.sampled_from([1, None, b"no_op", ("ffn",)]))] = fresh(draw(VALUES))
        else:
            key = draw(st.sampled_from(list(container))) if action == "set" and container else None
            key = key if key is not None else draw(KEYS)
            kind = KINDS.get(key)
            near = NEAR_MISSES[kind] if kind is not None else VALUES
            container[key] = fresh(draw(st.one_of(near, near, near, VALUES)))
    return document


def class_documents(cls: type[BaseDataclass]) -> st.SearchStrategy[dict[Any, Any]]:
    """Documents for ``cls``: any of its keys, each with a near miss for its kind of field,
    now and then with a key it does not know."""
    known = st.fixed_dictionaries(
        {},
        optional={rule.name: NEAR_MISSES[rule.kind] for rule in _converter.field_rules(cls)},
    )
    extra = st.dictionaries(st.one_of(KEYS, st.sampled_from([1, None])), VALUES, max_size=1)
    return st.one_of(known, known, known, st.builds(lambda a, b: {**a, **b}, known, extra))


# --------------------------------------------------------------------------- valid input


@FAST_SETTINGS
@given(block_configs())
def test_fast_path_takes_every_valid_document(block: BlockConfig) -> None:
    document = block.to_dict()
    result = fast(document)
    assert result is not None, "a clean document fell back to the detailed path"
    assert_same(result, block)
    assert_paths_agree(document)
    assert_same(block_config.loads(block_config.dumps([block]))[0], block)


@FAST_SETTINGS
@given(st.data())
def test_fast_path_takes_sparse_documents(data: st.DataObject) -> None:
    # Documents that leave keys out (defaults apply) take the fast path too.
    block = data.draw(block_configs())
    document = block.to_dict()
    for container in _containers(document):
        if isinstance(container, dict):
            for key in data.draw(st.lists(st.sampled_from(list(container)), unique=True)):
                del container[key]
    assert_paths_agree(document)


@pytest.mark.parametrize("cls", CLASSES)
def test_each_class_from_its_own_document(cls: type[BaseDataclass]) -> None:
    obj = EXAMPLES[cls]()
    result = fast(obj.to_dict(), cls)
    assert result is not None
    assert_same(result, obj)
    assert_paths_agree(obj.to_dict(), cls)


# --------------------------------------------------------------------------- broken input


@FAST_SETTINGS
@given(mutated_documents())
def test_fast_path_agrees_on_mutated_documents(document: dict[str, Any]) -> None:
    assert_paths_agree(document)


@FAST_SETTINGS
@given(
    st.sampled_from(CLASSES),
    st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=8)),
)
def test_fast_path_agrees_on_any_value(cls: type[BaseDataclass], value: Any) -> None:
    assert_paths_agree(value, cls)


@pytest.mark.parametrize("cls", CLASSES)
@FAST_SETTINGS
@given(st.data())
def test_fast_path_agrees_on_near_misses(cls: type[BaseDataclass], data: st.DataObject) -> None:
    assert_paths_agree(data.draw(class_documents(cls)), cls)


@FAST_SETTINGS
@given(st.lists(st.one_of(mutated_documents(), _plain(block_configs())), max_size=4))
def test_lists_agree_with_the_detailed_path(documents: list[Any]) -> None:
    problems: list[Problem] = []
    expected = []
    for index, document in enumerate(documents):
        result, found = detailed(document)
        problems += [problem.under((index,)) for problem in found]
        expected.append(result)
    if problems:
        with pytest.raises(BlockConfigError) as caught:
            block_config.structure_block_configs(documents)
        assert list(caught.value.problems) == problems
    else:
        result_list = block_config.structure_block_configs(documents)
        assert len(result_list) == len(expected)
        for got, want in zip(result_list, expected, strict=True):
            assert_same(got, want)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"ffn": {"no_op": True, "replace_with_linear": True}}, ("ffn", "replace_with_linear")),
        (
            {"attention": {"no_op": True, "mamba": dict.fromkeys(MAMBA_FIELDS, 1)}},
            ("attention", "mamba"),
        ),
        ({"attention": {"no_op": False}}, ("attention", "num_key_value_heads")),
        ({"ffn": {}}, ("ffn", "intermediate_size")),
        (
            {"ffn": {"moe": {"num_local_experts": 2, "num_experts_per_tok": 3}}},
            ("ffn", "moe", "num_experts_per_tok"),
        ),
        (
            {"attention": {"llama4": {"attn_scale": math.nan}}},
            ("attention", "llama4", "attn_scale"),
        ),
        ({"attention": {"num_key_value_heads": True}}, ("attention", "num_key_value_heads")),
        ({"attention": {"num_key_value_heads": 0}}, ("attention", "num_key_value_heads")),
        ({"ffn": {"intermediate_size": 8.0}}, ("ffn", "intermediate_size")),
        ({"ffn": {"intermediate_size": 8, "no_op": "false"}}, ("ffn", "no_op")),
        ({"ffn": {"intermediate_size": 8, "sparsify": "attn"}}, ("ffn", "sparsify")),
        ({"attention": {"no_op": True, "sliding_window": 8}}, ("attention", "sliding_window")),
        ({"attention": {"no_op": True, "mla": MLA}}, ("attention", "mla")),
        (
            {"attention": {"mamba": dict.fromkeys(MAMBA_FIELDS, 1), "sliding_window": 8}},
            ("attention", "sliding_window"),
        ),
        (
            {"attention": {"mamba": dict.fromkeys(MAMBA_FIELDS, 1), "mla": MLA}},
            ("attention", "mla"),
        ),
        ({"attention": {"llama4": {}, "mla": MLA}}, ("attention", "mla")),
        ({"attention": {"mla": None}}, ("attention", "num_key_value_heads")),
        (
            {"attention": {"num_key_value_heads": 8, "sliding_window": 0}},
            ("attention", "sliding_window"),
        ),
        ({"attention": {"mla": {**MLA, "v_head_dim": True}}}, ("attention", "mla", "v_head_dim")),
        ({"ffn": {"intermediate_size": 8, "gated": 0}}, ("ffn", "gated")),
        ({"ffn": {"moe": {"gated": "false"}}}, ("ffn", "moe", "gated")),
    ],
)
def test_rules_between_fields_hold_on_the_fast_path(
    document: dict[str, Any], where: tuple[str, ...]
) -> None:
    assert fast(document) is None
    with pytest.raises(BlockConfigError) as caught:
        block_config.structure_block_configs([document])
    assert [problem.path for problem in caught.value.problems] == [(0, *where)]


def test_fast_path_normalises_the_new_fields_as_the_constructors_do() -> None:
    documents: list[dict[str, Any]] = [
        {
            "attention": {"mla": MLA, "num_key_value_heads": 8},
            "ffn": {"no_op": True, "gated": False},
        },
        {"attention": {"num_key_value_heads": 8, "sliding_window": None, "mla": None}},
        {"ffn": {"intermediate_size": 4, "gated": True}},
        {"ffn": {"moe": {"gated": True}, "gated": False}},
        {"ffn": {"moe": {"gated": False}, "intermediate_size": 4}},
    ]
    for document in documents:
        built = BlockConfig(**document)
        result = fast(document)
        assert result is not None, document
        assert_same(result, built)
    attention = fast(documents[0]).attention
    assert attention.num_key_value_heads is None
    assert attention.is_mla
    assert fast(documents[0]).ffn.gated is None
    assert fast(documents[2]).ffn.gated is None
    assert fast(documents[3]).ffn.moe.gated is None
    assert fast(documents[3]).ffn.gated is None
    assert fast(documents[4]).ffn.moe.gated is False


def test_fast_path_normalises_as_the_constructors_do() -> None:
    document: dict[str, Any] = {
        "attention": {"no_op": True, "sparsify": ["a"], "num_key_value_heads": 8},
        "ffn": {"moe": {}, "intermediate_size": 4},
        "parallel_blocks": [{"ffn": {"no_op": True, "moe": {}, "intermediate_size": 4}}],
    }
    built = BlockConfig(**document)
    result = fast(document)
    assert result is not None
    assert_same(result, built)
    assert result.attention is not None
    assert result.attention.sparsify is None
    assert result.attention.num_key_value_heads is None
    assert result.ffn is not None
    assert result.ffn.intermediate_size is None


def test_python_dash_o_keeps_every_check() -> None:
    # Nothing on either path may hang on assert statements.
    script = textwrap.dedent(
        """
        import block_config
        for bad in ({"ffn": {"intermediate_size": 0}}, {"attention": {"no_op": 1}},
                    {"ffn": {"no_op": True, "replace_with_linear": True}}):
            try:
                block_config.structure_block_configs([bad])
            except block_config.BlockConfigError as error:
                print(error)
            else:
                raise SystemExit(f"accepted {bad}")
        block = block_config.structure_block_configs([{"ffn": {"intermediate_size": 4}}])[0]
        same = block_config.BlockConfig(ffn={"intermediate_size": 4})
        print(block == same, hash(block) == hash(same))
        """
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "$[0].ffn.intermediate_size: expected int from 1 to 9223372036854775807, got 0",
        "$[0].attention.no_op: expected bool, got int 1",
        "$[0].ffn.replace_with_linear: cannot be true when no_op is true",
        "True True",
    ]


# --------------------------------------------------------------------------- ==, hash, order


@FAST_SETTINGS
@given(st.lists(block_configs(max_depth=1), max_size=6), st.data())
def test_orderings_follow_repr_whatever_is_cached(
    blocks: list[BlockConfig], data: st.DataObject
) -> None:
    # Rebuild so that no repr is cached yet, then cache some of them.
    rebuilt = [fast(block.to_dict()) for block in blocks]
    for block in data.draw(st.lists(st.sampled_from(rebuilt))) if rebuilt else []:
        repr(block)
    # The expected reprs come from the strategy's objects, so that comparing the rebuilt ones
    # is what fills their caches, pair by pair.
    expected = [repr(block) for block in blocks]
    for a, ra in zip(rebuilt, expected, strict=True):
        for b, rb in zip(rebuilt, expected, strict=True):
            assert (a < b) == (ra < rb)
            assert (a <= b) == (ra <= rb)
            assert (a > b) == (ra > rb)
            assert (a >= b) == (ra >= rb)
            assert (a == b) == (ra == rb)
            if a == b:
                assert hash(a) == hash(b)
    assert [repr(b) for b in rebuilt] == expected
    again = [fast(block.to_dict()) for block in blocks]
    assert [repr(b) for b in sorted(again)] == sorted(expected)


def test_comparisons_with_other_types() -> None:
    block = BlockConfig()
    others: list[object] = [repr(block), AttentionConfig(no_op=True), None]
    for other in others:
        assert block != other
    with pytest.raises(TypeError):
        _ = block < others[0]  # type: ignore[operator]
    assert BlockConfig.__lt__(block, "x") is NotImplemented  # type: ignore[operator]


# --------------------------------------------------------------------------- pinned details


def field_names(cls: type[BaseDataclass]) -> list[str]:
    """The attrs fields of ``cls``, in order."""
    attrs_cls: Any = cls
    return [field.name for field in attrs.fields(attrs_cls)]


def _set_slots(obj: object) -> dict[str, Any]:
    """Every slot of ``obj`` that holds a value, by name (without reading any cache)."""
    found = {}
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name == "__weakref__":
                continue
            descriptor = klass.__dict__[name]
            with contextlib.suppress(AttributeError):
                found[name] = descriptor.__get__(obj, klass)
    return found


@pytest.mark.parametrize("cls", CLASSES)
def test_init_sets_exactly_the_fields_and_the_caches(cls: type[BaseDataclass]) -> None:
    # The fast path does by hand what attrs' __init__ does: an attrs upgrade that sets more
    # (or renames the hash cache) must fail here, not silently build half-made objects.
    assert attrs_make._HASH_CACHE_FIELD == "_attrs_cached_hash"
    assert _converter._HASH_CACHE_SLOT == "_attrs_cached_hash"
    built = EXAMPLES[cls]()
    names = field_names(cls)
    slots = _set_slots(built)
    assert sorted(slots) == sorted([*names, "_attrs_cached_hash", "_repr_cache"])
    assert slots["_attrs_cached_hash"] is None
    assert slots["_repr_cache"] is None
    made = fast(built.to_dict(), cls)
    assert made is not None
    assert _set_slots(made) == slots


@pytest.mark.parametrize("cls", CLASSES)
def test_hash_cache_never_travels(cls: type[BaseDataclass]) -> None:
    # The hash is cached as a plain int: attrs must keep it out of the pickled state and
    # reset it when unpickling, as a string's hash differs from one process to the next.
    obj = fast(EXAMPLES[cls]().to_dict(), cls)
    assert type(obj) is cls
    value = hash(obj)
    assert obj._attrs_cached_hash == value  # type: ignore[attr-defined]
    state: dict[str, Any] = obj.__getstate__()  # type: ignore[assignment]
    assert sorted(state) == sorted(field_names(cls))
    for other in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert type(other) is cls
        assert _set_slots(other)["_attrs_cached_hash"] is None
        assert_same(other, obj)
    assert weakref.ref(obj)() is obj


def omitted_if_none(cls: type[BaseDataclass]) -> set[str]:
    """The fields of ``cls`` that are written and shown only when not None."""
    attrs_cls: Any = cls
    return {f.name for f in attrs.fields(attrs_cls) if f.metadata.get("omit_if_none")}


def test_the_fields_written_only_when_set() -> None:
    # The rule is declared on the fields; these are the ones added after the seed's.
    found = {cls.__name__: sorted(omitted_if_none(cls)) for cls in CLASSES}
    assert {name: fields for name, fields in found.items() if fields} == {
        "MoEConfig": ["gated", "hash_routed", "latent_dim"],
        "AttentionConfig": [
            "compressed_attention",
            "head_dim",
            "kv_source_layer",
            "linear_attention",
            "mla",
            "num_attention_heads",
            "output_gate",
            "sliding_window",
            "values_from_keys",
        ],
        "FFNConfig": ["gated"],
        "MLAConfig": ["index_from_hidden", "index_head_dim", "index_kpool", "index_n_heads"],
        "CompressedAttentionConfig": ["compress_rate", "index_head_dim", "index_n_heads"],
    }
    for cls in CLASSES:
        rules = {rule.name: rule.omit_if_none for rule in _converter.field_rules(cls)}
        assert {name for name, omit in rules.items() if omit} == omitted_if_none(cls)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("examples", [EXAMPLES, EXAMPLES_WITH_OPTIONAL_FIELDS])
def test_comparison_methods_are_the_generated_ones(
    cls: type[BaseDataclass], examples: dict[type[BaseDataclass], Callable[[], BaseDataclass]]
) -> None:
    for name in ("__eq__", "__hash__", "__repr__"):
        method = cls.__dict__[name]
        assert method.__code__.co_filename == f"<block_config generated for {cls.__name__}>"
    obj = examples.get(cls, EXAMPLES[cls])()
    omitted = omitted_if_none(cls)
    fields = ", ".join(
        f"{name}={getattr(obj, name)!r}"
        for name in field_names(cls)
        if getattr(obj, name) is not None or name not in omitted
    )
    assert repr(obj) == f"{cls.__name__}({fields})"
    # The base class's repr (kept by subclasses defined elsewhere) says the same.
    uncached = copy.copy(obj)
    object.__setattr__(uncached, "_repr_cache", None)
    assert BaseDataclass.__repr__(uncached) == repr(obj)
    assert list(obj.to_dict()) == [
        name for name in field_names(cls) if getattr(obj, name) is not None or name not in omitted
    ]


def test_unpickled_objects_compare_and_order() -> None:
    a = BlockConfig(ffn={"intermediate_size": 4})
    repr(a)
    b = pickle.loads(pickle.dumps(a))
    assert "_repr_cache" not in _set_slots(b)
    assert not a < b
    assert a <= b
    assert repr(b) == repr(a)


# --------------------------------------------------------------------------- writing JSON


@FAST_SETTINGS
@given(st.lists(block_configs(), max_size=4))
def test_dumps_writes_what_unstructuring_gives(blocks: list[BlockConfig]) -> None:
    # dumps hands the objects to orjson with a hook instead of unstructuring them first.
    data = block_config.unstructure_block_configs(blocks)
    assert block_config.dumps(blocks) == orjson.dumps(data).decode()
    two = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    assert block_config.dumps(iter(blocks), indent=2) == two
    assert block_config.dumps(blocks, indent=3) == json.dumps(data, indent=3)
    assert json.loads(block_config.dumps(blocks)) == data


def test_dumps_refuses_what_is_not_a_block_config() -> None:
    block = BlockConfig(ffn={"intermediate_size": 4})
    with pytest.raises(TypeError, match="expected BlockConfig objects, got dict"):
        block_config.dumps([block, {"ffn": None}])  # type: ignore[list-item]
    # Other block-config objects are written as their dicts, as unstructuring does.
    attention = AttentionConfig(num_key_value_heads=2)
    assert json.loads(block_config.dumps([block, attention])) == [  # type: ignore[list-item]
        block.to_dict(),
        attention.to_dict(),
    ]


def test_subclasses_keep_their_own_repr() -> None:
    # A plain subclass inherits the generated methods; its repr still names its own class.
    class Custom(BlockConfig):
        __slots__ = ()

    custom = Custom(ffn={"intermediate_size": 4})
    assert (
        repr(custom) == "Custom(attention=None, ffn=" + repr(custom.ffn) + ", parallel_blocks=None)"
    )
    assert custom != BlockConfig(ffn={"intermediate_size": 4})
    assert hash(custom) == hash(Custom(ffn={"intermediate_size": 4}))
    assert custom == Custom(ffn={"intermediate_size": 4})
