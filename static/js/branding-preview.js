// Live preview of the branding editor: colours, name, footer and logo follow the inputs as they change.
// No inline script (strict CSP): values reach the preview through CSS custom properties and textContent.
(function () {
  "use strict";
  var preview = document.querySelector("[data-brand-preview]");
  if (!preview) { return; }
  var HEX = /^#[0-9a-fA-F]{6}$/;
  var nameEl = preview.querySelector(".preview-name");
  var footerEl = preview.querySelector(".preview-footer");
  var logoEl = preview.querySelector(".preview-logo");
  var objectUrl = null;

  function apply(input) {
    var kind = input.getAttribute("data-preview");
    var value = input.value;
    if (kind === "brand" || kind === "accent") {
      if (HEX.test(value)) { preview.style.setProperty(kind === "brand" ? "--pv-brand" : "--pv-accent", value); }
    } else if (kind === "name") {
      nameEl.textContent = value;
    } else if (kind === "footer") {
      footerEl.textContent = value;
    } else if (kind === "logo") {
      var file = input.files && input.files[0];
      if (!file || !/^image\/(png|jpeg|gif|webp)$/.test(file.type)) { return; }
      if (objectUrl) { URL.revokeObjectURL(objectUrl); }
      objectUrl = URL.createObjectURL(file);
      logoEl.src = objectUrl;
      logoEl.hidden = false;
    }
  }

  document.querySelectorAll("[data-preview]").forEach(function (input) {
    apply(input);
    input.addEventListener("input", function () { apply(input); });
    input.addEventListener("change", function () { apply(input); });
  });
})();
