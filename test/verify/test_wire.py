"""scripts/lib/wire.py, the wire verdict of scripts/verify, over captures recorded from real
runs (KASHIM_VERIFY_KEEP=1 keeps a run's `run` and `wire` files; `verdict` is what verify
printed for them).

  passing_nc              nc client, idle 2 intvl 1 cnt 3: three probes, a reset, PASS
  wrong_expectation       the same run checked against --expect-intvl 2: FAIL on the intervals
  user_timeout_send       --user-timeout 3s --send: data outstanding, no probes, ended by the
                          user timeout
  user_timeout_keepalive  --user-timeout 2500ms: ended at the next keep-alive timer (3 s)
  ipv6                    --ipv6 nc: the endpoint is ::1.7000
  node_fallback           node in fallback mode: libuv's own 1 s idle and interval, 10 probes
  packet_socket_server    --server python3, captured by capture.py instead of tcpdump
  stop_after_two_probes   --stop-after-probes 2: the program stopped after two probes
  go_fallback_user_timeout  --mode fallback --user-timeout 1s --expect-idle 15 --expect-intvl 15
                          go: Go's own 15 s, ended by kashim's user timeout at the next timer
  attach_listener         --attach --server python3: kashim apply --pid on the listener, the
                          accepted connection inherits the settings
"""
import dataclasses
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "lib"))
import wire  # noqa: E402

CAPTURES = os.path.join(HERE, "captures")


def load(name):
    def read(file):
        with open(os.path.join(CAPTURES, name, file)) as f:
            return f.read()

    return wire.read_run(read("run")), wire.read_packets(read("wire")), read("verdict")


def rows(lines, label):
    return [line for line in lines if line.strip().startswith(label)]


class RecordedCaptures(unittest.TestCase):
    def test_every_capture_gives_the_verdict_verify_printed(self):
        names = sorted(os.listdir(CAPTURES))
        self.assertGreaterEqual(len(names), 10)
        for name in names:
            with self.subTest(capture=name):
                run, packets, printed = load(name)
                lines, failed = wire.verdict(run, packets)
                self.assertEqual("\n".join(lines) + "\n", printed)
                self.assertEqual(failed, printed.rstrip().endswith("FAIL"))

    def test_passing_run_finds_three_probes_a_second_apart_and_the_reset(self):
        run, packets, _ = load("passing_nc")
        seen = wire.observe(packets, run.side, run.endpoint, run.blackholed)
        self.assertEqual(len(seen.probes), 3)
        for earlier, later in zip(seen.probes, seen.probes[1:]):
            self.assertAlmostEqual(later - earlier, 1.0, delta=0.1)
        self.assertAlmostEqual(seen.probes[0] - seen.idle_from, 2.0, delta=0.1)
        self.assertAlmostEqual(seen.reset - seen.idle_from, 5.0, delta=0.2)

    def test_wrong_interval_fails_the_interval_rows_not_the_idle_row(self):
        run, packets, _ = load("wrong_expectation")
        lines, failed = wire.verdict(run, packets)
        self.assertTrue(failed)
        self.assertRegex(rows(lines, "probe 2 after probe 1")[0],
                         r"probe 2 after probe 1 +1\.[0-9]+s +expected 2\.000s \(intvl\) +FAIL")
        self.assertTrue(rows(lines, "probe 1 after idle")[0].endswith("PASS"))

    def test_ipv6_endpoint_is_matched(self):
        run, packets, _ = load("ipv6")
        self.assertEqual(run.endpoint, "::1.7000")
        self.assertEqual(len(wire.observe(packets, run.side, run.endpoint).probes), 3)

    def test_server_side_probes_come_from_the_listening_port(self):
        run, packets, _ = load("packet_socket_server")
        self.assertEqual(run.side, "server")
        seen = wire.observe(packets, run.side, run.endpoint)
        self.assertEqual(len(seen.probes), 3)
        self.assertIsNotNone(seen.reset)
        # The same capture read as if the client were tuned: the client sent no probes.
        self.assertEqual(wire.observe(packets, "client", run.endpoint).probes, [])

    def test_data_in_flight_counts_from_the_first_data_sent_after_the_blackhole(self):
        run, packets, _ = load("user_timeout_send")
        seen = wire.observe(packets, run.side, run.endpoint, run.blackholed)
        self.assertEqual(seen.probes, [])
        self.assertGreaterEqual(seen.first_data, run.blackholed)
        lines, failed = wire.verdict(run, packets)
        self.assertFalse(failed)
        self.assertIn("expected 3.000s (user timeout)", rows(lines, "dead peer detected")[0])


class Mutations(unittest.TestCase):
    """The passing capture changed the way a broken run would be: each change must FAIL."""

    def setUp(self):
        self.run, self.packets, _ = load("passing_nc")

    def failing_rows(self, run=None, packets=None):
        lines, failed = wire.verdict(run or self.run, self.packets if packets is None else packets)
        self.assertTrue(failed)
        return [line[2:28].strip() for line in lines
                if line.startswith("  ") and line.endswith("FAIL")]

    def test_a_missing_probe(self):
        seen = wire.observe(self.packets, self.run.side, self.run.endpoint)
        packets = [p for p in self.packets if p.time != seen.probes[-1]]
        self.assertEqual(self.failing_rows(packets=packets), ["probes unanswered"])

    def test_no_reset(self):
        packets = [p for p in self.packets if "R" not in p.flags]
        self.assertEqual(self.failing_rows(packets=packets), ["reset from the tuned side"])

    def test_no_keepalive_timer(self):
        run = dataclasses.replace(self.run, kernel_timers="")
        self.assertEqual(self.failing_rows(run=run), ["keep-alive timer"])

    def test_a_hung_program(self):
        run = dataclasses.replace(self.run, status=124)
        self.assertEqual(self.failing_rows(run=run), ["tuned program"])

    def test_a_longer_idle_than_seen(self):
        run = dataclasses.replace(self.run, idle_ms=4000)
        self.assertEqual(self.failing_rows(run=run), ["probe 1 after idle", "reset sent after",
                                                      "program saw the end after"])

    def test_an_empty_capture(self):
        self.assertEqual(self.failing_rows(packets=[]),
                         ["probes unanswered", "reset from the tuned side",
                          "packets to the tuned side"])


class GoFallback(unittest.TestCase):
    def test_go_s_own_fifteen_seconds_and_kashim_s_user_timeout(self):
        run, packets, _ = load("go_fallback_user_timeout")
        seen = wire.observe(packets, run.side, run.endpoint)
        self.assertEqual(len(seen.probes), 1)
        self.assertAlmostEqual(seen.probes[0] - seen.idle_from, 15.0, delta=1.0)
        self.assertAlmostEqual(seen.reset - seen.idle_from, 30.0, delta=1.0)

    def test_the_same_wire_fails_against_kashim_s_values(self):
        run, packets, _ = load("go_fallback_user_timeout")
        forced = dataclasses.replace(run, idle_ms=2000, intvl_ms=1000)
        lines, failed = wire.verdict(forced, packets)
        self.assertTrue(failed)
        self.assertTrue(rows(lines, "probe 1 after idle")[0].endswith("FAIL"))


class UserTimeoutModel(unittest.TestCase):
    def test_the_first_keepalive_timer_at_or_after_the_user_timeout(self):
        cases = [  # idle, intvl, user timeout -> end (ms)
            (2000, 1000, 2500, 3000), (2000, 1000, 3000, 3000), (2000, 1000, 3001, 4000),
            (2000, 1000, 1, 3000),  # at least one probe goes out: k >= 1
            (2000, 1000, 5000, 5000), (15000, 15000, 60000, 60000), (2000, 3000, 9000, 11000),
        ]
        for idle, intvl, user_timeout, end in cases:
            with self.subTest(idle=idle, intvl=intvl, user_timeout=user_timeout):
                self.assertEqual(wire.user_timeout_end_ms(idle, intvl, user_timeout), end)

    def test_recorded_run_ends_at_the_next_timer(self):
        run, packets, _ = load("user_timeout_keepalive")
        self.assertEqual(run.user_timeout_ms, 2500)
        lines, _ = wire.verdict(run, packets)
        self.assertIn("expected 3.000s (user timeout, next timer)", rows(lines, "reset sent")[0])


class TimeLimit(unittest.TestCase):
    def test_twice_the_expected_end_and_fifteen_seconds(self):
        run, _, _ = load("passing_nc")  # idle 2 + intvl 1 x cnt 3
        self.assertEqual(wire.time_limit_s(run), 5 * 2 + 15)
        # Go's own 15 s in fallback with a user timeout of 1 s: ends at the second timer.
        go = dataclasses.replace(run, idle_ms=15000, intvl_ms=15000, user_timeout_ms=1000)
        self.assertEqual(wire.expected_end_ms(go), 30000)
        self.assertEqual(wire.time_limit_s(go), 75)
        sent, _, _ = load("user_timeout_send")  # the user timeout alone
        self.assertEqual(wire.expected_end_ms(sent), 3000)
        stopped, _, _ = load("stop_after_two_probes")
        self.assertEqual(wire.expected_end_ms(stopped), 3000)


class Tolerance(unittest.TestCase):
    def test_half_a_second_plus_ten_percent_either_way(self):
        for expected in (1.0, 2.0, 15.0):
            margin = 0.5 + 0.1 * expected
            for measured, ok in ((expected + margin - 1e-6, True),
                                 (expected - margin + 1e-6, True),
                                 (expected + margin + 1e-3, False),
                                 (expected - margin - 1e-3, False)):
                report = wire.Report()
                report.check("x", measured, expected, "(why)")
                self.assertEqual(report.failed, not ok, (expected, measured))


class StopAfterProbes(unittest.TestCase):
    def test_only_the_first_probes_are_checked_and_no_end_is_awaited(self):
        run, packets, _ = load("stop_after_two_probes")
        lines, failed = wire.verdict(run, packets)
        self.assertFalse(failed)
        self.assertEqual(rows(lines, "reset"), [])
        self.assertEqual(rows(lines, "program saw the end"), [])
        self.assertEqual(len(rows(lines, "probe ")), 2)

    def test_fewer_probes_than_asked_fail(self):
        run, packets, _ = load("stop_after_two_probes")
        run = dataclasses.replace(run, stop_after_probes=3)
        lines, failed = wire.verdict(run, packets)
        self.assertTrue(failed)
        self.assertTrue(rows(lines, "probes before the stop")[0].endswith("FAIL"))


class CaptureLines(unittest.TestCase):
    def test_tcpdump_and_packet_socket_lines(self):
        tcpdump = ("1795649695.425715 IP 127.0.0.1.37712 > 127.0.0.1.7000: Flags [.], ack 1, "
                   "win 64, options [nop,nop,TS val 1 ecr 2], length 0")
        packet = wire.parse_packet(tcpdump)
        self.assertEqual((packet.source, packet.destination, packet.flags, packet.length),
                         ("127.0.0.1.37712", "127.0.0.1.7000", ".", 0))
        ours = "1795308467.153660 IP6 ::1.7000 > ::1.39732: Flags [R.], length 12"
        packet = wire.parse_packet(ours)
        self.assertEqual((packet.source, packet.destination, packet.flags, packet.length),
                         ("::1.7000", "::1.39732", "R.", 12))

    def test_lines_that_are_not_packets(self):
        for line in ("", "tcpdump: verbose output suppressed", "listening on lo",
                     "x IP a > b: Flags [.], length 0", "1.0 IP a b c d"):
            self.assertIsNone(wire.parse_packet(line), line)


if __name__ == "__main__":
    unittest.main()
