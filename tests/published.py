"""The two published Nemotron ``config.json`` files, read where they live: ``../shared/data/``
beside the repository (present in development and CI). They are third-party data, never
copied into the repository; without them the tests that need them are skipped, saying why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: The folder holding the published configs and their SOURCES.md.
PUBLISHED = Path(__file__).parents[1] / ".." / "shared" / "data"
#: ``nvidia/Llama-3_3-Nemotron-Super-49B-v1``: 80 layers, 49,867,145,216 parameters.
SUPER = PUBLISHED / "Llama-3_3-Nemotron-Super-49B-v1.config.json"
#: ``nvidia/Llama-3_1-Nemotron-Ultra-253B-v1``: 162 layers.
ULTRA = PUBLISHED / "Llama-3_1-Nemotron-Ultra-253B-v1.config.json"

#: Marks a test that reads :data:`SUPER` or :data:`ULTRA`.
needs_published = pytest.mark.skipif(
    not (SUPER.is_file() and ULTRA.is_file()),
    reason=f"the published Nemotron configs are not at {PUBLISHED.resolve()} "
    "(they are read from ../shared/data/ beside the repository, never shipped with it)",
)
