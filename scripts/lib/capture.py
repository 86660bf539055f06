#!/usr/bin/env python3
"""TCP packets on the loopback interface, printed the way `tcpdump -l -tt -n -i lo` does.

scripts/verify uses tcpdump when it can; inside an unprivileged user namespace tcpdump
refuses to start (it insists on switching to its own user, which needs setgroups), so this
capture, a plain AF_PACKET socket, stands in for it. It prints only what verify reads:

    1795308467.153660 IP 127.0.0.1.39732 > 127.0.0.1.7000: Flags [.], length 0

Usage: capture.py PORT   (packets to or from PORT; "listening on lo" on stderr when ready)
"""
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # on lo every packet is seen leaving and arriving: keep one copy


def flags_text(flags):
    text = "".join(letter for bit, letter in ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"))
                   if flags & bit)
    return text + ("." if flags & 0x10 else "")


def describe(frame):
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        header = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        source, destination, family = ip[12:16], ip[16:20], socket.AF_INET
        tcp, payload_end, label = ip[header:], total - header, "IP"
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        source, destination, family = ip[8:24], ip[24:40], socket.AF_INET6
        tcp, payload_end, label = ip[40:], struct.unpack("!H", ip[4:6])[0], "IP6"
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[0:4])
    offset = (tcp[12] >> 4) * 4
    return (sport, dport, "%s %s.%d > %s.%d: Flags [%s], length %d" % (
        label, socket.inet_ntop(family, source), sport, socket.inet_ntop(family, destination),
        dport, flags_text(tcp[13]), payload_end - offset))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(sys.argv[1])
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    capture.bind(("lo", 0))
    print("listening on lo (packet socket)", file=sys.stderr, flush=True)
    while True:
        frame, address = capture.recvfrom(65535)
        stamp = time.time()
        if address[2] == PACKET_OUTGOING:
            continue
        packet = describe(frame)
        if packet and port in packet[:2]:
            print("%.6f %s" % (stamp, packet[2]), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
