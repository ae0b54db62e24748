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


def test_exceptions_are_named_where_users_import_them() -> None:
    for cls in (block_config.BlockConfigError, block_config.UnknownKeyWarning):
        assert f"{cls.__module__}.{cls.__qualname__}" == f"block_config.{cls.__name__}"
    assert block_config.ConversionWarning.__module__ == "block_config"


def test_strategies_without_hypothesis_name_the_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import block_config.strategies\n"
        "except ImportError as error:\n    print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == (
        "block_config.strategies needs hypothesis: pip install 'block-config[hypothesis]'"
    )
