// The compliance workspace's exports, live: each `archive.export_progressed` event (addressed
// to the officer who asked for the export) moves its row's progress bar, count and state at
// once; when a job finishes, fails or is not on the page yet, the list is fetched again from
// the server (`?part=jobs`) for its file, size, SHA-256, manifest and download link. When the
// stream (re)connects the list is fetched too, so a job that moved while the page was loading
// or the socket was away is never shown stale.
(function () {
  "use strict";

  var jobs = document.getElementById("export-jobs");
  var state = document.getElementById("stream-state");
  if (!jobs || !state) return;

  var inFlight = false;
  var again = false;
  var events = 0;
  var updates = 0;
  var refreshes = 0;

  function source() {
    var params = new URLSearchParams(location.search);
    params.set("part", "jobs");
    return location.pathname + "?" + params.toString();
  }

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(source(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#export-jobs");
        if (!fresh) return;
        jobs.innerHTML = fresh.innerHTML;
        refreshes += 1;
        jobs.setAttribute("data-refreshes", String(refreshes));
      })
      .catch(function () { /* keep what is shown; the next event tries again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; refresh(); }
      });
  }

  function part(row, role) { return row.querySelector('[data-role="' + role + '"]'); }

  function apply(data) {
    events += 1;
    jobs.setAttribute("data-live-events", String(events));
    var row = jobs.querySelector('tr[data-export="' + String(data.job_id) + '"]');
    if (!row) { refresh(); return; }
    var progress = Math.max(0, Math.min(100, Number(data.progress) || 0));
    var bar = part(row, "bar");
    if (bar) bar.value = progress;
    var percent = part(row, "percent");
    if (percent) percent.textContent = progress + "%";
    var count = part(row, "count");
    if (count) count.textContent = data.done + " / " + data.total;
    var badge = part(row, "state");
    if (badge) { badge.textContent = data.state; badge.className = "badge export-" + data.state; }
    row.setAttribute("data-state", data.state);
    updates += 1;
    jobs.setAttribute("data-live-updates", String(updates));
    if (data.state === "done" || data.state === "failed") refresh();
  }

  ParleyStream.connect({
    state: state,
    onEvent: function (msg) {
      if (msg.event === "archive.export_progressed" && msg.data) apply(msg.data);
    },
    onGap: refresh,
    onOpen: refresh
  });
})();
