// kcgateway console: progressive enhancement only; every page works without this file.
// Shows each <time datetime> in the viewer's own time zone, and keeps the orders table live
// from the console's event stream (same origin, the session cookie). Stores nothing.
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
function kcgwLive() {
  const live = document.getElementById("live");
  if (!live || !window.EventSource || !window.htmx) return;
  const refresh = () => htmx.trigger(document.body, "kcgw-orders");
  const say = (state, text) => { live.dataset.state = state; live.textContent = text; };
  const stream = new EventSource(live.dataset.events);
  // (re)opened: refresh once, for what changed while the stream was down
  stream.addEventListener("open", () => { say("on", "Live updates: on."); refresh(); });
  stream.addEventListener("order.state", refresh);
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED) say("off", "Live updates: off (reload the page).");
    else say("reconnecting", "Live updates: reconnecting…");
  });
}
function kcgwTimeZone() {
  // filter days are the viewer's days: the form sends the browser's offset from UTC
  const tz = document.getElementById("f-tz");
  if (tz) tz.value = String(new Date().getTimezoneOffset());
}
document.addEventListener("DOMContentLoaded", () => { kcgwLocalTimes(document); kcgwTimeZone(); kcgwLive(); });
document.addEventListener("htmx:load", (event) => kcgwLocalTimes(event.detail.elt));
