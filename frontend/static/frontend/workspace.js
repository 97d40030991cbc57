// The agents' workspace, kept live from the staff event stream without a reload:
// - conversation.assigned (addressed to this user) adds the row to "mine" at once,
//   conversation.unassigned takes it away; both refresh the load in the header;
// - message.received bumps a listed conversation's unread count and appends the message to
//   the open thread; message.status_changed moves the ticks of the open thread's messages;
// - routing.session_changed (supervisors) refreshes the rows it names;
// - conversation.window_closed swaps the reply box for the template picker (and a customer's
//   message swaps it back); conversation.typing shows who else is writing an answer.
// The reply box tells the server, at most every 10 s while its user writes, that an answer
// is being written: the customer's phone shows "typing…".
// Rows, messages, the header and the session's buttons are fragments the server renders
// (`?part=`). The page beats every 20 s over the same socket (presence: was there input?),
// and the list answers the keyboard (j/k or arrows, Enter, 1-3, r, n).
(function () {
  "use strict";

  var root = document.getElementById("workspace");
  var state = document.getElementById("stream-state");
  if (!root || !state) return;

  var tab = root.getAttribute("data-tab") || "mine";
  var me = root.getAttribute("data-user");
  var openConversation = root.getAttribute("data-conversation");
  var rowsBody = document.getElementById("ws-rows");
  var thread = document.getElementById("ws-thread");
  var BEAT_MS = 20000;

  // -- fragments -------------------------------------------------------------------------

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(
      function (r) {
        if (r.status === 404) return null;
        return r.ok ? r.text() : Promise.reject(r.status);
      }
    );
  }

  function element(html, selector, holderTag) {
    var holder = document.createElement(holderTag || "div");
    holder.innerHTML = html.trim();
    return holder.querySelector(selector);
  }

  function notice() {
    var n = document.getElementById("ws-notice");
    if (n) n.hidden = false;
  }

  // -- the list --------------------------------------------------------------------------

  function rows() {
    return rowsBody ? Array.prototype.slice.call(rowsBody.querySelectorAll("tr.ws-row")) : [];
  }

  function rowBy(attr, value) {
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-" + attr) === String(value)) return all[i];
    }
    return null;
  }

  function updateEmpty() {
    var empty = document.getElementById("ws-empty");
    if (empty) empty.hidden = rows().length > 0;
  }

  function removeRow(attr, value) {
    var row = rowBy(attr, value);
    if (row && row.parentNode) row.parentNode.removeChild(row);
    updateEmpty();
  }

  // Fetch one row (by session or conversation) as this tab shows it: replace it, add it on
  // top, or remove it when it no longer belongs to the tab.
  function refreshRow(attr, value) {
    if (!rowsBody) return Promise.resolve(false);
    var query = "?part=row&tab=" + encodeURIComponent(tab) + "&" + attr + "=" + encodeURIComponent(value);
    return get("/workspace/" + query)
      .then(function (html) {
        if (html === null) { removeRow(attr, value); return false; }
        var row = element(html, "tr.ws-row", "tbody");
        if (!row) return false;
        var old = rowBy("session", row.getAttribute("data-session")) ||
          rowBy("conversation", row.getAttribute("data-conversation"));
        if (old) {
          if (old.classList.contains("current")) row.classList.add("current");
          rowsBody.replaceChild(row, old);
        } else {
          row.classList.add("new");
          rowsBody.insertBefore(row, rowsBody.firstChild);
        }
        updateEmpty();
        tick();
        return true;
      })
      .catch(function () { notice(); return false; });
  }

  // A customer's message about a conversation this tab does not list: routing may still be
  // queueing it; look twice.
  function lookForConversation(conversationId) {
    if (tab === "mine") return;
    setTimeout(function () {
      if (rowBy("conversation", conversationId)) return;
      refreshRow("conversation", conversationId).then(function (found) {
        if (!found) setTimeout(function () { refreshRow("conversation", conversationId); }, 3000);
      });
    }, 800);
  }

  function bumpUnread(row, at) {
    var cell = row.querySelector("[data-testid=ws-unread]");
    if (cell) {
      var n = parseInt(cell.getAttribute("data-unread") || "0", 10) + 1;
      cell.setAttribute("data-unread", String(n));
      cell.textContent = String(n);
      cell.classList.remove("none");
    }
    var waiting = row.querySelector("[data-testid=ws-waiting]");
    if (waiting && !waiting.getAttribute("data-since") && at) {
      waiting.setAttribute("data-since", at);
      tick();
    }
    row.classList.add("changed");
  }

  function answered(row) {
    var cell = row.querySelector("[data-testid=ws-unread]");
    if (cell) { cell.setAttribute("data-unread", "0"); cell.textContent = "0"; cell.classList.add("none"); }
    var waiting = row.querySelector("[data-testid=ws-waiting]");
    if (waiting) {
      waiting.removeAttribute("data-since");
      waiting.innerHTML = '<span class="muted">answered</span>';
    }
  }

  // -- the header and the session block ---------------------------------------------------

  function refreshStatus() {
    var box = document.getElementById("ws-status");
    if (!box) return;
    var query = "?part=status&tab=" + encodeURIComponent(tab) +
      (openConversation ? "&conversation=" + encodeURIComponent(openConversation) : "");
    get("/workspace/" + query).then(function (html) { if (html !== null) box.innerHTML = html; })
      .catch(notice);
  }

  function showLoad(status, load, capacity) {
    var loadEl = document.querySelector("[data-testid=ws-load]");
    if (loadEl && typeof load === "number") loadEl.textContent = load + " / " + capacity;
    var badge = document.querySelector("[data-testid=ws-agent-status]");
    if (badge && status) { badge.textContent = status; badge.className = "badge agent-" + status; }
    var meter = document.querySelector(".ws-meter meter");
    if (meter && typeof load === "number") { meter.max = capacity; meter.value = load; }
  }

  function refreshSession() {
    var box = document.getElementById("ws-session-box");
    if (!box || !openConversation) return;
    get("/workspace/" + encodeURIComponent(openConversation) + "/?part=session&tab=" + encodeURIComponent(tab))
      .then(function (html) { if (html !== null) box.innerHTML = html; })
      .catch(notice);
  }

  // -- the open thread --------------------------------------------------------------------

  function messageBy(wamid) {
    if (!thread) return null;
    var items = thread.querySelectorAll("li[data-wamid]");
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("data-wamid") === wamid) return items[i];
    }
    return null;
  }

  var appending = {};
  var later = ParleyStream.heldStatuses();

  function appendMessage(wamid) {
    if (!thread || appending[wamid] || messageBy(wamid)) return;
    appending[wamid] = true;
    var url = "/workspace/" + encodeURIComponent(openConversation) + "/?part=message&wamid=" + encodeURIComponent(wamid);
    get(url)
      .then(function (html) {
        if (html === null || messageBy(wamid)) return;
        var item = element(html, "li[data-wamid]", "ol");
        if (!item) return;
        item.classList.add("new");
        thread.appendChild(item);
        later.apply(wamid, item, function (d) { updateTicks(item, d); });
        var empty = document.getElementById("ws-thread-empty");
        if (empty) empty.hidden = true;
        item.scrollIntoView({ block: "nearest" });
      })
      .catch(notice)
      .then(function () { delete appending[wamid]; later.drop(wamid); });
  }

  var TICKS = { accepted: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!", expired: "×" };

  function updateTicks(item, d) {
    var badge = item.querySelector("[data-testid=msg-status]");
    if (badge) { badge.textContent = d.status; badge.className = "badge status-" + d.status; }
    var ticks = item.querySelector("[data-ticks]");
    if (ticks) {
      ticks.textContent = TICKS[d.status] || "";
      ticks.className = "ws-ticks tick-" + d.status;
      ticks.title = d.status;
    }
    if (d.status === "failed" && !item.querySelector("[data-testid=msg-error]") && badge) {
      var err = document.createElement("span");
      err.className = "error-detail";
      err.setAttribute("data-testid", "msg-error");
      err.textContent = (d.error_code == null ? "" : d.error_code + " ") + (d.error_title || "");
      badge.insertAdjacentElement("afterend", err);
    }
  }

  // -- the reply box: swapped live when the window closes or reopens ---------------------

  function replyWindow() {
    var box = document.getElementById("ws-reply-box");
    return box ? box.getAttribute("data-window") : null;
  }

  // Re-render the window's line and the reply box; what was being typed stays.
  function refreshReply() {
    var box = document.getElementById("ws-reply-box");
    if (!box || !openConversation) return;
    get("/workspace/" + encodeURIComponent(openConversation) + "/?part=reply&tab=" + encodeURIComponent(tab))
      .then(function (html) {
        if (html === null) return;
        var fresh = element(html, "#ws-reply-box");
        var line = element(html, "#ws-window");
        var oldLine = document.getElementById("ws-window");
        if (line && oldLine) oldLine.parentNode.replaceChild(line, oldLine);
        if (!fresh) return;
        var typed = box.querySelector("[data-reply-text]");
        var focused = typed && document.activeElement === typed;
        box.parentNode.replaceChild(fresh, box);
        var again = fresh.querySelector("[data-reply-text]");
        if (typed && again) {
          again.value = typed.value;
          if (focused) again.focus();
        }
        bindReply();
      })
      .catch(notice);
  }

  // -- who else is writing an answer ------------------------------------------------------

  var TYPING_MS = 25000;
  var typingShown = null;

  function showTyping(name) {
    var line = document.getElementById("ws-typing");
    if (!line) return;
    line.textContent = (name || "Someone") + " is typing…";
    line.hidden = false;
    if (typingShown) clearTimeout(typingShown);
    typingShown = setTimeout(hideTyping, TYPING_MS);
  }

  function hideTyping() {
    var line = document.getElementById("ws-typing");
    if (line) line.hidden = true;
    if (typingShown) { clearTimeout(typingShown); typingShown = null; }
  }

  // -- events -----------------------------------------------------------------------------

  function isOpen(conversationId) {
    return openConversation !== null && String(conversationId) === openConversation;
  }

  function onEvent(msg) {
    var d = msg.data || {};
    switch (msg.event) {
      case "conversation.assigned":
        if (tab === "unassigned") removeRow("session", d.session_id);
        else refreshRow("session", d.session_id);
        refreshStatus();
        if (isOpen(d.conversation_id)) { refreshSession(); refreshReply(); }
        break;
      case "conversation.unassigned":
        if (tab === "mine") removeRow("session", d.session_id);
        else refreshRow("session", d.session_id);
        refreshStatus();
        if (isOpen(d.conversation_id)) { refreshSession(); refreshReply(); }
        break;
      case "routing.session_changed":
        if (tab !== "mine" || rowBy("session", d.session_id) || String(d.agent_user_id) === me) {
          refreshRow("session", d.session_id);
        }
        if (isOpen(d.conversation_id)) refreshSession();
        break;
      case "message.received": {
        var row = rowBy("conversation", d.conversation_id);
        if (row) bumpUnread(row, d.occurred_at);
        else lookForConversation(d.conversation_id);
        if (isOpen(d.conversation_id)) {
          appendMessage(d.message_id);
          if (replyWindow() === "closed") refreshReply();  // the customer reopened it
        }
        break;
      }
      case "message.status_changed": {
        // The business answered (a new message, or one just handed to the relay).
        if (d.direction === "outbound" && (!d.previous_status || d.previous_status === "accepted")) {
          var answeredRow = rowBy("conversation", d.conversation_id);
          if (answeredRow) answered(answeredRow);
          if (isOpen(d.conversation_id)) hideTyping();
        }
        if (!isOpen(d.conversation_id)) break;
        var item = messageBy(d.message_id);
        if (item) updateTicks(item, d);
        else if (appending[d.message_id]) later.hold(d.message_id, d);
        else if (!d.previous_status) appendMessage(d.message_id);
        break;
      }
      case "conversation.window_closed":
        if (isOpen(d.conversation_id)) refreshReply();
        break;
      case "conversation.typing":
        if (isOpen(d.conversation_id) && String(d.typist_user_id) !== me) showTyping(d.typist_name);
        break;
      case "heartbeat.recorded":
        if (d.agent) showLoad(d.agent.status, d.agent.load, d.agent.capacity);
        break;
    }
  }

  // -- waiting times on the simulation clock ---------------------------------------------

  var simNow = Date.parse(root.getAttribute("data-sim-now") || "");
  var frozen = root.getAttribute("data-frozen") === "1";
  var loadedAt = Date.now();

  function simulatedNow() {
    if (isNaN(simNow)) return Date.now();
    return frozen ? simNow : simNow + (Date.now() - loadedAt);
  }

  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var units = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
    var parts = [];
    for (var i = 0; i < units.length && parts.length < 2; i++) {
      var v = Math.floor(s / units[i][0]);
      s -= v * units[i][0];
      if (v) parts.push(v + units[i][1]);
    }
    return parts.join(" ") || "0s";
  }

  function tick() {
    if (!rowsBody) return;
    var cells = rowsBody.querySelectorAll("[data-since]");
    var now = simulatedNow();
    for (var i = 0; i < cells.length; i++) {
      var since = Date.parse(cells[i].getAttribute("data-since"));
      if (!isNaN(since)) cells[i].textContent = duration((now - since) / 1000);
    }
  }

  if (!frozen) setInterval(tick, 1000);

  // -- presence: a heartbeat every 20 s, active when there was input since the last -------

  var active = true;
  ["keydown", "mousedown", "mousemove", "wheel", "touchstart"].forEach(function (name) {
    window.addEventListener(name, function () { active = true; }, { passive: true, capture: true });
  });

  function beat(ws) {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: "heartbeat", active: active }));
    active = false;
  }

  // -- the stream ---------------------------------------------------------------------------

  var beating = null;
  var socket = null;

  ParleyStream.connect({
    state: state,
    onEvent: onEvent,
    onGap: notice,
    onOpen: function (ws) {
      socket = ws;
      beat(ws);
      if (beating) clearInterval(beating);
      beating = setInterval(function () { beat(ws); }, BEAT_MS);
    },
    onClose: function () {
      if (beating) { clearInterval(beating); beating = null; }
    }
  });

  // -- the keyboard -----------------------------------------------------------------------

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function current() {
    return rowsBody ? rowsBody.querySelector("tr.ws-row.current") : null;
  }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("current");
    row.setAttribute("aria-selected", "true");
    var link = row.querySelector("[data-row-link]");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  if (openConversation) {
    var opened = rowBy("conversation", openConversation);
    if (opened) { opened.classList.add("current"); opened.setAttribute("aria-selected", "true"); }
  }

  function focusField(selector) {
    var field = document.querySelector(selector);
    if (!field) return false;
    var details = field.closest("details");
    if (details) details.open = true;
    field.focus();
    return true;
  }

  document.addEventListener("keydown", function (e) {
    var target = e.target;
    if (typing(target)) {
      if (e.key === "Escape") target.blur();
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && target.tagName === "TEXTAREA" && target.form) {
        e.preventDefault();
        target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
      }
      return;
    }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    switch (e.key) {
      case "j": case "ArrowDown": e.preventDefault(); move(1); break;
      case "k": case "ArrowUp": e.preventDefault(); move(-1); break;
      case "Enter": {
        // A link opens itself; a focused button or summary keeps its own Enter.
        if (target && target.tagName === "A") return;
        if (target && target !== document.body && !(rowsBody && rowsBody.contains(target))) return;
        var row = current();
        var link = row && row.querySelector("[data-row-link]");
        if (link) { e.preventDefault(); location.href = link.href; }
        break;
      }
      case "1": case "2": case "3":
        location.href = "/workspace/?tab=" + ["mine", "unassigned", "all"][Number(e.key) - 1];
        break;
      case "r": if (focusField("[data-reply-text]")) e.preventDefault(); break;
      case "n": if (focusField("#note_form textarea")) e.preventDefault(); break;
    }
  });

  // -- the reply box's helpers (bound again whenever the box is swapped) -----------------

  var TYPING_EVERY_MS = 10000;
  var typingSentAt = 0;

  // Tell the server an answer is being written (it shows on the customer's phone).
  function sendTyping() {
    var now = Date.now();
    if (!openConversation || !socket || socket.readyState !== WebSocket.OPEN) return;
    if (now - typingSentAt < TYPING_EVERY_MS) return;
    typingSentAt = now;
    socket.send(JSON.stringify({ type: "typing", conversation: Number(openConversation) }));
  }

  function bindReply() {
    bindCanned();
    bindTemplates();
    var text = document.querySelector("[data-reply-text]");
    if (text) text.addEventListener("input", sendTyping);
  }

  // Canned responses: the picker, or /shortcut then Tab in the reply.
  function bindCanned() {
    var reply = document.querySelector("[data-reply-text]");
    var canned = document.querySelector("[data-canned-select]");
    if (!reply || !canned) return;

    var cannedText = function (shortcut) {
      for (var i = 0; i < canned.options.length; i++) {
        if (canned.options[i].value === shortcut) return canned.options[i].getAttribute("data-text");
      }
      return null;
    };

    var insert = function (text, replaceFrom) {
      var start = replaceFrom == null ? reply.selectionStart : replaceFrom;
      var before = reply.value.slice(0, start);
      var after = reply.value.slice(reply.selectionEnd);
      reply.value = before + text + after;
      var caret = before.length + text.length;
      reply.setSelectionRange(caret, caret);
      reply.focus();
      sendTyping();
    };

    canned.addEventListener("change", function () {
      var text = cannedText(canned.value);
      if (text !== null) insert(text);
      canned.value = "";
    });
    reply.addEventListener("keydown", function (e) {
      if (e.key !== "Tab" || e.shiftKey) return;
      var before = reply.value.slice(0, reply.selectionStart);
      var match = /(^|\s)\/([a-z0-9_-]+)$/.exec(before);
      var text = match ? cannedText(match[2]) : null;
      if (text === null) return;
      e.preventDefault();
      insert(text, before.length - match[2].length - 1);
    });
  }

  // The template picker: one labelled field per value the chosen template takes.
  function bindTemplates() {
    var picker = document.querySelector("[data-template-select]");
    if (!picker) return;
    var showFields = function () {
      var option = picker.options[picker.selectedIndex];
      var count = option ? parseInt(option.getAttribute("data-parameters") || "0", 10) : 0;
      var labels = [];
      try { labels = JSON.parse((option && option.getAttribute("data-labels")) || "[]"); } catch (e) { labels = []; }
      var body = document.querySelector("[data-template-body]");
      if (body) body.textContent = option && option.value ? option.getAttribute("data-body") : "";
      document.querySelectorAll("[data-parameter]").forEach(function (field) {
        var index = parseInt(field.getAttribute("data-parameter"), 10);
        field.hidden = index > count;
        field.querySelector("input").disabled = index > count;
        var label = field.querySelector("[data-parameter-label]");
        if (label) label.textContent = labels[index - 1] || "Value " + index;
      });
    };
    picker.addEventListener("change", showFields);
    showFields();
  }

  bindReply();
})();
