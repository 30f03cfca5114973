"""Broken pingers. Usage: python3 bad_pinger.py MODE HOST:PORT COUNT

lossless  sends every probe but counts a timeout as a reply (always 0% loss)
seconds   measures RTT in seconds instead of milliseconds
hang      sends the probes, then never exits
"""

import socket
import sys
import time


def main():
    mode, server, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    host, port = server.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    rtts = []
    for seq in range(1, count + 1):
        start = time.monotonic()
        sock.sendto(f"probe {seq}".encode(), (host, int(port)))
        try:
            sock.recvfrom(1500)
            rtts.append(time.monotonic() - start)
        except socket.timeout:
            if mode == "lossless":
                rtts.append(time.monotonic() - start)
    if mode == "hang":
        time.sleep(3600)
    scale = 1 if mode == "seconds" else 1000
    ms = [r * scale for r in rtts]
    loss = 100 * (count - len(rtts)) / count
    print(f"{count} probes sent, {len(rtts)} replies, {loss:.1f}% loss")
    print(f"rtt min/avg/max = {min(ms):.3f}/{sum(ms) / len(ms):.3f}/{max(ms):.3f} ms")


if __name__ == "__main__":
    main()
