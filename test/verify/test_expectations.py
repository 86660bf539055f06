"""scripts/lib/expectations.py: what verify expects, read from `kashim --check` reports
recorded from the library (reports/*.txt; the options that made each are in its name)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "lib"))
import expectations  # noqa: E402


def report(name):
    with open(os.path.join(HERE, "reports", name + ".txt")) as f:
        return f.read()


class Reports(unittest.TestCase):
    def test_values_as_the_library_read_them(self):
        cases = {
            # --idle 08 --intvl 1 --cnt 3: a leading zero is still eight seconds
            "idle_08": {"idle_ms": 8000, "intvl_ms": 1000, "cnt": 3, "user_timeout_ms": None},
            # --idle 1h --intvl 90s --cnt 3
            "idle_1h_intvl_90s": {"idle_ms": 3600000, "intvl_ms": 90000, "cnt": 3,
                                  "user_timeout_ms": None},
            # --idle 2 --intvl 1 --cnt 3 --user-timeout auto: the library's own sum
            "user_timeout_auto": {"idle_ms": 2000, "intvl_ms": 1000, "cnt": 3,
                                  "user_timeout_ms": 5000},
            # --idle 2 --user-timeout 2500ms: interval and count are the kernel's
            "user_timeout_ms": {"idle_ms": 2000, "intvl_ms": 75000, "cnt": 9,
                                "user_timeout_ms": 2500},
            # --mode fallback --idle 2 --cnt 5, from a library whose report also names its
            # configuration file and program scope
            "fallback_idle_2_cnt_5": {"idle_ms": 2000, "intvl_ms": 75000, "cnt": 5,
                                      "user_timeout_ms": None},
            # --mode fallback --user-timeout 0: nothing set; 0 means no user timeout
            "kernel_defaults": {"idle_ms": 7200000, "intvl_ms": 75000, "cnt": 9,
                                "user_timeout_ms": None},
        }
        for name, expected in cases.items():
            with self.subTest(report=name):
                self.assertEqual(expectations.parse_report(report(name)), expected)

    def test_printed_as_key_value_lines(self):
        text = expectations.format_expectations(expectations.parse_report(report("idle_08")))
        self.assertEqual(text, "idle_ms=8000\nintvl_ms=1000\ncnt=3\nuser_timeout_ms=\n")

    def test_invalid_and_disabled_configurations_are_refused_with_the_reason(self):
        with self.assertRaisesRegex(expectations.ReportError, r"KASHIM_IDLE=0 is out of range"):
            expectations.parse_report(report("invalid"))
        with self.assertRaisesRegex(expectations.ReportError, r"disabled"):
            expectations.parse_report(report("disabled"))
        with self.assertRaisesRegex(expectations.ReportError, r"no report"):
            expectations.parse_report("")

    def test_a_line_it_cannot_read_is_an_error_not_a_guess(self):
        changed = report("idle_08").replace("8s  from", "8 seconds  from")
        with self.assertRaisesRegex(expectations.ReportError, r"cannot read: TCP_KEEPIDLE"):
            expectations.parse_report(changed)
        missing = "\n".join(l for l in report("idle_08").splitlines() if "TCP_KEEPCNT" not in l)
        with self.assertRaisesRegex(expectations.ReportError, r"no TCP_KEEPCNT line"):
            expectations.parse_report(missing)


if __name__ == "__main__":
    unittest.main()
