"""Sphinx extension: facts about the book for the pages to quote ("how to cite this book").

Adds MyST substitutions, computed when the book is built rather than typed:

* ``{{ book_title }}`` and ``{{ book_authors }}``: ``title`` and ``author`` in ``_config.yml``;
* ``{{ book_version }}``: ``project.version`` in ``pyproject.toml``;
* ``{{ book_repository }}``: ``repository.url`` in ``_config.yml``, and
  ``{{ book_repository_link }}`` the same as a link;
* ``{{ book_bibtex }}``: a BibTeX entry for the book (title, authors, version, year of the
  build, repository), as a code block; on a line of its own it is a block.

The date of the build is MyST's built-in ``{sub-ref}`today``` (format: ``today_fmt`` in
``_config.yml``). A page is dated when it is read, and Sphinx reads only changed pages, so the
pages listed in ``book_meta_dated_pages`` (the root page by default, which carries the citation
note) are re-read on every build: cheap, and their date is always the build's. The date is not
a substitution on purpose: a configuration value that changed every day would make Sphinx
re-read every chapter every day.
"""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any


def _pyproject_version(start: Path) -> str:
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    raise FileNotFoundError(f"no pyproject.toml in {start} or above it")


def _link(url: str) -> str:
    """Return a Markdown link to ``url`` that shows the whole URL.

    pydata-sphinx-theme shortens a link whose text is its URL to "owner/repo" for GitHub; a
    citation needs the whole URL, so the target gets a trailing slash the text does not have.
    """
    if not url:
        return ""
    text = url.rstrip("/")
    return f"[{text}]({text}/)"


def bibtex_entry(title: str, authors: str, version: str, year: str, url: str) -> str:
    """Return a BibTeX ``@misc`` entry for the book (fields every reference manager reads).

    The authors are braced as one name (a collective author, not "Authors, The Mixed ...").
    """
    fields = [
        ("author", f"{{{authors}}}"),
        ("title", f"{{{title}}}"),
        ("year", year),
        ("version", version),
        ("note", f"Version {version}, executable Jupyter Book"),
    ]
    if url:
        fields.append(("howpublished", f"\\url{{{url.rstrip('/')}}}"))
        fields.append(("url", url.rstrip("/")))
    width = max(len(k) for k, _ in fields)
    body = ",\n".join(f"  {k.ljust(width)} = {{{v}}}" for k, v in fields)
    return f"@misc{{mixed_effects_book,\n{body}\n}}"


def add_substitutions(app: Any, config: Any) -> None:
    """Add the book's title, authors, version, repository and BibTeX to ``myst_substitutions``.

    The BibTeX entry carries the year of the build (a value that changes once a year, so
    Sphinx re-reads the pages once a year for it, not every day).
    """
    repository = (config.html_theme_options or {}).get("repository_url", "")
    title = config.html_title or config.project  # jupyter-book: title -> html_title
    version = _pyproject_version(Path(app.srcdir))
    year = time.strftime("%Y")
    bibtex = bibtex_entry(title, config.author, version, year, repository)
    substitutions = dict(config.myst_substitutions or {})
    substitutions.update(
        book_title=title,
        book_authors=config.author,
        book_version=version,
        book_repository=repository,
        book_repository_link=_link(repository),
        book_bibtex=f"```bibtex\n{bibtex}\n```",
    )
    config.myst_substitutions = substitutions


def reread_dated_pages(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """Mark the pages that show the build date as outdated, so that it is today's."""
    pages = app.config.book_meta_dated_pages or [app.config.root_doc]
    return [p for p in pages if p in env.found_docs]


def setup(app: Any) -> dict[str, Any]:
    """Register the substitutions and the re-reading of dated pages."""
    app.add_config_value("book_meta_dated_pages", [], "env", types=[list])
    app.connect("config-inited", add_substitutions, priority=900)
    app.connect("env-get-outdated", reread_dated_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
