// The SMS counter beside the text: while the author types, the server counts (portal/sms/segments.py,
// the same function that prices the send), so the page can never disagree with the bill.
(function () {
  "use strict";
  const text = document.querySelector("[data-sms-text]");
  if (!text) return;
  const url = text.getAttribute("data-count-url");
  const token = (document.querySelector("input[name=csrf_token]") || {}).value || "";
  const out = (key) => document.querySelector('[data-sms="' + key + '"]');
  let timer = null;
  let seq = 0;

  function show(data) {
    ["encoding", "characters", "segments", "credits"].forEach((k) => { out(k).textContent = String(data[k]); });
    out("non_gsm").textContent = data.non_gsm.join(" ");
    out("non-gsm-line").hidden = data.non_gsm.length === 0;
    out("segments").closest("[data-testid=sms-counter]").dataset.counted = String(seq);
  }

  function count() {
    const mine = ++seq;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ text: text.value }),
    })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => { if (data && mine === seq) show(data); });
  }

  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(count, 150);
  });
})();
