#!/usr/bin/env bash
# System-wide use: libkashim.so listed in /etc/ld.so.preload, so that every program loads it
# without LD_PRELOAD. Inside a private mount and network namespace (the host's /etc and
# network are never touched), everyday programs must behave exactly as before — the same
# output, errors and exit status — and their TCP connections must be tuned, as the kernel
# shows them to ss. Then the same with /etc/kashim.conf instead of any variable: programs in
# its scope get its values (a [program ...] section's where one applies), an excluded one
# none, and a file others may write is refused.
#   test/system/ld_so_preload_test.sh /path/to/libkashim.so
# Exit 77 (skipped) without root or a needed program; under CI=true that is a failure.
set -euo pipefail

library=$(realpath "$1")
skip() {
  echo "skipped: $*"
  [[ ${CI:-} == true ]] && exit 1
  exit 77
}

if [[ ${KASHIM_IN_NAMESPACE:-} != 1 ]]; then
  [[ $(id -u) == 0 ]] || skip "needs root for a private mount namespace"
  for program in unshare ip ss sh ls python3 perl curl apt-config php; do
    command -v "$program" >/dev/null || skip "$program is not installed"
  done
  export KASHIM_IN_NAMESPACE=1
  exec unshare --mount --net --propagation private "$0" "$library"
fi

scratch=$(mktemp -d /tmp/kashim-ld-so-preload.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
ip link set lo up

# A private /etc: an overlay on the real one where the kernel allows it, else a copy.
mkdir -p "$scratch/upper" "$scratch/work"
if ! mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" \
  /etc 2>/dev/null; then
  cp -a /etc "$scratch/etc"
  mount --bind "$scratch/etc" /etc
fi
rm -f /etc/ld.so.preload /etc/kashim.conf

# The operator's settings, the same for both runs: without the library they mean nothing.
export KASHIM_IDLE=31 KASHIM_INTVL=7 KASHIM_CNT=4

# Everyday programs, each writing to stdout and stderr and exiting with a status of its own.
commands=(
  'sh -c "echo \$((6 * 7)); echo to-stderr >&2; exit 3"'
  'ls -l /usr/bin/env /nonexistent'
  'python3 -c "import sys; print(sys.version_info[:2]); print(\"err\", file=sys.stderr); sys.exit(4)"'
  'perl -e "print qq(ok\n); warn qq(warned\n); exit 5"'
  'curl --version'
  'curl -sS http://127.0.0.1:1/'
  'apt-config dump'
  'php -r "echo PHP_VERSION, PHP_EOL; fwrite(STDERR, \"err\n\"); exit(6);"'
)
run_all() {
  local into=$1 i=0
  mkdir -p "$into"
  for command in "${commands[@]}"; do
    set +e
    sh -c "$command" >"$into/$i.out" 2>"$into/$i.err"
    echo $? >"$into/$i.status"
    # curl says how long its refused connection took ("after 0 ms"): load, not the library.
    sed -i -E 's/after [0-9]+ ms/after N ms/' "$into/$i.err"
    set -e
    i=$((i + 1))
  done
}

loaded() { grep -c libkashim "/proc/$1/maps" || true; }

run_all "$scratch/before"
[[ $(sh -c 'grep -c libkashim /proc/$$/maps || true') == 0 ]] || {
  echo "FAIL: libkashim is loaded before /etc/ld.so.preload names it"
  exit 1
}

echo "$library" >/etc/ld.so.preload
run_all "$scratch/after"
failures=0
if [[ $(sh -c 'grep -c libkashim /proc/$$/maps || true') == 0 ]]; then
  echo "FAIL: /etc/ld.so.preload did not load libkashim.so into sh"
  failures=$((failures + 1))
fi
i=0
for command in "${commands[@]}"; do
  same=true
  for part in out err status; do
    if ! cmp -s "$scratch/before/$i.$part" "$scratch/after/$i.$part"; then
      echo "FAIL: $command: $part differs with the library preloaded:"
      diff "$scratch/before/$i.$part" "$scratch/after/$i.$part" | head -5
      failures=$((failures + 1))
      same=false
    fi
  done
  $same && echo "same:    $command (exit $(cat "$scratch/after/$i.status"))"
  i=$((i + 1))
done

# Connections: a server (itself a preloaded python3) answers one HTTP request per client,
# and before answering asks ss for the client's socket, which is still waiting for the
# reply. Keep-alive timers count down from the idle time: 31 s tuned, 2 h untuned.
cat >"$scratch/server.py" <<'EOF'
import socket, subprocess, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)
print(server.getsockname()[1], flush=True)
for name in sys.argv[1:]:
    connection, (_, port) = server.accept()
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = connection.recv(4096)
        if not chunk:
            break
        request += chunk
    view = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{port} )"],
                          capture_output=True, text=True).stdout
    timer = view[view.find("timer:("):].split(")")[0] + ")" if "timer:(" in view else "no timer"
    print(f"{name} {timer}", flush=True)
    connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    connection.close()
EOF
clients=(curl python3 perl php)
# Runs the server and one connection per client; fills `timers` (client -> ss's timer).
declare -A timers
connect_clients() {
  local name timer
  coproc server { python3 "$scratch/server.py" "${clients[@]}"; }
  # A descriptor of our own: bash unsets server[] as soon as it reaps the coprocess, which
  # may be before its last lines are read.
  local from_server
  exec {from_server}<&"${server[0]}"
  read -r port <&"$from_server"
  url=http://127.0.0.1:$port/
  curl -sS "$url" >/dev/null
  python3 -c "import urllib.request; urllib.request.urlopen('$url').read()"
  perl -MIO::Socket::INET -e \
    '$s = IO::Socket::INET->new("127.0.0.1:'"$port"'") or die; print $s "GET / HTTP/1.0\r\n\r\n"; 1 while <$s>;'
  php -r "file_get_contents('$url');"
  for client in "${clients[@]}"; do
    read -r name timer <&"$from_server"
    timers[$client]="$name $timer"
  done
  exec {from_server}<&-
  wait
}
# expect_timer CLIENT MIN MAX: a keep-alive timer of MIN to MAX seconds (it counts down from
# the idle time); MAX 0: no keep-alive timer at all.
expect_timer() {
  local client=$1 min=$2 max=$3 name timer seconds
  read -r name timer <<<"${timers[$client]}"
  if ((max == 0)) && [[ $name == "$client" && $timer == "no timer" ]]; then
    echo "untuned: $client  $timer"
    return
  fi
  if [[ $name == "$client" && $timer =~ ^timer:\(keepalive,([0-9.]+)sec,0\)$ ]]; then
    seconds=${BASH_REMATCH[1]%%.*}
    if ((max > 0 && seconds >= min && seconds <= max)); then
      echo "tuned:   $client  $timer"
      return
    fi
  fi
  if ((max == 0)); then
    echo "FAIL: $client's connection: $name $timer (expected no keep-alive timer)"
  else
    echo "FAIL: $client's connection: $name $timer (expected a keep-alive timer of $min to $max s)"
  fi
  failures=$((failures + 1))
}

connect_clients
for client in "${clients[@]}"; do expect_timer "$client" 0 31; done

# --- The configuration file alone: no KASHIM_ variable anywhere ----------------------------
unset KASHIM_IDLE KASHIM_INTVL KASHIM_CNT KASHIM_IN_NAMESPACE
if env | grep -q '^KASHIM_'; then
  echo "FAIL: a KASHIM_ variable is still set: $(env | grep '^KASHIM_')"
  failures=$((failures + 1))
fi
cat >/etc/kashim.conf <<'EOF'
# /etc/kashim.conf as an operator would write it (ld_so_preload_test.sh)
idle = 29
intvl = 7
cnt = 4
programs = !perl*, *    # perl is left alone
[program php*]
idle = 23
EOF
chmod 644 /etc/kashim.conf
connect_clients
expect_timer curl 24 29
expect_timer python3 24 29
expect_timer php 1 23
expect_timer perl 0 0
# The same values as the library itself reports them, section and scope included.
report=$(KASHIM_CHECK=1 KASHIM_CHECK_PROGRAM=php /bin/true 2>&1)
if [[ $report == *"TCP_KEEPIDLE      23s  from /etc/kashim.conf:7"* &&
  $report == *"TCP_KEEPCNT       4  from /etc/kashim.conf:4"* ]]; then
  echo "report:  php's values from /etc/kashim.conf:7 and :4"
else
  echo "FAIL: the report for php does not name the file's lines:"
  echo "$report"
  failures=$((failures + 1))
fi
# A file others may write would let anyone tune every program: refused, in one line.
chmod 666 /etc/kashim.conf
# (The library reads its configuration when a program first makes a socket.)
refused=$(python3 -c 'import socket; socket.socket()' 2>&1)
chmod 644 /etc/kashim.conf 2>/dev/null # chmod, preloaded too, still sees the bad mode
if [[ $refused == "kashim: /etc/kashim.conf: refused, it is writable by others (mode 0666;"* ]]; then
  echo "refused: /etc/kashim.conf writable by others"
else
  echo "FAIL: a world-writable /etc/kashim.conf was not refused: '$refused'"
  failures=$((failures + 1))
fi

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: ${#commands[@]} programs unchanged, ${#clients[@]} clients tuned, with libkashim.so in /etc/ld.so.preload;"
echo "    with /etc/kashim.conf alone, 3 programs in its scope tuned by it and 1 excluded untouched"
