"""Multi-panel figures that stack on a phone.

A figure whose panels sit side by side is shrunk to a phone's column (390 px) as a whole, and
its labels become too small to read. Rather than redraw each chapter's figures, the book keeps
one image per figure and records in it where each panel is: the retina PNG a chapter's kernel
displays (:func:`install_panel_formatter`, called by :func:`analysis.plots.style.set_style`)
carries a PNG text chunk, keyword :data:`PANELS_KEY`, holding the panels' boxes as fractions
of the image. On a narrow screen ``_static/book.js`` reads that chunk and shows each panel
cropped from the same image, one above the other and as wide as the column (small multiples a
few to a row), with the figure's own title and legend (a suptitle, a figure legend) shown once
above or below them; ``_static/book.css``
switches between the stacked panels and the whole figure with a media query, and prints the
whole figure. The image file, its alt text and caption, Jupyter, nbval and the PDF are as
before, and the page does not grow: the panels are views of the image already sent.

Figures with a single panel, or whose panels sit in one column, are displayed exactly as
IPython's "retina" format does, with no extra chunk.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.transforms import Bbox

__all__ = [
    "PANELS_KEY",
    "PanelLayout",
    "crop_panels",
    "install_panel_formatter",
    "panel_layout",
    "read_panel_layout",
    "retina_png",
]

#: Keyword of the PNG text chunk that holds the panel layout (read by ``_static/book.js``).
PANELS_KEY = "figure-panels"

#: Space kept around each panel's tight box, in inches.
PANEL_PAD = 0.06

Box = tuple[float, float, float, float]
"""A box as fractions of the image: left, top, width, height (top measured downwards)."""


@dataclass(frozen=True)
class PanelLayout:
    """Where a figure's panels are in its saved image.

    Attributes
    ----------
    image
        The saved image's extent in figure inches (the figure's tight box, padded as
        ``savefig`` pads it).
    panels
        One box per panel in reading order (rows top to bottom, left to right), each as
        fractions of the image: left, top, width, height.
    titles
        Each panel's axes title ("" where it has none), for the panels' alt text.
    header
        The figure-level artists above the panels (suptitle, a legend above), or None.
    footer
        The figure-level artists below the panels (a legend below, a supxlabel), or None.
    side
        Each figure legend beside the panels (a legend at the right), shown after them. Other
        figure-level text beside the panels (a supylabel) has no box: each panel keeps its own
        tick labels, and the whole figure (wide screens, print, a tap) shows it.
    """

    image: Bbox
    panels: list[Box]
    titles: list[str]
    header: Box | None = None
    footer: Box | None = None
    side: list[Box] = field(default_factory=list)

    def to_json(self) -> str:
        """Return the layout as the ASCII JSON stored in the PNG (fractions to 4 decimals)."""

        def rounded(box: Box | None) -> list[float] | None:
            return None if box is None else [round(v, 4) for v in box]

        return json.dumps(
            {
                "version": 1,
                "panels": [rounded(b) for b in self.panels],
                "titles": self.titles,
                "header": rounded(self.header),
                "footer": rounded(self.footer),
                "side": [rounded(b) for b in self.side],
            },
            ensure_ascii=True,
            separators=(",", ":"),
        )


def _is_colorbar(ax: Axes) -> bool:
    return getattr(ax, "_colorbar", None) is not None or ax.get_label() == "<colorbar>"


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _side_by_side(a: Bbox, b: Bbox) -> bool:
    """Whether two axes boxes share a row but not a column."""
    rows = _overlap(a.y0, a.y1, b.y0, b.y1) > 0.25 * min(a.height, b.height)
    columns = _overlap(a.x0, a.x1, b.x0, b.x1) > 0.25 * min(a.width, b.width)
    return rows and not columns


def _distance(a: Bbox, b: Bbox) -> float:
    """Squared distance from box ``a`` to the centre of box ``b``."""
    cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
    dx = max(a.x0 - cx, 0.0, cx - a.x1)
    dy = max(a.y0 - cy, 0.0, cy - a.y1)
    return dx * dx + dy * dy


def _panel_groups(fig: Figure) -> list[list[Axes]]:
    """Group the figure's visible axes into panels (twin axes join their host, colorbars too).

    Colorbars join the panel of the axes their mappable is drawn in, or the nearest panel.
    """
    axes = [ax for ax in fig.axes if ax.get_visible()]
    groups: list[list[Axes]] = []
    for ax in (a for a in axes if not _is_colorbar(a)):
        pos = ax.get_position()
        for group in groups:
            host = group[0].get_position()
            shared = _overlap(pos.x0, pos.x1, host.x0, host.x1) * _overlap(
                pos.y0, pos.y1, host.y0, host.y1
            )
            if shared > 0.5 * min(pos.width * pos.height, host.width * host.height):
                group.append(ax)  # a twin (twinx/twiny) of the host
                break
        else:
            groups.append([ax])
    for cax in (a for a in axes if _is_colorbar(a)):
        if not groups:
            break
        mappable = getattr(getattr(cax, "_colorbar", None), "mappable", None)
        owner = getattr(mappable, "axes", None)
        target = next((g for g in groups if owner in g), None)
        if target is None:
            c = cax.get_position()
            target = min(groups, key=lambda g: _distance(g[0].get_position(), c))
        target.append(cax)
    return groups


def _is_multi_column(groups: list[list[Axes]]) -> bool:
    boxes = [g[0].get_position() for g in groups]
    return any(_side_by_side(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def _reading_order(groups: list[list[Axes]]) -> list[list[Axes]]:
    """Panels in reading order: rows from the top, each row left to right.

    Rows are the subplot grid's rows where every panel has one, else bands of axes whose
    vertical extents overlap (an axes shrunk to keep its aspect stays in its row).
    """
    specs = [g[0].get_subplotspec() for g in groups]
    if all(s is not None for s in specs):
        keys = [(s.rowspan.start, s.colspan.start) for s in specs]  # type: ignore[union-attr]
        return [g for _, g in sorted(zip(keys, groups, strict=True), key=lambda kg: kg[0])]
    rows: list[list[list[Axes]]] = []
    for group in sorted(groups, key=lambda g: -g[0].get_position().y1):
        pos = group[0].get_position()
        for row in rows:
            first = row[0][0].get_position()
            if _overlap(pos.y0, pos.y1, first.y0, first.y1) > 0.5 * min(pos.height, first.height):
                row.append(group)
                break
        else:
            rows.append([group])
    return [g for row in rows for g in sorted(row, key=lambda g: g[0].get_position().x0)]


def _figure_artists(fig: Figure) -> list[Any]:
    """Figure-level artists drawn outside the axes: suptitle, sup labels, legends, texts."""
    found = [getattr(fig, name, None) for name in ("_suptitle", "_supxlabel", "_supylabel")]
    found += list(fig.legends) + list(fig.texts)
    return [
        a
        for a in found
        if a is not None
        and a.get_visible()
        and not (hasattr(a, "get_text") and not str(a.get_text()).strip())
    ]


def _union(boxes: list[Bbox]) -> Bbox | None:
    return Bbox.union(boxes) if boxes else None


def panel_layout(fig: Figure) -> PanelLayout | None:
    """Find where each panel of ``fig`` will be in its tight image.

    Parameters
    ----------
    fig
        A drawn or undrawn figure; it is drawn (without rendering pixels) to measure it.

    Returns
    -------
    PanelLayout or None
        None when the figure has fewer than two panels side by side (one panel, or panels in a
        single column): such a figure reads well at any width.
    """
    groups = _panel_groups(fig)
    if len(groups) < 2 or not _is_multi_column(groups):
        return None
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    to_inches = fig.dpi_scale_trans.inverted()
    image = fig.get_tightbbox(renderer).padded(mpl.rcParams["savefig.pad_inches"])

    def inches(artist: Any) -> Bbox | None:
        box = (
            artist.get_tightbbox(renderer)
            if isinstance(artist, Axes)
            else artist.get_window_extent(renderer)
        )
        if box is None or box.width <= 0 or box.height <= 0:
            return None
        return box.transformed(to_inches)

    def fraction(box: Bbox, floor: float = -math.inf, ceiling: float = math.inf) -> Box:
        """``box`` with a margin (not below ``floor`` nor above ``ceiling``) as fractions."""
        b = box.padded(PANEL_PAD)
        x0, x1 = max(b.x0, image.x0), min(b.x1, image.x1)
        y0, y1 = max(b.y0, image.y0, floor), min(b.y1, image.y1, ceiling)
        return (
            (x0 - image.x0) / image.width,
            (image.y1 - y1) / image.height,
            (x1 - x0) / image.width,
            (y1 - y0) / image.height,
        )

    measured = []
    for group in _reading_order(groups):
        box = _union([b for b in (inches(ax) for ax in group) if b is not None])
        if box is not None:
            measured.append((box, group[0].get_title()))
    area = _union([m[0] for m in measured])
    if area is None or len(measured) < 2:
        return None
    above, below, side = [], [], []
    for artist in _figure_artists(fig):
        box = inches(artist)
        if box is None:
            continue
        slack = 0.25 * box.height
        if box.y0 >= area.y1 - slack:
            above.append(box)
        elif box.y1 <= area.y0 + slack:
            below.append(box)
        elif isinstance(artist, Legend):
            side.append(box)
    header, footer = _union(above), _union(below)

    def panel(box: Bbox) -> Box:
        # a panel's margin stops where a title or legend above or below it begins
        ceiling = header.y0 if header and header.y0 >= box.y1 - PANEL_PAD else math.inf
        floor = footer.y1 if footer and footer.y1 <= box.y0 + PANEL_PAD else -math.inf
        return fraction(box, floor, ceiling)

    return PanelLayout(
        image=image,
        panels=[panel(m[0]) for m in measured],
        titles=[m[1] for m in measured],
        # and a title's or legend's margin stops where the panels begin
        header=None if header is None else fraction(header, floor=min(header.y0, area.y1)),
        footer=None if footer is None else fraction(footer, ceiling=max(footer.y1, area.y0)),
        side=[fraction(b) for b in side],
    )


def retina_png(fig: Figure) -> tuple[str, dict[str, int]] | None:
    """Display ``fig`` as IPython's "retina" PNG, with its panel layout for multi-panel figures.

    Parameters
    ----------
    fig
        The figure to display.

    Returns
    -------
    tuple of (str, dict) or None
        The base64 PNG drawn at twice the figure's dpi and its display ``width`` and ``height``
        (half the pixel size), as IPython's ``retina_figure`` returns them; None for an empty
        figure. A figure with panels side by side is saved with the same tight box ``savefig``
        would choose and a text chunk :data:`PANELS_KEY` holding :meth:`PanelLayout.to_json`.
    """
    from IPython.core.pylabtools import retina_figure

    if not fig.axes and not fig.lines:
        return None
    layout = panel_layout(fig)
    if layout is None:
        return retina_figure(fig, base64=True)
    return retina_figure(
        fig, base64=True, bbox_inches=layout.image, metadata={PANELS_KEY: layout.to_json()}
    )


def read_panel_layout(png: bytes) -> dict[str, Any] | None:
    """Read the panel layout stored in a PNG by :func:`retina_png` (None if it has none).

    Parameters
    ----------
    png
        The PNG file's bytes.

    Returns
    -------
    dict or None
        The decoded JSON: ``panels`` (boxes as fractions), ``titles``, ``header``, ``footer``,
        ``side``.
    """
    from PIL import Image, UnidentifiedImageError

    # Pillow (matplotlib's own image library) reads the text chunks ahead of the image data
    # when it opens a file, without decoding the pixels.
    try:
        image = Image.open(io.BytesIO(png))
    except UnidentifiedImageError:
        raise ValueError("not a PNG file") from None
    if image.format != "PNG":
        raise ValueError("not a PNG file")
    text = image.info.get(PANELS_KEY)
    return None if text is None else json.loads(text)


def crop_panels(png: bytes) -> list[Any]:
    """Cut a PNG written by :func:`retina_png` into its panels, as the website shows them.

    Parameters
    ----------
    png
        The PNG file's bytes.

    Returns
    -------
    list of PIL.Image.Image
        The header (if any), each panel, the footer (if any) and the side legends, in the
        order the website
        stacks them; an empty list for an image with no panel layout.
    """
    from PIL import Image

    layout = read_panel_layout(png)
    if layout is None:
        return []
    image = Image.open(io.BytesIO(png))
    width, height = image.size
    boxes = [layout["header"], *layout["panels"], layout["footer"], *layout.get("side", [])]
    return [
        image.crop(
            (
                round(left * width),
                round(top * height),
                round((left + w) * width),
                round((top + h) * height),
            )
        )
        for left, top, w, h in (b for b in boxes if b is not None)
    ]


def install_panel_formatter(shell: Any | None = None) -> Callable[..., Any] | None:
    """Make IPython display figures with :func:`retina_png` (the shell's current one if None).

    Returns the formatter installed, or None outside IPython.
    """
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return None
    shell.display_formatter.formatters["image/png"].for_type(Figure, retina_png)
    return retina_png
