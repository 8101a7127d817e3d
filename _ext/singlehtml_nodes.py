"""Sphinx extension: the single-page build (``make pdf``) writes every node the website writes.

Several extensions register how to write their nodes for the ``html`` builder only: myst-nb's
folded code cells (``HideCodeCellNode``), and the two nodes jupyter-book's
sphinx-jupyterbook-latex puts on the root page (``HiddenCellNode``, ``RootHeader``). The
``singlehtml`` builder then stops with "unknown node type". When the builder is
``singlehtml``, this gives it every ``html`` visitor it lacks, so the single page is written as
the website's pages are. Nothing changes for the website.
"""

from __future__ import annotations

from typing import Any


def copy_html_visitors(app: Any) -> None:
    """Give the ``singlehtml`` builder the ``html`` visitors of nodes it has none for."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, pair in handlers.get("html", {}).items():
        single.setdefault(node_name, pair)


def setup(app: Any) -> dict[str, Any]:
    """Copy the visitors once every extension has registered its own (builder-inited)."""
    app.connect("builder-inited", copy_html_visitors, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
