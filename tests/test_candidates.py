"""Candidate libraries: enumeration from a parent, exact costs, and the strict file format."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from published import SUPER, needs_published

from block_config import (
    LIBRARY_FORMAT_VERSION,
    BlockConfigError,
    Candidate,
    CandidateLibrary,
    FFNConfig,
    ModelArchitecture,
    _candidates,
    block_stats,
    build_candidates,
)
from block_config._stats import attention_kind, ffn_kind

EXAMPLES = Path(__file__).parent.parent / "examples"
HYBRID = EXAMPLES / "hybrid-native.config.json"

GQA = {"attention": {"num_key_value_heads": 4}, "ffn": {"intermediate_size": 100}}


def small_parent(*blocks: dict[str, Any], **fields: Any) -> ModelArchitecture:
    return ModelArchitecture(
        hidden_size=32,
        num_attention_heads=8,
        vocab_size=50,
        block_configs=list(blocks) or [GQA, GQA],
        **fields,
    )


def messages(error: pytest.ExceptionInfo[BlockConfigError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# ---------------------------------------------------------------------------- enumeration


def test_the_parents_own_block_comes_first_in_every_layer() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(
        parent, kv_heads=[2, 1], ffn_fractions=[0.5], linear=True, no_op=True, experts=[16, 8]
    )
    assert len(library.layers) == parent.num_hidden_layers
    for block, layer in zip(parent.block_configs, library.layers, strict=True):
        assert layer[0].block == block
        assert len({candidate.block for candidate in layer}) == len(layer)


def test_every_candidate_carries_the_exact_costs_of_its_block_in_the_parent() -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[1], ffn_sizes=[64], linear=True, no_op=True)
    for layer in library.layers:
        for candidate in layer:
            stats = block_stats(candidate.block, parent)
            assert candidate.stats == stats
            assert candidate.costs() == {
                "params": stats.params,
                "active_params": stats.active_params,
                "weight_bytes": stats.weight_bytes,
                "kv_cache_bytes_per_token": stats.kv_cache_bytes_per_token,
                "mamba_state_bytes_per_sequence": stats.mamba_state_bytes_per_sequence,
            }
            assert candidate.score is None


def test_kv_heads_vary_gqa_attention_only_and_keep_the_ffn() -> None:
    parent = small_parent(GQA, {"attention": {"no_op": True}, "ffn": {"intermediate_size": 64}})
    library = build_candidates(parent, kv_heads=[8, 2, 4])
    gqa_layer = [c.block.attention.num_key_value_heads for c in library.layers[0]]  # type: ignore[union-attr]
    assert gqa_layer == [4, 8, 2]  # the parent's 4 first; the repeated 4 dropped
    assert all(c.block.ffn == library.layers[0][0].block.ffn for c in library.layers[0])
    assert len(library.layers[1]) == 1  # no attention to shrink


def test_ffn_sizes_and_fractions_apply_to_dense_ffns_rounded_to_the_nearest_int() -> None:
    parent = small_parent(GQA)
    library = build_candidates(parent, ffn_sizes=[10, 100], ffn_fractions=[0.5, 0.125, 0.005])
    sizes = [c.block.ffn.intermediate_size for c in library.layers[0]]  # type: ignore[union-attr]
    # 0.125 * 100 = 12.5 rounds up to 13; 0.005 * 100 = 0.5 rounds to 1 (at least 1).
    assert sizes == [100, 10, 50, 13, 1]
    third = build_candidates(parent, ffn_fractions=[Fraction(1, 3)]).layers[0][1].block
    assert third.ffn == FFNConfig(intermediate_size=33)


def test_linear_and_no_op_give_the_cross_product_of_attention_and_ffn_variants() -> None:
    parent = small_parent(GQA)
    library = build_candidates(parent, linear=True, no_op=True)
    kinds = [(attention_kind(c.block.attention), ffn_kind(c.block.ffn)) for c in library.layers[0]]
    assert kinds == [
        (a, f) for a in ("gqa", "linear", "no_op") for f in ("dense", "linear", "no_op")
    ]
    linear = library.layers[0][4].block  # linear attention, linear FFN
    assert linear.attention.num_key_value_heads == parent.num_attention_heads  # type: ignore[union-attr]
    assert linear.ffn.intermediate_size == parent.hidden_size  # type: ignore[union-attr]
    assert library.layers[0][8].params == 0


def test_experts_vary_the_routed_experts_of_moe_ffns() -> None:
    moe = {
        "attention": {"num_key_value_heads": 4},
        "ffn": {
            "moe": {
                "num_local_experts": 8,
                "num_experts_per_tok": 2,
                "expert_intermediate_dim": 16,
                "shared_expert_intermediate_dim": 0,
            }
        },
    }
    library = build_candidates(small_parent(moe), experts=[4, 2])
    counts = [c.block.ffn.moe.num_local_experts for c in library.layers[0]]  # type: ignore[union-attr]
    assert counts == [8, 4, 2]
    assert library.layers[0][2].params < library.layers[0][1].params < library.layers[0][0].params
    # active parameters: the same two experts per token whatever the count (less the router)
    assert library.layers[0][0].active_params - library.layers[0][2].active_params == 6 * 32
    with pytest.raises(ValueError, match="1 is fewer than the 2 experts per token of layer 0"):
        build_candidates(small_parent(moe), experts=[1])


def test_precisions_and_parallel_blocks_are_kept() -> None:
    block = {
        "attention": {"num_key_value_heads": 4, "weights_precision": "fp8"},
        "ffn": {"intermediate_size": 100, "weights_precision": "nvfp4"},
        "parallel_blocks": [GQA],
    }
    library = build_candidates(small_parent(block), kv_heads=[2], ffn_sizes=[50])
    for candidate in library.layers[0]:
        assert candidate.block.attention.weights_precision == "fp8"  # type: ignore[union-attr]
        assert candidate.block.ffn.weights_precision == "nvfp4"  # type: ignore[union-attr]
        assert candidate.block.parallel_blocks == library.layers[0][0].block.parallel_blocks


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kv_heads": [3]}, r"kv_heads: 3 does not divide num_attention_heads \(8\)"),
        ({"kv_heads": [0]}, "kv_heads: expected ints of at least 1, got 0"),
        ({"kv_heads": [True]}, "kv_heads: expected ints of at least 1, got True"),
        ({"ffn_sizes": [2.0]}, "ffn_sizes: expected ints of at least 1, got 2.0"),
        ({"ffn_fractions": [0]}, "ffn_fractions: expected finite numbers above 0, got 0"),
        ({"ffn_fractions": [math.nan]}, "expected finite numbers above 0, got nan"),
        ({"ffn_fractions": ["0.5"]}, "expected finite numbers above 0, got '0.5'"),
        ({"experts": [-1]}, "experts: expected ints of at least 1, got -1"),
    ],
)
def test_bad_options_are_value_errors_that_say_which(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_candidates(small_parent(), **options)


# ---------------------------------------------------------------------------- the file


def test_a_library_written_reads_back_equal_with_its_format_version(tmp_path: Path) -> None:
    parent = ModelArchitecture.load(HYBRID)
    library = build_candidates(parent, kv_heads=[1], linear=True, no_op=True)
    scored = library.with_scores(
        [[float(j) / 4 for j in range(len(layer))] for layer in library.layers]
    )
    path = scored.save(tmp_path / "library.json")
    text = path.read_text()
    assert text == scored.dumps()
    # One candidate per line: a diff of two libraries shows the candidates that differ.
    assert len(text.splitlines()) == 2 + library.num_candidates + 2 * len(library.layers)
    document = json.loads(text)
    # Nothing measured and no spans: written as version 1, byte for byte as before version 2.
    assert document["format_version"] == 1
    assert LIBRARY_FORMAT_VERSION == 2
    first = document["layers"][0][0]
    assert set(first) == {"block", "score", *_candidates.COST_NAMES}
    assert first["params"] == library.layers[0][0].params
    assert CandidateLibrary.load(path, parent) == scored
    assert CandidateLibrary.from_mapping(library.to_mapping(), parent) == library


def test_costs_in_the_file_are_ignored_and_recounted() -> None:
    parent = small_parent()
    document = build_candidates(parent, no_op=True).to_mapping()
    document["layers"][0][0]["params"] = 1
    document["layers"][0][0]["note"] = "anything else a pipeline keeps"
    del document["format_version"]  # version 1 when absent
    library = CandidateLibrary.from_mapping(document, parent)
    assert library.layers[0][0].params == block_stats(parent.block_configs[0], parent).params


def test_scores_may_be_ints_and_become_floats() -> None:
    document = {"layers": [[{"block": GQA, "score": 3}], [{"block": GQA, "score": -0.5}]]}
    library = CandidateLibrary.from_mapping(document, small_parent())
    assert [type(c.score) for layer in library.layers for c in layer] == [float, float]
    assert library.layers[0][0].score == 3.0


BAD_BLOCK = {"attention": {"num_key_value_heads": "8"}, "ffn": {"intermediate_size": 100}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], ["$: expected a candidate library object, got list"]),
        (
            {"format_version": 3, "layers": [[{"block": GQA}]] * 2},
            ["$.format_version: expected one of [1, 2]"],
        ),
        ({"format_version": "1", "layers": [[{"block": GQA}]] * 2}, ["got str '1'"]),
        ({}, ["$.layers: missing required key"]),
        ({"layers": {"0": []}}, ["$.layers: expected a list of layers, got dict"]),
        (
            {"layers": [[{"block": GQA}], 5]},
            ["$.layers[1]: expected a list of candidates, got int 5"],
        ),
        ({"layers": [[{"block": GQA}], []]}, ["$.layers[1]: holds no candidates"]),
        ({"layers": [[{"block": GQA}], ["x"]]}, ["$.layers[1][0]: expected a candidate object"]),
        (
            {"layers": [[{"block": GQA}], [{"score": 1}]]},
            ["$.layers[1][0].block: missing required key"],
        ),
        (
            {"layers": [[{"block": GQA}], [{"block": GQA}, {"block": BAD_BLOCK}]]},
            ["$.layers[1][1].block.attention.num_key_value_heads: expected int, got str '8'"],
        ),
        (
            {"layers": [[{"block": GQA, "score": "0.5"}], [{"block": GQA, "score": True}]]},
            [
                "$.layers[0][0].score: expected float, got str '0.5'",
                "$.layers[1][0].score: expected float, got bool True",
            ],
        ),
        (
            {"layers": [[{"block": GQA, "score": math.inf}], [{"block": GQA}]]},
            ["$.layers[0][0].score: expected a finite float, got float inf"],
        ),
        ({"layers": [[{"block": GQA}]]}, ["$.layers: has 1 layers but the parent has 2"]),
        (
            {
                "layers": [
                    [{"block": GQA}],
                    [{"block": {**GQA, "attention": {"num_key_value_heads": 3}}}],
                ]
            },
            ["$.layers[1][0].block.attention.num_key_value_heads: 3 does not divide"],
        ),
        (
            {
                "layers": [
                    [{"block": GQA}],
                    [
                        {
                            "block": {
                                **GQA,
                                "ffn": {"intermediate_size": 8, "weights_precision": "q3"},
                            }
                        }
                    ],
                ]
            },
            ["$.layers[1][0].block.ffn.weights_precision: unknown precision 'q3'"],
        ),
    ],
)
def test_a_malformed_library_is_an_error_located_by_its_json_path(
    document: Any, expected: list[str]
) -> None:
    with pytest.raises(BlockConfigError) as error:
        CandidateLibrary.from_mapping(document, small_parent())
    found = messages(error)
    assert len(found) == len(expected)
    for line, start in zip(found, expected, strict=True):
        assert start in line


def test_every_problem_of_a_library_is_told_at_once() -> None:
    document = {
        "format_version": 7,
        "layers": [
            [{"block": BAD_BLOCK, "score": "x"}, {"block": GQA, "score": None}],
            [{"block": GQA}, {}],
        ],
    }
    with pytest.raises(BlockConfigError) as error:
        CandidateLibrary.from_mapping(document, small_parent())
    assert [str(p.path) for p in error.value.problems] == [
        str(("format_version",)),
        str(("layers", 0, 0, "block", "attention", "num_key_value_heads")),
        str(("layers", 0, 0, "score")),
        str(("layers", 1, 1, "block")),
    ]


def test_invalid_json_in_a_library_file_is_a_block_config_error(tmp_path: Path) -> None:
    path = tmp_path / "library.json"
    path.write_text('{"layers": [[{"block": ')
    with pytest.raises(BlockConfigError, match="invalid JSON"):
        CandidateLibrary.load(path, small_parent())
    path.write_text('{"layers": [[{"block": {}, "score": NaN}]]}')
    with pytest.raises(BlockConfigError, match="invalid JSON"):
        CandidateLibrary.load(path, small_parent())


# ---------------------------------------------------------------------------- scores


def test_with_scores_checks_the_shape_and_every_score() -> None:
    library = build_candidates(small_parent(), no_op=True)
    with pytest.raises(BlockConfigError, match=r"\$.layers: has 1 layers of scores"):
        library.with_scores([[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(BlockConfigError) as error:
        library.with_scores([[0.0, 1.0], [0.0, math.nan, 1.0, 2.0]])
    assert messages(error) == [
        "$.layers[0]: has 2 scores but the layer has 4 candidates",
        "$.layers[1][1].score: expected a finite float, got float nan",
    ]
    scored = library.with_scores([[1, 2, 3, 4], [None, 0.5, 0.5, 0.5]])
    assert [c.score for c in scored.layers[1]] == [None, 0.5, 0.5, 0.5]


def test_a_candidate_refuses_a_score_that_is_not_a_finite_float() -> None:
    parent = small_parent()
    block = parent.block_configs[0]
    stats = block_stats(block, parent)
    assert Candidate(block=block, stats=stats, score=1.5).score == 1.5
    bad: Any
    for bad in (math.nan, -math.inf, "1", True):
        with pytest.raises(BlockConfigError, match=r"^\$.score: expected (a finite )?float, got "):
            Candidate(block=block, stats=stats, score=bad)


def test_from_blocks_takes_blocks_or_block_score_pairs() -> None:
    parent = small_parent()
    block = parent.block_configs[0]
    library = CandidateLibrary.from_blocks(parent, [[block], [(block, 2.0)]])
    assert [layer[0].score for layer in library.layers] == [None, 2.0]
    with pytest.raises(BlockConfigError, match=r"\$.layers\[1\]: holds no candidates"):
        CandidateLibrary.from_blocks(parent, [[block], []])


@needs_published
def test_the_super_49b_library_has_the_parent_first_and_only_valid_kv_counts() -> None:
    parent = ModelArchitecture.load(SUPER)
    library = build_candidates(parent, kv_heads=[8, 4, 2, 1], ffn_fractions=[0.5], no_op=True)
    for layer in library.layers:
        for candidate in layer[1:]:
            attention = candidate.block.attention
            if attention is not None and attention.num_key_value_heads is not None:
                assert parent.num_attention_heads % attention.num_key_value_heads == 0
    assert library.num_candidates == sum(len(layer) for layer in library.layers)


def test_the_docstring_examples_hold() -> None:
    import doctest

    failures, attempted = doctest.testmod(_candidates, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0


def test_a_quantized_parent_counts_each_layer_as_itself() -> None:
    """A layer whose FFN is left unquantized stores its candidates' FFN weights at bf16."""
    config = {
        "hidden_size": 32,
        "num_attention_heads": 8,
        "vocab_size": 50,
        "block_configs": [GQA, GQA],
        "quantization_config": {
            "quant_method": "modelopt",
            "quant_algo": "FP8",
            "ignore": ["model.layers.0.mlp*", "lm_head"],
        },
    }
    parent = ModelArchitecture.from_mapping(config)
    library = build_candidates(parent, ffn_sizes=[64])
    for index, layer in enumerate(library.layers):
        for candidate in layer:
            assert candidate.stats == block_stats(candidate.block, parent, index=index)
    same = library.layers[0][1].block
    assert same == library.layers[1][1].block
    assert library.layers[0][1].weight_bytes > library.layers[1][1].weight_bytes
