#!/usr/bin/env python3
"""The wire verdict of scripts/verify: what the capture shows beside what the settings promise.

verify's bash side makes the namespace, runs the programs, blackholes the peer and records
two files; this module reads them and prints the report's rows and PASS or FAIL:

  RUN    key=value lines: side (client|server), endpoint (the peer's "HOST.PORT" as the
         capture prints it), idle_ms, intvl_ms, cnt, user_timeout_ms (empty: none) -- the
         expectations, from the library's own report (expectations.py) --, send (true|false),
         stop_after_probes (empty, or N: the run was ended after N probes), blackholed and
         ended (epoch seconds), status (the tuned program's exit status), kernel_timers (the
         `timer:(...)` fields ss showed), wire_tool (what captured the packets)
  WIRE   the capture, one packet a line, as `tcpdump -l -tt -n` prints them (capture.py
         writes the same form):
         1795308467.153660 IP 127.0.0.1.39732 > 127.0.0.1.7000: Flags [.], length 0

Measured times pass within 0.5 s + 10 % of the expected ones.

Usage: wire.py RUN WIRE                 the report rows, then PASS (exit 0) or FAIL (exit 1)
       wire.py --count-probes RUN WIRE  the number of keep-alive probes seen so far
       wire.py --time-limit RUN         how long verify lets the tuned program run, in s
"""
import re
import sys
from dataclasses import dataclass, field
from typing import List, Optional

FLAGS = re.compile(r"Flags \[([^\]]*)\]")
LENGTH = re.compile(r"length (\d+)")
# An ordinary ACK follows what it acknowledges within milliseconds; a keep-alive probe is a
# pure ACK sent into silence, long after the last packet received.
PROBE_SILENCE_S = 0.5


@dataclass
class Packet:
    time: float
    source: str
    destination: str
    flags: str
    length: int


@dataclass
class Run:
    side: str
    endpoint: str
    idle_ms: int
    intvl_ms: int
    cnt: int
    user_timeout_ms: Optional[int]
    send: bool
    stop_after_probes: Optional[int]
    blackholed: float
    ended: float
    status: int
    kernel_timers: str
    wire_tool: str


@dataclass
class Observation:
    probes: List[float] = field(default_factory=list)
    idle_from: Optional[float] = None  # the last packet received before the first probe
    last_received: Optional[float] = None
    reset: Optional[float] = None  # the tuned side's first RST
    first_data: Optional[float] = None  # the tuned side's first payload after the blackhole


def parse_packet(line):
    """A Packet from one capture line, or None for a line that is not a TCP packet."""
    words = line.split()
    flags, length = FLAGS.search(line), LENGTH.search(line)
    if len(words) < 5 or words[3] != ">" or not flags or not length:
        return None
    try:
        time = float(words[0])
    except ValueError:
        return None
    return Packet(time, words[2], words[4].rstrip(":"), flags.group(1), int(length.group(1)))


def read_run(text):
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def number(key, kind=int):
        return kind(values[key]) if values.get(key, "") != "" else None

    return Run(side=values["side"], endpoint=values["endpoint"], idle_ms=number("idle_ms"),
               intvl_ms=number("intvl_ms"), cnt=number("cnt"),
               user_timeout_ms=number("user_timeout_ms"), send=values.get("send") == "true",
               stop_after_probes=number("stop_after_probes"),
               blackholed=number("blackholed", float), ended=number("ended", float),
               status=number("status"), kernel_timers=values.get("kernel_timers", ""),
               wire_tool=values.get("wire_tool", ""))


def observe(packets, side, endpoint, blackholed=None):
    """What the tuned side did on the wire: its probes, its reset, its data after the blackhole."""
    seen = Observation()
    for packet in packets:
        peer_end = packet.destination if side == "client" else packet.source
        tuned_end = packet.source if side == "client" else packet.destination
        to_peer, from_peer = peer_end == endpoint, tuned_end == endpoint
        if from_peer:
            seen.last_received = packet.time
        if not to_peer:
            continue
        if "R" in packet.flags and seen.reset is None:
            seen.reset = packet.time
        if (packet.length > 0 and blackholed is not None and packet.time >= blackholed
                and seen.first_data is None):
            seen.first_data = packet.time
        if (packet.flags == "." and packet.length == 0 and seen.last_received is not None
                and packet.time - seen.last_received > PROBE_SILENCE_S):
            if not seen.probes:
                seen.idle_from = seen.last_received
            seen.probes.append(packet.time)
    return seen


def tolerance(seconds):
    return 0.5 + 0.1 * seconds


def user_timeout_end_ms(idle_ms, intvl_ms, user_timeout_ms):
    """When a connection with TCP_USER_TIMEOUT set ends on an idle dead peer.

    Once a probe is out, the kernel drops the connection at the first keep-alive timer that
    fires at least user_timeout after the last packet received: idle + k x intvl for the
    smallest k >= 1 that gets there.
    """
    k = max(1, -(-(user_timeout_ms - idle_ms) // intvl_ms))  # ceiling division
    return idle_ms + k * intvl_ms


def expected_end_ms(run):
    """How long after the last packet received (with --send: after the blackhole) the run
    should end."""
    if run.send:
        return run.user_timeout_ms
    if run.stop_after_probes is not None:
        return run.idle_ms + run.intvl_ms * (run.stop_after_probes - 1)
    if run.user_timeout_ms is not None:
        return user_timeout_end_ms(run.idle_ms, run.intvl_ms, run.user_timeout_ms)
    return run.idle_ms + run.intvl_ms * run.cnt


def time_limit_s(run):
    """How long verify lets the tuned program run: twice the expected end, and 15 s more."""
    return expected_end_ms(run) * 2 // 1000 + 15


class Report:
    def __init__(self):
        self.lines = []
        self.failed = False

    def row(self, label, measured, expected, ok):
        self.lines.append("  %-26s %9s   %-44s %s" % (label, measured, expected,
                                                     "PASS" if ok else "FAIL"))
        self.failed = self.failed or not ok

    def check(self, label, measured_s, expected_s, why):
        ok = abs(measured_s - expected_s) <= tolerance(expected_s)
        self.row(label, "%.3fs" % measured_s, "expected %.3fs %s" % (expected_s, why), ok)

    def count(self, label, measured, expected, why):
        self.row(label, measured, "expected %s %s" % (expected, why), measured == expected)


def check_probe_times(report, run, probes, idle_from):
    for i, probe in enumerate(probes):
        if i == 0:
            report.check("probe 1 after idle", probe - idle_from, run.idle_ms / 1000, "(idle)")
        else:
            report.check("probe %d after probe %d" % (i + 1, i), probe - probes[i - 1],
                         run.intvl_ms / 1000, "(intvl)")


def verdict(run, packets):
    """The report's lines (rows, a blank line, PASS or FAIL) and whether the run failed."""
    seen = observe(packets, run.side, run.endpoint, run.blackholed)
    report = Report()
    report.lines.append("wire: " + run.wire_tool)
    running = "timer:(keepalive" in run.kernel_timers
    report.row("keep-alive timer", "running" if running else "none", "expected running", running)
    # Keep-alive's idle time counts from the last packet the tuned side received.
    start = seen.idle_from if seen.probes else seen.last_received
    if run.stop_after_probes is not None:
        check_probe_times(report, run, seen.probes[:run.stop_after_probes], seen.idle_from)
        report.count("probes before the stop", len(seen.probes), run.stop_after_probes,
                     "(--stop-after-probes)")
    elif run.send:
        report.count("keep-alive probes", len(seen.probes), 0, "(none while data is unacked)")
        if seen.first_data is not None:
            report.check("dead peer detected after", run.ended - seen.first_data,
                         run.user_timeout_ms / 1000, "(user timeout)")
        else:
            report.row("data sent after blackhole", "none", "expected some", False)
    else:
        check_probe_times(report, run, seen.probes, seen.idle_from)
        if run.user_timeout_ms is None:
            report.count("probes unanswered", len(seen.probes), run.cnt, "(cnt)")
            why = "(idle + intvl x cnt)"
        else:
            why = "(user timeout, next timer)"
        end_s = expected_end_ms(run) / 1000
        if seen.reset is not None and start is not None:
            report.check("reset sent after", seen.reset - start, end_s, why)
        else:
            report.row("reset from the tuned side", "none", "expected one", False)
        if start is not None:
            report.check("program saw the end after", run.ended - start, end_s, why)
        else:
            report.row("packets to the tuned side", "none", "expected some", False)
    if run.status == 124 and run.stop_after_probes is None:
        report.row("tuned program", "hung", "expected to see the peer die", False)
    if run.stop_after_probes is not None:
        report.lines.append("  (stopped after %d probes: the dead peer's detection was not awaited)"
                            % run.stop_after_probes)
    report.lines += ["", "FAIL" if report.failed else "PASS"]
    return report.lines, report.failed


def read_packets(text):
    return [packet for packet in map(parse_packet, text.splitlines()) if packet]


def main(argv):
    if argv[:1] == ["--time-limit"] and len(argv) == 2:
        with open(argv[1]) as run_file:
            print(time_limit_s(read_run(run_file.read())))
        return 0
    count_only = argv[:1] == ["--count-probes"]
    paths = argv[1:] if count_only else argv
    if len(paths) != 2:
        print("\n".join(__doc__.strip().splitlines()[-3:]), file=sys.stderr)
        return 2
    with open(paths[0]) as run_file, open(paths[1]) as wire_file:
        run, packets = read_run(run_file.read()), read_packets(wire_file.read())
    if count_only:
        print(len(observe(packets, run.side, run.endpoint).probes))
        return 0
    lines, failed = verdict(run, packets)
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
