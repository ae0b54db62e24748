"""Reading one 162-layer model in each dialect: per-layer against native ``block_configs``.

The model is Nemotron-Ultra-253B (its published ``config.json``, read beside the repository)
or, where that file is absent, a generated 162-layer heterogeneous Llama of the same kind. It
is written in the native, the legacy and the per-layer dialect; each text is then parsed and
read back (``ModelArchitecture.from_mapping(orjson.loads(text))``) many times. Times are
wall-clock medians; what travels between machines is each dialect's ratio to native. The
target: per-layer within 2x of native.
"""

from __future__ import annotations

import random
import statistics
import time
import warnings

import orjson
from search_bench import ULTRA

from block_config import BlockConfig, ConversionWarning, ModelArchitecture


def _generated() -> ModelArchitecture:
    rng = random.Random(162)
    blocks = []
    for _ in range(162):
        attention = (
            {"no_op": True} if rng.random() < 0.3 else {"num_key_value_heads": rng.choice([8, 4])}
        )
        ffn = (
            {"no_op": True}
            if rng.random() < 0.1
            else {"intermediate_size": rng.choice([5376, 10752, 21504, 32256, 53248])}
        )
        blocks.append(BlockConfig(attention=attention, ffn=ffn))
    return ModelArchitecture(
        hidden_size=16384,
        num_attention_heads=128,
        vocab_size=128256,
        block_configs=blocks,
        model_type="nemotron-nas",
        dialect="legacy",
    )


def _median_seconds(text: bytes, repeat: int, number: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            ModelArchitecture.from_mapping(orjson.loads(text))
        times.append((time.perf_counter() - started) / number)
    return statistics.median(times)


def run(repeat: int = 7, number: int = 50) -> None:
    """Print each dialect's reading time and its ratio to native."""
    if ULTRA.is_file():
        model, name = ModelArchitecture.load(ULTRA), "Nemotron-Ultra-253B (published config)"
    else:
        model, name = _generated(), "a generated 162-layer model (the published file is absent)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        texts = {
            dialect: orjson.dumps(model.to_mapping(dialect))
            for dialect in ("native", "legacy", "per-layer")
        }
    for dialect, text in texts.items():  # every form reads back to the same layers
        assert ModelArchitecture.from_mapping(orjson.loads(text)).block_configs == (
            model.block_configs
        ), dialect
    times = {dialect: _median_seconds(text, repeat, number) for dialect, text in texts.items()}
    print(f"\nReading {name}, {len(model.block_configs)} layers, in each dialect")
    print(f"{'dialect':<10} {'bytes':>8} {'median':>10} {'/ native':>9}")
    for dialect, seconds in times.items():
        print(
            f"{dialect:<10} {len(texts[dialect]):>8,} {seconds * 1e3:>8.3f}ms "
            f"{seconds / times['native']:>9.2f}"
        )


if __name__ == "__main__":
    run()
