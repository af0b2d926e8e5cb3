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

// The replays of robot worst cases: a flip-book of frames (PNG data: URIs) with play /
// pause and a slider. Without script the frame nearest the moment that matters shows;
// printing shows them all (see report.css).
(function () {
  "use strict";
  var books = document.querySelectorAll(".flipbook");
  Array.prototype.forEach.call(books, function (book) {
    var frames = book.querySelectorAll(".fb-frames img");
    var controls = book.querySelector(".fb-controls");
    if (!controls || frames.length < 2) return;
    var play = controls.querySelector(".fb-play");
    var slider = controls.querySelector(".fb-slider");
    var status = controls.querySelector(".fb-status");
    var current = parseInt(book.getAttribute("data-start"), 10) || 0;
    var timer = null;

    function show(index) {
      index = (index + frames.length) % frames.length;
      if (index !== current) {
        frames[current].hidden = true;
        frames[index].hidden = false;
        current = index;
      }
      slider.value = index;
      status.textContent = "t = " + frames[index].getAttribute("data-t") + " s (" + (index + 1) + "/" + frames.length + ")";
      book.setAttribute("data-frame", index);
    }

    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      play.textContent = "\u25B6 Play";
      play.setAttribute("aria-label", "play");
    }

    play.addEventListener("click", function () {
      if (timer !== null) { stop(); return; }
      play.textContent = "\u275A\u275A Pause";
      play.setAttribute("aria-label", "pause");
      timer = setInterval(function () { show(current + 1); }, 160);
    });
    slider.addEventListener("input", function () {
      stop();
      show(parseInt(slider.value, 10) || 0);
    });
    controls.hidden = false;
    show(current);
  });
})();
