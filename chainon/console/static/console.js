// The console's own script: the SLA countdown, and Ctrl+Enter to send a reply.
// No inline script anywhere (the Content-Security-Policy forbids it): this file and the
// vendored htmx are all the JavaScript the pages run.
(function () {
  "use strict";

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function span(seconds) {
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s % 60);
  }

  // Each SLA shows the time left (or how late it is) and, once due, says so in words.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.sla[datetime]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("datetime")) - now) / 1000;
      el.textContent = left >= 0 ? span(left) : "−" + span(left);
      var cell = el.parentElement;
      if (left < 0 && cell && !cell.querySelector(".breached")) {
        var mark = document.createElement("strong");
        mark.className = "breached";
        mark.textContent = " " + (el.dataset.breachedLabel || "SLA breached");
        cell.appendChild(mark);
        var row = el.closest("tr");
        if (row) row.classList.add("is-breached");
      }
    });
    document.querySelectorAll(".age[data-age]").forEach(function (el) {
      if (!el.dataset.since) el.dataset.since = String(now - Number(el.dataset.age) * 1000);
      el.textContent = span((now - Number(el.dataset.since)) / 1000);
    });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form &&
        target.tagName === "TEXTAREA") {
      event.preventDefault();
      target.form.requestSubmit();
    }
  });

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
