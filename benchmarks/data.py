"""Generated block configs for the benchmark: a fixed seed, every kind of block.

Each block is a plain mapping in the full form that :func:`block_config.dumps` writes (every
field present, ``null`` included), already normalised, so that every implementation reads it
to the same values and writes it back unchanged.
"""

from __future__ import annotations

import random
from typing import Any

SEED = 20251128

_PRECISIONS = ("bf16", "bf16", "bf16", "fp8", "fp16", None)
_KV_HEADS = (1, 2, 4, 8, 8, 8, 16)
_INTERMEDIATE = (2816, 5632, 7168, 14336, 17920, 28672)


def _subblock(rng: random.Random, **fields: Any) -> dict[str, Any]:
    sparsify = None if rng.random() < 0.9 else rng.choice([["attn"], ["ffn", "attn"]])
    return {
        "no_op": False,
        "replace_with_linear": False,
        "sparsify": sparsify,
        "weights_precision": rng.choice(_PRECISIONS),
        **fields,
    }


def _attention(rng: random.Random) -> dict[str, Any] | None:
    kind = rng.choices(
        ["gqa", "llama4", "linear", "mamba", "no_op", "none"], [50, 8, 8, 12, 20, 2]
    )[0]
    empty = {"num_key_value_heads": None, "llama4": None, "mamba": None}
    if kind == "gqa":
        return _subblock(rng, **{**empty, "num_key_value_heads": rng.choice(_KV_HEADS)})
    if kind == "llama4":
        llama4 = {
            "attention_chunk_size": rng.choice([None, 8192]),
            "use_rope": rng.choice([True, False]),
            "use_qk_norm": True,
            "attn_scale": 0.1,
            "floor_scale": 8192.0,
            "attn_temperature_tuning": rng.choice([True, None]),
            "attention_dropout": 0.0,
        }
        return _subblock(rng, **{**empty, "num_key_value_heads": 8, "llama4": llama4})
    if kind == "linear":
        fields = {**empty, "num_key_value_heads": rng.choice(_KV_HEADS)}
        return {**_subblock(rng, **fields), "replace_with_linear": True}
    if kind == "mamba":
        mamba = {
            "state_dim": 128,
            "num_heads": rng.choice([64, 128]),
            "head_dim": 64,
            "num_groups": 8,
        }
        return _subblock(rng, **{**empty, "mamba": mamba})
    if kind == "no_op":
        return {**_subblock(rng, **empty), "no_op": True, "sparsify": None}
    return None


def _ffn(rng: random.Random) -> dict[str, Any] | None:
    kind = rng.choices(["dense", "linear", "moe", "no_op", "none"], [55, 8, 15, 20, 2])[0]
    empty = {"moe": None, "intermediate_size": None}
    if kind == "dense":
        return _subblock(rng, **{**empty, "intermediate_size": rng.choice(_INTERMEDIATE)})
    if kind == "linear":
        fields = {**empty, "intermediate_size": rng.choice(_INTERMEDIATE)}
        return {**_subblock(rng, **fields), "replace_with_linear": True}
    if kind == "moe":
        experts = rng.choice([8, 16, 64, 128])
        moe = {
            "num_local_experts": experts,
            "num_experts_per_tok": rng.choice([1, 2, 4, 8]),
            "expert_intermediate_dim": rng.choice([1024, 2048, 8192]),
            "shared_expert_intermediate_dim": rng.choice([0, 2048, 8192]),
        }
        return _subblock(rng, **{**empty, "moe": moe})
    if kind == "no_op":
        return {**_subblock(rng, **empty), "no_op": True, "sparsify": None}
    return None


def _block(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    parallel = None
    if depth == 0 and rng.random() < 0.05:
        parallel = [_block(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    return {"attention": _attention(rng), "ffn": _ffn(rng), "parallel_blocks": parallel}


def generate(count: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``count`` blocks as plain mappings, the same for a given ``seed``."""
    rng = random.Random(seed)
    return [_block(rng) for _ in range(count)]
