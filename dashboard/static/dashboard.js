// Progressive enhancements of the dashboard; every page works without it.
(function () {
  "use strict";
  // 1. Times: pages show UTC; hovering shows the operator's local time.
  // Without JavaScript the title stays the RFC 3339 UTC instant.
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
  } catch (e) {
    fmt = null;
  }
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    el.title = (fmt ? fmt.format(d) : d.toString()) + " (your time)";
    el.setAttribute("data-local", "1");
  });

  // 2. A form re-rendered with an error: bring it into view and put the
  // focus on the field the error describes (or on the error).
  var problem = document.querySelector("details[open] .problem, form .problem");
  if (problem) {
    var field = document.querySelector('[aria-describedby="' + problem.id + '"]');
    if (!field) problem.setAttribute("tabindex", "-1");
    var bring = function () {
      problem.scrollIntoView({ block: "center" });
      (field || problem).focus({ preventScroll: true });
    };
    if (document.readyState === "complete") bring();
    else window.addEventListener("load", bring);
  }

  // 3. Loading state: a submitted form says it is working and cannot be
  // sent twice by a double click (the server is idempotent anyway).
  document.querySelectorAll("form[method=post]").forEach(function (f) {
    f.addEventListener("submit", function () {
      var b = f.querySelector("button[type=submit]");
      f.setAttribute("aria-busy", "true");
      if (!b) return;
      setTimeout(function () {
        b.disabled = true;
        b.setAttribute("data-label", b.textContent);
        b.textContent = "Working…";
      }, 0);
      // If the answer never comes, let the operator try again (the same
      // idempotency key makes a resubmission safe).
      setTimeout(function () {
        b.disabled = false;
        b.textContent = b.getAttribute("data-label");
        f.removeAttribute("aria-busy");
      }, 15000);
    });
  });
})();
