"""The search at full scale: 162 layers (Nemotron-Ultra-253B's) with 1,000 candidates each.

Every layer gets the same 1,000 blocks: 8 KV-head counts (1 to 128) times 125 FFN widths
(256 to 32,000). The scores are a toy (a fixed seed): the square of the share of the
parent's parameters a candidate removes, plus noise, as measured damage roughly behaves. The
budgets: 60% of the parent's parameters and half its KV cache for 8 sequences of 8,192
tokens. Times are wall-clock medians; the ratio that travels between machines is the
search's time over the time to read the same library from its JSON file.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import block_config
from block_config import (
    AttentionConfig,
    BlockConfig,
    Budgets,
    CandidateLibrary,
    FFNConfig,
    ModelArchitecture,
    model_stats,
    search,
)

# The published config is third-party data, read beside the repository, never copied in.
ULTRA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "Llama-3_1-Nemotron-Ultra-253B-v1.config.json"
)
KV_HEADS = (1, 2, 4, 8, 16, 32, 64, 128)
WIDTHS = tuple(256 * step for step in range(1, 126))


def _library(parent: ModelArchitecture, seed: int) -> CandidateLibrary:
    blocks = [
        BlockConfig(
            attention=AttentionConfig(num_key_value_heads=kv), ffn=FFNConfig(intermediate_size=w)
        )
        for kv in KV_HEADS
        for w in WIDTHS
    ]
    library = CandidateLibrary.from_blocks(parent, [blocks] * parent.num_hidden_layers)
    rng = random.Random(seed)
    parent_stats = model_stats(parent)
    scores = []
    for layer, row in zip(parent_stats.layers, library.layers, strict=True):
        full = max(layer.params, 1)
        scores.append(
            [
                (max(full - candidate.params, 0) / full) ** 2 + rng.random() * 0.01
                for candidate in row
            ]
        )
    return library.with_scores(scores)


def _median(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(repeat: int = 3) -> None:
    """Build, write, read and search the library; print the times and the result."""
    parent = ModelArchitecture.load(ULTRA)
    built, library = _median(lambda: _library(parent, seed=0), 1)
    stats = model_stats(parent)
    budgets = Budgets(
        max_params=stats.total_params * 6 // 10,
        max_kv_bytes=stats.kv_cache_bytes(8, 8192) // 2,
        batch_size=8,
        sequence_length=8192,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "library.json"
        library.save(path)
        size = path.stat().st_size
        read, again = _median(lambda: CandidateLibrary.load(path, parent), repeat)
    assert again == library
    searched, result = _median(lambda: search(library, budgets), repeat)
    print()
    print(
        f"search: {parent.num_hidden_layers} layers x {len(library.layers[0]):,} candidates "
        f"({library.num_candidates:,}), block-config {block_config.__version__}"
    )
    print(f"  build with costs    {built:8.2f} s")
    print(f"  read {size / 2**20:5.1f} MiB JSON  {read:8.2f} s")
    print(f"  search              {searched:8.2f} s  ({searched / read:.2f}x the read)")
    print(
        f"  result: {result.status}, score {result.score:.4f}, "
        f"{result.stats.total_params:,} of {budgets.max_params:,} parameters, "
        f"KV {result.kv_cache_bytes:,} of {budgets.max_kv_bytes:,} bytes"
    )
    assert result.stats.total_params <= (budgets.max_params or 0)


if __name__ == "__main__":
    run()
