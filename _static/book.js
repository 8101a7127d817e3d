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
 * 4. On a narrow screen a figure with panels side by side shows its panels one above the other,
 *    each as wide as the column. The figure's PNG records where its panels are, in a text chunk
 *    "figure-panels" (analysis/plots/panels.py); each panel is a view of that same image,
 *    cropped by CSS (no second download, no new image), and like the whole figure it opens
 *    the image full size on a tap. _static/book.css shows the stacked panels below 600 px on a
 *    screen and the whole figure otherwise (and in print). Done only once the screen is narrow.
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

  const PANELS_KEY = "figure-panels";
  const NARROW = "(max-width: 600px)";

  function latin1(bytes) {
    return Array.from(bytes, (b) => String.fromCharCode(b)).join("");
  }

  // The PNG's size and its "figure-panels" text chunk, read from the start of the file (the
  // text chunks come before the image data, so the rest is not read).
  async function readPanelLayout(url) {
    const response = await fetch(url, { cache: "force-cache" });
    if (!response.ok || !response.body) {
      return null;
    }
    const reader = response.body.getReader();
    let bytes = new Uint8Array(0);
    const need = async (n) => {
      while (bytes.length < n) {
        const { done, value } = await reader.read();
        if (done) {
          return false;
        }
        const joined = new Uint8Array(bytes.length + value.length);
        joined.set(bytes);
        joined.set(value, bytes.length);
        bytes = joined;
      }
      return true;
    };
    try {
      if (!(await need(8)) || latin1(bytes.subarray(1, 4)) !== "PNG") {
        return null;
      }
      let size = null;
      for (let pos = 8; await need(pos + 8); ) {
        const view = new DataView(bytes.buffer);
        const length = view.getUint32(pos);
        const kind = latin1(bytes.subarray(pos + 4, pos + 8));
        if (kind === "IDAT" || kind === "IEND" || !(await need(pos + 12 + length))) {
          return null;
        }
        const data = bytes.subarray(pos + 8, pos + 8 + length);
        if (kind === "IHDR") {
          const ihdr = new DataView(bytes.buffer, pos + 8);
          size = { width: ihdr.getUint32(0), height: ihdr.getUint32(4) };
        } else if (kind === "tEXt") {
          const zero = data.indexOf(0);
          if (latin1(data.subarray(0, zero)) === PANELS_KEY && size) {
            return Object.assign(JSON.parse(latin1(data.subarray(zero + 1))), size);
          }
        }
        pos += 12 + length;
      }
      return null;
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // One panel: a box showing the part [left, top, width, height] of the image, as wide as its
  // cell of the stack's grid and at most twice its size in the whole figure (the image's own
  // pixels: never blurrier than an ordinary figure). Titles and legends keep their own size.
  function panelView(img, layout, box, alt, kind) {
    const [left, top, width, height] = box;
    const link = document.createElement("a");
    link.href = img.currentSrc || img.src;
    link.className = "figure-full-size figure-panel figure-panel-" + kind;
    link.title = "Open the figure full size";
    link.setAttribute("aria-label", "Open the figure full size: " + alt);
    const crop = document.createElement("span");
    crop.className = "figure-panel-crop";
    const cssWidth = (width * layout.width) / 2; // the image is drawn at twice its size
    const cssHeight = (height * layout.height) / 2;
    crop.style.aspectRatio = cssWidth + " / " + cssHeight;
    link.dataset.width = cssWidth.toFixed(1); // its size in the whole figure (tests read it)
    if (kind === "panel") {
      crop.style.width = "100%";
      crop.style.maxWidth = (2 * cssWidth).toFixed(1) + "px";
    } else {
      crop.style.width = cssWidth + "px";
      crop.style.maxWidth = "100%";
    }
    const view = document.createElement("img");
    view.src = img.currentSrc || img.src;
    view.alt = alt;
    view.decoding = "async";
    view.style.width = (100 / width).toFixed(4) + "%";
    view.style.marginLeft = (-100 * left / width).toFixed(4) + "%";
    // a percentage margin is of the box's width: the top offset in widths of the box
    view.style.marginTop =
      ((-100 * top * layout.height) / (width * layout.width)).toFixed(4) + "%";
    crop.appendChild(view);
    link.appendChild(crop);
    return link;
  }

  async function stackPanels(img) {
    const layout = await readPanelLayout(img.currentSrc || img.src).catch(() => null);
    if (!layout || !Array.isArray(layout.panels) || layout.panels.length < 2) {
      return;
    }
    const wide = img.closest("a") || img;
    const stack = document.createElement("span");
    stack.className = "figure-panels";
    const base = img.alt || "figure";
    const n = layout.panels.length;
    if (layout.header) {
      stack.appendChild(
        panelView(img, layout, layout.header, "Title and legend of the figure: " + base, "header")
      );
    }
    layout.panels.forEach((box, i) => {
      const title = layout.titles && layout.titles[i] ? ` ("${layout.titles[i]}")` : "";
      stack.appendChild(
        panelView(img, layout, box, `Panel ${i + 1} of ${n}${title} of the figure: ${base}`, "panel")
      );
    });
    if (layout.footer) {
      stack.appendChild(
        panelView(img, layout, layout.footer, "Legend of the figure: " + base, "footer")
      );
    }
    (layout.side || []).forEach((box) => {
      stack.appendChild(panelView(img, layout, box, "Legend of the figure: " + base, "side"));
    });
    // The grid's cells are 1.3 times a typical panel's size in the figure, or the column's
    // width: panels of an ordinary figure get a row each, a grid of small multiples (many
    // narrow panels) keeps a few to a row rather than making a very long column.
    const widths = layout.panels.map((box) => (box[2] * layout.width) / 2).sort((a, b) => a - b);
    const cell = 1.3 * widths[Math.floor(widths.length / 2)];
    stack.style.gridTemplateColumns =
      "repeat(auto-fill, minmax(min(100%, " + cell.toFixed(1) + "px), 1fr))";
    wide.classList.add("figure-has-panels");
    wide.parentNode.insertBefore(stack, wide.nextSibling);
  }

  function stackPanelsWhenNarrow() {
    const query = window.matchMedia(NARROW);
    let done = false;
    const run = () => {
      if (done || !query.matches) {
        return;
      }
      done = true;
      const images = Array.from(
        document.querySelectorAll(".bd-article figure img, .bd-article .cell_output img")
      ).filter((img) => /\.png(\?|#|$)/i.test(img.getAttribute("src") || ""));
      // Tests wait for this mark: "done" once every figure has been looked at.
      Promise.allSettled(images.map(stackPanels)).then(() => {
        document.documentElement.dataset.figurePanels = "done";
      });
    };
    run();
    query.addEventListener("change", run);
  }

  function setup() {
    linkFiguresToFullSize();
    closeContentsAfterChoosing();
    markNumericCells();
    stackPanelsWhenNarrow();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
