"""The converter from many threads at once: the same results as one thread, errors included."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from block_config import (
    BlockConfig,
    BlockConfigError,
    dumps,
    loads,
    structure_block_configs,
    unstructure_block_configs,
)

THREADS = 8
ROUNDS = 6


def _inputs() -> list[Any]:
    """Valid and invalid documents, some invalid ones taking the detailed path."""
    rng = random.Random(6)
    kinds: list[Callable[[], Any]] = [
        lambda: {"attention": {"num_key_value_heads": rng.randint(1, 64)}},
        lambda: {"ffn": {"intermediate_size": rng.randint(1, 2**40)}},
        lambda: {"attention": {"mamba": {"state_dim": 1, "num_heads": 2, "head_dim": 3}}},
        lambda: {
            "ffn": {"moe": {"num_local_experts": 2, "num_experts_per_tok": rng.randint(1, 4)}}
        },
        lambda: {"attention": {"num_key_value_heads": "8"}},
        lambda: {"ffn": {"no_op": True, "sparsify": ["up", 3]}},
        lambda: {"parallel_blocks": [{"attention": {"no_op": True}}, {"x": rng.random()}]},
        lambda: {"attention": {"llama4": {"attn_scale": rng.choice([0.5, float("nan")])}}},
    ]
    return [[rng.choice(kinds)() for _ in range(rng.randint(1, 6))] for _ in range(300)]


def _outcome(doc: Any) -> tuple[str, Any]:
    """What reading ``doc`` gives, in a form that compares across threads."""
    try:
        blocks = structure_block_configs(doc)
    except BlockConfigError as error:
        return "error", tuple(error.problems)
    text = dumps(blocks)
    assert loads(text) == blocks
    return "ok", (repr(blocks), hash(tuple(blocks)), text, unstructure_block_configs(blocks))


@pytest.fixture
def busy_switching() -> Iterator[None]:
    # Switch threads as often as possible, to interleave the converter's steps.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
def test_many_threads_give_the_results_of_one() -> None:
    docs = _inputs()
    expected = [_outcome(doc) for doc in docs]
    assert {kind for kind, _ in expected} == {"ok", "error"}
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for round_number in range(ROUNDS):
            order = list(range(len(docs)))
            random.Random(round_number).shuffle(order)
            results = list(pool.map(lambda i: (i, _outcome(docs[i])), order))
            for index, outcome in results:
                assert outcome == expected[index], docs[index]


@pytest.mark.usefixtures("busy_switching")
def test_shared_objects_from_many_threads() -> None:
    # repr and hash are computed lazily and cached on the object: many threads asking
    # for them first, at once, must all see the same values.
    fresh = [structure_block_configs(doc) for doc in _inputs() if _outcome(doc)[0] == "ok"]
    blocks = [block for group in fresh for block in group]
    copies = [BlockConfig.from_dict(block.to_dict()) for block in blocks]
    expected = [(repr(c), hash(c)) for c in copies]

    def look(index: int) -> tuple[str, int]:
        block = blocks[index]
        return repr(block), hash(block)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        seen = list(pool.map(look, list(range(len(blocks))) * 4))
    assert seen == expected * 4
    assert blocks == copies
