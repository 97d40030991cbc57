// The message log and a message's timeline, kept live from the staff event stream:
// a status change updates the row's badge and stamps (or the timeline); a new message is
// added to the first page of an unfiltered log, or announced with a "refresh" notice.
(function () {
  "use strict";

  var log = document.getElementById("message-log");
  var detail = document.getElementById("message-detail");
  var state = document.getElementById("stream-state");
  if ((!log && !detail) || !state) return;

  function utc(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) d = new Date();
    return d.toISOString().slice(0, 19).replace("T", " ");
  }

  function setBadge(badge, status) {
    if (!badge) return;
    badge.textContent = status;
    badge.className = "badge status-" + status;
  }

  function rowOf(wamid) {
    if (!log) return null;
    var rows = log.querySelectorAll("tbody tr[data-wamid]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-wamid") === wamid) return rows[i];
    }
    return null;
  }

  function updateRow(row, d, at) {
    setBadge(row.querySelector("[data-testid=msg-status]"), d.status);
    var stamps = row.querySelector("[data-stamps]");
    if (stamps && d.status !== "accepted" && !stamps.querySelector('[data-stamp="' + d.status + '"]')) {
      var span = document.createElement("span");
      span.setAttribute("data-stamp", d.status);
      span.textContent = d.status + " " + (d.status === "expired" ? at.slice(0, 16) : at.slice(11));
      stamps.appendChild(span);
    }
    if (d.status === "failed" && !row.querySelector("[data-testid=msg-error]")) {
      var err = document.createElement("span");
      err.className = "small error-detail";
      err.setAttribute("data-testid", "msg-error");
      err.textContent = (d.error_code == null ? "" : d.error_code + " ") + (d.error_title || "");
      row.querySelector("[data-testid=msg-status]").insertAdjacentElement("afterend", err);
    }
    row.classList.add("changed");
  }

  function notice() {
    var n = document.getElementById("live-notice");
    if (n) n.hidden = false;
  }

  var inserting = {};
  var later = ParleyStream.heldStatuses();

  function insertRow(wamid) {
    if (inserting[wamid] || rowOf(wamid)) return;
    inserting[wamid] = true;
    fetch("/messages/" + encodeURIComponent(wamid).replace(/%2F/g, "/") + "/?part=row", {
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (rowOf(wamid)) return;
        var holder = document.createElement("tbody");
        holder.innerHTML = html.trim();
        var row = holder.querySelector("tr[data-wamid]");
        if (!row) return;
        row.classList.add("new");
        var body = log.querySelector("tbody");
        body.insertBefore(row, body.firstChild);
        later.apply(wamid, row, function (d) { updateRow(row, d, utc(d.occurred_at)); });
      })
      .catch(notice);
  }

  // A message this page does not show yet: new when it was just accepted (outbound) or
  // just arrived (inbound, announced by billing's delivery fact).
  function newMessage(wamid, numberId, numberE164) {
    if (!log) return;
    var wanted = log.getAttribute("data-number");
    var wantedE164 = log.getAttribute("data-number-e164");
    if (wanted && numberId != null && String(numberId) !== wanted) return;
    if (wantedE164 && numberE164 && numberE164 !== wantedE164) return;
    if (log.getAttribute("data-live") === "insert") insertRow(wamid);
    else notice();
  }

  function onLog(msg) {
    var d = msg.data || {};
    if (!d.message_id) return;
    var row = rowOf(d.message_id);
    if (msg.event === "message.status_changed") {
      if (row) updateRow(row, d, utc(d.occurred_at));
      else if (inserting[d.message_id]) later.hold(d.message_id, d);
      else if (!d.previous_status) newMessage(d.message_id, d.number_id, null);
    } else if (msg.event === "message.delivery_recorded" && d.direction === "P2A" && !row) {
      newMessage(d.message_id, null, d.agent_id);
    }
  }

  function addStreamEvent(msg) {
    var table = document.getElementById("stream-events");
    if (!table || typeof msg.stream_id !== "number") return;
    var body = table.querySelector("tbody");
    if (body.querySelector('tr[data-stream-id="' + msg.stream_id + '"]')) return;
    var empty = body.querySelector("tr.empty");
    if (empty) body.removeChild(empty);
    var tr = document.createElement("tr");
    tr.setAttribute("data-stream-id", String(msg.stream_id));
    var d = msg.data || {};
    var cells = [String(msg.stream_id), msg.event, utc(d.occurred_at), ""];
    cells.forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 1) { var code = document.createElement("code"); code.textContent = text; td.appendChild(code); }
      else td.textContent = text;
      tr.appendChild(td);
    });
    var fields = [];
    Object.keys(d).sort().forEach(function (k) {
      if (k === "message_id" || k === "text" || k === "content_json") return;
      fields.push(k + " " + (d[k] === null ? "None" : d[k]));
    });
    tr.lastChild.className = "details small";
    tr.lastChild.textContent = fields.join(" · ");
    body.appendChild(tr);
  }

  function onDetail(msg) {
    var d = msg.data || {};
    if (d.message_id !== detail.getAttribute("data-wamid")) return;
    addStreamEvent(msg);
    if (msg.event !== "message.status_changed") return;
    setBadge(detail.querySelector("[data-testid=msg-status]"), d.status);
    var stamp = detail.querySelector("[data-testid=stamp-" + d.status + "]");
    if (stamp) stamp.textContent = utc(d.occurred_at);
    if (d.status === "failed") {
      var cell = detail.querySelector("[data-testid=detail-failed]");
      if (cell) cell.textContent = (d.error_code == null ? "" : d.error_code + " ") + (d.error_title || "");
    }
  }

  ParleyStream.connect({
    state: state,
    onEvent: function (msg) {
      if (log) onLog(msg);
      if (detail) onDetail(msg);
    },
    onGap: notice
  });
})();
