// The pager of the failing examples, inlined into report.html. Pages after the first
// come hidden from the server; printing shows them all (see report.css).
(function () {
  "use strict";
  var root = document.getElementById("failures");
  if (!root) return;
  var pages = root.querySelectorAll(".fpage");
  var pager = root.querySelector(".pager");
  if (!pager || pages.length < 2) return;
  var status = pager.querySelector(".pager-status");
  var prev = pager.querySelector(".prev");
  var next = pager.querySelector(".next");
  var jump = pager.querySelector(".goto");
  var current = 0;

  function show(index, scroll) {
    index = Math.max(0, Math.min(pages.length - 1, index));
    if (index !== current) {
      pages[current].hidden = true;
      pages[index].hidden = false;
      current = index;
    }
    status.textContent = "Page " + (index + 1) + " of " + pages.length;
    prev.disabled = index === 0;
    next.disabled = index === pages.length - 1;
    jump.value = index + 1;
    if (scroll && root.getBoundingClientRect().top < 0) root.scrollIntoView();
  }

  prev.addEventListener("click", function () { show(current - 1, true); });
  next.addEventListener("click", function () { show(current + 1, true); });
  jump.addEventListener("change", function () {
    var n = parseInt(jump.value, 10);
    if (!isNaN(n)) show(n - 1, true);
  });
  pager.hidden = false;
  show(0, false);
})();
