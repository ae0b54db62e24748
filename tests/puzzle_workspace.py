"""A small Puzzle workspace as the reference pipeline lays it out, written for the tests.

Every number is drawn from a seeded generator, and the generator keeps them, so a test can
recount each replacement's stats and each choice's totals without the code under test.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HIDDEN, HEADS, VOCAB = 256, 8, 1000
ATTENTIONS: list[dict[str, Any]] = [
    {"num_key_value_heads": 8},
    {"num_key_value_heads": 4},
    {"num_key_value_heads": 2},
    {"no_op": True},
]
FFNS: list[dict[str, Any]] = [
    {"intermediate_size": 1024},
    {"intermediate_size": 512},
    {"intermediate_size": 256},
    {"no_op": True},
]
STATS = ("runtime_ms", "prefill_runtime_ms", "memory_mib", "num_params", "kv_cache_memory_mib")


def seed_attention(extra: dict[str, Any]) -> dict[str, Any]:
    """An attention in the reference's dataclass dict form."""
    base = {
        "no_op": False,
        "replace_with_linear": False,
        "sparsify": None,
        "weights_precision": "bf16",
        "num_key_value_heads": None,
        "llama4": None,
        "mamba": None,
    }
    return {**base, **extra}


def seed_ffn(extra: dict[str, Any]) -> dict[str, Any]:
    """An FFN in the reference's dataclass dict form."""
    base = {
        "no_op": False,
        "replace_with_linear": False,
        "sparsify": None,
        "weights_precision": "bf16",
        "moe": None,
        "intermediate_size": None,
    }
    return {**base, **extra}


def seed_block(attention: int, ffn: int) -> dict[str, Any]:
    """Attention variant ``attention`` with FFN variant ``ffn``, in dataclass dict form."""
    return {
        "attention": seed_attention(ATTENTIONS[attention]),
        "ffn": seed_ffn(FFNS[ffn]),
        "parallel_blocks": None,
    }


@dataclass
class Workspace:
    """The files written and the numbers behind them."""

    root: Path
    layers: int
    #: (scenario, "attention"|"ffn", variant, layer) -> stat -> value
    subblock: dict[tuple[int, str, int, int], dict[str, float]] = field(default_factory=dict)
    non_block: list[dict[str, float]] = field(default_factory=list)
    scenario_args: list[dict[str, Any]] = field(default_factory=list)
    #: replacement id -> (parent layers, attention variant, ffn variant, metrics)
    replacements: dict[str, tuple[list[int], int, int, dict[str, float]]] = field(
        default_factory=dict
    )

    @property
    def teacher_dir(self) -> Path:
        return self.root / "teacher"

    @property
    def validation_dir(self) -> Path:
        return self.root / "validation"

    @property
    def stats_path(self) -> Path:
        return self.root / "subblock_stats.json"

    @property
    def gathered_path(self) -> Path:
        return self.root / "gathered.json"

    def stat(self, scenario: int, replacement: str, name: str) -> float:
        """A replacement's block stat (``memory_mib``, ``has_attention``...), recounted."""
        layers, attention, ffn, _ = self.replacements[replacement]
        if name == "has_attention":
            return float(attention != 3)
        first = layers[0]
        return (
            self.subblock[(scenario, "attention", attention, first)][name]
            + self.subblock[(scenario, "ffn", ffn, first)][name]
        )


def build(root: Path, *, layers: int = 4, spans: int = 3, seed: int = 0) -> Workspace:
    """Write a workspace under ``root``: a teacher, two scenarios, a validation folder (one
    solution file per single-layer variant sampled, plus ``spans`` two-layer replacements)
    and the same replacements as a gathered-metrics file."""
    rng = random.Random(seed)
    ws = Workspace(root=root, layers=layers)
    for scenario, batch in enumerate((1, 8)):
        ws.scenario_args.append(
            {
                "gpu": "NVIDIA H100 80GB HBM3",
                "batch_size": batch,
                "prefill_seq_len": 512,
                "generation_seq_len": 128,
                "prefill_queue_size": 0,
                "n_embd": HIDDEN,
                "n_head": HEADS,
                "vocab_size": VOCAB,
                "runtime_stats": True,
                "use_cuda_graph": True,
                "weights_dtype": "torch.bfloat16",
                "activations_dtype": "torch.bfloat16",
                "kv_cache_dtype": "torch.bfloat16",
            }
        )
        ws.non_block.append(
            {"runtime_ms": round(rng.uniform(1, 2), 4), "memory_mib": 3.9, "num_params": 512000}
        )
        for side, variants in (("attention", ATTENTIONS), ("ffn", FFNS)):
            for variant in range(len(variants)):
                for layer in range(layers):
                    off = variants[variant].get("no_op", False)
                    scale = 0.0 if off else 1.0 / (variant + 1)
                    ws.subblock[(scenario, side, variant, layer)] = {
                        "runtime_ms": round(scale * rng.uniform(0.5, 1.5) * (1 + batch / 8), 5),
                        "prefill_runtime_ms": round(scale * rng.uniform(2, 5), 5),
                        "memory_mib": round(scale * rng.uniform(1, 3), 5),
                        "num_params": int(scale * rng.randint(100_000, 300_000)),
                        "kv_cache_memory_mib": round(
                            scale * batch * 0.25 if side == "attention" else 0.0, 5
                        ),
                    }
    stats_doc = []
    for scenario in range(2):
        entries = []
        for (sc, side, variant, layer), stats in ws.subblock.items():
            if sc != scenario:
                continue
            config = (seed_attention if side == "attention" else seed_ffn)(
                (ATTENTIONS if side == "attention" else FFNS)[variant]
            )
            entries.append(
                {
                    "subblock_config": config,
                    "subblock_config_class": "AttentionConfig"
                    if side == "attention"
                    else "FFNConfig",
                    "runtime_ms": stats["runtime_ms"],
                    "prefill_runtime_ms": stats["prefill_runtime_ms"],
                    "decode_runtime_ms": None,
                    "num_params": stats["num_params"],
                    "active_params": stats["num_params"],
                    "parent_layer_index": layer,
                    "memory_mib": stats["memory_mib"],
                    "kv_cache_memory_mib": stats["kv_cache_memory_mib"],
                }
            )
        stats_doc.append(
            {
                "args": ws.scenario_args[scenario],
                "non_block": ws.non_block[scenario],
                "subblocks": entries,
            }
        )
    ws.stats_path.write_text(json.dumps(stats_doc, indent=2))

    ws.teacher_dir.mkdir(parents=True)
    (ws.teacher_dir / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["DeciLMForCausalLM"],
                "model_type": "nemotron-nas",
                "hidden_size": HIDDEN,
                "num_attention_heads": HEADS,
                "num_hidden_layers": layers,
                "vocab_size": VOCAB,
                "block_configs": [
                    {"attention": {"num_key_value_heads": 8}, "ffn": {"intermediate_size": 1024}}
                ]
                * layers,
            },
            indent=2,
        )
    )
    ws.validation_dir.mkdir()
    solution_count = 0
    samples: list[tuple[list[int], int, int]] = []
    for layer in range(layers):
        for attention in range(len(ATTENTIONS)):
            for ffn in range(len(FFNS)):
                if (attention, ffn) != (0, 0) and rng.random() < 0.6:
                    samples.append(([layer], attention, ffn))
    for _ in range(spans):
        start = rng.randrange(0, layers - 1)
        samples.append(([start, start + 1], rng.randrange(3), rng.randrange(3)))
    for parent_layers, attention, ffn in samples:
        loss = round(rng.uniform(0.01, 0.5), 6)
        accuracy = round(rng.uniform(0.5, 0.99), 6)
        block = seed_block(attention, ffn)
        document = {
            "lm_loss": {"avg": loss, "std": 0.01},
            "token_accuracy_top_1": {"avg": accuracy},
            "puzzle_solution": {
                "single_sequence_replacement": {
                    "parent_layer_indices": parent_layers,
                    "child_block_configs": [block],
                    "weight_paths": [
                        f"{root}/lib/block_{parent_layers[0]}_{attention}_{ffn}.safetensors"
                    ],
                }
            },
        }
        name = f"solution_{solution_count:03d}.json"
        (ws.validation_dir / name).write_text(json.dumps(document))
        ws.replacements[f"replacement_{solution_count}"] = (
            parent_layers,
            attention,
            ffn,
            {
                "lm_loss": loss,
                "one_minus_lm_loss": 1 - loss,
                "token_accuracy_top_1": accuracy,
                "one_minus_token_accuracy_top_1": 1 - accuracy,
            },
        )
        solution_count += 1
    teacher_accuracy = 0.995
    (ws.validation_dir / "teacher.json").write_text(
        json.dumps(
            {
                "token_accuracy_top_1": {"avg": teacher_accuracy},
                "args": {"teacher_dir": str(ws.teacher_dir), "descriptor": "llama"},
            }
        )
    )
    for layer in range(layers):
        ws.replacements[f"replacement_{solution_count + layer}"] = (
            [layer],
            0,
            0,
            {
                "lm_loss": 0.0,
                "one_minus_lm_loss": 0.0,
                "token_accuracy_top_1": teacher_accuracy,
                "one_minus_token_accuracy_top_1": 1 - teacher_accuracy,
            },
        )
    gathered = {
        key: {
            "block_config": seed_block(attention, ffn),
            "parent_layer_indices": parent_layers,
            "metrics": metrics,
        }
        for key, (parent_layers, attention, ffn, metrics) in ws.replacements.items()
    }
    ws.gathered_path.write_text(json.dumps(gathered, indent=2))
    return ws


def covers(spans: Sequence[Sequence[int]], layers: int) -> list[tuple[int, ...]]:
    """Every set of (consecutive-layer) replacements covering ``range(layers)`` exactly once."""
    starting: dict[int, list[int]] = {}
    for index, span in enumerate(spans):
        starting.setdefault(min(span), []).append(index)
    result: list[tuple[int, ...]] = []

    def extend(layer: int, chosen: tuple[int, ...]) -> None:
        if layer == layers:
            result.append(chosen)
            return
        for index in starting.get(layer, []):
            span = spans[index]
            if sorted(span) == list(range(layer, layer + len(span))):
                extend(layer + len(span), (*chosen, index))

    extend(0, ())
    return result


def best_by_enumeration(
    ws: Workspace,
    scenario: int,
    metric: str,
    bounds: dict[str, tuple[float | None, float | None]],
    *,
    maximize: bool = False,
) -> float | None:
    """The best total ``metric`` over every cover meeting ``bounds`` (per block stat name,
    the non-block part added where the scenario has it), recounted from the generator's
    numbers; None when no cover meets them."""
    import math

    ids = list(ws.replacements)
    spans = [ws.replacements[key][0] for key in ids]
    columns = {name: [ws.stat(scenario, key, name) for key in ids] for name in bounds}
    values = [ws.replacements[key][3][metric] for key in ids]
    best: float | None = None
    for chosen in covers(spans, ws.layers):
        ok = True
        for name, (low, high) in bounds.items():
            total = math.fsum(
                [*(columns[name][i] for i in chosen), ws.non_block[scenario].get(name, 0.0)]
            )
            if (low is not None and total < low) or (high is not None and total > high):
                ok = False
                break
        if not ok:
            continue
        value = math.fsum(values[i] for i in chosen)
        if best is None or (value > best if maximize else value < best):
            best = value
    return best
