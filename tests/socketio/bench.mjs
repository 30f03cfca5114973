// Broadcast benchmark with socket.io-client 4.x: N clients join one room of the chat (/chat), one
// more sends M messages to it, one at a time (the next once the previous reached every client),
// and we count deliveries per second and the latency of each delivery (send to receive).
// The server's CPU time (user + system, from /proc) over the measured run, per delivery: the
// client shares the machine and can be the limit, so this is the fairer comparison.
// Then the idle memory: the server's RSS (from /proc) with no clients, and with K idle clients.
//
//   node bench.mjs URL SERVER_PID CLIENTS MESSAGES IDLE
//
// Prints one JSON line. Bounded: every phase has a timeout, and the script exits after 120 s.
import { io } from "socket.io-client";
import { readFileSync } from "node:fs";

const [url, pid, clients, messages, idle] = process.argv.slice(2);
const N = Number(clients), M = Number(messages), K = Number(idle);
setTimeout(() => { console.log(JSON.stringify({ error: "timed out" })); process.exit(1); }, 120_000).unref();

// utime + stime, in clock ticks (1/100 s on Linux), after the `(comm)` field.
const cpuTicks = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
};
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
const opts = { transports: ["websocket"], reconnection: false, forceNew: true };

async function connectMany(n, room) {
  const socks = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) {
      const s = io(`${url}/chat`, { ...opts, auth: { name: `c${j}` } });
      socks.push(s);
      batch.push(new Promise((res, rej) => {
        s.once("connect", () => (room ? s.emit("join", room, () => res()) : res()));
        s.once("connect_error", rej);
      }));
    }
    await Promise.all(batch);
  }
  return socks;
}

const room = `bench${N}`;
const receivers = await connectMany(N, room);
const [sender] = await connectMany(1, room);
const latencies = [];
let pending = 0, done = null;
for (const s of receivers) {
  s.on("message", (m) => {
    if (m.name !== "c0" || !m.text.startsWith("t")) return;
    latencies.push(performance.now() - Number(m.text.slice(1)));
    if (--pending === 0) done();
  });
}
// Warm-up, then the measured run.
const cpuStart = cpuTicks();
const start = performance.now();
for (let i = 0; i < M; i++) {
  pending = N;
  await new Promise((res) => { done = res; sender.emit("message", room, `t${performance.now()}`); });
}
const secs = (performance.now() - start) / 1000;
const cpuMs = (cpuTicks() - cpuStart) * 10;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
for (const s of [...receivers, sender]) s.disconnect();
await new Promise((r) => setTimeout(r, 500));

// Idle memory.
const before = rss();
const idleSocks = await connectMany(K, null);
await new Promise((r) => setTimeout(r, 1000));
const after = rss();
for (const s of idleSocks) s.disconnect();
console.log(JSON.stringify({
  clients: N, messages: M, deliveries: latencies.length,
  deliveries_per_s: Math.round(latencies.length / secs),
  p50_ms: +q(0.5).toFixed(2), p99_ms: +q(0.99).toFixed(2),
  server_cpu_ms: cpuMs, server_cpu_us_per_delivery: +(cpuMs * 1000 / latencies.length).toFixed(1),
  idle: K, rss_before: before, rss_after: after, bytes_per_idle: Math.round((after - before) / K),
}));
process.exit(0);
