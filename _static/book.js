/*
 * Small reading aids the themes do not give (sphinx-book-theme 1.3, pydata-sphinx-theme 0.17).
 * tests/test_browser.py checks each one.
 *
 * 1. A tap (or click) on a figure opens the image full size: each figure's image is wrapped in
 *    a link to the image file, so a phone shows it alone, to be zoomed with two fingers.
 *    Figures are drawn at twice their displayed resolution (analysis/plots/style.py), so the
 *    full-size image is sharp.
 * 2. The "Contents" drawer on a phone closes once a section is chosen; the theme leaves it open
 *    over the page the reader just asked to see.
 * 3. Table cells that hold a number get the class "num" (right-aligned by _static/book.css),
 *    in tables the package's show_table did not already mark (Markdown tables, raw outputs).
 */
(function () {
  "use strict";

  const NUMBER = /^(?=.*\d)[-+\u2212]?[$€£]?(?:\d{1,3}(?:[,\u202f]\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+\u2212]?\d+)?\s*%?$|^[<>≤≥]\s*\d/;

  function linkFiguresToFullSize() {
    document.querySelectorAll(".bd-article img").forEach((img) => {
      if (img.closest("a") || !img.getAttribute("src")) {
        return;
      }
      const link = document.createElement("a");
      link.href = img.currentSrc || img.src;
      link.className = "figure-full-size";
      link.title = "Open the figure full size";
      link.setAttribute("aria-label", "Open the figure full size: " + (img.alt || "figure"));
      img.parentNode.insertBefore(link, img);
      link.appendChild(img);
    });
  }

  function closeContentsAfterChoosing() {
    const dialog = document.getElementById("pst-secondary-sidebar-modal");
    if (!dialog) {
      return;
    }
    dialog.addEventListener("click", (event) => {
      const link = event.target.closest("a[href]");
      if (link && dialog.open) {
        dialog.close(); // the link still takes the reader to the section
      }
    });
  }

  function markNumericCells() {
    document.querySelectorAll(".bd-article table").forEach((table) => {
      const columns = new Map(); // column index -> [cells with text, cells with a number]
      table.querySelectorAll("tbody tr").forEach((row) => {
        Array.from(row.cells).forEach((cell) => {
          const text = cell.textContent.trim();
          if (!text || cell.tagName !== "TD") {
            return;
          }
          const count = columns.get(cell.cellIndex) || [0, 0];
          count[0] += 1;
          if (NUMBER.test(text)) {
            cell.classList.add("num");
            count[1] += 1;
          }
          columns.set(cell.cellIndex, count);
        });
      });
      // The header of a column of numbers is aligned with them.
      const head = table.querySelector("thead tr:last-child");
      if (head) {
        columns.forEach(([filled, numbers], index) => {
          if (filled > 0 && numbers === filled && head.cells[index]) {
            head.cells[index].classList.add("num");
          }
        });
      }
    });
  }

  function setup() {
    linkFiguresToFullSize();
    closeContentsAfterChoosing();
    markNumericCells();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
