"""One picture of a model's architecture, layer by layer (needs the ``plot`` extra: matplotlib).

Three panels share the layer axis: a strip naming each layer's attention and FFN kind (no-op
layers stand out as blank cells), the FFN width, and the KV heads of the layers that have
any (Mamba, linear attention, linear replacements and no-op attention draw no bar there).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from block_config._io import atomic_write
from block_config._stats import LayerStats, ModelStats

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MissingDependencyError", "plot_architecture", "plot_pareto_front"]

_ATTENTION_COLOURS = {
    "gqa": "#1f77b4",
    "linear": "#ff7f0e",
    "mamba": "#2ca02c",
    "mla": "#17becf",
    "gdn": "#bcbd22",
    "kda": "#e377c2",
    "compressed": "#7f7f7f",
    "shared_kv": "#aec7e8",
    "no_op": "#f2f2f2",
}
_FFN_COLOURS = {
    "dense": "#9467bd",
    "linear": "#ff7f0e",
    "moe": "#8c564b",
    "no_op": "#f2f2f2",
}
_NO_OP_EDGE = "#d62728"
_EMPTY_LAYER = "#fbe3e3"
_LOG_TICKS = [m * 10**e for e in range(1, 8) for m in (1, 2, 5)]


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def _pyplot() -> Any:
    try:
        import matplotlib as mpl
    except ImportError:
        raise MissingDependencyError(
            "plotting needs matplotlib: pip install 'block-config[plot]'"
        ) from None
    mpl.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


@attrs.frozen
class _Column:
    """What one layer looks like in the picture, its parallel blocks folded in."""

    attention: str
    ffn: str
    #: Dense widths plus MoE active widths (experts per token and the shared expert).
    ffn_width: int
    #: KV heads of every GQA attention in the layer: what its KV cache holds.
    kv_heads: int
    parallel: bool


def _subblocks(layer: LayerStats) -> list[LayerStats]:
    found = [layer]
    for inner in layer.parallel_blocks:
        found.extend(_subblocks(inner))
    return found


def _attention_kind(layer: LayerStats) -> str:
    """The strip's name for an attention: its kind, except an attention that reads another
    layer's K/V (``shared_kv``) and a compressed one (``compressed``, DeepSeek-V4's)."""
    attention = layer.attention
    if attention.kv_source_layer is not None:
        return "shared_kv"
    if attention.compress_rate is not None:
        return "compressed"
    return attention.kind


def _column(layer: LayerStats) -> _Column:
    parts = _subblocks(layer)
    attention = next((_attention_kind(p) for p in parts if p.attention.kind != "no_op"), "no_op")
    ffn = next((p.ffn.kind for p in parts if p.ffn.kind != "no_op"), "no_op")
    width = 0
    kv = 0
    for part in parts:
        if part.ffn.kind == "dense":
            width += part.ffn.intermediate_size or 0
        elif part.ffn.kind == "moe":
            per_token = part.ffn.num_experts_per_tok or 0
            width += (part.ffn.expert_intermediate_dim or 0) * per_token
            width += part.ffn.shared_expert_intermediate_dim or 0
        # A layer reading another layer's K/V caches none: no KV heads of its own.
        if part.attention.kv_source_layer is None:
            kv += part.attention.num_key_value_heads or 0
    return _Column(attention, ffn, width, kv, bool(layer.parallel_blocks))


def picture_formats() -> tuple[str, ...]:
    """The suffixes (``.png``, ``.jpg``, ``.svg``, ...) the installed matplotlib writes.

    Raises :class:`MissingDependencyError` when matplotlib is not installed.
    """
    plt = _pyplot()
    figure = plt.figure()
    try:
        names = figure.canvas.get_supported_filetypes()
    finally:
        plt.close(figure)
    return tuple(sorted(f".{name}" for name in names))


def _picture_suffix(path: str | Path) -> str:
    """The suffix of ``path``, one of :func:`picture_formats`; ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    formats = picture_formats()
    if suffix not in formats:
        raise ValueError(f"the picture must end in one of {', '.join(formats)}, got {str(path)!r}")
    return suffix


def _thousands(value: float, _: Any) -> str:
    if value >= 1000:
        return f"{value / 1000:.4g}k"
    return f"{value:g}"


def _summary(stats: ModelStats) -> str:
    compressed = any(
        part.attention.compress_rate is not None
        for layer in stats.layers
        for part in _subblocks(layer)
    )
    # A compressed attention's cache grows by one entry per few tokens beside its window:
    # the per-token figure is the windows' alone.
    more = " + compressed entries" if compressed else ""
    return (
        f"{len(stats.layers)} layers · {stats.total_params / 1e9:.3f} B parameters · "
        f"KV cache {stats.kv_cache_bytes_per_token:,} bytes/token{more} ({stats.kv_cache_dtype})"
    )


def _tick_step(count: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500):
        if count / step <= 40:
            return step
    return 1000


def plot_architecture(
    stats: ModelStats,
    path: str | Path,
    *,
    title: str,
    num_attention_heads: int,
    overwrite: bool = True,
) -> None:
    """Draw ``stats`` layer by layer and write the picture to ``path``, in the format its
    suffix names (any of :func:`picture_formats`: .png, .jpg, .svg, .pdf, ...).

    Raises :class:`MissingDependencyError` when matplotlib is not installed, ``ValueError``
    for a suffix matplotlib does not write, :class:`FileExistsError` when ``path`` exists
    and not ``overwrite`` (checked as the file is created: see :func:`atomic_write`).
    """
    suffix = _picture_suffix(path)
    plt = _pyplot()
    figure = _figure(plt, stats, title, num_attention_heads)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format=suffix[1:], dpi=110)
    finally:
        plt.close(figure)
    # Drawn in memory, then written atomically: a failed write leaves any old picture whole.
    atomic_write(path, buffer.getvalue(), overwrite=overwrite)


def _figure(plt: Any, stats: ModelStats, title: str, num_attention_heads: int) -> Figure:
    from matplotlib.patches import Patch

    columns = [_column(layer) for layer in stats.layers]
    count = max(len(columns), 1)
    indexes = list(range(len(columns)))
    width = min(22.0, max(10.0, 4.0 + 0.11 * count))
    figure, (kinds, ffn_axis, kv_axis) = plt.subplots(
        3,
        1,
        figsize=(width, 7.5),
        sharex=True,
        gridspec_kw={"height_ratios": [1.1, 3, 2]},
        layout="constrained",
    )
    figure.suptitle(f"{title}\n{_summary(stats)}", fontsize=12)
    empty = [i for i, c in zip(indexes, columns, strict=True) if c.attention == c.ffn == "no_op"]
    for axis in (ffn_axis, kv_axis):
        for index in empty:
            axis.axvspan(index - 0.5, index + 0.5, color=_EMPTY_LAYER, linewidth=0)

    # Strip of kinds: one cell per layer and subblock; no-op cells blank with a red edge,
    # layers with parallel blocks hatched.
    for index, column in zip(indexes, columns, strict=True):
        for row, kind, colours in (
            (1, column.attention, _ATTENTION_COLOURS),
            (0, column.ffn, _FFN_COLOURS),
        ):
            kinds.add_patch(
                plt.Rectangle(
                    (index - 0.45, row - 0.4),
                    0.9,
                    0.8,
                    facecolor=colours[kind],
                    edgecolor=_NO_OP_EDGE if kind == "no_op" else "black",
                    linewidth=0.8 if kind == "no_op" or column.parallel else 0,
                    hatch="///" if column.parallel else None,
                )
            )
    kinds.set_ylim(-0.6, 1.6)
    kinds.set_yticks([1, 0], ["attention", "FFN"])
    kinds.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        kinds.spines[side].set_visible(False)

    ffn_widths = [column.ffn_width for column in columns]
    ffn_colours = [_FFN_COLOURS[column.ffn] for column in columns]
    ffn_axis.bar(indexes, ffn_widths, width=0.85, color=ffn_colours)
    ffn_axis.set_ylabel("FFN width\n(intermediate size)")
    ffn_axis.grid(axis="y", alpha=0.3)
    nonzero = sorted(w for w in ffn_widths if w)
    if nonzero and nonzero[-1] > 6 * nonzero[len(nonzero) // 2]:
        # A few very wide FFNs would flatten every other bar: a log scale keeps them all legible.
        low, high = nonzero[0] / 1.5, nonzero[-1] * 1.5
        ffn_axis.set_yscale("log")
        ffn_axis.set_ylim(low, high)
        ffn_axis.set_yticks([t for t in _LOG_TICKS if low <= t <= high])
        ffn_axis.minorticks_off()
        ffn_axis.set_ylabel("FFN width, log scale\n(intermediate size)")
    ffn_axis.yaxis.set_major_formatter(plt.FuncFormatter(_thousands))

    # Only layers that hold KV heads get a bar: a layer without any (Mamba, a linear
    # replacement, no attention) draws nothing here, so no height can be misread as a count.
    holding = [(i, c.kv_heads) for i, c in zip(indexes, columns, strict=True) if c.kv_heads]
    kv_axis.bar(
        [index for index, _ in holding],
        [heads for _, heads in holding],
        width=0.85,
        color=_ATTENTION_COLOURS["gqa"],
    )
    top = max([heads for _, heads in holding] + [1])
    kv_axis.set_ylim(0, top * 1.15)
    kv_axis.set_ylabel(f"KV heads\n(of {num_attention_heads} query heads)")
    kv_axis.grid(axis="y", alpha=0.3)
    kv_axis.set_xlabel("layer")
    step = _tick_step(count)
    kv_axis.set_xticks(range(0, count, step))
    kv_axis.set_xlim(-0.8, count - 0.2)

    handles = _legend(Patch, columns)
    if empty:
        handles.append(Patch(facecolor=_EMPTY_LAYER, label="empty layer (no attention, no FFN)"))
    if any(column.parallel for column in columns):
        handles.append(
            Patch(facecolor="white", edgecolor="black", hatch="///", label="parallel blocks")
        )
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncol=max(1, min(len(handles), max(3, int(width // 2.4)))),
        frameon=False,
        fontsize=9,
    )
    return figure  # type: ignore[no-any-return]


def _legend(patch: Any, columns: Sequence[_Column]) -> list[Any]:
    attention_kinds = {column.attention for column in columns}
    ffn_kinds = {column.ffn for column in columns}
    labels = {
        "gqa": "GQA attention",
        "linear": "linear replacement (no KV heads)",
        "mamba": "Mamba (no KV heads, no bar)",
        "mla": "MLA attention (latent KV cache, no bar)",
        "gdn": "Gated DeltaNet (no KV cache, no bar)",
        "kda": "Kimi Delta Attention (no KV cache, no bar)",
        "compressed": "compressed attention (window + compressed entries)",
        "shared_kv": "reads another layer's K/V (no cache, no bar)",
        "dense": "dense FFN",
        "moe": "MoE FFN (active width)",
    }
    handles = []
    for kind, colour in _ATTENTION_COLOURS.items():
        if kind in attention_kinds and kind != "no_op":
            handles.append(patch(facecolor=colour, label=labels[kind]))
    for kind, colour in _FFN_COLOURS.items():
        if (
            kind in ffn_kinds
            and kind != "no_op"
            and not (kind == "linear" and "linear" in attention_kinds)
        ):
            handles.append(patch(facecolor=colour, label=labels[kind]))
    if "no_op" in attention_kinds | ffn_kinds:
        handles.append(
            patch(facecolor=_ATTENTION_COLOURS["no_op"], edgecolor=_NO_OP_EDGE, label="no-op")
        )
    return handles


def plot_pareto_front(
    points: Sequence[tuple[int, float | None]],
    path: str | Path,
    *,
    budget: str,
    title: str,
) -> None:
    """Draw the best score under each budget value (``None``: no choice fits) to ``path``.

    Raises :class:`MissingDependencyError` when matplotlib is not installed, ``ValueError``
    for an unknown suffix.
    """
    suffix = _picture_suffix(path)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    try:
        solved = [(value, score) for value, score in points if score is not None]
        if solved:
            axes.step(
                [value for value, _ in solved],
                [score for _, score in solved],
                where="post",
                marker="o",
                color=_ATTENTION_COLOURS["gqa"],
            )
        unmet = [value for value, score in points if score is None]
        if unmet:
            axes.scatter(
                unmet,
                [min((s for _, s in solved), default=0.0)] * len(unmet),
                marker="x",
                color=_NO_OP_EDGE,
                label="no choice fits",
            )
            axes.legend()
        axes.set_xlabel(budget)
        axes.set_ylabel("best total score")
        axes.set_title(title)
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix[1:], dpi=110)
    finally:
        plt.close(figure)
    atomic_write(path, buffer.getvalue())
