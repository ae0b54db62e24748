"""Unknown-key warnings seen from an enclosing document (``$.block_configs[3].ffn.gated``).

The converter words a dropped key as ``$[0].ffn.gated: unknown key dropped``, rooted at the
list it read; inside a ``config.json`` that list sits at ``$.block_configs``. The warnings of
one call are collected in a context variable (each thread, and each asyncio task, has its
own) and issued once the call is done, with their paths under the enclosing document. No
process-wide state is touched: ``warnings.catch_warnings`` swaps the filters and
``showwarning`` of the whole process, which threads running at once leave scrambled.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from block_config._errors import Path, UnknownKeyWarning, format_path

__all__ = ["quiet", "warn_unknown_key", "warnings_under"]

# The unknown-key warnings of the innermost collecting call: (path, message) pairs.
_collected: ContextVar[list[tuple[Path, str]] | None] = ContextVar(
    "block_config_collected_warnings", default=None
)


def warn_unknown_key(path: Path, message: str, stacklevel: int = 2) -> None:
    """Issue an :class:`UnknownKeyWarning` at ``path``, or collect it for the enclosing call."""
    sink = _collected.get()
    if sink is not None:
        sink.append((path, message))
        return
    warnings.warn(f"{format_path(path)}: {message}", UnknownKeyWarning, stacklevel=stacklevel + 1)


@contextmanager
def warnings_under(prefix: Path, stacklevel: int = 4) -> Iterator[None]:
    """Issue the unknown-key warnings raised inside with their paths under ``prefix``.

    They are issued when the block ends normally (an enclosing ``warnings_under`` collects
    them in turn); when it raises, they are dropped with the result they belonged to. Other
    warnings are not touched.
    """
    collected: list[tuple[Path, str]] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
    for path, message in collected:
        warn_unknown_key(prefix + path, message, stacklevel)


@contextmanager
def quiet() -> Iterator[None]:
    """Drop the unknown-key warnings raised inside (they were given once already)."""
    token = _collected.set([])
    try:
        yield
    finally:
        _collected.reset(token)
