"""Readers of Hugging Face ``config.json`` files, one module per model family.

Each module registers the ``model_type`` values it reads (:func:`register`) and says in its
docstring which transformers modelling code it follows and what it counts; the native and the
legacy Puzzle dialects (configs with ``block_configs``) and the dialects named by their own
``model_type`` are read by :mod:`block_config.dialects`; a family's ``per_layer_config``
overrides are read with its reader (see :class:`PerLayer`).
:meth:`ModelArchitecture.from_mapping <block_config.ModelArchitecture.from_mapping>` picks the
reader (see :func:`choose`), the reader builds the model's fields, and the model checks the
rules between them once. A ``model_type`` no reader is registered for is an error naming the
supported ones, unless ``family=`` says which reader to use: nothing is read by guessing.

>>> from block_config import readers
>>> "llama" in readers.supported_model_types()
True
"""

from block_config.readers import (
    deepseek,
    deepseek_v4,
    deepseek_v32,
    falcon_h1,
    gemma2,
    gemma3,
    gemma4,
    glm4_moe,
    glm5_next,
    glm_moe_dsa,
    gpt_oss,
    granitemoehybrid,
    kimi_linear,
    llama,
    llama4,
    minimax_m2,
    mistral4,
    mistral_large4,
    mixtral,
    nemotron_h,
    olmo3,
    olmo_hybrid,
    qwen2,
    qwen2_moe,
    qwen3,
    qwen3_5,
    qwen3_moe,
    qwen3_next,
    qwen3_vl,
)
from block_config.readers._registry import (
    TEXT_CONFIG,
    Choice,
    PerLayer,
    Reader,
    ReadOptions,
    architecture_of,
    choose,
    per_layer_of,
    read_fields,
    reader_for,
    register,
    register_text_wrapper,
    supported_model_types,
    text_part_key,
)

__all__ = [
    "TEXT_CONFIG",
    "Choice",
    "PerLayer",
    "ReadOptions",
    "Reader",
    "architecture_of",
    "choose",
    "per_layer_of",
    "read_fields",
    "reader_for",
    "register",
    "register_text_wrapper",
    "supported_model_types",
    "text_part_key",
]

#: The modules that register readers: importing them is what registers them.
FAMILY_MODULES = (
    deepseek,
    deepseek_v32,
    deepseek_v4,
    falcon_h1,
    gemma2,
    gemma3,
    gemma4,
    glm4_moe,
    glm5_next,
    glm_moe_dsa,
    gpt_oss,
    granitemoehybrid,
    kimi_linear,
    llama,
    llama4,
    minimax_m2,
    mistral4,
    mistral_large4,
    mixtral,
    nemotron_h,
    olmo3,
    olmo_hybrid,
    qwen2,
    qwen2_moe,
    qwen3,
    qwen3_5,
    qwen3_moe,
    qwen3_next,
    qwen3_vl,
)
