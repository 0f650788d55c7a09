// Copy buttons: <button data-copy="element id">. Without JavaScript the
// text stays selectable.
document.querySelectorAll("button[data-copy]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () {
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.value || el.textContent).then(function () { b.textContent = "Copied"; });
  });
});
