"""Sphinx extension: every page's footer says which version of the book it is and when it was built.

A reader who prints a chapter, saves it or quotes it needs to know which version of the book
it came from: the footer of every page gets "Version X (the ``analysis`` package's, from
``pyproject.toml``), built YYYY-MM-DD" (the date each page was written, in ``today_fmt``), and
a link to the book's repository (``repository.url`` in ``_config.yml``, the one place that
names it).

The stamp is added when each page is written (``html-page-context``), not through the
configuration: a configuration value that changed every day would make Sphinx re-read every
chapter every day. An unchanged page that an incremental build does not write again keeps the
date it was written on, which is when its content was built.
"""

from __future__ import annotations

import html
import time
from typing import Any

from book_meta import _pyproject_version  # the same version the citation note quotes


def _stamp(app: Any) -> str:
    """Return the HTML of the stamp: version, build date and the repository link."""
    from pathlib import Path

    version = _pyproject_version(Path(app.srcdir))
    date = time.strftime(app.config.today_fmt or "%Y-%m-%d")
    repository = (app.config.html_theme_options or {}).get("repository_url", "")
    text = f"Version {html.escape(version)}, built {html.escape(date)}."
    if repository:
        url = html.escape(repository.rstrip("/"))
        text += f' Source: <a href="{url}">{url}</a>.'
    return f'<p class="book-page-stamp">{text}</p>'


def add_stamp(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Append the stamp to the footer the theme writes (``extra_footer``)."""
    if not hasattr(app, "_book_page_stamp"):
        app._book_page_stamp = _stamp(app)
    existing = context.get("theme_extra_footer") or ""
    context["theme_extra_footer"] = f"{existing}\n{app._book_page_stamp}".strip()


def setup(app: Any) -> dict[str, Any]:
    """Register the footer stamp."""
    app.connect("html-page-context", add_stamp)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
