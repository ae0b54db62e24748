"""The architecture picture: what each panel shows, checked on the figure itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from published import SUPER, ULTRA, needs_published

from block_config import BlockConfig, ModelArchitecture, model_stats
from block_config._plot import _column, _figure, _pyplot, plot_architecture

EXAMPLES = Path(__file__).parents[1] / "examples"


def figure_of(model: ModelArchitecture) -> list[Axes]:
    plt = _pyplot()
    figure = _figure(plt, model_stats(model), "title", model.num_attention_heads)
    plt.close(figure)
    return figure.get_axes()


@needs_published
def test_the_ultra_gets_a_log_scale_and_its_empty_layers_shaded() -> None:
    model = ModelArchitecture.load(ULTRA)
    kinds, ffn, _ = figure_of(model)
    assert ffn.get_yscale() == "log"
    empty = sum(
        1
        for layer in model_stats(model).layers
        if layer.attention.kind == layer.ffn.kind == "no_op"
    )
    assert empty > 0
    # one shaded span per empty layer, in the FFN and the KV panels
    assert len(ffn.patches) == 162 + empty
    assert len(kinds.patches) == 2 * 162


@needs_published
def test_the_super_keeps_a_linear_scale_and_its_kv_heads() -> None:
    model = ModelArchitecture.load(SUPER)
    _, ffn, kv = figure_of(model)
    assert ffn.get_yscale() == "linear"
    heights = [bar.get_height() for bar in kv.patches if isinstance(bar, Rectangle)]
    # A bar for each of the 49 attention layers; the 31 without attention draw none.
    assert heights == [8] * 49
    assert "64 query heads" in kv.get_ylabel()


def test_layers_without_kv_heads_draw_no_bar_in_the_kv_panel() -> None:
    model = ModelArchitecture.load(EXAMPLES / "hybrid-native.config.json")
    *_, kv = figure_of(model)
    bars = {
        round(bar.get_x() + bar.get_width() / 2): bar.get_height()
        for bar in kv.patches
        if isinstance(bar, Rectangle)
    }
    # Mamba (0, 2), no attention (3) and the linear replacement (5) have no KV heads: no bar
    # whose height could read as a count. Layer 6 holds 4 KV heads in a parallel block.
    assert bars == {1: 4, 4: 2, 6: 4, 7: 4}


def test_parallel_blocks_fold_into_their_layer() -> None:
    block = BlockConfig(
        attention={"no_op": True},
        ffn={"no_op": True},
        parallel_blocks=[
            {"attention": {"num_key_value_heads": 2}, "ffn": {"intermediate_size": 64}},
            {"attention": {"num_key_value_heads": 4}, "ffn": {"moe": {
                "num_local_experts": 8, "num_experts_per_tok": 2,
                "expert_intermediate_dim": 16, "shared_expert_intermediate_dim": 32}}},
        ],
    )  # fmt: skip
    model = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=(block,)
    )
    column = _column(model_stats(model).layers[0])
    assert column.attention == "gqa"
    assert column.ffn == "dense"
    assert column.ffn_width == 64 + 2 * 16 + 32
    assert column.kv_heads == 6
    assert column.parallel


def test_unknown_suffix(tmp_path: Path) -> None:
    stats = model_stats(
        ModelArchitecture(hidden_size=4, num_attention_heads=1, vocab_size=1, block_configs=())
    )
    with pytest.raises(ValueError, match=r"must end in one of .*\.jpg.*\.png.*\.svg"):
        plot_architecture(stats, tmp_path / "a.docx", title="t", num_attention_heads=1)
    plot_architecture(stats, tmp_path / "a.pdf", title="t", num_attention_heads=1)
    assert (tmp_path / "a.pdf").read_bytes()[:4] == b"%PDF"


def test_without_overwrite_an_existing_picture_is_left_alone(tmp_path: Path) -> None:
    model = ModelArchitecture.load(EXAMPLES / "Llama-3.1-8B-pruned.config.json")
    target = tmp_path / "picture.svg"
    target.write_text("mine")
    with pytest.raises(FileExistsError):
        plot_architecture(
            model_stats(model), target, title="t", num_attention_heads=64, overwrite=False
        )
    assert target.read_text() == "mine"
    plot_architecture(model_stats(model), target, title="t", num_attention_heads=64)
    assert target.read_text().startswith("<?xml")


def test_linear_attention_layers_have_their_colour_and_no_kv_bar() -> None:
    linear = {
        "kind": "kda",
        "num_key_heads": 2,
        "key_head_dim": 8,
        "num_value_heads": 2,
        "value_head_dim": 8,
    }
    blocks = [
        {"attention": {"linear_attention": linear}, "ffn": {"intermediate_size": 32}},
        {"attention": {"num_key_value_heads": 2, "output_gate": True}, "ffn": {"no_op": True}},
    ]
    model = ModelArchitecture(
        hidden_size=16, num_attention_heads=4, vocab_size=10, block_configs=blocks
    )
    assert _column(model_stats(model).layers[0]).attention == "kda"
    kinds, _, kv = figure_of(model)
    colours = {patch.get_facecolor() for patch in kinds.patches}
    assert len(colours) == 4  # kda, gqa, dense FFN, no-op FFN
    heights = [bar.get_height() for bar in kv.patches if isinstance(bar, Rectangle)]
    assert heights == [2]


FAMILIES = Path(__file__).parent / "data" / "families"


def test_compressed_and_kv_sharing_layers_have_their_own_colour() -> None:
    v4 = ModelArchitecture.load(FAMILIES / "DeepSeek-V4-Flash-Base.config.json")
    columns = [_column(layer) for layer in model_stats(v4).layers]
    # Two window-only layers, then compressed ones (the published compress_ratios).
    assert [column.attention for column in columns[:3]] == ["gqa", "gqa", "compressed"]
    assert {column.attention for column in columns[2:]} == {"compressed"}
    plt = _pyplot()
    figure = _figure(plt, model_stats(v4), "title", v4.num_attention_heads)
    plt.close(figure)
    assert figure.get_suptitle() == (
        "title\n43 layers · 284.332 B parameters · KV cache 44,032 bytes/token + compressed "
        "entries (bfloat16)"
    )
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert "compressed attention (window + compressed entries)" in labels

    gemma = ModelArchitecture.load(FAMILIES / "gemma-4-E2B-it.config.json")
    layers = model_stats(gemma).layers
    shared = [i for i, layer in enumerate(layers) if layer.attention.kv_source_layer is not None]
    assert len(shared) == 20
    for index in shared:
        column = _column(layers[index])
        assert (column.attention, column.kv_heads) == ("shared_kv", 0)
    *_, kv = figure_of(gemma)
    bars = [bar for bar in kv.patches if isinstance(bar, Rectangle)]
    assert len(bars) == len(layers) - 20  # the layers that cache K/V, each one bar
