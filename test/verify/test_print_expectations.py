"""scripts/verify reads durations with the library's parser: every duration `kashim --check`
accepts means the same to verify (--print-expectations shows what a run would expect, without
running it). Needs the built library (KASHIM_LIBRARY)."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
import expectations  # noqa: E402


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def verify_expects(*options):
    done = run(os.path.join(ROOT, "scripts", "verify"), "--print-expectations", *options)
    if done.returncode != 0:
        raise AssertionError("verify %s: exit %d: %s" % (options, done.returncode, done.stderr))
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def kashim_reads(*options):
    done = run(os.path.join(ROOT, "scripts", "kashim"), "--check", *options)
    return expectations.parse_report(done.stdout)


class Durations(unittest.TestCase):
    def test_what_kashim_accepts_means_the_same_to_verify(self):
        cases = [("--idle", "08", "idle_ms", 8000), ("--idle", "1h", "idle_ms", 3600000),
                 ("--idle", "90s", "idle_ms", 90000), ("--intvl", "2m", "intvl_ms", 120000),
                 ("--cnt", "07", "cnt", 7), ("--user-timeout", "2500ms", "user_timeout_ms", 2500)]
        for option, value, key, number in cases:
            with self.subTest(option=option, value=value):
                self.assertEqual(kashim_reads(option, value)[key], number)
                self.assertEqual(verify_expects(option, value)[key], str(number))

    def test_expected_values_are_read_the_same_way(self):
        seen = verify_expects("--idle", "2", "--expect-idle", "1h", "--expect-intvl", "08",
                              "--expect-cnt", "010")
        self.assertEqual(seen, {"idle_ms": "3600000", "intvl_ms": "8000", "cnt": "10",
                                "user_timeout_ms": ""})

    def test_auto_user_timeout_follows_the_expected_values(self):
        seen = verify_expects("--user-timeout", "auto", "--expect-intvl", "2")
        self.assertEqual(seen["user_timeout_ms"], str(2000 + 2000 * 3))

    def test_what_kashim_refuses_verify_refuses_with_the_library_s_reason(self):
        for options in (("--idle", "0"), ("--idle", "1.5s"), ("--expect-intvl", "40000")):
            with self.subTest(options=options):
                done = run(os.path.join(ROOT, "scripts", "verify"), "--print-expectations",
                           *options)
                self.assertEqual(done.returncode, 2)
                self.assertRegex(done.stderr, r"error: KASHIM_(IDLE|INTVL)=")


if __name__ == "__main__":
    unittest.main()
