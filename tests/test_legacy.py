"""The legacy nemotron-nas dialect: translation both ways, on the published files too."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from published import SUPER, ULTRA, needs_published

from block_config import BlockConfig, BlockConfigError, UnknownKeyWarning
from block_config._legacy import (
    LegacyAttentionConfig,
    LegacyBlockConfig,
    ffn_mult_to_intermediate_size,
    intermediate_size_to_ffn_mult,
    legacy_to_native,
    looks_legacy,
    native_to_legacy,
    structure_legacy_block_configs,
)


def _config(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _native(items: list[dict[str, Any]], heads: int = 64, hidden: int = 8192) -> list[BlockConfig]:
    return legacy_to_native(
        structure_legacy_block_configs(items), num_attention_heads=heads, hidden_size=hidden
    )


def _attention(**fields: Any) -> dict[str, Any]:
    return {"n_heads_in_group": 8, "no_op": False, "replace_with_linear": False, **fields}


def _ffn(**fields: Any) -> dict[str, Any]:
    return {"ffn_mult": 1.0, "no_op": False, "replace_with_linear": False, **fields}


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("mult", "hidden", "size"),
    [
        (5.25, 8192, 28672),
        (1.0, 8192, 5632),
        (0.5, 8192, 2816),
        (3.28125, 8192, 17920),
        (2.625, 8192, 14336),
        (1.3125, 8192, 7168),
        (39.0, 16384, 425984),
        (1.95, 16384, 21504),
    ],
)
def test_ffn_mult_truncates_then_rounds_up_to_256(mult: float, hidden: int, size: int) -> None:
    assert ffn_mult_to_intermediate_size(mult, hidden) == size


def test_shortest_ffn_mult_prefers_the_value_nearest_the_exact_ratio() -> None:
    assert intermediate_size_to_ffn_mult(28672, 8192) == 5.25
    # The exact ratio 3 * size / (2 * hidden) when a float holds it: the published multipliers.
    assert intermediate_size_to_ffn_mult(14336, 8192) == 2.625
    assert intermediate_size_to_ffn_mult(17920, 8192) == 3.28125
    assert intermediate_size_to_ffn_mult(7168, 8192) == 1.3125
    assert intermediate_size_to_ffn_mult(21504, 16384) == 1.96875
    # Otherwise the shortest decimal: 3 * 1536 / (2 * 7) has no finite binary expansion.
    assert intermediate_size_to_ffn_mult(1536, 7) == 329.0
    assert intermediate_size_to_ffn_mult(256, 1) == 384.0


@given(hidden=st.integers(1, 65536), multiples=st.integers(1, 4096))
def test_every_multiple_of_256_has_an_ffn_mult_that_maps_back(hidden: int, multiples: int) -> None:
    size = 256 * multiples
    mult = intermediate_size_to_ffn_mult(size, hidden)
    assert ffn_mult_to_intermediate_size(mult, hidden) == size
    assert len(repr(mult)) <= 20


@pytest.mark.parametrize("size", [0, -256, 1000, 28671])
def test_sizes_that_are_not_positive_multiples_of_256_have_no_ffn_mult(size: int) -> None:
    with pytest.raises(ValueError, match="multiple of 256"):
        intermediate_size_to_ffn_mult(size, 8192)


# --------------------------------------------------------------------------- published files


@needs_published
def test_super_49b_translates_as_published() -> None:
    config = _config(SUPER)
    blocks = _native(config["block_configs"])
    assert len(blocks) == 80
    kv = Counter(block.attention.num_key_value_heads for block in blocks if block.attention)
    assert kv == {8: 49, None: 31}
    assert sum(1 for b in blocks if b.attention and b.attention.no_op) == 31
    sizes = Counter(block.ffn.intermediate_size for block in blocks if block.ffn)
    assert sizes == {28672: 49, 14336: 6, 17920: 1, 7168: 10, 5632: 8, 2816: 6}


@needs_published
def test_ultra_253b_has_dummy_layers_and_very_wide_ffns() -> None:
    config = _config(ULTRA)
    blocks = _native(config["block_configs"], heads=128, hidden=16384)
    assert len(blocks) == 162
    dummies = [b for b in blocks if b.attention and b.attention.no_op and b.ffn and b.ffn.no_op]
    assert len(dummies) == 81
    assert all(b.ffn is not None and b.ffn.intermediate_size is None for b in dummies)
    sizes = {b.ffn.intermediate_size or 0 for b in blocks if b.ffn and not b.ffn.no_op}
    assert max(sizes) == ffn_mult_to_intermediate_size(39.0, 16384) == 425984
    kv = {b.attention.num_key_value_heads for b in blocks if b.attention and not b.attention.no_op}
    assert kv == {8}


@needs_published
@pytest.mark.parametrize(("path", "heads", "hidden"), [(SUPER, 64, 8192), (ULTRA, 128, 16384)])
def test_legacy_native_legacy_reproduces_the_published_block_configs(
    path: Path, heads: int, hidden: int
) -> None:
    items = _config(path)["block_configs"]
    originals = structure_legacy_block_configs(items)
    blocks = legacy_to_native(originals, num_attention_heads=heads, hidden_size=hidden)
    back = native_to_legacy(
        blocks, num_attention_heads=heads, hidden_size=hidden, originals=originals
    )
    assert back == items
    assert json.dumps(back, indent=2) == json.dumps(items, indent=2)


@needs_published
@pytest.mark.parametrize(("path", "heads", "hidden"), [(SUPER, 64, 8192), (ULTRA, 128, 16384)])
def test_fresh_translation_without_originals_keeps_every_size(
    path: Path, heads: int, hidden: int
) -> None:
    blocks = _native(_config(path)["block_configs"], heads=heads, hidden=hidden)
    fresh = native_to_legacy(blocks, num_attention_heads=heads, hidden_size=hidden)
    assert _native(fresh, heads=heads, hidden=hidden) == blocks


# --------------------------------------------------------------------------- reading rules


def test_no_op_and_linear_attention_may_have_a_null_group() -> None:
    items = [
        {"attention": _attention(no_op=True, n_heads_in_group=None), "ffn": _ffn()},
        {"attention": _attention(replace_with_linear=True, n_heads_in_group=None), "ffn": _ffn()},
        {"attention": _attention(replace_with_linear=True, n_heads_in_group=16), "ffn": _ffn()},
    ]
    no_op, linear, linear_grouped = _native(items)
    assert no_op.attention is not None
    assert no_op.attention.no_op
    assert no_op.attention.num_key_value_heads is None
    assert linear.attention is not None
    assert linear.attention.replace_with_linear
    assert linear.attention.num_key_value_heads == 64
    assert linear_grouped.attention is not None
    assert linear_grouped.attention.num_key_value_heads == 4


def test_no_op_and_linear_ffns_may_have_a_null_mult() -> None:
    items = [
        {"attention": _attention(), "ffn": _ffn(no_op=True, ffn_mult=None)},
        {"attention": _attention(), "ffn": _ffn(replace_with_linear=True, ffn_mult=None)},
    ]
    no_op, linear = _native(items)
    assert no_op.ffn is not None
    assert no_op.ffn.no_op
    assert no_op.ffn.intermediate_size is None
    assert linear.ffn is not None
    assert linear.ffn.intermediate_size == 8192


def test_every_translation_problem_is_reported_at_its_legacy_path() -> None:
    items = [
        {"attention": _attention(), "ffn": _ffn()},
        {"attention": _attention(n_heads_in_group=7), "ffn": _ffn()},
        {"attention": _attention(n_heads_in_group=None), "ffn": _ffn(ffn_mult=None)},
        {"attention": _attention(), "ffn": _ffn(ffn_mult=-1.0)},
        {"attention": _attention(), "ffn": _ffn(ffn_mult=1e-9)},
    ]
    with pytest.raises(BlockConfigError) as info:
        _native(items)
    assert [str(problem) for problem in info.value.problems] == [
        "$[1].attention.n_heads_in_group: 7 does not divide num_attention_heads (64)",
        "$[2].attention.n_heads_in_group: required unless the attention is no_op or linear",
        "$[2].ffn.ffn_mult: required unless the FFN is no_op or linear",
        "$[3].ffn.ffn_mult: must be positive, got -1.0",
        "$[4].ffn.ffn_mult: 1e-09 gives intermediate_size 0 with hidden_size 8192",
    ]


def test_types_are_strict_and_unknown_keys_are_errors() -> None:
    items = [
        {"attention": _attention(n_heads_in_group="8"), "ffn": _ffn(ffn_mult=True)},
        {"attention": _attention(window_length=2.5), "ffn": _ffn(no_op="false")},
        {"attention": _attention(extra=1), "ffn": _ffn()},
        {"ffn": _ffn()},
        [],
    ]
    with pytest.raises(BlockConfigError) as info:
        structure_legacy_block_configs(items)
    assert [str(problem) for problem in info.value.problems] == [
        "$[0].attention.n_heads_in_group: expected int, got str '8'",
        "$[0].ffn.ffn_mult: expected float, got bool True",
        "$[1].attention.window_length: expected int, got float 2.5",
        "$[1].ffn.no_op: expected bool, got str 'false'",
        "$[2].attention.extra: unknown key (expected one of: n_heads_in_group, no_op, "
        "num_sink_tokens, replace_with_linear, sparsify, unshifted_sink, "
        "use_prefill_window_in_sink_attention, window_length)",
        "$[3].attention: missing required key",
        "$[4]: expected LegacyBlockConfig object, got list",
    ]


def test_unknown_keys_can_be_dropped_with_a_warning() -> None:
    items = [{"attention": _attention(extra=1), "ffn": _ffn()}]
    with pytest.warns(UnknownKeyWarning, match=r"^\$\[0\]\.attention\.extra: unknown key"):
        (item,) = structure_legacy_block_configs(items, unknown_keys="warn")
    assert item.attention.n_heads_in_group == 8


def test_a_list_is_required() -> None:
    with pytest.raises(BlockConfigError, match=r"^\$: expected a list of block configs, got dict"):
        structure_legacy_block_configs({"attention": {}})


# --------------------------------------------------------------------------- writing rules


def test_native_to_legacy_refuses_what_the_dialect_cannot_express_listing_every_layer() -> None:
    blocks = [
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"moe": {}}),
        BlockConfig(
            attention={
                "mamba": {"state_dim": 128, "num_heads": 8, "head_dim": 64, "num_groups": 1}
            },
            ffn={"no_op": True},
        ),
        BlockConfig(
            attention={"num_key_value_heads": 8, "llama4": {"use_rope": True}},
            ffn={"intermediate_size": 5632},
        ),
        BlockConfig(
            attention={"no_op": True},
            ffn={"no_op": True},
            parallel_blocks=[{"attention": {"no_op": True}, "ffn": {"no_op": True}}],
        ),
        BlockConfig(attention={"num_key_value_heads": 5}, ffn={"intermediate_size": 1000}),
        BlockConfig(
            attention={"num_key_value_heads": 8, "weights_precision": "fp8"},
            ffn={"intermediate_size": 5632, "weights_precision": None},
        ),
        BlockConfig(ffn={"no_op": True}),
    ]
    with pytest.raises(BlockConfigError) as info:
        native_to_legacy(blocks, num_attention_heads=64, hidden_size=8192)
    paths = [str(problem).split(":")[0] for problem in info.value.problems]
    assert paths == [
        "$[0].ffn.moe",
        "$[1].attention.mamba",
        "$[2].attention.llama4",
        "$[3].parallel_blocks",
        "$[4].attention.num_key_value_heads",
        "$[4].ffn.intermediate_size",
        "$[5].attention.weights_precision",
        "$[5].ffn.weights_precision",
        "$[6].attention",
    ]
    assert all("the legacy dialect cannot express" in str(p) for p in info.value.problems)


def test_changed_layers_are_written_afresh_and_keep_their_sink_keys() -> None:
    original_items = [
        {
            "attention": _attention(
                num_sink_tokens=4,
                sparsify=None,
                unshifted_sink=True,
                use_prefill_window_in_sink_attention=False,
                window_length=4096,
            ),
            "ffn": _ffn(ffn_mult=1.95, sparsify=None),
        }
    ]
    originals = structure_legacy_block_configs(original_items)
    (block,) = legacy_to_native(originals, num_attention_heads=64, hidden_size=16384)
    assert block.ffn is not None
    assert block.ffn.intermediate_size == 21504
    unchanged = native_to_legacy(
        [block], num_attention_heads=64, hidden_size=16384, originals=originals
    )
    assert unchanged == original_items
    wider = BlockConfig(attention=block.attention, ffn={"intermediate_size": 28672})
    assert block.attention is not None
    assert block.attention.sliding_window == 4096  # window_length is read as the window
    fewer_kv = BlockConfig(
        attention=attrs.evolve(block.attention, num_key_value_heads=4), ffn=block.ffn
    )
    (changed_ffn,) = native_to_legacy(
        [wider], num_attention_heads=64, hidden_size=16384, originals=originals
    )
    assert changed_ffn["attention"] == original_items[0]["attention"]
    assert changed_ffn["ffn"]["ffn_mult"] == intermediate_size_to_ffn_mult(28672, 16384)
    (changed_attention,) = native_to_legacy(
        [fewer_kv], num_attention_heads=64, hidden_size=16384, originals=originals
    )
    assert changed_attention["ffn"] == original_items[0]["ffn"]
    assert changed_attention["attention"] == {
        **original_items[0]["attention"],
        "n_heads_in_group": 16,
    }


def test_sink_or_window_settings_are_told_apart_from_plain_attention() -> None:
    plain = LegacyAttentionConfig(n_heads_in_group=8)
    assert not plain.has_sink_or_window
    for change in (
        {"unshifted_sink": True},
        {"use_prefill_window_in_sink_attention": True},
        {"window_length": 4096},
        {"num_sink_tokens": 0},
    ):
        assert attrs.evolve(plain, **change).has_sink_or_window


def test_originals_must_match_the_blocks() -> None:
    with pytest.raises(ValueError, match="originals has 1 items but there are 0 blocks"):
        native_to_legacy(
            [],
            num_attention_heads=64,
            hidden_size=8192,
            originals=[
                LegacyBlockConfig.from_dict({"attention": {"no_op": True}, "ffn": {"no_op": True}})
            ],
        )


def test_looks_legacy_tells_the_dialects_apart() -> None:
    assert looks_legacy([{"attention": {"n_heads_in_group": 8}}]) is True
    assert looks_legacy([{"ffn": {"intermediate_size": 8}}]) is False
    assert looks_legacy([{"attention": {"no_op": True}, "ffn": {"no_op": True}}]) is None
    assert looks_legacy("not a list") is None
    with pytest.raises(
        BlockConfigError,
        match=r"\$\[0\]\.ffn\.ffn_mult is legacy, "
        r"\$\[1\]\.attention\.num_key_value_heads is native",
    ):
        looks_legacy([{"ffn": {"ffn_mult": 1.0}}, {"attention": {"num_key_value_heads": 8}}])


# --------------------------------------------------------------------------- family fields


def test_window_length_is_the_native_sliding_window() -> None:
    items = [
        {"attention": _attention(window_length=4096), "ffn": _ffn()},
        {"attention": _attention(replace_with_linear=True, window_length=128), "ffn": _ffn()},
        {"attention": {"no_op": True, "window_length": 64}, "ffn": _ffn()},
        {"attention": _attention(), "ffn": _ffn()},
    ]
    blocks = _native(items)
    windows = [block.attention.sliding_window if block.attention else 0 for block in blocks]
    assert windows == [4096, 128, None, None]
    # Read back as it was written, the no-op's key included (a no-op has no native window).
    originals = structure_legacy_block_configs(items)
    written = native_to_legacy(
        blocks, num_attention_heads=64, hidden_size=8192, originals=originals
    )
    assert [item["attention"]["window_length"] for item in written] == [4096, 128, 64, None]


def test_a_native_sliding_window_is_written_as_window_length() -> None:
    blocks = [
        BlockConfig(
            attention={"num_key_value_heads": 8, "sliding_window": 4096}, ffn={"no_op": True}
        ),
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 5632}),
    ]
    written = native_to_legacy(blocks, num_attention_heads=64, hidden_size=8192)
    assert written[0]["attention"] == {
        "n_heads_in_group": 8,
        "no_op": False,
        "num_sink_tokens": None,
        "replace_with_linear": False,
        "sparsify": None,
        "unshifted_sink": False,
        "use_prefill_window_in_sink_attention": False,
        "window_length": 4096,
    }
    assert written[1]["attention"]["window_length"] is None
    assert _native(written) == blocks


def test_a_changed_window_is_written_and_the_sink_keys_kept() -> None:
    items = [{"attention": _attention(window_length=4096, num_sink_tokens=4), "ffn": _ffn()}]
    originals = structure_legacy_block_configs(items)
    (block,) = legacy_to_native(originals, num_attention_heads=64, hidden_size=8192)
    assert block.attention is not None
    for window in (1024, None):
        changed = BlockConfig(
            attention=attrs.evolve(block.attention, sliding_window=window), ffn=block.ffn
        )
        (item,) = native_to_legacy(
            [changed], num_attention_heads=64, hidden_size=8192, originals=originals
        )
        assert item["attention"] == {
            **items[0]["attention"],
            "window_length": window,
            "num_sink_tokens": 4,
            "sparsify": None,
            "unshifted_sink": False,
            "use_prefill_window_in_sink_attention": False,
        }


def test_what_legacy_cannot_say_of_the_family_fields_is_refused_in_place() -> None:
    mla = {"kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
    blocks = [
        BlockConfig(attention={"num_key_value_heads": 8}, ffn={"intermediate_size": 5632}),
        BlockConfig(attention={"mla": mla}, ffn={"intermediate_size": 5632}),
        BlockConfig(attention={"no_op": True}, ffn={"intermediate_size": 5632, "gated": False}),
        BlockConfig(attention={"no_op": True}, ffn={"moe": {"gated": False}}),
        BlockConfig(
            attention={"num_key_value_heads": 8, "num_attention_heads": 32, "head_dim": 256},
            ffn={"intermediate_size": 5632},
        ),
    ]
    with pytest.raises(BlockConfigError) as info:
        native_to_legacy(blocks, num_attention_heads=64, hidden_size=8192)
    assert [str(p) for p in info.value.problems] == [
        "$[1].attention.mla: the legacy dialect cannot express Multi-head Latent Attention (MLA)",
        "$[2].ffn.gated: the legacy dialect cannot express ungated (two-matrix) FFNs: "
        "every legacy FFN is SwiGLU",
        "$[3].ffn.moe: the legacy dialect cannot express mixture-of-experts FFNs",
        "$[4].attention.num_attention_heads: the legacy dialect cannot express a query-head "
        "count of the layer's own",
        "$[4].attention.head_dim: the legacy dialect cannot express a head width of the "
        "layer's own",
    ]


def test_the_new_native_keys_mark_the_native_dialect() -> None:
    assert looks_legacy([{"attention": {"no_op": False, "sliding_window": 8}}]) is False
    assert looks_legacy([{"ffn": {"no_op": False, "gated": False}}]) is False
    with pytest.raises(BlockConfigError, match=r"\$\[0\]\.attention\.window_length is legacy"):
        looks_legacy([{"attention": {"window_length": 8}}, {"attention": {"sliding_window": 8}}])


def test_settings_native_cannot_say() -> None:
    assert (
        LegacyAttentionConfig(n_heads_in_group=8, window_length=8).settings_native_cannot_say == {}
    )
    assert LegacyAttentionConfig(no_op=True, window_length=8).settings_native_cannot_say == {
        "window_length": 8
    }
    assert LegacyAttentionConfig(
        n_heads_in_group=8, num_sink_tokens=0
    ).settings_native_cannot_say == {"num_sink_tokens": 0}
