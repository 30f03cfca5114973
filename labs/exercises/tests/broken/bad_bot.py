"""Chat bots with one mistake each. Usage: python3 bad_bot.py MODE HOST:PORT

noresume   reconnects after a drop as a new session (misses what was said meanwhile)
forgetful  never confirms, and resumes from seq 0 without skipping replays (answers twice)
chatty     answers every message with pong, not just !ping
"""

import json
import socket
import sys
import time


def run(mode, host, port, state):
    sock = socket.create_connection((host, port))
    reader = sock.makefile("rb")
    ack = [0]

    def send(frame):
        sock.sendall((json.dumps(frame) + "\n").encode())

    def emit(name, args):
        ack[0] += 1
        send({"type": "event", "ns": "/chat", "name": name, "args": args, "ack": ack[0]})

    connect = {"type": "connect", "ns": "/chat", "auth": {"name": "bot"}}
    if state.get("session") and mode != "noresume":
        connect["resume"] = {"session": state["session"], "seq": 0}
    send(connect)
    for line in reader:
        frame = json.loads(line)
        if frame.get("type") == "connected":
            state["session"] = frame["session"]
            if not frame.get("recovered"):
                emit("join", ["lobby"])
        elif frame.get("type") == "event" and frame.get("name") == "message":
            msg = frame["args"][0]
            if mode != "forgetful" and "seq" in frame:
                send({"type": "received", "ns": "/chat", "seq": frame["seq"]})
            if msg.get("name") != "bot" and (mode == "chatty" or msg.get("text") == "!ping"):
                emit("message", ["lobby", "pong"])


def main():
    mode = sys.argv[1]
    host, port = sys.argv[2].rsplit(":", 1)
    state = {}
    for _ in range(100):
        try:
            run(mode, host, int(port), state)
        except OSError:
            pass
        time.sleep(0.2)


if __name__ == "__main__":
    main()
