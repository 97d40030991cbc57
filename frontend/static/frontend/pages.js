// Small helpers for the console's pages; every page works without them.
(function () {
  "use strict";

  // Staff table: "select all on this page", a live count, "select all N matching".
  document.querySelectorAll("form[data-bulk]").forEach(function (form) {
    var all = form.querySelector("[data-select-all]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=ids]"));
    var count = form.querySelector("[data-selected-count]");
    var matching = form.querySelector("[data-select-matching]");
    var allMatching = form.querySelector("[data-all-matching]");

    function refresh() {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      if (allMatching && allMatching.value) {
        count.textContent = "All matching accounts selected";
      } else if (count) {
        count.textContent = n + " selected";
      }
      if (all) {
        all.checked = boxes.length > 0 && n === boxes.length;
        all.indeterminate = n > 0 && n < boxes.length;
      }
      if (matching) matching.hidden = !(boxes.length > 0 && n === boxes.length) || !!allMatching.value;
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        if (!all.checked && allMatching) allMatching.value = "";
        refresh();
      });
    }
    boxes.forEach(function (b) {
      b.addEventListener("change", function () {
        if (!b.checked && allMatching) allMatching.value = "";
        refresh();
      });
    });
    if (matching) {
      matching.addEventListener("click", function () { allMatching.value = "1"; refresh(); });
    }
    refresh();
  });

  // Forms that ask before doing something drastic.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });

  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });

  // The simulated SMS inbox refreshes itself while a code is on its way.
  function pollInbox(tries) {
    var inbox = document.getElementById("inbox");
    if (!inbox || !inbox.hasAttribute("data-waiting") || tries > 60) return;
    setTimeout(function () {
      fetch(inbox.dataset.src, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#inbox");
          if (fresh) inbox.replaceWith(fresh);
          pollInbox(tries + 1);
        })
        .catch(function () { pollInbox(tries + 5); });
    }, 1500);
  }
  pollInbox(0);
})();
