// The reference: the npm `socket.io` 4.x server running the same apps as netlab (the conformance
// app on / and /custom, the chat on /chat), with connection state recovery on. The client
// scripts are checked against it, and the benchmark measures it beside netlab.
//
//   node reference-server.mjs [PORT]        (PORT 0 or none: any free port)
// prints `listening on http 127.0.0.1:PORT` once it accepts connections.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const httpServer = createServer();
const io = new Server(httpServer, {
  // The conformance suite's timers by default; the benchmark sets socket.io's own (25 s, 20 s).
  pingInterval: Number(process.env.PING_INTERVAL ?? 300),
  pingTimeout: Number(process.env.PING_TIMEOUT ?? 200),
  connectTimeout: Number(process.env.CONNECT_TIMEOUT ?? 1000),
  maxHttpBufferSize: 1e6,
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
});

// The conformance app (socket.io's protocol test suite), plus `call-me-back` / `callback-result`
// for acks from server to client.
for (const nsp of ["/", "/custom"]) {
  io.of(nsp).on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("message-with-ack", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    // As netlab's conformance app: the client's ack of `callback` is reported by the ack of a
    // later `callback-result`.
    let answer = null;
    socket.on("call-me-back", (...args) => {
      socket.emit("callback", ...args, (...got) => { answer = got; });
    });
    socket.on("callback-result", (ack) => {
      ack(...(answer ?? [{ error: "no ack of `callback` yet" }]));
      answer = null;
    });
  });
}

// The chat app, as netlab's crates/events/src/chat.rs.
const chat = io.of("/chat");
chat.use((socket, next) => {
  const name = String(socket.handshake.auth?.name ?? "").trim();
  if (!name || name.length > 32) return next(new Error("a display name is required"));
  socket.data.name = name;
  next();
});
chat.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    chat.to(room).emit("joined", { name: socket.data.name, room });
    if (typeof ack === "function") ack({ ok: true, room });
  });
  socket.on("message", (room, text, ack) => {
    if (!socket.rooms.has(room)) {
      if (typeof ack === "function") ack({ ok: false, error: `join "${room}" first` });
      return;
    }
    chat.to(room).emit("message", { name: socket.data.name, room, text });
    if (typeof ack === "function") ack({ ok: true });
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on http 127.0.0.1:${httpServer.address().port}`);
});
