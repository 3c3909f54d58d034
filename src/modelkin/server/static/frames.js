/*
 * Fits same-origin iframes marked data-fit-content (a model's nutrition label) to the
 * height of their document, so the label is read as part of the page rather than cut off
 * and scrolled inside a fixed frame. Without JavaScript the frame keeps the stylesheet's
 * height (and its own scroll bar).
 */
(function () {
  "use strict";
  function fit(frame) {
    try {
      const doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      const h = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
      if (h > 0) {
        frame.style.height = h + 2 + "px";
        frame.dataset.fitted = String(h);
      }
    } catch (e) {
      /* a cross-origin frame cannot be measured: leave it as it is */
    }
  }
  for (const frame of document.querySelectorAll("iframe[data-fit-content]")) {
    frame.addEventListener("load", () => fit(frame));
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit(frame);
  }
})();
