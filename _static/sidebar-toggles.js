/*
 * Make the ☰ (primary sidebar) and "Contents" (secondary sidebar) buttons work again.
 *
 * Bug: pydata-sphinx-theme 0.17 added its own sidebar toggle buttons to the top navbar
 * (#pst-header), which sphinx-book-theme 1.3.0 hides; the buttons the reader sees are
 * sphinx-book-theme's, in the article header. Both carry the classes `primary-toggle` /
 * `secondary-toggle`, and both themes attach their click handlers with
 * `document.querySelector(...)`, i.e. to the FIRST such button only: the hidden navbar one.
 * So the visible buttons have no handler: below 992 px neither sidebar opens, and on a desktop
 * ☰ does not collapse the sidebar. Upstream: pydata/pydata-sphinx-theme#2451 (and
 * executablebooks/sphinx-book-theme#865). sphinx-book-theme 1.3.0 requires
 * pydata-sphinx-theme==0.17.1 exactly, so no version pin avoids it.
 *
 * Fix: a click on any other toggle button is forwarded to the first one, which carries both
 * themes' handlers. The themes then behave as designed: on a wide screen ☰ collapses and
 * restores the sidebar (sphinx-book-theme's handler), on a narrow one ☰ and "Contents" open the
 * sidebar in a modal dialog (pydata-sphinx-theme's handler), closed by Escape or a click
 * outside it. Remove this file (and its line in _config.yml) once upstream fixes the bug; the
 * browser test (tests/test_browser.py, the menu tests) tells whether the fix is still needed:
 * with a fixed theme, a forwarded click would fire the handlers twice and the tests fail.
 */
(function () {
  "use strict";

  function forwardClicks(selector) {
    const buttons = Array.from(document.querySelectorAll(selector));
    if (buttons.length < 2) {
      return;
    }
    const wired = buttons[0]; // the button both themes attached their handlers to
    buttons.slice(1).forEach((button) => {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        button.blur(); // do not leave the Bootstrap tooltip showing
        wired.click();
      });
    });
  }

  function setup() {
    forwardClicks(".primary-toggle");
    forwardClicks(".secondary-toggle");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
