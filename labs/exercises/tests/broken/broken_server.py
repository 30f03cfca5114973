"""Deliberately broken servers, to prove every check can fail and the grader survives them.
Usage: python3 broken_server.py MODE PORT

never   exits at once without listening        silent  listens, never answers, never closes
wrong   answers every read in upper case       crash   echoes 100 bytes in all, then dies
flood   answers every connection with megabytes of garbage, and floods stdout too
"""

import os
import socket
import sys
import threading
import time


def serve(mode, conn, state):
    with conn:
        if mode == "flood":
            garbage = bytes(range(256)) * 4096  # 1 MiB
            try:
                for _ in range(64):
                    conn.sendall(garbage)
            except OSError:
                pass
            return
        while True:
            data = conn.recv(65536)
            if not data:
                return
            if mode == "silent":
                continue
            if mode == "wrong":
                conn.sendall(data.upper())
            elif mode == "crash":
                state["echoed"] += len(data)
                conn.sendall(data[:100])
                if state["echoed"] >= 100:
                    os._exit(3)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "never":
        print("not listening today", file=sys.stderr, flush=True)
        sys.exit(4)
    if mode == "flood":
        threading.Thread(target=flood_stdout, daemon=True).start()
    server = socket.create_server(("127.0.0.1", port))
    state = {"echoed": 0}
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(mode, conn, state), daemon=True).start()


def flood_stdout():
    line = b"garbage \x00\xff" * 1000 + b"\n"
    while True:
        try:
            sys.stdout.buffer.write(line)
        except OSError:
            return


if __name__ == "__main__":
    main()
