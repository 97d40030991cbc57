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
  var state = document.getElementById("stream-state");
  if (state) {
    // A tab away too long to replay what it missed starts afresh.
    ParleyStream.connect({ state: state, onEvent: addToFeed, onGap: function () { location.reload(); } });
  }
})();
