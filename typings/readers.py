"""The typed contract of the readers registry and of ``family=``: type-checked by
``mypy --strict``, never executed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, assert_type

from block_config import ModelArchitecture, readers, supported_model_types
from block_config.readers import Choice, Reader, ReadOptions

assert_type(supported_model_types(), tuple[str, ...])
assert_type(readers.supported_model_types(), tuple[str, ...])
assert_type(readers.reader_for("llama"), Reader | None)
assert_type(readers.choose({"model_type": "llama"}), Choice)
assert_type(readers.choose({"model_type": "x"}, family="llama").model_type, str | None)
assert_type(readers.text_part_key({"model_type": "gemma3"}), str | None)
assert_type(readers.read_fields({"model_type": "llama"}, family="llama"), dict[str, Any])
assert_type(ReadOptions(model_type="llama", unknown_keys="warn").model_type, str | None)


@readers.register("my_llama")
def read_my_llama(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    llama = readers.reader_for("llama")
    assert llama is not None
    return llama(config, options)


as_reader: Reader = read_my_llama


@readers.register("my_mla", unused=("num_key_value_heads",))
def read_my_mla(config: Mapping[str, Any], options: ReadOptions) -> dict[str, Any]:
    return read_my_llama(config, options)


# The decorated reader keeps its own type.
assert_type(read_my_mla({}, ReadOptions(model_type="my_mla")), dict[str, Any])
readers.register_text_wrapper("my_vlm", text_model_type="my_llama", tie_word_embeddings=False)

assert_type(ModelArchitecture.from_mapping({"hidden_size": 8}, family="llama"), ModelArchitecture)
assert_type(ModelArchitecture.load(Path("config.json"), family="qwen2"), ModelArchitecture)
assert_type(ModelArchitecture.from_yaml("hidden_size: 8", family="gemma2"), ModelArchitecture)

readers.register(3)  # type: ignore[arg-type]
readers.register("my_mla2", unused=3)  # type: ignore[arg-type]
ModelArchitecture.load("x", family=3)  # type: ignore[arg-type]
