"""Sphinx extension: an author-year bibliography style for sphinxcontrib-bibtex.

``bibtex_reference_style: author_year`` (``_config.yml``) makes the citations in the text read
"Bates et al. (2015)", but the list on the References page keeps the labels of the formatting
style (pybtex's ``alpha``: "[BMachlerBW15]"). This registers the pybtex style ``book``, used via
``bibtex_default_style: book``:

* entries are sorted by author, year and title, and labelled the way the text cites them:
  "[Bates et al. 2015]", "[Gelman and Hill 2007]" (a letter is added if two would coincide);
* it formats BibLaTeX's ``@software`` entries (unknown to pybtex, which would stop the build) as
  ``@misc`` ones: authors, title, how published, year, note and URL.

Everything else is pybtex's ``unsrt`` formatting.
"""

from __future__ import annotations

from collections import Counter
from string import ascii_lowercase
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle as AuthorYearTitleSorting


def _last_name(person: Any) -> str:
    latex = " ".join(person.prelast_names + person.last_names)
    return Text.from_latex(latex).render_as("text")


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Name 2015", "Name and Name 2015", "Name et al. 2015"."""

    def _label(self, entry: Any) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_last_name(p) for p in persons]
        if not names:
            who = Text.from_latex(entry.fields.get("organization", entry.key)).render_as("text")
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who} {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries: list[Any]):
        """Yield one label per entry, in order, made unique with a, b, ... where needed."""
        labels = [self._label(e) for e in sorted_entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield label + ascii_lowercase[seen[label] - 1]
            else:
                yield label


class BookStyle(UnsrtStyle):
    """pybtex's unsrt formatting, sorted and labelled author-year, with ``@software``."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearTitleSorting

    def get_software_template(self, e: Any) -> Any:
        """Format a BibLaTeX ``@software`` entry as a ``@misc`` one."""
        return self.get_misc_template(e)


def setup(app: Any) -> dict[str, Any]:
    """Register the style as ``book`` with pybtex (sphinxcontrib-bibtex finds it by name)."""
    register_plugin("pybtex.style.formatting", "book", BookStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
