"""The public surface: every exported name is importable and documented."""

from __future__ import annotations

import doctest
import inspect
from types import ModuleType

import pytest

import block_config
from block_config import _legacy, _model, _schema, _yaml


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in block_config.__all__:
        value = getattr(block_config, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_the_model_level_api_is_exported() -> None:
    for name in (
        "ModelArchitecture",
        "Dialect",
        "WritableDialect",
        "LegacyBlockConfig",
        "block_configs_json_schema",
        "loads_yaml",
        "dumps_yaml",
        "ffn_mult_to_intermediate_size",
        "intermediate_size_to_ffn_mult",
    ):
        assert name in block_config.__all__
    assert block_config.ModelArchitecture.__module__ == "block_config._model"


@pytest.mark.parametrize("module", [_legacy, _model, _schema, _yaml], ids=lambda m: m.__name__)
def test_the_docstring_examples_hold(module: ModuleType) -> None:
    failures, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0
