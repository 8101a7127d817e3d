"""Sphinx extension: drop repeated inline ``<script>`` blocks from every HTML page.

With Jupyter Book 1.0.4 and Sphinx 7.4, sphinx-thebe and sphinx-togglebutton register their
inline configuration scripts twice, so each page declares ``const THEBE_JS_URL`` twice and the
browser logs "Identifier 'THEBE_JS_URL' has already been declared". Identical scripts are
redundant by definition (the two copies differ only in a filename of None versus ""), so
keeping the first of each is safe; this runs at
``html-page-context``, after every extension has added its scripts.
"""

from __future__ import annotations

from typing import Any


def _dedupe(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in scripts:
        # inline scripts come with filename None or "" depending on who added them
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, repr(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    """Register the handler with a late priority, after the theme and other extensions."""
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
