"""A framing server with the classic mistake: it treats every read as one whole message.
It passes when each message arrives in a read of its own, and fails under adversarial chunking.
Usage: python3 naive_framing.py PORT"""

import json
import socket
import sys
import threading


def serve(conn):
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:
                return
            try:
                msg = json.loads(data)
                reply = {"id": msg["id"], "upper": msg["text"].upper()}
            except (ValueError, KeyError, TypeError):
                reply = {"error": "bad message"}
            conn.sendall((json.dumps(reply) + "\n").encode())


def main():
    server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
