#!/usr/bin/env bash
# libkashim.so built against musl, preloaded into a musl-linked program (what Alpine users
# run): its sockets are tuned, and nothing but the hooks is exported.
#   test/musl/musl_test.sh LIBRARY PROBE
set -euo pipefail
library=$1 probe=$2
failures=0
expect() {  # expect DESCRIPTION ACTUAL EXPECTED
  if [[ $2 == "$3" ]]; then
    echo "ok    $1"
  else
    echo "FAIL  $1: got '$2', expected '$3'"
    failures=$((failures + 1))
  fi
}
expect "the probe is a musl program" \
  "$(readelf -l "$probe" | sed -n 's/.*interpreter: \(.*\)]/\1/p')" "/lib/ld-musl-x86_64.so.1"
expect "the library needs musl's libc only" \
  "$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" "libc.so "
expect "the library exports the hooks only" \
  "$(nm -D --defined-only "$library" | awk '{print $3}' | sort | tr '\n' ' ')" \
  "accept accept4 connect sendmsg sendto setsockopt socket "
# As Library.ImportsOnlyWhatOnlyLibcAndTheLoaderKnow for the glibc build: kashim's own I/O,
# memory and string functions never go through the dynamic linker (musl's ntohs and memset
# are functions, which its build once called).
expect "the library imports only what only libc knows" \
  "$(nm -D --undefined-only "$library" | awk '{print $2}' | LC_ALL=C sort | tr '\n' ' ')" \
  "__environ __errno_location __progname_full dl_iterate_phdr dlsym environ getauxval inet_ntop inet_pton program_invocation_name pthread_setcancelstate secure_getenv syscall "
kernel=$(cat /proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes} | tr '\n' / | sed 's:/$::')
expect "without the shim" "$("$probe")" "client=0/$kernel accepted=0/$kernel"
expect "with the shim" "$(LD_PRELOAD=$library KASHIM_IDLE=42 KASHIM_INTVL=5 KASHIM_CNT=3 "$probe")" \
  "client=1/42/5/3 accepted=1/42/5/3"
expect "with a peer filter that does not match" \
  "$(LD_PRELOAD=$library KASHIM_IDLE=42 KASHIM_PEERS=10.0.0.0/8 "$probe")" \
  "client=0/$kernel accepted=0/$kernel"
errors=$(LD_PRELOAD=$library KASHIM_CNT=500 "$probe" 2>&1 >/dev/null)
expect "bad input: one error line" "$errors" \
  "kashim: KASHIM_CNT=500 is out of range 1..127; keep-alive settings not applied"
exit $((failures > 0))
