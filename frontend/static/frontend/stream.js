// The staff event stream for every live console page: one websocket to /ws/events/ that
// resumes after the last stream id it saw (so a reconnect misses nothing), drops an event
// it has already passed (a batch run again), shows its state and reconnects with backoff.
//
//   ParleyStream.connect({
//     state: element,                  // shows "live" / "reconnecting…"
//     onEvent: function (msg) {},      // each new event, in stream order
//     onGap: function (msg) {},        // the tab was away too long to replay what it missed
//     onOpen: function (ws) {},        // the stream is live (again)
//     onClose: function () {}
//   });
window.ParleyStream = (function () {
  "use strict";

  function connect(options) {
    // The position the page was rendered at: the socket first replays what came after it.
    var start = document.body.getAttribute("data-stream-after");
    var lastId = start && /^[0-9]+$/.test(start) ? parseInt(start, 10) : null;
    var state = options.state;

    function open(delay) {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var query = lastId === null ? "" : "?after=" + encodeURIComponent(lastId);
      var ws = new WebSocket(scheme + location.host + "/ws/events/" + query);
      ws.onmessage = function (e) {
        var msg = JSON.parse(e.data);
        if (msg.event === "stream.ready") {
          if (typeof msg.stream_id === "number" && (lastId === null || msg.stream_id > lastId)) lastId = msg.stream_id;
          if (state) { state.textContent = "live"; state.className = "stream live"; }
          delay = 1000;
          if (options.onOpen) options.onOpen(ws);
          return;
        }
        if (msg.event === "pong") return;
        if (msg.event === "stream.gap") {
          if (typeof msg.stream_id === "number") lastId = msg.stream_id;
          if (options.onGap) options.onGap(msg);
          return;
        }
        if (typeof msg.stream_id === "number") {
          if (lastId !== null && msg.stream_id <= lastId) return;
          lastId = msg.stream_id;
        }
        options.onEvent(msg);
      };
      ws.onclose = function () {
        if (options.onClose) options.onClose();
        if (state) { state.textContent = "reconnecting…"; state.className = "stream"; }
        setTimeout(function () { open(Math.min((delay || 1000) * 2, 15000)); }, delay || 1000);
      };
    }

    open(1000);
  }

  // How far along a message is: a status change applies when it moves a message on.
  var RANK = { accepted: 0, sent: 1, delivered: 2, read: 3, failed: 3, expired: 3 };

  // Status changes that arrive while their message's row is being fetched: the row may have
  // been read before they committed, so they are applied to it once it is in (those that
  // move it on). `update(d)` applies one.
  function heldStatuses() {
    var held = {};
    return {
      hold: function (wamid, d) { (held[wamid] = held[wamid] || []).push(d); },
      apply: function (wamid, element, update) {
        (held[wamid] || []).forEach(function (d) {
          var badge = element.querySelector("[data-testid=msg-status]");
          var from = badge ? RANK[badge.textContent.trim()] : undefined;
          if (from === undefined || RANK[d.status] > from) update(d);
        });
        delete held[wamid];
      },
      drop: function (wamid) { delete held[wamid]; }
    };
  }

  return { connect: connect, heldStatuses: heldStatuses };
})();
