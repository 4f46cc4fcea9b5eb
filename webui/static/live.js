// The live page: a websocket to /ws/live delivers a snapshot, then one JSON
// event per change. Calls are keyed by leg UUID, colleagues by user name.
"use strict";

(() => {
  const ENDED = new Set(["hangup", "ended", "hungup", "destroyed"]);
  const calls = new Map();
  let status, labels, tbody, counter, empty, clock;

  const label = (state) =>
    labels.dataset["state" + state.charAt(0).toUpperCase() + state.slice(1)] || state;

  function setStatus(which) {
    status.textContent = status.dataset[which];
    status.dataset.state = which;
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function renderCall(call) {
    let row = document.getElementById("call-" + call.uuid);
    if (!row) {
      row = document.createElement("tr");
      row.id = "call-" + call.uuid;
      row.className = "call-new";
      tbody.prepend(row);
    }
    const from = call.from_shown || call.from || "";
    row.replaceChildren(
      cell(call.from_label || (call.from_name ? call.from_name + " " + from : from)),
      cell(call.to_shown || call.to),
      cell(colleague(call)),
      cell(label(call.state || "unknown")),
      cell(call.since ? clock.format(new Date(call.since * 1000)) : ""),
      actions(call),
    );
    row.dataset.state = call.state || "";
  }

  // Whom the call is with: the queue, or the colleague by name (from the
  // colleagues table) and extension.
  function colleague(call) {
    if (call.queue) return call.queue;
    const row = call.user &&
      document.querySelector('#presence tr[data-user="' + CSS.escape(String(call.user)) + '"]');
    const name = row ? row.cells[0].textContent.trim() : "";
    if (!name) return call.extension;
    return call.extension ? name + " (" + call.extension + ")" : name;
  }

  // The signed-in user's own calls get hold and transfer buttons; the calls
  // API checks again that the leg is theirs.
  function actions(call) {
    const td = document.createElement("td");
    if (!labels.dataset.me || call.user !== labels.dataset.me) return td;
    const held = call.state === "held";
    td.append(button(held ? "unhold" : "hold", call.uuid));
    td.append(button("transfer", call.uuid));
    return td;
  }

  function button(action, uuid) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "call-action";
    b.dataset.action = action;
    b.textContent = labels.dataset[action];
    b.addEventListener("click", () => act(action, uuid));
    return b;
  }

  async function act(action, uuid) {
    let body = null;
    if (action === "transfer") {
      const destination = window.prompt(labels.dataset.transferTo);
      if (!destination) return;
      body = JSON.stringify({destination});
    }
    const token = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch("/api/v1/calls/" + encodeURIComponent(uuid) + "/" + action, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body,
      credentials: "same-origin",
    });
    const error = document.getElementById("live-error");
    if (response.ok) {
      error.hidden = true;
      return;
    }
    let message = response.statusText;
    try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
    error.textContent = message;
    error.hidden = false;
  }

  function applyCall(call) {
    if (!call || typeof call.uuid !== "string") return;
    if (ENDED.has(call.state)) {
      calls.delete(call.uuid);
      const row = document.getElementById("call-" + call.uuid);
      if (row) row.remove();
    } else {
      calls.set(call.uuid, Object.assign(calls.get(call.uuid) || {}, call));
      renderCall(calls.get(call.uuid));
    }
    counter.textContent = String(calls.size);
    empty.hidden = calls.size > 0;
  }

  function applyPresence(user, extension, state) {
    const row =
      document.querySelector('#presence tr[data-user="' + CSS.escape(String(user)) + '"]') ||
      document.querySelector('#presence tr[data-extension="' + CSS.escape(String(extension)) + '"]');
    if (!row) return;
    const badge = row.querySelector(".badge");
    badge.textContent = label(state);
    badge.dataset.state = state;
    badge.className = "badge state-" + state;
  }

  function handle(event) {
    if (event.type === "snapshot") {
      calls.clear();
      tbody.replaceChildren();
      for (const call of event.calls || []) applyCall(call);
      for (const [user, state] of Object.entries(event.presence || {})) applyPresence(user, null, state);
      counter.textContent = String(calls.size);
      empty.hidden = calls.size > 0;
    } else if (event.type === "call") {
      applyCall(event);
    } else if (event.type === "presence") {
      applyPresence(event.user, event.extension, event.state);
    }
  }

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/ws/live");
    setStatus("connecting");
    socket.addEventListener("open", () => { setStatus("connected"); delay = 1000; });
    socket.addEventListener("message", (message) => {
      try { handle(JSON.parse(message.data)); } catch (e) { console.warn("bad live event", e); }
    });
    socket.addEventListener("close", () => {
      setStatus("disconnected");
      setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    status = document.getElementById("live-status");
    labels = document.getElementById("live-labels");
    tbody = document.querySelector("#live-calls tbody");
    counter = document.getElementById("call-count");
    empty = document.getElementById("no-calls");
    // Times as the page's language writes them (24 hours in Dutch).
    clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    for (const badge of document.querySelectorAll("#presence .badge")) {
      badge.textContent = label(badge.dataset.state);
    }
    connect(1000);
  });
})();
