"""Qwen3-VL (``qwen3_vl``, ``qwen3_vl_moe``): read through the language model's
``text_config`` (``qwen3_vl_text``: Qwen3's dense layer with QK-norm; ``qwen3_vl_moe_text``:
Qwen3-MoE's sparse layers).

Follows transformers' ``modeling_qwen3_vl.py`` / ``modeling_qwen3_vl_moe.py`` for the text
model; the vision tower is not counted. ``tie_word_embeddings`` is the wrapper's (default
False) when it says, else the text part's.
"""

from __future__ import annotations

from block_config.readers._registry import register, register_text_wrapper
from block_config.readers.qwen3 import PER_LAYER as QWEN3
from block_config.readers.qwen3 import read_qwen3
from block_config.readers.qwen3_moe import PER_LAYER as QWEN3_MOE
from block_config.readers.qwen3_moe import read_qwen3_moe

__all__: list[str] = []

register("qwen3_vl_text", per_layer=QWEN3)(read_qwen3)
register("qwen3_vl_moe_text", per_layer=QWEN3_MOE)(read_qwen3_moe)
register_text_wrapper("qwen3_vl", text_model_type="qwen3_vl_text")
register_text_wrapper("qwen3_vl_moe", text_model_type="qwen3_vl_moe_text")
