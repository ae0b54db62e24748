"""The installed distribution and the public surface."""

from __future__ import annotations

from importlib.metadata import version

import block_config


def test_metadata_version_matches() -> None:
    assert version("block-config") == block_config.__version__


def test_public_names_exist() -> None:
    for name in block_config.__all__:
        assert hasattr(block_config, name), name


def test_seed_names_are_exported() -> None:
    seed = {
        "BaseDataclass",
        "SubblockConfig",
        "MoEConfig",
        "MambaConfig",
        "Llama4AttentionConfig",
        "AttentionConfig",
        "FFNConfig",
        "BlockConfig",
        "maybe_cast_block_configs",
        "SUBBLOCK_CLS_DICT",
    }
    assert seed <= set(block_config.__all__)


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("block_config").joinpath("py.typed").is_file()
