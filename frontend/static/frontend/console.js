// The dashboard's live parts: the health panel and the staff event stream.
(function () {
  "use strict";

  function describe(msg) {
    var d = msg.data || {};
    switch (msg.event) {
      case "audit.recorded": return d.actor + " · " + d.action + (d.target ? " · " + d.target : "");
      case "staff.changed": return "Staff accounts " + d.change + " (" + (d.user_ids || []).length + ")";
      case "number.status_changed": return d.display_phone_number + " is " + d.status.toLowerCase() + " (" + d.official_verification + ")";
      case "number.code_delivered": return "Registration code delivered to " + d.display_phone_number + " by " + d.method;
      default: return msg.event;
    }
  }

  function addToFeed(msg) {
    var feed = document.getElementById("feed");
    if (!feed) return;
    var li = document.createElement("li");
    var time = document.createElement("time");
    var when = msg.data && msg.data.occurred_at ? new Date(msg.data.occurred_at) : new Date();
    time.textContent = when.toLocaleTimeString();
    li.appendChild(time);
    li.appendChild(document.createTextNode(" " + describe(msg)));
    li.dataset.event = msg.event;
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > 50) feed.removeChild(feed.lastChild);
  }

  // The last stream id shown: a reconnect asks for what came after it, so nothing is missed,
  // and an event seen twice (a batch run again) is shown once. The server relays a tab's
  // events in stream order without gaps (a lost push is read from the log), so the highest
  // id seen is all a tab needs to remember.
  var lastId = null;

  function connect(delay) {
    var state = document.getElementById("stream-state");
    if (!state) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = lastId === null ? "" : "?after=" + encodeURIComponent(lastId);
    var ws = new WebSocket(scheme + location.host + "/ws/events/" + query);
    ws.onmessage = function (e) {
      var msg = JSON.parse(e.data);
      if (msg.event === "stream.ready") {
        if (typeof msg.stream_id === "number" && (lastId === null || msg.stream_id > lastId)) lastId = msg.stream_id;
        state.textContent = "live"; state.className = "stream live"; delay = 1000; return;
      }
      if (msg.event === "pong") return;
      if (msg.event === "stream.gap") { lastId = null; location.reload(); return; }
      if (typeof msg.stream_id === "number") {
        if (lastId !== null && msg.stream_id <= lastId) return;
        lastId = msg.stream_id;
      }
      addToFeed(msg);
    };
    ws.onclose = function () {
      state.textContent = "reconnecting…"; state.className = "stream";
      setTimeout(function () { connect(Math.min((delay || 1000) * 2, 15000)); }, delay || 1000);
    };
  }

  function health() {
    var list = document.getElementById("health");
    if (!list) return;
    fetch("/healthz", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        list.innerHTML = "";
        Object.keys(body.checks).forEach(function (name) {
          var c = body.checks[name];
          var li = document.createElement("li");
          li.className = c.ok ? "ok" : "down";
          li.textContent = name + ": " + (c.ok ? "up" : "down") + " — " + c.detail;
          list.appendChild(li);
        });
      })
      .catch(function () { list.innerHTML = "<li class='down'>Health check unreachable</li>"; });
  }

  health();
  setInterval(health, 30000);
  connect(1000);
})();
