// Progressive enhancement for every page: confirmations, auto-submit selects, progress polling.
(function () {
  "use strict";

  // Destructive actions: <form data-confirm="Question?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <form data-autosubmit> submits when one of its selects changes (language switch).
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 60) { return "≈ " + seconds + " s"; }
    return "≈ " + Math.round(seconds / 60) + " min";
  }

  // The progress component (templates/macros/ui.html: progress()).
  function watch(card) {
    var url = card.getAttribute("data-progress-url");
    var fill = card.querySelector(".progress-fill");
    var bar = card.querySelector(".progress-bar");
    var counts = card.querySelector(".progress-counts");
    var eta = card.querySelector(".progress-eta");
    var message = card.querySelector(".progress-message");
    var result = card.querySelector(".progress-result");
    var delay = 700;
    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (s) {
          fill.style.width = s.percent + "%";
          bar.setAttribute("aria-valuenow", s.percent);
          counts.textContent = s.total ? (s.done.toLocaleString() + " / " + s.total.toLocaleString()) : "";
          eta.textContent = s.final ? "" : formatEta(s.eta_seconds);
          if (s.message) { message.textContent = s.message; }
          card.setAttribute("data-state", s.state);
          if (s.state === "failed" || s.state === "cancelled") { card.classList.add("failed"); }
          if (s.result_url) { result.href = s.result_url; result.hidden = false; }
          if (!s.final) { setTimeout(poll, delay); delay = Math.min(delay * 1.3, 4000); }
        })
        .catch(function () { setTimeout(poll, 4000); });
    }
    poll();
  }
  document.querySelectorAll("[data-progress-url]").forEach(watch);
})();
