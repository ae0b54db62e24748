"""Candidate libraries of format version 2: measured stats, spans and non-block stats, read
and written; search_spans equal to exhaustive enumeration; errors located."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from block_config import (
    BlockConfig,
    BlockConfigError,
    Bound,
    Budgets,
    CandidateLibrary,
    InfeasibleConstraintError,
    ModelArchitecture,
    SpanCandidate,
    model_stats,
    search,
    search_spans,
)
from block_config._cli import main as cli_main

pytest.importorskip("scipy", reason="the search needs the search extra (scipy)")

LAYERS = 4


def parent() -> ModelArchitecture:
    return ModelArchitecture(
        hidden_size=64,
        num_attention_heads=8,
        vocab_size=100,
        block_configs=[{"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 256}}]
        * LAYERS,
    )


BLOCKS = [
    BlockConfig.from_dict(
        {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 256}}
    ),
    BlockConfig.from_dict(
        {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 128}}
    ),
    BlockConfig.from_dict({"attention": {"no_op": True}, "ffn": {"intermediate_size": 64}}),
    BlockConfig.from_dict({"attention": {"no_op": True}, "ffn": {"no_op": True}}),
]


def library(seed: int) -> CandidateLibrary:
    rng = random.Random(seed)
    layers = []
    for _ in range(LAYERS):
        layers.append(
            [
                (block, round(rng.uniform(0, 1), 4), {"runtime_ms": round(rng.uniform(0.1, 2), 4)})
                for block in BLOCKS
            ]
        )
    spans = []
    for _ in range(3):
        start = rng.randrange(LAYERS - 1)
        spans.append(
            (
                (start, start + 1),
                BLOCKS[rng.randrange(3)],
                round(rng.uniform(0, 1), 4),
                {"runtime_ms": round(rng.uniform(0.1, 3), 4)},
            )
        )
    return CandidateLibrary.from_blocks(
        parent(), layers, spans=spans, non_block={"runtime_ms": 0.75}
    )


def enumerate_best(
    lib: CandidateLibrary,
    budgets: Budgets,
    constraints: dict[str, Bound],
    maximize: bool,
) -> float | None:
    items: list[tuple[tuple[int, ...], Any]] = [
        ((i,), c) for i, layer in enumerate(lib.layers) for c in layer
    ]
    items += [(s.parent_layer_indices, s) for s in lib.spans]
    best: float | None = None
    for size in range(1, LAYERS + 1):
        for combo in itertools.combinations(range(len(items)), size):
            covered = sorted(i for k in combo for i in items[k][0])
            if covered != list(range(LAYERS)):
                continue
            chosen = sorted(combo, key=lambda k: items[k][0])
            child = lib.parent.with_block_configs(items[k][1].block for k in chosen)
            stats = model_stats(child)
            if budgets.max_params is not None and stats.total_params > budgets.max_params:
                continue
            ok = True
            for name, bound in constraints.items():
                total = math.fsum(
                    [*(items[k][1].measured[name] for k in chosen), lib.non_block.get(name, 0.0)]
                )
                ok = ok and bound.admits(total)
            if not ok:
                continue
            value = math.fsum(items[k][1].score for k in chosen)
            if best is None or (value > best if maximize else value < best):
                best = value
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(
    ("budget", "bound", "maximize"),
    [
        (None, Bound(maximum=4.0), False),
        (60_000, Bound(maximum=5.0), True),
        (None, Bound(minimum=3.0, maximum=4.5), False),
        (80_000, Bound(minimum=2.5), True),
    ],
)
def test_search_spans_equals_enumeration(
    seed: int, budget: int | None, bound: Bound, maximize: bool
) -> None:
    lib = library(seed)
    budgets = Budgets(max_params=budget)
    constraints = {"runtime_ms": bound}
    expected = enumerate_best(lib, budgets, constraints, maximize)
    if expected is None:
        with pytest.raises(InfeasibleConstraintError):
            search_spans(lib, budgets, constraints, maximize=maximize)
        return
    result = search_spans(lib, budgets, constraints, maximize=maximize)
    assert result.score == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert [i for span in result.parent_layer_indices for i in span] == list(range(LAYERS))
    assert bound.admits(result.measured["runtime_ms"])
    assert result.stats == model_stats(result.child)
    assert len(result.child.block_configs) == len(result.chosen)
    if budget is not None:
        assert result.stats.total_params <= budget


def test_a_v2_library_reads_back_equal(tmp_path: Path) -> None:
    lib = library(0)
    assert lib.format_version == 2
    path = lib.save(tmp_path / "library.json")
    document = json.loads(path.read_text())
    assert document["format_version"] == 2
    assert document["non_block"] == {"runtime_ms": 0.75}
    assert set(document["spans"][0]) >= {"parent_layer_indices", "block", "score", "stats"}
    assert document["layers"][0][0]["stats"] == {
        "runtime_ms": lib.layers[0][0].measured["runtime_ms"]
    }
    again = CandidateLibrary.load(path, parent())
    assert again == lib
    assert isinstance(again.spans[0], SpanCandidate)
    assert again.spans[0].stats.params == lib.spans[0].stats.params


def test_a_version_1_document_is_still_read() -> None:
    document = {
        "format_version": 1,
        "layers": [[{"block": BLOCKS[0].to_dict(), "score": 0.5}]] * LAYERS,
    }
    lib = CandidateLibrary.from_mapping(document, parent())
    assert lib.format_version == 1
    assert lib.spans == ()
    assert lib.layers[0][0].measured == {}


def test_version_1_ignores_the_version_2_keys() -> None:
    document = {
        "format_version": 1,
        "layers": [[{"block": BLOCKS[0].to_dict(), "score": 0.5, "stats": {"x": "y"}}]] * LAYERS,
        "spans": "not read in version 1",
    }
    assert CandidateLibrary.from_mapping(document, parent()).spans == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["spans"][0].update(parent_layer_indices=[2, 1]),
            "$.spans[0].parent_layer_indices: expected at least two consecutive ascending",
        ),
        (
            lambda d: d["spans"][0].update(parent_layer_indices=[3, 4]),
            "$.spans[0].parent_layer_indices",
        ),
        (
            lambda d: d["layers"][1][2]["stats"].update(runtime_ms="fast"),
            "$.layers[1][2].stats.runtime_ms: expected a finite number, got str 'fast'",
        ),
        (
            lambda d: d["layers"][1][2]["stats"].update(runtime_ms=True),
            "$.layers[1][2].stats.runtime_ms: expected a finite number, got bool True",
        ),
        (
            lambda d: d.update(non_block={"runtime_ms": None}),
            "$.non_block.runtime_ms: expected a finite number, got null",
        ),
        (lambda d: d.update(spans={}), "$.spans: expected a list of span candidates"),
    ],
)
def test_bad_v2_documents_are_located(change: Any, expected: str) -> None:
    document = library(0).to_mapping()
    change(document)
    with pytest.raises(BlockConfigError) as caught:
        CandidateLibrary.from_mapping(document, parent())
    assert expected in str(caught.value)


def test_a_constrained_stat_must_be_on_every_candidate() -> None:
    document = library(0).to_mapping()
    del document["spans"][1]["stats"]["runtime_ms"]
    lib = CandidateLibrary.from_mapping(document, parent())
    with pytest.raises(BlockConfigError, match=r"\$\.spans\[1\]\.stats\.runtime_ms: missing"):
        search_spans(lib, constraints={"runtime_ms": Bound(maximum=5.0)})


def test_search_refuses_a_library_with_spans() -> None:
    with pytest.raises(ValueError, match="search_spans"):
        search(library(0))


def test_the_cli_searches_a_v2_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = library(1)
    parent_path = tmp_path / "parent.json"
    parent().save(parent_path)
    lib.save(tmp_path / "library.json")
    child = tmp_path / "child.json"
    code = cli_main(
        [
            "search",
            str(parent_path),
            "--library",
            str(tmp_path / "library.json"),
            "--max-stat",
            "runtime_ms=5",
            "--min-stat",
            "runtime_ms=1",
            "--json",
            "-o",
            str(child),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    expected = enumerate_best(lib, Budgets(), {"runtime_ms": Bound(minimum=1, maximum=5)}, False)
    assert data["score"] == pytest.approx(expected, rel=1e-9)
    assert data["constraints"] == {"runtime_ms": {"min": 1.0, "max": 5.0}}
    assert 1.0 <= data["measured"]["runtime_ms"] <= 5.0
    written = ModelArchitecture.load(child)
    assert len(written.block_configs) == len(data["parent_layer_indices"])


def test_the_cli_names_an_unmeetable_stat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent_path = tmp_path / "parent.json"
    parent().save(parent_path)
    library(2).save(tmp_path / "library.json")
    code = cli_main(
        [
            "search",
            str(parent_path),
            "--library",
            str(tmp_path / "library.json"),
            "--max-stat",
            "runtime_ms=0.1",
        ]
    )
    assert code == 1
    assert "stats.runtime_ms <= 0.1 (the smallest any choice reaches:" in capsys.readouterr().err
