#!/usr/bin/env python3
"""Bounded UDP flood on loopback for the live-capture drop test (docs/performance.md).

usage: udp-flood.py PORT COUNT RATE
Sends COUNT small datagrams to 127.0.0.1:PORT at about RATE packets per second (paced every
millisecond), to a socket of its own that never reads (the capture sees every frame before
the socket does). Prints what it sent and the rate it achieved. Only 127.0.0.1 is ever used.
"""
import socket
import sys
import time

port, count, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", port))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = ("127.0.0.1", port)
payload = b"x" * 18
per_tick = max(1, rate // 1000)
start = time.perf_counter()
sent = 0
while sent < count:
    for _ in range(min(per_tick, count - sent)):
        s.sendto(payload, dst)
    sent += min(per_tick, count - sent)
    # Pace: wait until this many packets are due.
    due = start + sent / rate
    delay = due - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
elapsed = time.perf_counter() - start
print(f"sent {sent} datagrams in {elapsed:.2f} s: {sent / elapsed:.0f} packets/s")
