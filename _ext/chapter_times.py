"""Sphinx extension: the ``{chapter-times}`` directive, the build's execution report as a table.

myst-nb's ``{nb-exec-table}`` lists documents by file name (``book/06c_bayesian_slopes``), the
notebook files' modification times and a status column of emoji that many fonts draw as empty
boxes. This directive reads the same execution records (``exec_data``, which myst-nb keeps for
every executed notebook) and writes one row per notebook: the chapter's number and title,
linked, and the seconds its execution took (from the execution cache when the chapter was not
re-executed). A failed execution fails the strict build before any reader sees the page, so
there is no status column. A last row gives the total.

Like ``{nb-exec-table}``, the table is filled in after every document has been read (a
post-transform), and a page holding it is written again whenever a notebook was executed.
"""

from __future__ import annotations

import posixpath
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

#: myst-nb's flag for "this page has an execution table, rewrite it when something executed".
EXEC_TABLE_FLAG = "has_exec_table"


class chapter_times_node(nodes.General, nodes.Element):  # noqa: N801 - docutils naming
    """Placeholder, replaced by the table once every chapter has been read."""


class ChapterTimes(SphinxDirective):
    """Insert the table of chapter execution times."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """Place the placeholder and ask myst-nb to rewrite this page after executions."""
        from myst_nb.sphinx_ import NbMetadataCollector

        NbMetadataCollector.set_doc_data(self.env, self.env.docname, EXEC_TABLE_FLAG, True)
        return [chapter_times_node()]


def chapter_label(env: Any, docname: str) -> str:
    """Return "Chapter N: Title" for a numbered chapter, else the page's title."""
    title = env.titles[docname].astext() if docname in env.titles else docname
    number = env.toc_secnumbers.get(docname, {}).get("")
    if number:
        return f"Chapter {'.'.join(map(str, number))}: {title}"
    return title


def _row(cells: list[nodes.Node], classes: tuple[str, ...] = ()) -> nodes.row:
    row = nodes.row()
    for cell, cls in zip(cells, classes or ("",) * len(cells), strict=True):
        entry = nodes.entry("", cell)
        if cls:
            entry["classes"].append(cls)
        row += entry
    return row


def make_table(env: Any, parent: str, exec_data: dict[str, dict]) -> nodes.table:
    """Build the table: one row per executed notebook, in the order of the book."""
    order = {name: i for i, name in enumerate(_reading_order(env))}
    docs = sorted(exec_data, key=lambda d: (order.get(d, len(order)), d))
    # No caption: the table is made after figures and tables were numbered (a post-transform),
    # and a captioned table would want a number; the section heading above it says what it is.
    table = nodes.table(classes=["table", "book-table", "chapter-times"])
    group = nodes.tgroup(cols=2)
    table += group
    group += nodes.colspec(colwidth=80)
    group += nodes.colspec(colwidth=20)
    head = nodes.thead()
    group += head
    head += _row([nodes.paragraph(text="Chapter"), nodes.paragraph(text="Seconds")], ("", "num"))
    body = nodes.tbody()
    group += body
    total = 0.0
    for docname in docs:
        runtime = exec_data[docname].get("runtime")
        link = pending_xref(
            refdoc=parent,
            reftarget=posixpath.relpath(docname, posixpath.dirname(parent)),
            reftype="doc",
            refdomain="std",
            refexplicit=True,
            refwarn=True,
            classes=["xref", "doc"],
        )
        link += nodes.inline(text=chapter_label(env, docname))
        seconds = "not recorded" if runtime is None else f"{runtime:.1f}"
        total += runtime or 0.0
        body += _row([nodes.paragraph("", "", link), nodes.paragraph(text=seconds)], ("", "num"))
    body += _row(
        [nodes.paragraph(text="All chapters"), nodes.paragraph(text=f"{total:.1f}")], ("", "num")
    )
    return table


def _reading_order(env: Any) -> list[str]:
    """Documents in the order of the table of contents (the root page first)."""
    order: list[str] = []

    def walk(doc: str) -> None:
        if doc in order:
            return
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return order


class ChapterTimesTransform(SphinxPostTransform):
    """Replace the placeholder with the table (before references are resolved)."""

    default_priority = 8

    def run(self, **kwargs: Any) -> None:
        """Fill in every placeholder of the page."""
        from myst_nb.sphinx_ import NbMetadataCollector

        data = {
            doc: meta["exec_data"]
            for doc, meta in NbMetadataCollector.get_doc_data(self.env).items()
            if meta.get("exec_data")
        }
        for node in list(self.document.findall(chapter_times_node)):
            node.replace_self(make_table(self.env, self.env.docname, data))


def setup(app: Any) -> dict[str, Any]:
    """Register the directive, its node and the transform that fills it in."""
    app.add_node(chapter_times_node)
    app.add_directive("chapter-times", ChapterTimes)
    app.add_post_transform(ChapterTimesTransform)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
