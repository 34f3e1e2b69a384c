// The timhooks console's only script: live rows over server-sent events, and a confirmation
// before bulk actions. Every page reads and acts without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("[data-live]");
  const rows = document.getElementById("rows");
  if (live && rows && window.EventSource) {
    const source = new EventSource(live.dataset.live);
    source.addEventListener("open", () => live.classList.add("on"));
    source.addEventListener("error", () => live.classList.remove("on"));
    source.addEventListener("rows", (event) => {
      const seen = new Set([...rows.querySelectorAll("tr[data-key]")].map((tr) => tr.dataset.key));
      rows.innerHTML = event.data;
      for (const tr of rows.querySelectorAll("tr[data-key]")) {
        if (!seen.has(tr.dataset.key)) tr.classList.add("fresh");
      }
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
