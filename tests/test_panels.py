"""The panel layout that lets the website stack a multi-panel figure on a phone.

:mod:`analysis.plots.panels` saves a figure's retina PNG with a text chunk saying where each
panel is; ``_static/book.js`` shows those boxes one above the other on a narrow screen
(checked in a browser by tests/test_browser.py). Here: which figures get a layout, that the
boxes cut the image into its panels, and that the image itself is the one IPython would show.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.pylabtools import retina_figure
from matplotlib.figure import Figure
from PIL import Image

from analysis.plots.panels import (
    PANELS_KEY,
    crop_panels,
    install_panel_formatter,
    panel_layout,
    read_panel_layout,
    retina_png,
)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _png(fig: Figure) -> bytes:
    out = retina_png(fig)
    assert out is not None
    return base64.b64decode(out[0])


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _row_of_three() -> Figure:
    fig, axes = plt.subplots(1, 3, figsize=(7.3, 3.0), layout="constrained")
    for i, ax in enumerate(axes):
        ax.plot([0, 1, 2], [i, 2 * i, i])
        ax.set(title=f"panel {i}", xlabel="x", ylabel="y")
    return fig


def test_a_row_of_three_yields_three_panels_a_third_as_wide_each():
    png = _png(_row_of_three())
    whole = Image.open(io.BytesIO(png)).size
    panels = crop_panels(png)
    assert len(panels) == 3  # no suptitle, no figure legend: no header or footer
    for panel in panels:
        assert 0.28 * whole[0] < panel.size[0] < 0.38 * whole[0]
        assert panel.size[1] > 0.85 * whole[1]
    layout = read_panel_layout(png)
    assert layout is not None
    assert layout["titles"] == ["panel 0", "panel 1", "panel 2"]
    lefts = [box[0] for box in layout["panels"]]
    assert lefts == sorted(lefts)  # left to right


def test_a_single_axes_figure_gets_no_layout_and_the_usual_image():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    assert panel_layout(fig) is None
    png = _png(fig)
    assert read_panel_layout(png) is None
    assert crop_panels(png) == []
    assert retina_png(fig) == retina_figure(fig, base64=True)


def test_panels_in_one_column_get_no_layout():
    fig, axes = plt.subplots(2, 1, figsize=(6, 6))
    for ax in axes:
        ax.plot([1, 2])
    assert panel_layout(fig) is None


def test_a_two_by_two_grid_stacks_four_panels_in_reading_order():
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 5.0), layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.plot([0, 1], [0, i])
        ax.set_title(f"p{i}")
    png = _png(fig)
    layout = read_panel_layout(png)
    assert layout is not None
    assert layout["titles"] == ["p0", "p1", "p2", "p3"]
    boxes = layout["panels"]
    assert boxes[0][1] < boxes[2][1] and boxes[0][0] < boxes[1][0]  # rows, then columns
    whole = Image.open(io.BytesIO(png)).size
    for panel in crop_panels(png):
        assert 0.4 * whole[0] < panel.size[0] < 0.6 * whole[0]
        assert 0.4 * whole[1] < panel.size[1] < 0.6 * whole[1]


def test_a_colorbar_is_part_of_its_panel_not_a_panel_of_its_own():
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.3, 3.5), layout="constrained")
    image = left.imshow(np.arange(16.0).reshape(4, 4))
    fig.colorbar(image, ax=left)
    right.scatter([0, 1, 2], [1, 0, 2])
    left.set_title("image")
    right.set_title("scatter")
    layout = panel_layout(fig)
    assert layout is not None
    assert layout.titles == ["image", "scatter"]
    colorbar = fig.axes[-1]
    fig.draw_without_rendering()
    cbar_box = colorbar.get_tightbbox().transformed(fig.dpi_scale_trans.inverted())
    image_box = layout.panels[0]
    right_edge = layout.image.x0 + (image_box[0] + image_box[2]) * layout.image.width
    assert right_edge >= cbar_box.x1  # the colour bar and its labels are in the image's panel


def test_twin_axes_make_one_panel():
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 3.0))
    left.plot([1, 2])
    left.twinx().plot([2, 1], color="red")
    right.plot([1, 3])
    layout = panel_layout(fig)
    assert layout is not None and len(layout.panels) == 2


def test_a_suptitle_and_a_figure_legend_are_shown_once_around_the_panels():
    fig = _row_of_three()
    fig.suptitle("Three panels")
    fig.legend(["a line"], loc="outside lower center")
    png = _png(fig)
    layout = read_panel_layout(png)
    assert layout is not None
    header, footer = layout["header"], layout["footer"]
    assert header is not None and footer is not None
    top_of_panels = min(box[1] for box in layout["panels"])
    bottom_of_panels = max(box[1] + box[3] for box in layout["panels"])
    assert header[1] + header[3] <= top_of_panels + 0.03  # (each box has a thin margin)
    assert footer[1] >= bottom_of_panels - 0.03
    assert len(crop_panels(png)) == 5  # header, three panels, footer


def test_the_image_is_the_one_ipython_would_show():
    fig = _row_of_three()
    fig.suptitle("Three panels")
    ours, our_size = retina_png(fig)  # type: ignore[misc]
    theirs, their_size = retina_figure(fig, base64=True)
    assert our_size == their_size
    same = _pixels(base64.b64decode(ours)) == _pixels(base64.b64decode(theirs))
    assert same.all()
    assert PANELS_KEY.encode() in base64.b64decode(ours)
    assert PANELS_KEY.encode() not in base64.b64decode(theirs)
    # byte for byte the same file but for the one text chunk (about 200 bytes)
    ours_chunks = _chunks(base64.b64decode(ours))
    extra = [c for c in ours_chunks if c[4:8] == b"tEXt" and PANELS_KEY.encode() in c]
    assert len(extra) == 1 and len(extra[0]) < 1000
    assert [c for c in ours_chunks if c not in extra] == _chunks(base64.b64decode(theirs))


def _chunks(png: bytes) -> list[bytes]:
    """The PNG's chunks, each with its length, type and checksum."""
    pos, out = 8, []
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        out.append(png[pos : pos + 12 + length])
        pos += 12 + length
    return out


def test_an_empty_figure_displays_nothing():
    assert retina_png(plt.figure()) is None


def test_read_panel_layout_rejects_what_is_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        read_panel_layout(b"GIF89a")


def test_the_formatter_is_installed_in_ipython_only():
    from IPython.core.interactiveshell import InteractiveShell

    assert install_panel_formatter(None) is None or InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    try:
        assert install_panel_formatter(shell) is retina_png
        data, metadata = shell.display_formatter.format(_row_of_three())
        png = base64.b64decode(data["image/png"])
        assert read_panel_layout(png) is not None
        assert metadata["image/png"]["width"] == Image.open(io.BytesIO(png)).size[0] // 2
    finally:
        InteractiveShell.clear_instance()


def test_set_style_installs_the_formatter_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    from analysis.plots.style import _show_retina_figures

    shell = InteractiveShell.instance()
    try:
        assert _show_retina_figures()
        formatter = shell.display_formatter.formatters["image/png"]
        assert formatter.lookup_by_type(Figure) is retina_png
    finally:
        InteractiveShell.clear_instance()


def test_a_supylabel_is_left_out_and_a_legend_beside_the_panels_is_kept():
    fig, axes = plt.subplots(3, 6, figsize=(7.3, 5.0), sharex=True, sharey=True)
    for ax in axes.flat:
        ax.plot([0, 1], [0, 1], label="line")
    fig.supxlabel("days")
    fig.supylabel("reaction time")
    fig.legend(["line"], loc="center right")
    layout = panel_layout(fig)
    assert layout is not None and len(layout.panels) == 18
    assert layout.header is None
    assert layout.footer is not None and layout.footer[3] < 0.15  # the supxlabel only
    assert len(layout.side) == 1 and layout.side[0][0] > 0.7  # the legend at the right
