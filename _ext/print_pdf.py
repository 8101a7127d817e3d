"""Print the single-page build of the book to one PDF file, offline, with the system's Chromium.

``make pdf`` first builds the whole book as one HTML page (``jupyter-book build . --builder
singlehtml``, from the same execution cache as the website, so no chapter runs again), then
runs this script::

    python _ext/print_pdf.py _build/singlehtml/index.html _build/pdf/book.pdf

The page is served on 127.0.0.1 and opened in headless Chromium through Playwright (both
already needed by the browser test); the script waits until MathJax has typeset every
equation, then prepares the page for paper and prints it (A4, the page numbers in the footer):

* exercises' solutions, hidden behind a toggle on the website, are opened;
* code cells the website folds (the glue cells) stay folded; their results are in the text;
* a display equation wider than the text column is scaled down to fit rather than cut off;
* the menus, buttons and sidebars are left out (the theme's print stylesheet does most of it).

No network is needed: MathJax, fonts and images all come from the build. Needs Chromium
(``apt-get install chromium`` on Debian) and the book's Python environment.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
import time
from pathlib import Path

#: Run in the page before printing (see the module docstring).
PREPARE_JS = r"""() => {
  // Open every solution and dropdown (sphinx-exercise + sphinx-togglebutton, <details>).
  // (not the folded code cells, class "hide": their results are in the text)
  document.querySelectorAll("details:not(.hide)").forEach(d => { d.open = true; });
  document.querySelectorAll(".solution.toggle-hidden, .solution .toggle-hidden, " +
                            ".dropdown.toggle-hidden, .dropdown .toggle-hidden")
    .forEach(el => el.classList.remove("toggle-hidden"));
  document.querySelectorAll(".solution button.toggle-button, .dropdown button.toggle-button")
    .forEach(b => b.remove());
  // Scale display math that is wider than the column, so that nothing is cut off on paper.
  // The page is laid out at the width of the paper's text column (PAPER_PX), so what fits
  // here fits on paper; the equation number keeps its room beside the equation.
  let scaled = 0;
  document.querySelectorAll('mjx-container[display="true"]').forEach(m => {
    m.style.overflow = "visible";
    const div = m.closest("div.math") || m.parentElement;
    const number = div.querySelector(".eqno");
    const room = div.clientWidth - (number ? number.getBoundingClientRect().width + 16 : 0);
    const math = m.querySelector("mjx-math") || m;
    const width = math.getBoundingClientRect().width;
    if (room > 0 && width > room) {
      m.style.zoom = (room / width).toFixed(3);
      scaled += 1;
    }
  });
  return scaled;
}"""

#: The width of the text on A4 paper with 14 mm margins, in CSS pixels (96 per inch).
PAPER_PX = round((210 - 2 * 14) / 25.4 * 96)

#: Print styles: no interface, the article at the full width of the paper.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
.bd-footer-article, .prev-next-area, .headerlink, .toggle-button, #pst-back-to-top,
.search-button, .theme-switch-button { display: none !important; }
.bd-main .bd-content .bd-article-container, .bd-article { max-width: 100% !important; }
.bd-article pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.bd-article img { break-inside: avoid; }
figure, table { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
h1 { break-before: page; }
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def find_chromium() -> str | None:
    """Return the path of a system Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _follow_redirect(page: Path) -> Path:
    """Return the page a redirect page (jupyter-book's index.html) sends the browser to."""
    import re

    text = page.read_text(encoding="utf-8", errors="replace")[:2000]
    found = re.search(r'http-equiv="Refresh" content="0;\s*url=([^"]+)"', text, re.I)
    return (page.parent / found.group(1)).resolve() if found else page


def print_pdf(page: Path, output: Path, timeout_s: float = 300.0) -> dict[str, float]:
    """Print ``page`` (an HTML file of the build) to ``output``; return what was measured."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit(
            "make pdf needs Chromium: install it with `sudo apt-get install chromium` (Debian)."
        )
    root = page.resolve().parent  # the build's folder: pages refer to _static/ etc. in it
    single = _follow_redirect(page.resolve())
    # jupyter-book writes the single page as book/intro.html (after the root document) with
    # links relative to the build's folder (_static/, _images/): it is printed from a copy
    # placed there.
    copy = root / "_print.html"
    copy.write_bytes(single.read_bytes())
    target = copy.name
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    start = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            tab = browser.new_page(viewport={"width": PAPER_PX, "height": 1400})
            tab.set_default_timeout(timeout_s * 1000)
            errors: list[str] = []
            tab.on("pageerror", lambda e: errors.append(str(e)))
            # Nothing may leave the machine: the PDF is built offline.
            tab.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                    else r.abort()
                ),
            )
            tab.emulate_media(media="print")
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{target}", wait_until="load")
            if tab.evaluate("() => !!document.querySelector('.math')"):
                tab.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                    timeout=60_000,
                )
                tab.evaluate("() => MathJax.startup.promise")
                typeset = tab.evaluate("() => document.querySelectorAll('mjx-container').length")
                if typeset == 0:
                    raise SystemExit(f"MathJax typeset nothing (page errors: {errors})")
            tab.add_style_tag(content=PRINT_CSS)
            scaled = tab.evaluate(PREPARE_JS)
            output.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(
                path=str(output),
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
                margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
            )
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    return {
        "seconds": time.perf_counter() - start,
        "equations_scaled": float(scaled),
        "bytes": float(output.stat().st_size),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: ``print_pdf.py PAGE.html OUTPUT.pdf``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the single-page build's index.html")
    parser.add_argument("output", type=Path, help="the PDF file to write")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(
            f"{args.page} does not exist: build the single page first (make pdf does)",
            file=sys.stderr,
        )
        return 2
    facts = print_pdf(args.page, args.output)
    print(
        f"Wrote {args.output} ({facts['bytes'] / 1e6:.1f} MB) in {facts['seconds']:.0f} s; "
        f"{facts['equations_scaled']:.0f} wide equations scaled to the page width."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
