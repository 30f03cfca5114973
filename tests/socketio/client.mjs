// The npm `socket.io-client` 4.x (written by socket.io's authors, not here) against a server that
// runs the conformance app (/, /custom) and the chat (/chat): netlab's, or reference-server.mjs.
//
//   node client.mjs URL SCENARIO [TRANSPORTS]
//
// SCENARIO: conformance | chat | recovery. TRANSPORTS: polling,websocket (the default: start on
// polling, then upgrade), polling (forced long-polling only) or websocket (WebSocket only).
// Prints one JSON object per line: {"step":...} as each check passes, {"done":true,...} at the
// end; on a failure {"error":...} and exit status 1. Every wait has a timeout.
import { io } from "socket.io-client";
import { deepStrictEqual, ok } from "node:assert/strict";

const [url, scenario, transportsArg = "polling,websocket"] = process.argv.slice(2);
const transports = transportsArg.split(",");
const WAIT_MS = 5000;

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(err) {
  say({ error: String(err?.stack ?? err) });
  process.exit(1);
}

// The whole script is bounded too.
setTimeout(() => fail(`${scenario} took longer than 20 s`), 20_000).unref();

/** Resolve with the arguments of the next `event` on `socket`, or fail after WAIT_MS. */
function next(socket, event) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

/**
 * The first `n` arguments of an event. A server with connection state recovery on (socket.io's
 * own, or netlab's reliable events) adds the event's offset, a string, as one more argument.
 */
function first(args, n) {
  ok(args.length === n || (args.length === n + 1 && typeof args[n] === "string"), `${args.length} arguments`);
  return args.slice(0, n);
}

/** Emit and resolve with the first argument of the ack. */
function call(socket, event, ...args) {
  return socket.timeout(WAIT_MS).emitWithAck(event, ...args).then(
    (first) => first,
    (e) => Promise.reject(new Error(`no ack for ${event}: ${e.message}`)),
  );
}

/** Emit and resolve with all the ack's arguments (emitWithAck keeps the first only). */
function callAll(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT_MS).emit(event, ...args, (err, ...got) => (err ? reject(err) : resolve(got)));
  });
}

function connect(path, auth, extra = {}) {
  const socket = io(url + path, { transports, auth, reconnection: false, ...extra });
  socket.on("connect_error", (e) => fail(`connect_error on ${path}: ${e.message}`));
  return socket;
}

async function connected(socket) {
  if (!socket.connected) await next(socket, "connect");
}

function transportName(socket) {
  return socket.io.engine.transport.name;
}

async function conformance() {
  const main = connect("/", { token: "123" });
  // The engine exists as soon as io() returns: watch for the upgrade from its first transport.
  const firstTransport = transportName(main);
  const upgraded = transports.length > 1 ? next(main.io.engine, "upgrade") : null;
  say({ step: "open", transport: firstTransport });
  const [auth] = await next(main, "auth");
  deepStrictEqual(auth, { token: "123" });
  say({ step: "auth", transport: transportName(main) });

  const args = [1, "2", { 3: [true] }];
  main.emit("message", ...args);
  deepStrictEqual(first(await next(main, "message-back"), 3), args);
  say({ step: "message-back" });

  deepStrictEqual(await callAll(main, "message-with-ack", ...args), args);
  say({ step: "ack from server" });

  const bytes = Buffer.from([1, 2, 3, 255]);
  main.emit("message", bytes, { nested: Buffer.from("hi") });
  const [b1, b2] = first(await next(main, "message-back"), 2);
  deepStrictEqual(Buffer.from(b1), bytes);
  deepStrictEqual(Buffer.from(b2.nested), Buffer.from("hi"));
  deepStrictEqual((await callAll(main, "message-with-ack", bytes)).map((b) => Buffer.from(b)), [bytes]);
  say({ step: "binary" });

  const asked = next(main, "callback");
  main.emit("call-me-back", "x");
  const got = await asked;
  const ack = got.pop();
  deepStrictEqual(first(got, 1), ["x"]);
  ack("x", "back");
  deepStrictEqual(await callAll(main, "callback-result"), ["x", "back"]);
  say({ step: "ack from client" });

  // A second namespace over the same connection (the Manager multiplexes).
  const custom = connect("/custom", { ns: "custom" });
  const [auth2] = await next(custom, "auth");
  deepStrictEqual(auth2, { ns: "custom" });
  ok(custom.io === main.io, "one connection for both namespaces");
  deepStrictEqual(await call(custom, "message-with-ack", "c"), "c");
  say({ step: "second namespace" });

  if (upgraded) {
    const [to] = await upgraded;
    deepStrictEqual([firstTransport, to.name], ["polling", "websocket"]);
    deepStrictEqual(await call(main, "message-with-ack", "after upgrade"), "after upgrade");
    say({ step: "upgrade", transport: transportName(main) });
  }
  const transport = transportName(main);
  custom.disconnect();
  main.disconnect();
  say({ done: true, transport });
}

async function chat() {
  const s = connect("/chat", { name: "node" });
  await connected(s);
  deepStrictEqual(await call(s, "join", "lobby"), { ok: true, room: "lobby" });
  const heard = next(s, "message");
  say({ step: "joined" });
  // The test's TCP user speaks once it has read "joined".
  const [msg] = await heard;
  deepStrictEqual(msg, { name: "ada", room: "lobby", text: "hello from tcp" });
  say({ step: "heard tcp" });
  deepStrictEqual(await call(s, "message", "lobby", "hello from node"), { ok: true });
  say({ done: true, transport: transportName(s) });
  s.disconnect();
}

async function recovery() {
  const a = connect("/chat", { name: "a" }, { forceNew: true });
  const b = connect("/chat", { name: "b" }, { forceNew: true });
  await Promise.all([connected(a), connected(b)]);
  const texts = [];
  a.on("message", (m) => texts.push(m.text));
  await call(a, "join", "r");
  await call(b, "join", "r");
  await call(b, "message", "r", "seen");
  // The connection drops (the network, not a disconnect()): a keeps its pid and last offset.
  const gone = next(a, "disconnect");
  a.io.engine.close();
  const [reason] = await gone;
  say({ step: "dropped", reason });
  for (const t of ["missed 1", "missed 2"]) {
    deepStrictEqual(await call(b, "message", "r", t), { ok: true });
  }
  a.connect();
  await next(a, "connect");
  ok(a.recovered, "the server recovered the session");
  // The missed events come right after the CONNECT answer; wait for the second.
  const deadline = Date.now() + WAIT_MS;
  while (texts.length < 3 && Date.now() < deadline) await next(a, "message");
  deepStrictEqual(texts, ["seen", "missed 1", "missed 2"]);
  say({ step: "recovered", missed: texts.slice(1) });
  say({ done: true, transport: transportName(a) });
  a.disconnect();
  b.disconnect();
}

const scenarios = { conformance, chat, recovery };
if (!url || !scenarios[scenario]) {
  fail("usage: node client.mjs URL conformance|chat|recovery [polling|websocket|polling,websocket]");
}
scenarios[scenario]().then(() => process.exit(0), fail);
