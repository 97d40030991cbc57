// The supervisors' page, live: routing's events (a session moved, an agent's status or load
// changed, an SLA was breached) make the page fetch its live panels again from the server
// (`?part=live`), at most once a second however many events arrive. The socket resumes
// after the last stream id it saw, as the other console pages do.
(function () {
  "use strict";

  var live = document.getElementById("supervision-live");
  var state = document.getElementById("stream-state");
  if (!live || !state) return;

  var WATCHED = {
    "routing.session_changed": true,
    "routing.agent_changed": true,
    "routing.sla_breached": true
  };
  var MIN_INTERVAL = 1000;
  var lastFetch = 0;
  var timer = null;
  var inFlight = false;
  var again = false;
  var refreshes = 0;

  function refresh() {
    timer = null;
    if (inFlight) { again = true; return; }
    inFlight = true;
    lastFetch = Date.now();
    fetch(live.getAttribute("data-src"), {
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#supervision-live");
        if (!fresh) return;
        live.innerHTML = fresh.innerHTML;
        refreshes += 1;
        live.setAttribute("data-refreshes", String(refreshes));
      })
      .catch(function () { /* keep what is shown; the next event tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; schedule(); }
      });
  }

  // Debounced: the first event after a quiet second fetches at once, later ones wait for
  // the second to pass and are served by one fetch.
  function schedule() {
    if (timer !== null) return;
    var wait = Math.max(0, lastFetch + MIN_INTERVAL - Date.now());
    timer = setTimeout(refresh, wait);
  }

  ParleyStream.connect({
    state: state,
    onEvent: function (msg) { if (WATCHED[msg.event]) schedule(); },
    onGap: schedule
  });
})();
