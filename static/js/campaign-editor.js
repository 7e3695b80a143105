// Campaign pages: live preview of the editor (sandboxed iframe), plain-text follow-up, preview widths,
// quota bars on the review page, copy buttons in the image library.
//
// The preview HTML comes back from the server as JSON data and is only ever assigned to the srcdoc of an
// <iframe sandbox> (no allow-scripts, no allow-same-origin): the email cannot run code or reach the portal.
(function () {
  "use strict";

  var form = document.getElementById("campaign-form");
  if (form) { setUpEditor(form); }

  function setUpEditor(form) {
    var url = form.getAttribute("data-preview-url");
    var frame = document.querySelector("iframe.email-preview");
    var wrap = document.querySelector("[data-preview-frame-wrap]");
    var subjectOut = document.querySelector("[data-preview-subject]");
    var errorBox = document.querySelector(".preview-error");
    var tokenInput = form.querySelector("input[name=csrf_token]");
    var html = form.querySelector("[data-preview-input=html]");
    var subject = form.querySelector("[data-preview-input=subject]");
    var preheader = form.querySelector("[data-preview-input=preheader]");
    var text = form.querySelector("[data-preview-input=text]");
    var textEdited = form.querySelector("[data-preview-input=text_edited]");
    var timer = null;
    var sequence = 0;

    function payload() {
      return {
        subject: subject ? subject.value : "",
        preheader: preheader ? preheader.value : "",
        html: html ? html.value : "",
        text: text ? text.value : "",
        text_edited: textEdited ? textEdited.checked : false
      };
    }

    function refresh() {
      var mine = ++sequence;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": tokenInput ? tokenInput.value : ""
        },
        body: JSON.stringify(payload())
      })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (data) {
          if (mine !== sequence) { return; } // an older answer arriving late
          if (errorBox) {
            errorBox.textContent = data.error || "";
            errorBox.hidden = !data.error;
          }
          if (data.error) { return; } // keep the last good preview while the author types
          if (frame) { frame.srcdoc = data.html; }
          if (subjectOut) { subjectOut.textContent = data.subject; }
          if (text && textEdited && !textEdited.checked) { text.value = data.generated_text; }
        })
        .catch(function () { /* offline or signed out: the preview simply stays as it was */ });
    }

    function schedule() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 350);
    }

    [html, subject, preheader].forEach(function (el) {
      if (el) { el.addEventListener("input", schedule); }
    });
    if (text) {
      text.addEventListener("input", function () {
        if (textEdited) { textEdited.checked = true; }
        schedule();
      });
    }
    if (textEdited) { textEdited.addEventListener("change", schedule); }

    // Tab inserts two spaces in the code editor instead of leaving it (Shift+Tab still leaves).
    if (html) {
      html.addEventListener("keydown", function (event) {
        if (event.key !== "Tab" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) { return; }
        event.preventDefault();
        var start = html.selectionStart, end = html.selectionEnd;
        html.value = html.value.slice(0, start) + "  " + html.value.slice(end);
        html.selectionStart = html.selectionEnd = start + 2;
        schedule();
      });
    }

    document.querySelectorAll("[data-preview-size]").forEach(function (button) {
      button.addEventListener("click", function () {
        var size = button.getAttribute("data-preview-size");
        if (wrap) { wrap.classList.toggle("mobile", size === "mobile"); }
        document.querySelectorAll("[data-preview-size]").forEach(function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
      });
    });
  }

  // Review page: quota bars (widths from data attributes: inline styles are not allowed by the CSP).
  document.querySelectorAll(".quota-bar [data-width]").forEach(function (bar) {
    bar.style.width = Math.max(0, Math.min(100, Number(bar.getAttribute("data-width")) || 0)) + "%";
  });

  // Image library: copy the public address.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = button.parentNode.querySelector(".copy-source");
      if (!input) { return; }
      input.select();
      var done = function () {
        var label = button.textContent;
        button.textContent = "✓";
        setTimeout(function () { button.textContent = label; }, 1200);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });
})();
