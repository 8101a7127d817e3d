"""Sphinx extension: offer each chapter's executed notebook, with its outputs, for download.

The theme's download menu (sphinx-book-theme) offers a chapter's source: the ``.ipynb`` as
saved in the repository, without outputs. This extension writes the executed notebook into the
site, as ``_executed/<docname>.ipynb``, and adds an "executed .ipynb" entry to the page's
download menu (the theme's own entry is renamed "source .ipynb"). A page without an executed
notebook (a Markdown page) gets no entry.

Where the executed notebook comes from: the book executes in ``cache`` mode, and myst-nb 1.4
then renders the outputs it merges from the jupyter-cache but writes the *unmerged* notebook
(without outputs) to ``_build/jupyter_execute``. So the notebook is merged from the cache here,
as myst-nb does; without a cache match (other execution modes) the ``jupyter_execute`` copy is
used if it has outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

FOLDER = "_executed"
LABEL = "download-executed-notebook-button"


def _has_outputs(nb: nbformat.NotebookNode) -> bool:
    return any(cell.get("outputs") for cell in nb.cells)


def _executed_notebook(app: Any, pagename: str) -> nbformat.NotebookNode | None:
    """Return the page's notebook with its outputs, or None if there is none."""
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb" or not source.is_file():
        return None
    nb = nbformat.read(source, as_version=4)
    cache_path = getattr(app.config, "nb_execution_cache_path", "") or str(
        Path(app.outdir).parent / ".jupyter_cache"
    )
    if Path(cache_path).is_dir():
        from jupyter_cache import get_cache

        try:
            _, merged = get_cache(cache_path).merge_match_into_notebook(nb)
        except KeyError:  # no cached execution of this exact notebook
            merged = None
        if merged is not None and _has_outputs(merged):
            return merged
    written = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if written.is_file():
        nb = nbformat.read(written, as_version=4)
        if _has_outputs(nb):
            return nb
    return None


def add_download(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Copy the page's executed notebook into the site and link it from the download menu."""
    if app.builder.format != "html" or context.get("page_source_suffix") != ".ipynb":
        return
    notebook = _executed_notebook(app, pagename)
    if notebook is None:
        return
    target = Path(app.outdir) / FOLDER / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        if any(b.get("label") == LABEL for b in buttons):
            return
        entry = {
            "type": "link",
            "url": f"{context['pathto'](FOLDER, 1)}/{pagename}.ipynb",
            "text": "executed .ipynb",
            "tooltip": "Download the notebook with its outputs",
            "icon": "fas fa-file-circle-check",
            "label": LABEL,
        }
        # after the source file's entry (renamed to tell the two apart), before "print to PDF"
        after = [i for i, b in enumerate(buttons) if b.get("label") == "download-source-button"]
        if after:
            buttons[after[0]] = {**buttons[after[0]], "text": "source .ipynb"}
        buttons.insert(after[0] + 1 if after else len(buttons), entry)


def setup(app: Any) -> dict[str, Any]:
    """Run after sphinx-book-theme has built the header buttons (priority 501)."""
    app.connect("html-page-context", add_download, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
