/* Inline submission for embedded subscription forms (the snippet works without this script too).
   Finds <form data-portal-form> on the page, posts it with fetch to the form's own address on the
   agency's domain (CORS answers only the sites the client listed), and shows the answer in place.
   No cookies are sent; nothing is read from or written to the host page beyond the form itself. */
(function () {
  "use strict";

  function show(form, text, ok) {
    var box = form.querySelector("[data-portal-status]");
    if (!box) {
      box = document.createElement("p");
      box.setAttribute("data-portal-status", "");
      box.setAttribute("role", "status");
      form.appendChild(box);
    }
    box.textContent = text;
    box.className = ok ? "portal-form-ok" : "portal-form-error";
  }

  function init(form) {
    if (form.getAttribute("data-portal-ready")) return;
    form.setAttribute("data-portal-ready", "1");
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) return; // old browser: the plain post does the work
      event.preventDefault();
      var button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "omit",
        mode: "cors"
      })
        .then(function (response) {
          return response.json().then(function (data) { return data; }, function () { return {}; });
        })
        .then(function (data) {
          if (data.ok && data.redirect) { window.location.assign(data.redirect); return; }
          var fallback = form.getAttribute("data-error-text") || "Error";
          show(form, data.message || fallback, !!data.ok);
          if (data.ok) form.reset();
        })
        .catch(function () { show(form, form.getAttribute("data-error-text") || "Error", false); })
        .then(function () { if (button) button.disabled = false; });
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-portal-form]");
    for (var i = 0; i < forms.length; i++) init(forms[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
