// Import page: when the progress card inside [data-reload-when-final] reaches a final state, reload the
// page once so the server renders the outcome (counts, error report). portal.js polls and sets data-state.
(function () {
  "use strict";
  var FINAL = ["done", "failed", "cancelled"];
  document.querySelectorAll("[data-reload-when-final] [data-progress-url]").forEach(function (card) {
    var reloading = false;
    var observer = new MutationObserver(function () {
      if (!reloading && FINAL.indexOf(card.getAttribute("data-state")) !== -1) {
        reloading = true;
        observer.disconnect();
        setTimeout(function () { window.location.reload(); }, 400);
      }
    });
    observer.observe(card, { attributes: true, attributeFilter: ["data-state"] });
  });
})();
