#!/usr/bin/env python3
"""Mixed loopback traffic for the inspector benchmark (docs/performance.md, "Inspector").

Bounded: UDP echo exchanges on 127.0.0.1:7007 (netlab echo's port, so the dissector labels them
Echo), DNS queries answered on 127.0.0.1:53, and HTTP/1.0 GETs to a local http.server. About
105,000 packets in all; run it while `netlab inspect live -c 100000 -w FILE` captures.
Everything stays on 127.0.0.1.
"""
import http.server
import socket
import struct
import sys
import threading
import urllib.request

UDP_EXCHANGES = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
DNS_EXCHANGES = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
HTTP_GETS = int(sys.argv[3]) if len(sys.argv) > 3 else 2_500


def udp_server(sock, count, reply):
    for _ in range(count):
        data, addr = sock.recvfrom(2048)
        sock.sendto(reply(data), addr)


def dns_answer(q):
    # Same id and question, one A record for 127.0.0.1 that points back at the question name.
    head = q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
    return head + q[12:] + struct.pack(">HHHIH", 0xC00C, 1, 1, 300, 4) + bytes([127, 0, 0, 1])


def bind_udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    return s


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    echo = bind_udp(7007)
    dns = bind_udp(53)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=udp_server, args=(echo, UDP_EXCHANGES, lambda d: d), daemon=True).start()
    threading.Thread(target=udp_server, args=(dns, DNS_EXCHANGES, dns_answer), daemon=True).start()
    threading.Thread(target=web.serve_forever, daemon=True).start()

    c = bind_udp(0)
    c.settimeout(2)
    for i in range(UDP_EXCHANGES):
        c.sendto(b"echo %d\n" % i, ("127.0.0.1", 7007))
        c.recvfrom(2048)
    name = b"".join(bytes([len(p)]) + p for p in [b"lab", b"netlab", b"test"]) + b"\0"
    for i in range(DNS_EXCHANGES):
        q = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
        c.sendto(q, ("127.0.0.1", 53))
        c.recvfrom(512)
    url = "http://127.0.0.1:%d/" % web.server_address[1]
    for _ in range(HTTP_GETS):
        urllib.request.urlopen(url, timeout=2).read()
    web.shutdown()


if __name__ == "__main__":
    main()
