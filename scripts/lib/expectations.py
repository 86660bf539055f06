#!/usr/bin/env python3
"""What scripts/verify expects on the wire, read from the library's own report.

verify parses no duration itself. It runs `kashim --check` with the values it is to expect
(the --expect-* ones, else the settings) and reads back what the library made of them, so
`--idle 08`, `--idle 1h` and `--idle 90s` mean to verify exactly what they mean to kashim.
A value the report shows as "not set" is the kernel's (the sysctl the report names), and a
user timeout that is not set, or set to 0, means none.

Usage: expectations.py < REPORT
  prints idle_ms=, intvl_ms=, cnt= and user_timeout_ms= (empty: no user timeout), one a
  line; exits 1 with one line on stderr when the report holds no valid configuration.
"""
import re
import sys

# "  TCP_KEEPIDLE      8s  from KASHIM_IDLE"
# "  TCP_KEEPINTVL     not set: the program's or the kernel's (net.ipv4.tcp_keepalive_intvl = 75s)"
OPTION_LINE = re.compile(r"^\s+(TCP_KEEPIDLE|TCP_KEEPINTVL|TCP_KEEPCNT|TCP_USER_TIMEOUT)\s+(.*)$")
SET_VALUE = re.compile(r"^(\d+)(ms|s|)\s+from\s")
KERNEL_VALUE = re.compile(r"^not set:.*\(net\.ipv4\.\w+ = (\d+)(ms|s|)\)$")
UNIT_MS = {"ms": 1, "s": 1000, "": 1}
KEYS = (("TCP_KEEPIDLE", "idle_ms"), ("TCP_KEEPINTVL", "intvl_ms"), ("TCP_KEEPCNT", "cnt"),
        ("TCP_USER_TIMEOUT", "user_timeout_ms"))


class ReportError(Exception):
    pass


def read_value(option, text):
    """The number the report gives for one option, in ms (counts as they are); None if unset."""
    for pattern in (SET_VALUE, KERNEL_VALUE):
        match = pattern.match(text)
        if match:
            return int(match.group(1)) * UNIT_MS[match.group(2)]
    if text.startswith("not set:"):
        return None
    raise ReportError("the library's report has a line verify cannot read: %s %s" % (option, text))


def parse_report(report):
    """{'idle_ms': .., 'intvl_ms': .., 'cnt': .., 'user_timeout_ms': ..} from a --check report."""
    lines = report.splitlines()
    if not lines or "configuration valid" not in lines[0]:
        error = next((line.strip() for line in lines if line.strip().startswith("error:")), None)
        raise ReportError(error or (lines[0] if lines else "the library printed no report"))
    values = {}
    for line in lines[1:]:
        match = OPTION_LINE.match(line)
        if match:
            values[match.group(1)] = read_value(match.group(1), match.group(2).strip())
    expectations = {}
    for option, key in KEYS:
        if option not in values:
            raise ReportError("the library's report has no %s line" % option)
        value = values[option]
        if value is None and option != "TCP_USER_TIMEOUT":
            raise ReportError("%s: neither set nor the kernel's value reported" % option)
        if option == "TCP_USER_TIMEOUT" and value == 0:
            value = None  # 0 asks for the kernel's default: no user timeout
        expectations[key] = value
    return expectations


def format_expectations(expectations):
    return "".join("%s=%s\n" % (key, "" if expectations[key] is None else expectations[key])
                   for _, key in KEYS)


def main():
    try:
        sys.stdout.write(format_expectations(parse_report(sys.stdin.read())))
    except ReportError as error:
        print("verify: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
