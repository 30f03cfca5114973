#!/usr/bin/env python3
"""Write a pcap of N distinct UDP flows, one 20-byte datagram each, 10 us apart: the memory
benchmark of the inspector's flow tracker (docs/performance.md, "Inspector"; issue 18 saw 1.78 GB
for 500,000 such flows).

    scripts/bench/udp-flows.py FILE [N]      # N defaults to 500,000

Raw IPv4 frames (LINKTYPE_RAW), from 10.0.0.0/8 addresses and ports 1024 up to 192.0.2.1:53,
UDP checksum 0 (none). Reproducible: the same N gives the same bytes.
"""
import struct
import sys


def ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main() -> None:
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
    payload = b"\x00\x01\x01\x00\x00\x01" + bytes(14)
    with open(path, "wb") as f:
        # pcap header: microsecond timestamps, snap length 65535, LINKTYPE_RAW (101)
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i in range(n):
            src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            sport = 1024 + i % 60_000
            udp = struct.pack("!HHHH", sport, 53, 8 + len(payload), 0) + payload
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000,
                                 64, 17, 0, src, bytes([192, 0, 2, 1]))
            header = header[:10] + struct.pack("!H", ip_checksum(header)) + header[12:]
            frame = header + udp
            usecs = 1_700_000_000 * 1_000_000 + i * 10
            f.write(struct.pack("<IIII", usecs // 1_000_000, usecs % 1_000_000, len(frame),
                                len(frame)))
            f.write(frame)
    print(f"wrote {n} UDP flows to {path}")


if __name__ == "__main__":
    main()
