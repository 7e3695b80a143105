// Audience pages: status bars, on-demand segment counts, and the segment editor (rows + live preview).
// No inline handlers: everything is wired here (strict CSP).
(function () {
  "use strict";

  // List page: bar segments carry their width in data-width (inline styles are blocked by the CSP).
  document.querySelectorAll(".statusbar [data-width]").forEach(function (el) {
    el.style.width = el.getAttribute("data-width") + "%";
  });

  // Segment list: count on demand.
  document.querySelectorAll("[data-count-url]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch(button.getAttribute("data-count-url"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var out = document.createElement("span");
          out.textContent = data.error ? data.error : Number(data.count).toLocaleString();
          button.replaceWith(out);
        })
        .catch(function () { button.disabled = false; });
    });
  });

  var form = document.getElementById("segment-form");
  if (!form) { return; }
  var container = form.querySelector("[data-conditions]");
  var template = form.querySelector("[data-row-template]");

  // Hidden inputs stay enabled: the server reads the rows' inputs by position.
  function setVisible(el, on) { el.hidden = !on; }

  function syncRow(row) {
    var type = row.querySelector("[data-role=type]").value;
    row.querySelectorAll("[data-show]").forEach(function (el) {
      setVisible(el, el.getAttribute("data-show").split(" ").indexOf(type) >= 0);
    });
    var key = row.querySelector("[data-role=key]");
    var operator = row.querySelector("[data-role=operator]");
    var value = row.querySelector("[data-role=value]");
    if (type === "field" && key.selectedOptions.length) {
      var kind = key.selectedOptions[0].getAttribute("data-kind");
      var firstAllowed = null;
      Array.prototype.forEach.call(operator.options, function (opt) {
        var ok = (" " + opt.getAttribute("data-kinds")).indexOf(" " + kind + " ") >= 0;
        opt.hidden = !ok;
        if (ok && firstAllowed === null) { firstAllowed = opt; }
      });
      if (operator.selectedOptions.length && operator.selectedOptions[0].hidden && firstAllowed) {
        operator.value = firstAllowed.value;
      }
      var noValue = operator.value === "is_empty" || operator.value === "is_not_empty";
      value.hidden = noValue;
      value.placeholder = kind === "date" ? "YYYY-MM-DD" : (kind === "boolean" ? "yes / no" : "");
    }
  }

  function wire(row) {
    syncRow(row);
    row.addEventListener("change", function () { syncRow(row); schedule(); });
    row.addEventListener("input", schedule);
    row.querySelector("[data-remove-row]").addEventListener("click", function () {
      row.remove();
      if (!container.querySelector("[data-cond-row]")) { addRow(); }
      schedule();
    });
  }

  function addRow() {
    var row = template.content.firstElementChild.cloneNode(true);
    container.appendChild(row);
    wire(row);
    return row;
  }

  form.querySelector("[data-add-row]").addEventListener("click", function () { addRow(); });
  container.querySelectorAll("[data-cond-row]").forEach(wire);

  // Live preview: debounce, POST the whole form (CSRF token included), show count and sample.
  var countEl = document.querySelector("[data-preview-count]");
  var errorEl = document.querySelector("[data-preview-error]");
  var sampleEl = document.querySelector("[data-preview-sample]");
  var contactUrl = form.getAttribute("data-contact-url");
  var timer = null;
  var sequence = 0;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  }

  function refresh() {
    var mine = ++sequence;
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (mine !== sequence) { return; }
        if (data.error) {
          errorEl.textContent = data.error;
          errorEl.hidden = false;
          countEl.textContent = "—";
          return;
        }
        errorEl.hidden = true;
        countEl.textContent = Number(data.count).toLocaleString();
        sampleEl.textContent = "";
        data.sample.forEach(function (c) {
          var tr = document.createElement("tr");
          var email = document.createElement("td");
          var link = document.createElement("a");
          link.href = contactUrl.replace(/0$/, String(c.id));
          link.textContent = c.email || c.phone;
          email.appendChild(link);
          var phone = document.createElement("td");
          phone.textContent = c.email ? (c.phone || "—") : "—";
          tr.appendChild(email);
          tr.appendChild(phone);
          sampleEl.appendChild(tr);
        });
      })
      .catch(function () { /* keep the last preview */ });
  }

  form.querySelector("[name=match]").addEventListener("change", schedule);
  refresh();
})();
