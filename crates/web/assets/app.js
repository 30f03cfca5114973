// netlab chat: the browser side of every transport, in plain JavaScript (no build step).
//
// Two families of transport:
// - the event protocol (docs/src/protocol.md) over WebSocket (/ws) or HTTP long-polling
//   (/poll): the same frames as `nc` types on TCP, with sessions that resume;
// - the request/response chat API: messages read by Server-Sent Events or by short polling,
//   sent with POST /api/rooms/ROOM/messages, resumed after the last message id seen.
// Each one reports what it sends and receives to the "On the wire" panel.
"use strict";

const $ = (id) => document.getElementById(id);
const NS = "/chat";
const encoder = new TextEncoder();
const bytes = (text) => encoder.encode(text).length;

// ----- what the page shows -------------------------------------------------------------------

let sentBytes = 0;
let receivedBytes = 0;

/** One row of the wire panel: dir is "↑" (sent) or "↓" (received). */
function wire(dir, what, size, latencyMs, counted = true) {
  if (counted && dir === "↑") sentBytes += size;
  if (counted && dir === "↓") receivedBytes += size;
  $("totals").textContent = `${sentBytes} bytes sent, ${receivedBytes} bytes received`;
  const tr = document.createElement("tr");
  const cells = [dir, what, String(size), latencyMs == null ? "" : `${latencyMs.toFixed(1)} ms`];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    td.textContent = text;
    td.className = i === 1 ? "what" : i >= 2 ? "num" : "";
    tr.appendChild(td);
  });
  const body = $("frames");
  body.insertBefore(tr, body.firstChild);
  while (body.childNodes.length > 300) body.removeChild(body.lastChild);
}

function status(text) {
  $("status").textContent = text;
}

function showMessage(m) {
  const li = document.createElement("li");
  const who = document.createElement("b");
  who.textContent = m.name;
  li.appendChild(who);
  li.appendChild(document.createTextNode(": " + m.text));
  li.dataset.text = m.text;
  addLine(li);
  // Latency of our own message: from send to its copy coming back.
  const t0 = pending.get(m.text);
  if (m.name === me.name && t0 !== undefined) {
    pending.delete(m.text);
    return performance.now() - t0;
  }
  return null;
}

function showSystem(text) {
  const li = document.createElement("li");
  li.className = "system";
  li.textContent = text;
  addLine(li);
}

function addLine(li) {
  const ul = $("messages");
  ul.appendChild(li);
  ul.scrollTop = ul.scrollHeight;
}

// ----- state shared by every transport -------------------------------------------------------

const me = { name: "", room: "" };
/** Texts we sent and have not seen come back yet: text -> send time. */
const pending = new Map();
/** Event-protocol resume state: the session token and the last reliable seq received. */
const resume = { session: null, seq: 0 };
/** Request/response resume state: the last message id seen, per room. */
const lastId = new Map();
/** Which family the page last read with: "protocol" (ws, poll) or "api" (sse, short). */
let family = null;
const familyOf = (kind) => (kind === "ws" || kind === "poll" ? "protocol" : "api");
let transport = null;
let reconnectTimer = null;
let reconnectDelay = 500;

function setConnected(on) {
  $("text").disabled = !on;
  $("send").disabled = !on;
  $("leave").disabled = !on;
  $("drop").disabled = !on;
}

/** A transport ended by itself (network failure, server restart): come back and resume. */
function lost(why) {
  if (!transport) return;
  const t = transport;
  t.stop();
  setConnected(false);
  const delay = reconnectDelay;
  reconnectDelay = Math.min(reconnectDelay * 2, 8000);
  status(`Connection lost (${why}); reconnecting in ${(delay / 1000).toFixed(1)} s and resuming…`);
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    if (transport === t) start(t.kind);
  }, delay);
}

function online(text) {
  reconnectDelay = 500;
  setConnected(true);
  status(text);
}

// ----- the event protocol, whatever carries it -----------------------------------------------

/** The protocol's client side: hello -> connect (resume) -> join; acks, seqs, heartbeats. */
class Protocol {
  constructor(kind, carrier) {
    this.kind = kind;
    this.carrier = carrier; // { send(text), close() }
    this.nextAck = 1;
    this.acks = new Map(); // ack id -> { t0, then }
    this.stopped = false;
  }

  sendFrame(frame, then) {
    if (frame.type === "event" && then) {
      frame.ack = this.nextAck++;
      this.acks.set(frame.ack, { t0: performance.now(), then });
    }
    const text = JSON.stringify(frame);
    wire("↑", text, bytes(text), null);
    this.carrier.send(text);
  }

  onText(text, extraLatency) {
    let f;
    try { f = JSON.parse(text); } catch (e) { return; }
    let latency = extraLatency ?? null;
    switch (f.type) {
      case "hello": {
        const connect = { type: "connect", ns: NS, auth: { name: me.name } };
        if (resume.session) connect.resume = { session: resume.session, seq: resume.seq };
        this.sendFrame(connect);
        break;
      }
      case "connected":
        if (f.recovered && f.session === resume.session) {
          online(`Resumed over ${this.label()}: nothing missed.`);
        } else {
          if (resume.session) showSystem("The old session could not be resumed: starting a new one.");
          resume.session = f.session;
          resume.seq = 0;
          this.sendFrame({ type: "event", ns: NS, name: "join", args: [me.room] }, () => {
            online(`Connected over ${this.label()} to room ${me.room}.`);
          });
        }
        break;
      case "connect_error":
        status(`Refused: ${f.message}`);
        break;
      case "event":
        if (f.seq != null) {
          // Replays overlap: a seq we already have is shown once only.
          if (f.seq <= resume.seq) break;
          resume.seq = f.seq;
          this.sendFrame({ type: "received", ns: NS, seq: f.seq });
        }
        latency = this.onEvent(f) ?? latency;
        break;
      case "ack": {
        const a = this.acks.get(f.id);
        if (a) {
          this.acks.delete(f.id);
          latency = performance.now() - a.t0;
          a.then(f.args[0] || {});
        }
        break;
      }
      case "ping":
        this.sendFrame({ type: "pong" });
        break;
      case "disconnect":
        showSystem(`Disconnected by the server: ${f.reason || "no reason given"}`);
        break;
      case "error":
        showSystem(`Protocol error ${f.code}: ${f.message}`);
        break;
      case "refused":
        // One of our events went nowhere; the connection is fine. (Messages from this page ask
        // for an ack, whose answer says why; `refused` comes for events sent without one.)
        showSystem(`Not sent: ${f.message}`);
        break;
    }
    wire("↓", text, bytes(text), latency);
  }

  onEvent(f) {
    const m = f.args && f.args[0];
    if (!m) return null;
    if (f.name === "message") return showMessage(m);
    if (f.name === "joined") showSystem(`${m.name} joined ${m.room}`);
    if (f.name === "left") showSystem(`${m.name} left ${m.room}`);
    return null;
  }

  say(text) {
    pending.set(text, performance.now());
    this.sendFrame({ type: "event", ns: NS, name: "message", args: [me.room, text] }, (r) => {
      if (!r.ok) showSystem(`Not sent: ${r.error}`);
    });
  }

  leave(done) {
    this.sendFrame({ type: "event", ns: NS, name: "leave", args: [me.room] }, () => {
      this.sendFrame({ type: "disconnect", ns: NS });
      done();
    });
  }

  label() {
    return this.kind === "ws" ? "WebSocket" : "HTTP long-polling";
  }
}

/** The event protocol over WebSocket: one frame per text message. */
function startWebSocket() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const ws = new WebSocket(url);
  const proto = new Protocol("ws", {
    send: (text) => { if (ws.readyState === WebSocket.OPEN) ws.send(text); },
  });
  ws.onmessage = (e) => proto.onText(e.data);
  ws.onclose = (e) => { if (!proto.stopped) lost(`WebSocket closed, code ${e.code}`); };
  proto.stop = () => {
    proto.stopped = true;
    ws.onclose = null;
    ws.close();
  };
  return proto;
}

/** The event protocol over long-polling: GET held until frames come, POST to send. */
function startLongPolling() {
  const abort = new AbortController();
  let conn = null;
  let queue = Promise.resolve();
  const proto = new Protocol("poll", {
    // Sends go out one POST at a time, in order.
    send: (text) => {
      queue = queue.then(() => request("POST", `/poll?conn=${conn}`, text + "\n", "application/x-ndjson", abort, true))
        .catch((e) => { if (!proto.stopped) lost(e.message); });
    },
  });
  proto.stop = () => {
    proto.stopped = true;
    abort.abort();
    if (conn) fetch(`/poll?conn=${conn}`, { method: "DELETE" }).catch(() => {});
  };
  (async () => {
    try {
      const open = await request("POST", "/poll", "", null, abort);
      conn = JSON.parse(open.body).conn;
      while (!proto.stopped) {
        const r = await request("GET", `/poll?conn=${conn}`, null, null, abort, true);
        if (r.status === 204) continue;
        for (const line of r.body.split("\n")) if (line) proto.onText(line);
      }
    } catch (e) {
      if (!proto.stopped) lost(e.message);
    }
  })();
  return proto;
}

/** fetch, logged to the wire panel with its round trip; throws on an HTTP error. A request that
 * carries frames (long-polling) is listed, but its bytes are counted with the frames. */
async function request(method, path, body, type, abort, carriesFrames = false) {
  const t0 = performance.now();
  const init = { method, signal: abort.signal, headers: {} };
  if (body != null) { init.body = body; if (type) init.headers["content-type"] = type; }
  if (body) wire("↑", `${method} ${path}`, bytes(body), null, !carriesFrames);
  const res = await fetch(path, init);
  const text = await res.text();
  wire("↓", `${res.status} for ${method} ${path}`, bytes(text), performance.now() - t0, !carriesFrames);
  if (!res.ok) {
    let why = `HTTP ${res.status}`;
    try { why = JSON.parse(text).message || why; } catch (e) { /* not JSON */ }
    throw new Error(why);
  }
  return { status: res.status, body: text };
}

// ----- the request/response API: SSE or short polling to read, POST to send ------------------

class Api {
  constructor(kind) {
    this.kind = kind;
    this.abort = new AbortController();
    this.stopped = false;
  }

  /** A message read from the API: show it once, remember its id for the resume. */
  onMessage(m, size, latency) {
    const last = lastId.get(me.room) || 0;
    if (m.id <= last) return;
    lastId.set(me.room, m.id);
    const own = showMessage(m);
    wire("↓", JSON.stringify(m), size, own ?? latency);
  }

  say(text) {
    pending.set(text, performance.now());
    const body = JSON.stringify({ name: me.name, text });
    request("POST", `/api/rooms/${encodeURIComponent(me.room)}/messages`, body, "application/json", this.abort)
      .catch((e) => showSystem(`Not sent: ${e.message}`));
  }

  leave(done) { done(); }

  stop() {
    this.stopped = true;
    this.abort.abort();
    if (this.source) this.source.close();
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Server-Sent Events: the browser's EventSource reconnects by itself with Last-Event-ID. */
function startSse() {
  const api = new Api("sse");
  const after = lastId.get(me.room) || 0;
  const url = `/api/rooms/${encodeURIComponent(me.room)}/events?after=${after}`;
  const source = new EventSource(url);
  api.source = source;
  source.onopen = () => online(`Reading room ${me.room} with Server-Sent Events; sending with POST.`);
  source.addEventListener("message", (e) => {
    api.onMessage(JSON.parse(e.data), bytes(`id: ${e.lastEventId}\nevent: message\ndata: ${e.data}\n\n`), null);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) lost("the event stream closed");
    else status("Event stream interrupted; the browser reconnects with Last-Event-ID…");
  };
  return api;
}

/** Short polling: ask for new messages every N ms, whether or not there are any. */
function startShortPolling() {
  const api = new Api("short");
  const every = Math.max(100, Number($("interval").value) || 1000);
  const tick = async () => {
    if (api.stopped) return;
    const after = lastId.get(me.room) || 0;
    try {
      const r = await request("GET", `/api/rooms/${encodeURIComponent(me.room)}/messages?after=${after}`, null, null, api.abort);
      online(`Polling room ${me.room} every ${every} ms; sending with POST.`);
      for (const m of JSON.parse(r.body).messages) api.onMessage(m, bytes(JSON.stringify(m)), null);
    } catch (e) {
      if (!api.stopped) return lost(e.message);
    }
    if (!api.stopped) api.timer = setTimeout(tick, every);
  };
  tick();
  return api;
}

// ----- wiring the page -----------------------------------------------------------------------

const starters = { ws: startWebSocket, poll: startLongPolling, sse: startSse, short: startShortPolling };

async function start(kind) {
  if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; }
  if (transport) transport.stop();
  transport = null;
  status(`Connecting (${kind})…`);
  // Within a family the page resumes (a session, or a message id). Across families the two
  // bookmarks do not translate, so it starts at "now" instead of showing messages twice.
  if (family && family !== familyOf(kind)) {
    resume.session = null;
    resume.seq = 0;
    if (familyOf(kind) === "api") await startApiAtNow();
  }
  family = familyOf(kind);
  transport = starters[kind]();
}

/** Remember the room's newest message id, so that an API transport reads from here on. */
async function startApiAtNow() {
  try {
    const r = await fetch(`/api/rooms/${encodeURIComponent(me.room)}/messages?after=${Number.MAX_SAFE_INTEGER}`);
    lastId.set(me.room, (await r.json()).newest || 0);
  } catch (e) { /* start from the beginning: duplicates are shown, nothing is lost */ }
}

function stop() {
  if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; }
  if (transport) transport.stop();
  transport = null;
  setConnected(false);
}

$("setup").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  const room = $("room").value.trim();
  if (!name || !room) return;
  if (name !== me.name || room !== me.room) {
    // A new identity or room: a new session, and the room's history from the start.
    resume.session = null;
    resume.seq = 0;
    family = null;
  }
  me.name = name;
  me.room = room;
  $("room-label").textContent = `in ${room}`;
  start($("transport").value);
  $("text").focus();
});

$("transport").addEventListener("change", () => {
  $("interval-row").hidden = $("transport").value !== "short";
  // Switching transports keeps the session (event protocol) or the last id (API): nothing lost.
  if (transport) start($("transport").value);
});
$("interval-row").hidden = $("transport").value !== "short";

$("leave").addEventListener("click", () => {
  if (!transport) return;
  const t = transport;
  t.leave(() => {
    if (transport === t) stop();
    resume.session = null;
    resume.seq = 0;
    showSystem(`You left ${me.room}.`);
    status("Not connected.");
  });
});

$("drop").addEventListener("click", () => {
  // What a network failure looks like to the page: the connection is gone without a goodbye.
  if (transport) lost("dropped on purpose");
});

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value;
  if (!text.trim() || !transport) return;
  transport.say(text);
  $("text").value = "";
});

$("clear").addEventListener("click", () => {
  $("frames").textContent = "";
  sentBytes = 0;
  receivedBytes = 0;
  $("totals").textContent = "0 bytes sent, 0 bytes received";
});

// Stay usable in a phone-sized window: the name field first.
$("name").focus();
