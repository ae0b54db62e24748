"""The shipped hypothesis strategies generate valid, normalised configs that round-trip."""

from __future__ import annotations

import attrs
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from block_config import (
    MAX_INT,
    BlockConfig,
    LinearAttentionConfig,
    converter,
    dumps,
    loads,
    structure_block_configs,
)
from block_config import strategies as bst
from block_config.strategies import block_configs


@given(block_configs())
def test_structure_of_unstructure_is_identity(block: BlockConfig) -> None:
    assert converter.structure(converter.unstructure(block), BlockConfig) == block
    assert BlockConfig.from_dict(block.to_dict()) == block


# Lists of up to eight nested blocks are slow to draw on a busy machine; the check of each
# drawn list is what matters here.
@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(block_configs(), max_size=8))
def test_json_round_trip(blocks: list[BlockConfig]) -> None:
    assert loads(dumps(blocks)) == blocks


@given(block_configs())
def test_normalisation_is_idempotent(block: BlockConfig) -> None:
    again = BlockConfig(**block.to_dict())
    assert again.to_dict() == block.to_dict()
    assert attrs.evolve(again) == again


@given(block_configs())
def test_structured_objects_compare_like_their_repr(block: BlockConfig) -> None:
    (copy,) = structure_block_configs([block.to_dict()])
    assert copy == block
    assert hash(copy) == hash(block)
    assert repr(copy) == repr(block)


@given(
    st.one_of(
        bst.moe_configs(),
        bst.mamba_configs(),
        bst.mla_configs(),
        bst.llama4_attention_configs(),
        bst.attention_configs(),
        bst.ffn_configs(),
    )
)
def test_every_class_strategy_round_trips(obj: object) -> None:
    assert converter.structure(converter.unstructure(obj), type(obj)) == obj


@given(block_configs(max_depth=0))
def test_max_depth_zero_has_no_parallel_blocks(block: BlockConfig) -> None:
    assert block.parallel_blocks is None


def test_the_fields_written_only_when_set_are_generated_both_ways() -> None:
    # Each is found set and found unset: the strategies cover the seed shape and the new one.
    attention, ffn, moe = bst.attention_configs(), bst.ffn_configs(), bst.moe_configs()
    assert find(attention, lambda a: a.sliding_window is not None).sliding_window is not None
    assert find(attention, lambda a: a.mla is not None).is_mla
    with_q_latent = find(attention, lambda a: a.mla is not None and a.mla.q_lora_rank is not None)
    assert with_q_latent.mla is not None
    assert with_q_latent.mla.q_lora_rank is not None
    seed_shaped = find(attention, lambda a: a.mla is None and a.sliding_window is None)
    assert "sliding_window" not in seed_shaped.to_dict()
    assert find(ffn, lambda f: f.gated is False).is_gated is False
    assert find(ffn, lambda f: f.moe is None and f.gated is None).is_gated
    assert find(moe, lambda m: m.gated is False).is_gated is False
    assert find(moe, lambda m: m.gated is None).is_gated


@settings(max_examples=200, deadline=None)
@given(bst.linear_attention_configs())
def test_linear_attention_heads_stay_within_max_int(linear: LinearAttentionConfig) -> None:
    assert linear.num_value_heads <= MAX_INT
    if linear.kind == "gdn":
        assert linear.num_value_heads % linear.num_key_heads == 0
    else:
        assert (linear.num_value_heads, linear.value_head_dim) == (
            linear.num_key_heads,
            linear.key_head_dim,
        )
    assert LinearAttentionConfig.from_dict(linear.to_dict()) == linear
