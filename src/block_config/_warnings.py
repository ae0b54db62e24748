"""Unknown-key warnings seen from an enclosing document (``$.block_configs[3].ffn.gated``)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from block_config._errors import Path, UnknownKeyWarning, format_path

__all__ = ["warnings_under"]


@contextmanager
def warnings_under(prefix: Path, stacklevel: int = 4) -> Iterator[None]:
    """Re-issue the :class:`UnknownKeyWarning` s raised inside with their paths under ``prefix``.

    The converter words a dropped key as ``$[0].ffn.gated: unknown key dropped``, rooted at
    the list it read; inside a ``config.json`` that list sits at ``$.block_configs``. Other
    warnings pass through unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    root = format_path(prefix)
    for record in caught:
        message = record.message
        text = str(message)
        if isinstance(message, UnknownKeyWarning) and text.startswith("$"):
            warnings.warn(root + text[1:], UnknownKeyWarning, stacklevel=stacklevel)
        else:
            warnings.warn_explicit(message, record.category, record.filename, record.lineno)
