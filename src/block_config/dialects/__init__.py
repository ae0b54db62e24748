"""The dialects of ``config.json``: one module each, reading it and, where it is written,
writing it, under one registry (:mod:`block_config.dialects._registry`).

* ``native``: ``block_configs`` of the seed's classes;
* ``legacy``: nemotron-nas / DeciLM ``block_configs`` (Llama-Nemotron Super and Ultra);
* ``per-layer``: transformers' ``per_layer_config`` overrides on a family's config, read
  with the family's reader;
* ``gpt_oss_puzzle``: nvidia/gpt-oss-puzzle-88B's flat ``block_configs`` (a window and an
  expert count per layer) over gpt-oss's globals;
* ``nemotron_h_puzzle``: Nemotron-H-Puzzle's flat ``block_configs`` (a ``block_type`` and its
  sizes per layer, ``mtp_block_configs``) over Nemotron-H's globals;
* ``homogeneous``: a plain config of a family, every layer from its reader
  (:mod:`block_config.readers`).

>>> from block_config import dialects
>>> "per-layer" in dialects.writable_dialects()
True
"""

from block_config.dialects import gpt_oss_puzzle, legacy, native, nemotron_h_puzzle, per_layer
from block_config.dialects._registry import (
    Writer,
    dialect_for_model_type,
    reader_of,
    register_reader,
    register_writer,
    registered,
    writable_dialects,
    writer_of,
)

__all__ = [
    "BLOCK_LISTS",
    "Writer",
    "dialect_for_model_type",
    "reader_of",
    "register_reader",
    "register_writer",
    "registered",
    "writable_dialects",
    "writer_of",
]

#: The dialects that write a ``block_configs`` list (the others write the whole config).
BLOCK_LISTS = ("native", "legacy")
#: The modules that register dialects: importing them is what registers them.
DIALECT_MODULES = (gpt_oss_puzzle, legacy, native, nemotron_h_puzzle, per_layer)
