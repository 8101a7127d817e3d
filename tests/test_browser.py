"""The website as a reader meets it: every page of the table of contents in headless Chromium.

The site in ``_build/html`` (built by ``make book``) is served on 127.0.0.1 and each page is
opened with Playwright driving the system's Chromium. For each page the test asserts: no
console errors, no failed requests, no request leaving 127.0.0.1, math typeset by MathJax
where the page has math, every image loaded, and no empty glue placeholder. A screenshot of
each page is saved under ``_build/screenshots/``.

Further tests, per page: the menus work on a phone (☰ opens the site navigation, "Contents" the
page's table of contents) and ☰ collapses the sidebar on a desktop
(``_static/sidebar-toggles.js``); the JavaScript a page loads stays under a budget
(``_ext/trim_assets.py``); math renders without errors and no raw TeX shows; no code cell that
glues a number shows unfolded; no table cell shows a number with more than six significant
digits; every figure has alt text and a caption. And of the built files: each chapter's executed
notebook can be downloaded, the citation note carries the package's version and the build date,
the References page lists every entry of ``references.bib``, and the MathJax copy holds only
what the pages use.

Reading on any screen (``_static/book.css``, ``_static/book.js``): no stderr output in any page
(``ALLOWED_STDERR`` lists the exceptions: none); table cells padded, numbers right-aligned, a rule
under the header; at 1366 px no code block scrolls sideways and display math wider than the
column scrolls in its own box with its equation number in view; at 390 px no page is wider than
the screen; figures open full size on a tap and are drawn at twice their size; at 390 px a
figure with panels side by side shows them one above the other, each as wide as the column
(1366 px and print show the whole figure); keyboard focus
is visible on the header's buttons; search is offered once on a phone; the Contents drawer closes
after a section is chosen; dark mode puts nothing on a light panel.

Run with ``make test`` (which builds the site first) or ``make site-test``.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1"}

#: Generous: the machine may be busy (the suite runs beside other work on 2 cores).
PAGE_TIMEOUT_MS = 120_000


def find_chromium() -> str | None:
    """Return the path of a system Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def toc_pages() -> list[str]:
    """HTML paths (relative to the site root) of every page in _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            files.append(chapter["file"])
            files.extend(s["file"] for s in chapter.get("sections", []))
    return [f"{f}.html" for f in files]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not (HTML / "index.html").is_file():
        pytest.fail("No built site in _build/html: run `make book` first (make test does).")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "Chromium is not installed: install it with `sudo apt-get install chromium` "
            "(Debian) to run the browser test; .ci/run installs it in CI."
        )
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def test_every_toc_page_has_been_built():
    missing = [p for p in toc_pages() if not (HTML / p).is_file()]
    assert not missing, f"pages in _toc.yml missing from _build/html: {missing}"


@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_offline(page: str, server: str, browser) -> None:  # noqa: C901
    tab = browser.new_page()
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    console_errors: list[str] = []
    failed: list[str] = []
    outside: list[str] = []

    def route(r) -> None:  # every request passes here: let local ones through, stop the rest
        url = urlparse(r.request.url)
        if url.scheme in {"http", "https", "ws", "wss"} and url.hostname not in LOCAL_HOSTS:
            outside.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    tab.route("**/*", route)
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: console_errors.append(str(e)))
    tab.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    tab.on(
        "response",
        lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None,
    )

    tab.goto(f"{server}/{page}", wait_until="load")
    _settle(tab)
    source_has_math = tab.evaluate(
        "() => document.querySelectorAll('.math, div.math, span.math').length"
    )
    if source_has_math:
        tab.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15000
        )
        tab.evaluate("() => MathJax.startup.promise")
        typeset = tab.evaluate("() => document.querySelectorAll('mjx-container').length")
        assert typeset >= source_has_math, (
            f"{page}: {source_has_math} math elements but {typeset} typeset by MathJax"
        )
    content_images = tab.evaluate("() => document.querySelectorAll('main img').length")
    broken_images = tab.evaluate(
        """() => Array.from(document.images)
                 .filter(img => !(img.complete && img.naturalWidth > 0))
                 .map(img => img.src)"""
    )
    empty_glue = tab.evaluate(
        """() => Array.from(document.querySelectorAll('.pasted-text, .pasted-inline'))
                 .filter(el => el.textContent.trim() === '').length"""
    )
    raw_glue = tab.evaluate("() => document.body.innerText.includes('{glue')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(
        path=str(SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")), full_page=True
    )
    tab.close()

    assert not outside, f"{page}: requests left 127.0.0.1: {outside}"
    assert not failed, f"{page}: failed requests: {failed}"
    assert not console_errors, f"{page}: console errors: {console_errors}"
    assert not broken_images, f"{page}: images that did not load: {broken_images}"
    if page.startswith("book/0"):  # every numbered chapter shows at least one figure
        assert content_images > 0, f"{page}: no figures rendered (was MPLBACKEND=Agg set?)"
    assert empty_glue == 0, f"{page}: {empty_glue} empty glue placeholders"
    assert not raw_glue, f"{page}: an unrendered {{glue}} role is visible"


# --- The menus (sidebar toggles) ---------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WIDE = {"width": 1366, "height": 900}  # the common laptop width the reading checks use
NAV_LINK = "nav.bd-docs-nav a.reference"  # a link of the site navigation (primary sidebar)
TOC_LINK = "nav.page-toc a, .bd-toc-nav a"  # a link of the page's table of contents


def _open(browser, server: str, page: str, viewport: dict[str, int], idle: bool = False):
    """Open ``page`` at ``viewport`` size; with ``idle``, wait until the network is quiet too."""
    tab = browser.new_page()
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    tab.set_viewport_size(viewport)
    tab.goto(f"{server}/{page}", wait_until="load")  # the themes' scripts have run
    if idle:
        _settle(tab)
    return tab


def _wait_for_math(tab) -> None:
    """If the page has math, wait until MathJax has typeset it."""
    if tab.evaluate("() => !!document.querySelector('.math')"):
        tab.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15000
        )
        tab.evaluate("() => MathJax.startup.promise")


def _settle(tab) -> None:
    """Wait until the network is quiet; on a busy machine, go on after 30 s rather than fail.

    "networkidle" (no request for 500 ms) was seen not to arrive within two minutes on a loaded
    2-core machine for a page that had long finished loading; the checks that follow read
    what the page loaded and rendered, and fail on their own if something is missing.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        tab.wait_for_load_state("networkidle", timeout=30_000)
    except PlaywrightTimeout:
        tab.wait_for_load_state("load")


@pytest.mark.parametrize("page", toc_pages())
def test_menus_open_on_a_phone(page: str, server: str, browser) -> None:
    from playwright.sync_api import expect

    tab = _open(browser, server, page, PHONE)
    try:
        primary = tab.locator("#pst-primary-sidebar-modal")
        assert not tab.locator(NAV_LINK).first.is_visible(), (
            f"{page}: at {PHONE['width']} px the site navigation shows before ☰ is clicked"
        )
        menu = tab.locator(".bd-header-article .primary-toggle")
        expect(menu, f"{page}: no visible ☰ button at {PHONE['width']} px").to_be_visible()
        menu.click()
        expect(
            primary.locator(NAV_LINK).first,
            f"{page}: clicking ☰ at {PHONE['width']} px does not show the site navigation",
        ).to_be_visible(timeout=3000)
        tab.keyboard.press("Escape")
        expect(primary, f"{page}: Escape does not close the navigation").not_to_have_attribute(
            "open", ""
        )

        has_toc = tab.locator("#pst-secondary-sidebar").locator(TOC_LINK).count() > 0
        contents = tab.locator(".bd-header-article .secondary-toggle")
        assert (contents.count() > 0) == has_toc, (
            f"{page}: the page {'has' if has_toc else 'has no'} table of contents but "
            f"{'no' if has_toc else 'a'} Contents button"
        )
        if has_toc:
            expect(contents, f"{page}: the Contents button is not visible").to_be_visible()
            contents.click()
            expect(
                tab.locator("#pst-secondary-sidebar-modal").locator(TOC_LINK).first,
                f"{page}: clicking Contents at {PHONE['width']} px does not show the page's "
                "table of contents",
            ).to_be_visible(timeout=3000)
    finally:
        tab.close()


@pytest.mark.parametrize("page", [toc_pages()[0], toc_pages()[1]])
def test_menu_button_collapses_the_sidebar_on_a_desktop(page: str, server: str, browser) -> None:
    from playwright.sync_api import expect

    tab = _open(browser, server, page, DESKTOP)
    try:
        link = tab.locator("#pst-primary-sidebar").locator(NAV_LINK).first
        expect(link, f"{page}: the sidebar is not shown on a desktop").to_be_visible()
        menu = tab.locator(".bd-header-article .primary-toggle")
        menu.click()
        expect(link, f"{page}: ☰ does not collapse the sidebar on a desktop").to_be_hidden(
            timeout=3000
        )
        assert not tab.evaluate("document.getElementById('pst-primary-sidebar-modal').open"), (
            f"{page}: on a desktop ☰ opened the phone's navigation dialog"
        )
        menu.click()
        expect(link, f"{page}: a second ☰ does not bring the sidebar back").to_be_visible(
            timeout=3000
        )
    finally:
        tab.close()


# --- What each page shows: collected once per page, checked by the tests below -----------------

#: JavaScript a page may load, in bytes: MathJax's tex-chtml.js (1.16 MB, on pages with math),
#: the theme's scripts and the search index. Before _ext/trim_assets.py each page loaded 2.88 MB,
#: 1.49 MB of it Font Awesome's script.
JS_BUDGET = 1_700_000

_FACTS_JS = r"""() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const js = performance.getEntriesByType("resource")
    .filter(e => e.initiatorType === "script" || /\.js(\?|$)/.test(e.name))
    .map(e => [e.name.replace(location.origin, ""), e.decodedBodySize]);
  const figures = Array.from(article.querySelectorAll("img")).map(img => {
    const figure = img.closest("figure");
    const caption = figure && figure.querySelector("figcaption");
    return {src: img.getAttribute("src") || "", alt: img.getAttribute("alt") || "",
            caption: caption ? caption.textContent.trim() : null};
  });
  const glue = Array.from(article.querySelectorAll(".cell_input"))
    .filter(cell => /\bglue\(/.test(cell.textContent))
    .filter(cell => {
      const pre = cell.querySelector("pre") || cell;
      return pre.checkVisibility ? pre.checkVisibility({checkVisibilityCSS: true})
                                 : pre.getClientRects().length > 0;
    })
    .map(cell => cell.textContent.trim().split("\n").find(l => /\bglue\(/.test(l)));
  const cells = Array.from(article.querySelectorAll("table td, table th"))
    .map(c => c.textContent.trim());
  const bare = article.cloneNode(true);
  bare.querySelectorAll("pre, code, script, style, mjx-container, .cell_input")
    .forEach(el => el.remove());
  return {
    js,
    figures,
    glue,
    cells,
    math: article.querySelectorAll(".math, div.math, span.math").length,
    typeset: article.querySelectorAll("mjx-container").length,
    merror: Array.from(article.querySelectorAll("mjx-merror")).map(e => e.textContent),
    text: bare.textContent,
  };
}"""


@pytest.fixture(scope="module")
def facts(server: str, browser) -> Callable[[str], dict]:
    """What a page shows once MathJax has run (each page loaded once, at 1366 px)."""
    cache: dict[str, dict] = {}

    def get(page: str) -> dict:
        if page not in cache:
            tab = _open(browser, server, page, WIDE, idle=True)
            try:
                _wait_for_math(tab)
                _settle(tab)
                cache[page] = tab.evaluate(_FACTS_JS)
                # what the reading checks below need, from the same load of the page
                cache[page].update(
                    stderr=tab.evaluate(_STDERR_JS),
                    tables=tab.evaluate(_TABLES_JS),
                    overflow=tab.evaluate(_OVERFLOW_JS),
                )
            finally:
                tab.close()
        return cache[page]

    return get


@pytest.mark.parametrize("page", toc_pages())
def test_page_javascript_stays_within_budget(page: str, facts) -> None:
    scripts = facts(page)["js"]
    total = sum(size for _, size in scripts)
    largest = sorted(scripts, key=lambda s: -s[1])[:5]
    assert total <= JS_BUDGET, (
        f"{page} loads {total:,} bytes of JavaScript, over the budget of {JS_BUDGET:,}; "
        f"largest: {largest}"
    )
    assert not any("fontawesome" in name for name, _ in scripts), (
        f"{page} loads Font Awesome's script again (see _ext/trim_assets.py)"
    )


#: TeX that MathJax should have typeset: delimiters and common commands, seen as text.
RAW_TEX = re.compile(
    r"\\\(|\\\)|\\\[|\\\]|\$\$|\\(?:frac|sigma|mu|tau|alpha|beta|hat|widehat|mathbb|mathrm|"
    r"operatorname|sum|sqrt|text|left|right|begin)\b"
)


@pytest.mark.parametrize("page", toc_pages())
def test_math_renders_everywhere(page: str, facts) -> None:
    f = facts(page)
    assert f["typeset"] >= f["math"], (
        f"{page}: {f['math']} math elements but {f['typeset']} typeset by MathJax"
    )
    assert not f["merror"], f"{page}: MathJax could not typeset: {f['merror']}"
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(f["text"])})
    assert not raw, f"{page}: raw TeX shows in the page's text (not typeset): {raw}"


def _is_path_or_hash(alt: str) -> bool:
    return bool(
        re.search(r"\.(?:png|jpe?g|svg|gif|webp)\b", alt, re.I)
        or "/" in alt
        or "_images" in alt
        or re.fullmatch(r"[0-9a-f]{12,}\S*", alt, re.I)
    )


def test_every_figure_has_alt_text_and_a_caption(facts) -> None:
    problems = []
    for page in toc_pages():
        for fig in facts(page)["figures"]:
            name = fig["src"].rsplit("/", 1)[-1]
            alt = fig["alt"].strip()
            if not alt:
                problems.append(f"{page}: {name}: no alt text")
            elif _is_path_or_hash(alt):
                problems.append(f"{page}: {name}: alt text is a file name, not a description")
            if not fig["caption"]:
                problems.append(f"{page}: {name}: no caption (not a <figure> with <figcaption>)")
    assert not problems, "figures without a description or caption:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", toc_pages())
def test_no_glue_code_shows_unfolded(page: str, facts) -> None:
    shown = facts(page)["glue"]
    assert not shown, (
        f"{page}: code cells that glue numbers show unfolded (tag them hide-cell or "
        f"remove-cell): {shown}"
    )


#: A decimal number, with an optional sign, thousands separators and exponent; integers (counts,
#: years, seeds) are exact and are not checked.
DECIMAL = re.compile(
    r"[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+|\d*)\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)"
)


def significant_digits(number: str) -> int:
    """Count the significant digits a decimal number shows ("0.001230" shows 4)."""
    mantissa = re.split(r"[eE]", number)[0].lstrip("+-\u2212").replace(",", "")
    return len(mantissa.replace(".", "").lstrip("0"))


def test_significant_digits_are_counted_as_shown():
    assert significant_digits("0.001230") == 4
    assert significant_digits("-1,234.5678") == 8
    assert significant_digits("1.5e-07") == 2
    found = [m.group(0) for m in DECIMAL.finditer("n = 58737, p = 0.0123, v6.4.0")]
    assert found == ["0.0123", "6.4", ".0"]


@pytest.mark.parametrize("page", toc_pages())
def test_table_cells_show_at_most_six_significant_digits(page: str, facts) -> None:
    long = [
        (cell, m.group(0))
        for cell in facts(page)["cells"]
        for m in DECIMAL.finditer(cell)
        if significant_digits(m.group(0)) > 6
    ]
    assert not long, (
        f"{page}: table cells show numbers with more than six significant digits "
        f"(round them before display): {long[:20]}"
    )


# --- The built files ------------------------------------------------------------------------------


def _chapters() -> list[str]:
    return [p for p in toc_pages() if (ROOT / p.replace(".html", ".ipynb")).is_file()]


@pytest.mark.parametrize("page", _chapters())
def test_chapter_offers_its_executed_notebook(page: str) -> None:
    import nbformat

    html = (HTML / page).read_text(encoding="utf-8")
    target = "_executed/" + page.replace(".html", ".ipynb")
    assert target in html, f"{page}: no 'executed .ipynb' entry in the download menu"
    path = HTML / target
    assert path.is_file(), f"{page}: the download menu links to {target}, missing from the site"
    nb = nbformat.read(path, as_version=4)
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{target} has no outputs: it is not the executed notebook"
    )


def test_citation_note_has_the_package_version_and_build_date() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    intro = HTML / (yaml.safe_load((ROOT / "_toc.yml").read_text())["root"] + ".html")
    text = re.sub(r"<[^>]+>", "", intro.read_text(encoding="utf-8"))
    assert f"version {version}" in text, f"the citation note does not say version {version}"
    assert re.search(r"built on \d{4}-\d{2}-\d{2}", text), "the citation note has no build date"
    unreplaced = re.findall(r"\{\{\s*\w+\s*\}\}", text)  # not BibTeX's {{Braced names}}
    assert not unreplaced, f"unreplaced substitutions show on the intro page: {unreplaced}"
    assert "@misc{" in text and f"version      = {{{version}}}" in text, "no BibTeX entry"


@pytest.mark.parametrize("page", toc_pages())
def test_every_page_carries_the_version_and_build_date(page: str) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    html = (HTML / page).read_text(encoding="utf-8")
    stamp = re.search(r'<p class="book-page-stamp">(.*?)</p>', html, re.S)
    assert stamp, f"{page}: no version and date in the footer (_ext/page_stamp.py)"
    text = re.sub(r"<[^>]+>", "", stamp.group(1))
    assert f"Version {version}, built " in text and re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"] in text


def test_references_page_lists_every_bibliography_entry() -> None:
    keys = re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(), re.M)
    html = (HTML / "book" / "references.html").read_text(encoding="utf-8")
    listed = html.count('role="doc-biblioentry"')
    assert listed == len(keys), (
        f"references.bib has {len(keys)} entries, the References page lists {listed} "
        "(cite each from book/references.md or a chapter)"
    )


def test_mathjax_copy_holds_only_what_the_pages_use() -> None:
    mathjax = HTML / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").is_file()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    size = sum(f.stat().st_size for f in mathjax.rglob("*") if f.is_file())
    assert size < 4_000_000, f"_static/mathjax holds {size:,} bytes (was 24 MB before trimming)"


# --- Reading on any screen: tables, boxes, phones, figures, focus, drawers, dark mode ----------

#: stderr output a page may show (page, pattern): a warning a chapter shows on purpose is printed
#: by the chapter (standard output), so nothing is allowed at present.
ALLOWED_STDERR: tuple[tuple[str, str], ...] = ()

_STDERR_JS = r"""() => Array.from(document.querySelectorAll(
    "article.bd-article .output.stderr, article.bd-article .stderr"))
  .map(el => el.textContent.trim()).filter(t => t)"""


@pytest.mark.parametrize("page", toc_pages())
def test_no_stray_stderr_output(page: str, facts) -> None:
    blocks = facts(page)["stderr"]
    stray = [
        b for b in blocks if not any(p == page and re.search(rx, b) for p, rx in ALLOWED_STDERR)
    ]
    assert not stray, (
        f"{page}: stderr output in the page (fix it at its cause, silence known noise in "
        f"analysis/quiet.py, or show a deliberate warning with print): "
        f"{[s[:200] for s in stray]}"
    )


_TABLES_JS = r"""() => {
  const px = v => parseFloat(v) || 0;
  const numeric =
    /^(?=.*\d)[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+\u2212]?\d+)?$/;
  return Array.from(document.querySelectorAll("article.bd-article table")).map((t, i) => {
    const cells = Array.from(t.querySelectorAll("td"));
    const pad = cells.map(c => Math.min(px(getComputedStyle(c).paddingLeft),
                                        px(getComputedStyle(c).paddingRight)));
    const misaligned = cells.filter(c => numeric.test(c.textContent.trim()))
      .filter(c => !["right", "end"].includes(getComputedStyle(c).textAlign))
      .map(c => c.textContent.trim()).slice(0, 5);
    const head = t.querySelector("thead tr:last-child th, thead tr:last-child td");
    const rule = head ? px(getComputedStyle(head).borderBottomWidth) : null;
    return {i, minPad: pad.length ? Math.min(...pad) : null, misaligned, rule,
            text: t.textContent.trim().slice(0, 60)};
  });
}"""


@pytest.mark.parametrize("page", toc_pages())
def test_tables_have_padding_aligned_numbers_and_a_header_rule(page: str, facts) -> None:
    tables = facts(page)["tables"]
    problems = []
    for t in tables:
        if t["minPad"] is not None and t["minPad"] < 6:
            problems.append(f"table {t['i']} ({t['text']!r}): cell padding {t['minPad']} px")
        if t["misaligned"]:
            problems.append(f"table {t['i']}: numbers not right-aligned: {t['misaligned']}")
        if t["rule"] is not None and t["rule"] < 1:
            problems.append(f"table {t['i']} ({t['text']!r}): no rule under the header")
    assert not problems, f"{page}: " + "; ".join(problems)


#: Elements that are wider than their box, unless they scroll in a box of their own.
_OVERFLOW_JS = r"""() => {
  const article = document.querySelector("article.bd-article");
  const box = article.getBoundingClientRect();
  const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const out = {code: [], math: [], numbers: [], wide: []};
  // Code (cell inputs, code in the prose) must fit; an output wider than the column scrolls
  // in its own box (checked below with everything else).
  article.querySelectorAll("pre").forEach(pre => {
    if (pre.closest(".cell_output")) return;
    if (pre.scrollWidth > pre.clientWidth + 1 && pre.checkVisibility())
      out.code.push({text: pre.textContent.split("\n").reduce((a, b) => a.length > b.length ? a : b)
                              .slice(0, 100), over: pre.scrollWidth - pre.clientWidth});
  });
  article.querySelectorAll("div.math").forEach(div => {
    const m = div.querySelector("mjx-container");
    if (!m) return;
    const r = m.getBoundingClientRect();
    if ((m.scrollWidth > m.clientWidth + 1 && !scrolls(m)) || r.right > box.right + 1)
      out.math.push(div.id || div.textContent.slice(0, 60));
    const no = div.querySelector(".eqno");
    if (no) {
      const n = no.getBoundingClientRect();
      if (n.right > box.right + 1 || n.left < box.left - 1 || n.width === 0)
        out.numbers.push(no.textContent.trim());
    }
  });
  article.querySelectorAll("*").forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= box.right + 1) return;
    if (el.closest("mjx-assistive-mml")) return;  // MathJax's copy for screen readers, clipped
    if (el.closest(".figure-panel-crop")) return;  // a panel's view of its figure, clipped
    for (let p = el.parentElement; p && p !== article; p = p.parentElement)
      if (scrolls(p) && p.getBoundingClientRect().right <= box.right + 1) return;
    if (scrolls(el) && r.right <= box.right + 1) return;
    out.wide.push(el.tagName.toLowerCase() + "." + String(el.className).split(" ")[0]);
  });
  out.wide = Array.from(new Set(out.wide)).slice(0, 10);
  out.pageWidth = document.documentElement.scrollWidth;
  return out;
}"""


@pytest.fixture(scope="module")
def phone_facts(server: str, browser) -> Callable[[str], dict]:
    """What a page shows on a 390 px phone once MathJax has run (each page loaded once)."""
    cache: dict[str, dict] = {}

    def get(page: str) -> dict:
        if page not in cache:
            tab = _open(browser, server, page, PHONE, idle=True)
            try:
                _wait_for_math(tab)
                cache[page] = {
                    "overflow": tab.evaluate(_OVERFLOW_JS),
                    "figures": tab.evaluate(_FIGURES_JS),
                }
            finally:
                tab.close()
        return cache[page]

    return get


@pytest.mark.parametrize("page", toc_pages())
def test_on_a_desktop_code_fits_and_wide_math_scrolls_in_its_own_box(page: str, facts) -> None:
    f = facts(page)["overflow"]
    assert not f["code"], f"{page}: code blocks scroll sideways at {WIDE['width']} px: {f['code']}"
    assert not f["math"], (
        f"{page}: display math wider than the column, not in a scroll box: {f['math']}"
    )
    assert not f["numbers"], f"{page}: equation numbers out of view: {f['numbers']}"
    assert not f["wide"], f"{page}: elements wider than the column: {f['wide']}"
    assert f["pageWidth"] <= WIDE["width"], f"{page} is {f['pageWidth']} px wide"


@pytest.mark.parametrize("page", toc_pages())
def test_on_a_phone_no_page_is_wider_than_the_screen(page: str, phone_facts) -> None:
    f = phone_facts(page)["overflow"]
    assert f["pageWidth"] <= PHONE["width"], (
        f"{page} is {f['pageWidth']} px wide on a {PHONE['width']} px phone; too wide: {f['wide']}"
    )
    assert not f["wide"], f"{page}: elements wider than the phone's column: {f['wide']}"
    assert not f["math"] and not f["numbers"], (
        f"{page}: display math cut off on a phone: {f['math']}, numbers {f['numbers']}"
    )


_FIGURES_JS = r"""() => Array.from(document.querySelectorAll("article.bd-article img"))
  .filter(img => img.closest("figure, .cell_output") && !img.closest(".figure-panels"))
  .map(img => {
    const a = img.closest("a");
    return {src: img.getAttribute("src"), href: a ? a.getAttribute("href") : null,
            natural: img.naturalWidth, shown: img.checkVisibility(),
            layout: parseFloat(img.style.width || img.getAttribute("width")) || null,
            ratio: img.getBoundingClientRect().height / (img.getBoundingClientRect().width || 1),
            naturalRatio: img.naturalHeight / (img.naturalWidth || 1)};
  })"""


@pytest.mark.parametrize("page", _chapters())
def test_figures_open_full_size_and_are_sharp(page: str, phone_facts) -> None:
    figures = phone_facts(page)["figures"]
    name = lambda url: (url or "").rsplit("/", 1)[-1]  # noqa: E731
    not_linked = [f["src"] for f in figures if name(f["href"]) != name(f["src"])]
    assert not not_linked, f"{page}: figures that do not open full size on a tap: {not_linked}"
    # Drawn at twice the size they are laid out at (retina PNG, analysis/plots/style.py), so
    # they are sharp on high-density screens and when opened full size.
    blurry = [
        name(f["src"])
        for f in figures
        if f["src"].endswith(".png") and not (f["layout"] and f["natural"] >= 1.9 * f["layout"])
    ]
    assert not blurry, f"{page}: figures not drawn for high-density screens: {blurry[:5]}"
    squashed = [
        name(f["src"])
        for f in figures
        if f["natural"] and f["shown"] and abs(f["ratio"] / f["naturalRatio"] - 1) > 0.02
    ]  # (a multi-panel figure is hidden on a phone: its panels show, checked further down)
    assert not squashed, f"{page}: figures shown out of proportion on a phone: {squashed[:5]}"


# --- Multi-panel figures stack on a phone (analysis/plots/panels.py, _static/book.js) --------


def _panel_figures(page: str) -> list[str]:
    """File names of the figures on ``page`` whose PNG records panels side by side."""
    from analysis.plots.panels import read_panel_layout

    path = HTML / page
    if not path.is_file():
        return []
    names = []
    for src in re.findall(r'<img[^>]+src="([^"]+\.png)"', path.read_text(encoding="utf-8")):
        image = (path.parent / src).resolve()
        if image.is_file() and read_panel_layout(image.read_bytes()) is not None:
            names.append(image.name)
    return names


def _panel_pages() -> list[str]:
    return [p for p in _chapters() if _panel_figures(p)]


def test_the_book_has_multi_panel_figures_to_stack() -> None:
    assert _panel_pages(), (
        "no chapter shows a figure with panels side by side (a PNG with a 'figure-panels' "
        "chunk): is the site built, and does set_style() install analysis.plots.panels?"
    )


_PANELS_JS = r"""() => {
  const shown = el => el.checkVisibility({checkVisibilityCSS: true});
  return Array.from(document.querySelectorAll("article.bd-article .figure-has-panels"))
    .map(wide => {
      const img = wide.querySelector("img") || wide;
      const stack = wide.nextElementSibling;
      const ok = stack && stack.classList.contains("figure-panels");
      const views = ok ? Array.from(stack.querySelectorAll("a.figure-panel")) : [];
      return {
        src: img.getAttribute("src"), wide: shown(wide), stacked: !!ok && shown(stack),
        wideWidth: wide.getBoundingClientRect().width,
        views: views.map(a => {
          const crop = a.querySelector(".figure-panel-crop").getBoundingClientRect();
          const view = a.querySelector("img");
          return {kind: a.className, href: a.getAttribute("href"), alt: view.alt,
                  src: view.getAttribute("src"), width: crop.width, top: crop.top,
                  bottom: crop.bottom, left: crop.left, right: crop.right,
                  inFigure: parseFloat(a.dataset.width),
                  loaded: view.complete && view.naturalWidth > 0,
                  scale: view.getBoundingClientRect().width / (view.naturalWidth || 1)};
        }),
      };
    });
}"""


@pytest.mark.parametrize("page", _panel_pages())
def test_multi_panel_figures_stack_on_a_phone(page: str, server: str, browser) -> None:
    name = lambda url: (url or "").rsplit("/", 1)[-1]  # noqa: E731
    expected = _panel_figures(page)
    tab = _open(browser, server, page, PHONE, idle=True)
    try:
        tab.wait_for_function("document.documentElement.dataset.figurePanels === 'done'")
        tab.wait_for_function(
            "Array.from(document.querySelectorAll('.figure-panels img')).every(i => i.complete)"
        )
        phone = tab.evaluate(_PANELS_JS)
        tab.emulate_media(media="print")
        printed = tab.evaluate(_PANELS_JS)
        tab.emulate_media(media="screen")
        tab.set_viewport_size(WIDE)
        tab.wait_for_timeout(200)
        desktop = tab.evaluate(_PANELS_JS)
    finally:
        tab.close()
    assert sorted(name(f["src"]) for f in phone) == sorted(expected), (
        f"{page}: at {PHONE['width']} px these multi-panel figures were not stacked: "
        f"{sorted(set(expected) - {name(f['src']) for f in phone})}"
    )
    for f in phone:
        fig = name(f["src"])
        panels = [v for v in f["views"] if "figure-panel-panel" in v["kind"]]
        assert not f["wide"] and f["stacked"], f"{page}: {fig}: the whole figure shows on a phone"
        assert len(panels) >= 2, f"{page}: {fig}: {len(panels)} panels stacked"
        # At least 300 px wide; a small panel (one of a grid of small multiples, under about
        # 230 px in the whole figure) may share a row, larger than in the figure.
        narrow = [
            round(v["width"]) for v in panels if v["width"] < min(300, 1.1 * v["inFigure"]) - 1
        ]
        assert not narrow, f"{page}: {fig}: panels too narrow to read on a phone: {narrow}"
        for first, then in zip(f["views"], f["views"][1:], strict=False):
            below = then["top"] >= first["bottom"] - 1
            beside = abs(then["top"] - first["top"]) < 1 and then["left"] >= first["right"] - 1
            assert below or beside, f"{page}: {fig}: panels overlap or are out of order"
        for v in f["views"]:
            assert v["loaded"], f"{page}: {fig}: a panel's image did not load"
            assert name(v["href"]) == fig == name(v["src"]), (
                f"{page}: {fig}: a panel does not open its figure full size on a tap"
            )
            assert len(v["alt"].split()) >= 5 and not _is_path_or_hash(v["alt"]), (
                f"{page}: {fig}: a panel without a description: {v['alt']!r}"
            )
            # the 2x image is never drawn larger than its own pixels: as sharp as any figure
            assert v["scale"] <= 1.01, f"{page}: {fig}: a panel enlarged {v['scale']:.2f} times"
    for f in printed:
        assert f["wide"] and not f["stacked"], f"{page}: print shows the panels, not the figure"
    for f in desktop:
        assert f["wide"] and not f["stacked"], (
            f"{page}: at {WIDE['width']} px {name(f['src'])} shows its stacked panels, not the "
            "whole figure"
        )
        assert f["wideWidth"] > 300


_FOCUS_JS = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const label = (el.getAttribute("aria-label") || el.getAttribute("title") ||
                 el.getAttribute("data-bs-title") || el.textContent || "").trim().slice(0, 40);
  return {label, cls: String(el.className),
          header: !!el.closest(".bd-header-article, .bd-header, .search-button-field"),
          outline: cs.outlineStyle !== "none" ? parseFloat(cs.outlineWidth) : 0,
          shadow: cs.boxShadow !== "none"};
}"""


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["phone", "desktop"])
def test_keyboard_focus_is_visible_on_the_header_buttons(viewport, server: str, browser) -> None:
    page = _chapters()[0]
    tab = _open(browser, server, page, viewport)
    try:
        seen = []
        for _ in range(80):  # through the sidebar's links on a desktop, to the article
            tab.keyboard.press("Tab")
            f = tab.evaluate(_FOCUS_JS)
            if f and f["header"]:
                seen.append(f)
            if tab.evaluate("() => !!document.activeElement.closest('article.bd-article')"):
                break
    finally:
        tab.close()
    assert len(seen) >= 4, f"the keyboard reaches only {len(seen)} header buttons: {seen}"
    invisible = [f["label"] or f["cls"] for f in seen if f["outline"] < 2 and not f["shadow"]]
    assert not invisible, f"header buttons with no visible keyboard focus: {invisible}"
    kinds = " ".join(f"{f['label']} {f['cls']}".lower() for f in seen)
    for kind in (
        "toggle",
        "download",
        "search",
        "repository" if "repository" in kinds else "github",
    ):
        assert kind in kinds, f"the keyboard does not reach the {kind} button: {kinds}"


_VISIBLE_SEARCH_JS = r"""() => Array.from(document.querySelectorAll(
    ".search-button, .search-button-field, form.bd-search input"))
  .filter(el => !el.closest("#pst-search-dialog"))
  .filter(el => el.checkVisibility({checkVisibilityCSS: true, checkOpacity: true}))
  .length"""


def test_search_is_offered_once_on_a_phone(server: str, browser) -> None:
    page = _chapters()[0]
    tab = _open(browser, server, page, PHONE)
    try:
        closed = tab.evaluate(_VISIBLE_SEARCH_JS)
        tab.locator(".bd-header-article .primary-toggle").click()
        tab.locator("#pst-primary-sidebar-modal").locator(NAV_LINK).first.wait_for()
        opened = tab.evaluate(_VISIBLE_SEARCH_JS)
    finally:
        tab.close()
    assert closed == 1, f"{closed} search controls in a phone's header"
    assert opened == 1, f"with the menu open, {opened} search controls show"


def test_contents_drawer_closes_after_choosing_a_section(server: str, browser) -> None:
    from playwright.sync_api import expect

    page = _chapters()[2]
    tab = _open(browser, server, page, PHONE)
    try:
        tab.locator(".bd-header-article .secondary-toggle").click()
        dialog = tab.locator("#pst-secondary-sidebar-modal")
        link = dialog.locator("a.nav-link:visible").nth(1)
        link.wait_for()
        target = link.get_attribute("href")
        link.click()
        expect(
            dialog, "the Contents drawer stays open after choosing a section"
        ).not_to_have_attribute("open", "", timeout=3000)
        tab.wait_for_timeout(500)
        top = tab.evaluate(
            f"() => document.getElementById({target[1:]!r}).getBoundingClientRect().top"
        )
    finally:
        tab.close()
    assert -5 < top < PHONE["height"] / 2, f"the chosen section is not in view (top {top} px)"


_LIGHT_PANELS_JS = r"""() => {
  const lum = c => { const m = c.match(/[\d.]+/g); if (!m || (m.length > 3 && +m[3] === 0))
                       return null; const [r, g, b] = m.slice(0, 3).map(Number);
                     return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
  const out = [];
  document.querySelectorAll("article.bd-article *").forEach(el => {
    const l = lum(getComputedStyle(el).backgroundColor);
    if (l !== null && l > 0.6 && el.getBoundingClientRect().width > 40)
      out.push(el.tagName.toLowerCase() + "." + String(el.className).split(" ")[0]);
  });
  return Array.from(new Set(out)).slice(0, 10);
}"""


@pytest.mark.parametrize("page", [p for p in _chapters() if p.startswith("book/0")][:6])
def test_dark_mode_has_no_light_panels(page: str, server: str, browser) -> None:
    tab = browser.new_page()
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    tab.add_init_script(
        "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
    )
    tab.set_viewport_size(WIDE)
    try:
        tab.goto(f"{server}/{page}", wait_until="load")
        assert tab.evaluate("document.documentElement.dataset.theme") == "dark"
        panels = tab.evaluate(_LIGHT_PANELS_JS)
    finally:
        tab.close()
    assert not panels, f"{page}: light panels in dark mode: {panels}"
