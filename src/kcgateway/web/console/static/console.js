// kcgateway console: progressive enhancement only; every page works without this file.
// Shows each <time datetime> in the viewer's own time zone. Stores nothing.
"use strict";
function kcgwLocalTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      el.textContent = when.toLocaleString();
      el.title = el.getAttribute("datetime");
    }
  }
}
document.addEventListener("DOMContentLoaded", () => kcgwLocalTimes(document));
document.addEventListener("htmx:load", (event) => kcgwLocalTimes(event.detail.elt));
