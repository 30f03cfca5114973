"""PyPI `python-socketio` (written by its authors, not here) against a server that runs the
conformance app (/, /custom) and the chat (/chat): netlab's, or reference-server.mjs.

    python3 client.py URL SCENARIO [TRANSPORTS]

SCENARIO: conformance | chat | recovery. TRANSPORTS: polling,websocket (the default: start on
polling, then upgrade), polling (forced long-polling only) or websocket (WebSocket only).
Prints one JSON object per line: {"step": ...} as each check passes, {"done": true, ...} at the
end; on a failure {"error": ...} and exit status 1. Every wait has a timeout.

python-socketio has no connection state recovery of its own: the recovery scenario sends the
`pid` and `offset` that socket.io-client 4.x would send, in the CONNECT's auth, exactly as that
client does, so the server side is exercised the same way.
"""

import json
import queue
import sys
import threading
import traceback

import socketio

WAIT = 5.0


def say(obj):
    print(json.dumps(obj), flush=True)


def fail(msg):
    say({"error": msg})
    sys.stdout.flush()
    # os._exit: the client's background threads must not keep a failed run alive.
    import os

    os._exit(1)


def check(cond, what):
    if not cond:
        fail(f"check failed: {what}")


class Recorder(socketio.Client):
    """A python-socketio client that also keeps the `pid` of each CONNECT answer."""

    def __init__(self, **kw):
        super().__init__(reconnection=False, **kw)
        self.pids = {}
        # One queue per (event, namespace): waiting for one never drops another.
        self.events = {}

    def _handle_connect(self, namespace, data):
        self.pids[namespace or "/"] = (data or {}).get("pid")
        super()._handle_connect(namespace, data)

    def record(self, event, namespace="/"):
        q = self.events.setdefault((event, namespace), queue.Queue())
        self.on(event, lambda *args: q.put(list(args)), namespace=namespace)

    def next(self, event, namespace="/"):
        try:
            return self.events[(event, namespace)].get(timeout=WAIT)
        except queue.Empty:
            fail(f"no {event} on {namespace} within {WAIT} s")


def first(args, n):
    """The first n arguments; a server with recovery on adds the event's offset (a string)."""
    check(len(args) == n or (len(args) == n + 1 and isinstance(args[n], str)), f"{len(args)} arguments")
    return args[:n]


def as_list(ack):
    """python-socketio's call() returns one argument as itself, several as a tuple."""
    return list(ack) if isinstance(ack, (tuple, list)) else [ack]


def conformance(url, transports):
    c = Recorder()
    for ns in ("/", "/custom"):
        for ev in ("auth", "message-back", "callback-result"):
            c.record(ev, ns)
    asked = queue.Queue()

    def on_callback(*args):
        asked.put(list(args))
        return ("x", "back")

    c.on("callback", on_callback)
    c.connect(url, auth={"token": "123"}, transports=transports, namespaces=["/", "/custom"], wait_timeout=WAIT)
    say({"step": "open", "transport": c.transport()})
    check(first(c.next("auth"), 1) == [{"token": "123"}], "auth payload")
    say({"step": "auth", "transport": c.transport()})

    args = [1, "2", {"3": [True]}]
    c.emit("message", tuple(args))
    check(first(c.next("message-back"), 3) == args, "message-back")
    say({"step": "message-back"})
    check(as_list(c.call("message-with-ack", tuple(args), timeout=WAIT)) == args, "ack from server")
    say({"step": "ack from server"})

    data = bytes([1, 2, 3, 255])
    c.emit("message", (data, {"nested": b"hi"}))
    b1, b2 = first(c.next("message-back"), 2)
    check(b1 == data and b2 == {"nested": b"hi"}, "binary message-back")
    check(as_list(c.call("message-with-ack", data, timeout=WAIT)) == [data], "binary ack")
    say({"step": "binary"})

    c.emit("call-me-back", "x")
    try:
        got = asked.get(timeout=WAIT)
    except queue.Empty:
        fail("no callback within the timeout")
    check(first(got, 1) == ["x"], "callback arguments")
    check(as_list(c.call("callback-result", timeout=WAIT)) == ["x", "back"], "ack from client")
    say({"step": "ack from client"})

    # The second namespace, joined by connect() over the same Engine.IO session.
    check(first(c.next("auth", "/custom"), 1) == [{"token": "123"}], "auth on /custom")
    check(set(c.namespaces) == {"/", "/custom"}, f"namespaces {c.namespaces}")
    check(as_list(c.call("message-with-ack", "c", namespace="/custom", timeout=WAIT)) == ["c"], "ack on /custom")
    say({"step": "second namespace"})

    if len(transports) > 1:
        # python-engineio upgrades right after the handshake, before connect() returns.
        check(c.transport() == "websocket", f"upgraded, now on {c.transport()}")
        check(as_list(c.call("message-with-ack", "after upgrade", timeout=WAIT)) == ["after upgrade"], "ack after the upgrade")
        say({"step": "upgrade", "transport": c.transport()})
    transport = c.transport()
    c.disconnect()
    say({"done": True, "transport": transport})


def chat(url, transports):
    c = Recorder()
    c.record("message", "/chat")
    c.connect(url, auth={"name": "python"}, transports=transports, namespaces=["/chat"], wait_timeout=WAIT)
    check(c.call("join", "lobby", namespace="/chat", timeout=WAIT) == {"ok": True, "room": "lobby"}, "join")
    say({"step": "joined"})
    msg = first(c.next("message", "/chat"), 1)[0]
    check(msg == {"name": "ada", "room": "lobby", "text": "hello from tcp"}, f"heard {msg}")
    say({"step": "heard tcp"})
    check(c.call("message", ("lobby", "hello from python"), namespace="/chat", timeout=WAIT) == {"ok": True}, "message ack")
    transport = c.transport()
    c.disconnect()
    say({"done": True, "transport": transport})


def recovery(url, transports):
    texts = []
    offsets = []
    got = threading.Condition()

    def on_message(*args):
        with got:
            texts.append(args[0]["text"])
            # socket.io's offset: the last argument, a string (what socket.io-client remembers).
            if len(args) > 1 and isinstance(args[-1], str):
                offsets.append(args[-1])
            got.notify_all()

    def wait_for(n):
        with got:
            if not got.wait_for(lambda: len(texts) >= n, timeout=WAIT):
                fail(f"{len(texts)} messages, wanted {n}: {texts}")

    a = Recorder()
    a.on("message", on_message, namespace="/chat")
    b = Recorder()
    a.connect(url, auth={"name": "a"}, transports=transports, namespaces=["/chat"], wait_timeout=WAIT)
    b.connect(url, auth={"name": "b"}, transports=transports, namespaces=["/chat"], wait_timeout=WAIT)
    a.call("join", "r", namespace="/chat", timeout=WAIT)
    b.call("join", "r", namespace="/chat", timeout=WAIT)
    b.call("message", ("r", "seen"), namespace="/chat", timeout=WAIT)
    wait_for(1)
    pid, sid = a.pids["/chat"], a.namespaces["/chat"]
    check(pid is not None, "the server sent a pid")
    # Drop the Engine.IO connection without a Socket.IO DISCONNECT, as a network failure would.
    a.eio.disconnect(abort=True)
    say({"step": "dropped"})
    for t in ("missed 1", "missed 2"):
        check(b.call("message", ("r", t), namespace="/chat", timeout=WAIT) == {"ok": True}, "message ack")
    a2 = Recorder()
    a2.on("message", on_message, namespace="/chat")
    auth = {"name": "a", "pid": pid, "offset": offsets[-1]}
    a2.connect(url, auth=auth, transports=transports, namespaces=["/chat"], wait_timeout=WAIT)
    check(a2.pids["/chat"] == pid and a2.namespaces["/chat"] == sid, f"the same session (recovered): {pid} {sid} {a2.pids} {a2.namespaces}")
    wait_for(3)
    check(texts == ["seen", "missed 1", "missed 2"], f"messages {texts}")
    say({"step": "recovered", "missed": texts[1:]})
    transport = a2.transport()
    a2.disconnect()
    b.disconnect()
    say({"done": True, "transport": transport})


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("conformance", "chat", "recovery"):
        fail("usage: python3 client.py URL conformance|chat|recovery [polling|websocket|polling,websocket]")
    url, scenario = sys.argv[1], sys.argv[2]
    transports = (sys.argv[3] if len(sys.argv) > 3 else "polling,websocket").split(",")
    # The whole script is bounded too.
    timer = threading.Timer(20.0, lambda: fail(f"{scenario} took longer than 20 s"))
    timer.daemon = True
    timer.start()
    try:
        globals()[scenario](url, transports)
    except SystemExit:
        raise
    except BaseException:
        fail(traceback.format_exc())
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
