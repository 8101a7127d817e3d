"""The website as a reader meets it: every page of the table of contents in headless Chromium.

The site in ``_build/html`` (built by ``make book``) is served on 127.0.0.1 and each page is
opened with Playwright driving the system's Chromium. For each page the test asserts: no
console errors, no failed requests, no request leaving 127.0.0.1, math typeset by MathJax
where the page has math, every image loaded, and no empty glue placeholder. A screenshot of
each page is saved under ``_build/screenshots/``.

Run with ``make test`` (which builds the site first) or ``make site-test``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
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
    tab.wait_for_load_state("networkidle")
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
    tab.screenshot(path=str(SHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")),
                   full_page=True)
    tab.close()

    assert not outside, f"{page}: requests left 127.0.0.1: {outside}"
    assert not failed, f"{page}: failed requests: {failed}"
    assert not console_errors, f"{page}: console errors: {console_errors}"
    assert not broken_images, f"{page}: images that did not load: {broken_images}"
    if page.startswith("book/0"):  # every numbered chapter shows at least one figure
        assert content_images > 0, f"{page}: no figures rendered (was MPLBACKEND=Agg set?)"
    assert empty_glue == 0, f"{page}: {empty_glue} empty glue placeholders"
    assert not raw_glue, f"{page}: an unrendered {{glue}} role is visible"
