"""Files written from seed-expressible configs stay byte-identical as the blocks gain fields.

The digests below are of what the library wrote for the repository's examples (and the
published Nemotron configs in ../shared/data) before the per-layer fields of other families
(``sliding_window``, ``mla``, ``gated``) existed: every writer must still produce exactly
those bytes for blocks that do not use them.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest
from published import PUBLISHED, SUPER, ULTRA, needs_published

from block_config import ConversionWarning, ModelArchitecture, dumps, dumps_yaml, loads

ROOT = Path(__file__).parents[1]

#: (example file, form) -> sha256 of the text written: the config in the native and legacy dialect
#: (``json.dumps(to_mapping(...), indent=2)``), its blocks by ``dumps(indent=2)`` and YAML.
WRITTEN: dict[tuple[str, str], str] = {
    (
        "Llama-3_1-Nemotron-Ultra-253B-v1.config.json",
        "native",
    ): "617b8a5ad33184f6f0ef8ea9b982ab6907fb52839adc2a5e295ed873d62ffdee",
    (
        "Llama-3_1-Nemotron-Ultra-253B-v1.config.json",
        "legacy",
    ): "d13afcd21b2c0d5b5e47c0e2473459ce755b2bccddd334e9f2f5eefed7ba18de",
    (
        "Llama-3_1-Nemotron-Ultra-253B-v1.config.json",
        "dumps",
    ): "deb135dae0630aecdea00405a1baa0fc959b892d675a5e13a1f266e12cbf711f",
    (
        "Llama-3_1-Nemotron-Ultra-253B-v1.config.json",
        "yaml",
    ): "46d71a08cdb0bbfa33f7bce7fa089a1ee409f6cee083ab337640ae16d5ac7c9a",
    (
        "Llama-3_3-Nemotron-Super-49B-v1.config.json",
        "native",
    ): "c16eda256d9a97b6cbeec8f83040ed33ce80a364292f63305347cdb4687b4882",
    (
        "Llama-3_3-Nemotron-Super-49B-v1.config.json",
        "legacy",
    ): "ea288aea647aa22e9a233aca6db14cd9ef0ee96773074dbf34cbcd9cc53a4747",
    (
        "Llama-3_3-Nemotron-Super-49B-v1.config.json",
        "dumps",
    ): "af2cd9c4bd5bfffe4a88f2986161576fb2fc37cdf5f51e8f8086d035a62b0538",
    (
        "Llama-3_3-Nemotron-Super-49B-v1.config.json",
        "yaml",
    ): "dbf2358a966fdd843d73973d879f690f1047f26a7f55d841072bf65bb12da3b9",
    (
        "hybrid-native.config.json",
        "native",
    ): "c8528b3830f17dc9c1eb04c5e2ee0e8dcd234a2f346139fde58aa08dd3bd4a5e",
    (
        "hybrid-native.config.json",
        "dumps",
    ): "3b3adf229712fca6f16524d48c8dc41a886d63118d8e23d80e4429a0a3c48277",
    (
        "hybrid-native.config.json",
        "yaml",
    ): "9f3b37c5e090f86c25ee9143e0a23d04612778ff87013f6f120933eb0cb0f480",
    (
        "pruned-blocks.json",
        "dumps",
    ): "4c701d10db00de51593e5c5b81f42e81fc3fe22af5f28b584cdd076923d07a4f",
    (
        "pruned-blocks.json",
        "yaml",
    ): "32f6313c2c72615eae33bd785b8f90cad7a15f77114ebd914ba16ba117deb29c",
}


def _source(name: str) -> Path:
    """The published configs are read where they live; the others are the project's examples."""
    return PUBLISHED / name if name in (SUPER.name, ULTRA.name) else ROOT / "examples" / name


def _written(name: str, form: str) -> str:
    text = _source(name).read_text()
    data = json.loads(text)
    if isinstance(data, list):
        blocks = loads(text)
    else:
        arch = ModelArchitecture.from_mapping(data)
        blocks = list(arch.block_configs)
        if form in ("native", "legacy"):
            with warnings.catch_warnings():
                # Legacy files written native lose their ffn_mult text; the warning says so.
                warnings.simplefilter("ignore", ConversionWarning)
                return json.dumps(arch.to_mapping(form), indent=2)  # type: ignore[arg-type]
    if form == "dumps":
        return dumps(blocks, indent=2)
    return dumps_yaml(blocks)


@pytest.mark.parametrize(
    ("name", "form"),
    [
        pytest.param(*key, marks=needs_published) if key[0] in (SUPER.name, ULTRA.name) else key
        for key in sorted(WRITTEN)
    ],
)
def test_seed_shaped_files_are_written_byte_identically(name: str, form: str) -> None:
    assert hashlib.sha256(_written(name, form).encode()).hexdigest() == WRITTEN[name, form]
