"""Reference solution of exercise 1 (tcp-echo) in Python: the grader only talks over sockets,
so any language works. Run: python3 tcp_echo.py PORT"""

import socket
import sys
import threading


def echo(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:  # the client half-closed: we are done, and close too
                return
            conn.sendall(data)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7007
    server = socket.create_server(("127.0.0.1", port))
    print(f"listening on tcp 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = server.accept()
        # A thread per client, so that an idle client never blocks another.
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
