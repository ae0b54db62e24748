"""Unknown-key warnings re-rooted under an enclosing document."""

from __future__ import annotations

import warnings

import pytest

from block_config import UnknownKeyWarning, structure_block_configs
from block_config._warnings import warnings_under


def test_unknown_key_warnings_get_the_prefix() -> None:
    with pytest.warns(UnknownKeyWarning) as records, warnings_under(("block_configs",)):
        structure_block_configs([{"ffn": {"no_op": True, "activation": 1}}], unknown_keys="warn")
    assert [str(r.message) for r in records] == [
        "$.block_configs[0].ffn.activation: unknown key dropped"
    ]


def test_other_warnings_pass_through_unchanged() -> None:
    with pytest.warns(DeprecationWarning, match="^old$"), warnings_under(("x", 1)):
        warnings.warn("old", DeprecationWarning, stacklevel=1)
