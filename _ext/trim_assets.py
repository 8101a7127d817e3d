r"""Sphinx extension: ship less JavaScript per page and a smaller site.

Runs at ``build-finished``, after the theme and sphinx-mathjax-offline have copied their files
into the output, and rewrites only the output (``_build/html``), never a source:

* **Font Awesome's JavaScript.** pydata-sphinx-theme 0.17 loads ``scripts/fontawesome.js``
  (1.49 MB: every free icon, turned into inline SVG by script) on every page, "so that users can
  add custom icons". Its stylesheet already carries Font Awesome's CSS and web fonts, which draw
  the same ``fa-*`` icons (☰, download, full screen, theme switch, search, GitHub...), so the
  script is redundant: its ``<script>`` tag is removed from every page and the file deleted.
* **MathJax.** sphinx-mathjax-offline copies a complete MathJax 3 tree (24 MB: every input,
  output and font format, the speech-rule engine in thirteen languages). The pages load only
  ``tex-chtml.js`` (``mathjax_path``), which needs its CHTML web fonts, may load TeX extensions
  on demand (autoload, ``\require``), and whose right-click menu may load the accessibility
  components (explorer, speech and Braille in English). Everything else is deleted; the list is
  ``MATHJAX_KEEP``.
* **Files no browser fetches**: source maps (``*.map``, for developer tools) and the TrueType
  copies of Font Awesome's fonts (the stylesheet offers WOFF2 first, which every browser able to
  run the theme reads).

``tests/test_browser.py`` checks the result: no failed request on any page, math typeset on
every page with math, and a bound on the JavaScript each page loads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The ``<script>`` tag pydata-sphinx-theme writes for Font Awesome's JS (and its comment line).
FONTAWESOME_TAG = re.compile(
    r"[ \t]*(?:<!-- So that users can add custom icons -->\s*)?"
    r'<script defer src="[^"]*_static/scripts/fontawesome\.js(?:\?[^"]*)?"></script>\n?'
)

#: What stays of ``_static/mathjax`` (paths relative to it; a directory keeps all it holds).
MATHJAX_KEEP = (
    "tex-chtml.js",  # the component the pages load (TeX input, CHTML output, menu)
    "output/chtml/fonts/woff-v2",  # the fonts CHTML draws with
    "input/tex/extensions",  # TeX packages loaded on demand (autoload, \require)
    "a11y",  # loaded by the menu's accessibility options (explorer, speech, Braille)
    "sre/mathmaps/base.json",  # the speech-rule engine's rules: base, English, Nemeth Braille
    "sre/mathmaps/en.json",
    "sre/mathmaps/nemeth.json",
)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _prune_tree(root: Path, keep: tuple[str, ...]) -> int:
    """Delete every file under ``root`` not covered by ``keep``; return the bytes freed."""
    kept = [root / k for k in keep]
    missing = [str(k) for k in kept if not k.exists()]
    if missing:  # a MathJax upgrade moved something: keep everything rather than break math
        logger.warning(
            "trim_assets: %s not found in %s; MathJax left untouched",
            missing,
            root,
            type="trim_assets",
        )
        return 0
    freed = 0
    for path in sorted(root.rglob("*"), reverse=True):  # children before their folders
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        if any(path == k or k in path.parents for k in kept):
            continue
        freed += path.stat().st_size
        path.unlink()
    return freed


def _drop_fontawesome_script(outdir: Path) -> int:
    """Remove Font Awesome's script tag from every page; return how many pages changed."""
    changed = 0
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = FONTAWESOME_TAG.sub("", text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def trim(app: Any, exception: Exception | None) -> None:
    """Trim the HTML output (see the module docstring)."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    before = _size(outdir)

    pages = _drop_fontawesome_script(outdir)
    if not any("fontawesome.js" in p.read_text(encoding="utf-8") for p in outdir.rglob("*.html")):
        for name in ("fontawesome.js", "fontawesome.js.map", "fontawesome.js.LICENSE.txt"):
            (static / "scripts" / name).unlink(missing_ok=True)
    unfetched = list(static.rglob("*.map")) + list(static.glob("vendor/fontawesome/webfonts/*.ttf"))
    for path in unfetched:
        path.unlink()
    mathjax = static / "mathjax"
    if mathjax.is_dir():
        _prune_tree(mathjax, MATHJAX_KEEP)

    after = _size(outdir)
    logger.info(
        "trim_assets: Font Awesome's script removed from %d pages; output %.1f MB -> %.1f MB",
        pages,
        before / 1e6,
        after / 1e6,
    )


def setup(app: Any) -> dict[str, Any]:
    """Register the hook after sphinx-mathjax-offline's copy (both run at build-finished)."""
    app.connect("build-finished", trim, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
