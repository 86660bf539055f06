# shellcheck shell=bash disable=SC2154 # the variables scripts/verify set before sourcing this
# Sourced by scripts/verify once it runs inside the network namespace made for the run, with
# the options parsed (side, host, port, route, kashim_options, tuned_words, peer, ...): the
# capture, the two programs, kashim applied (--attach), the blackhole, and the report, whose
# verdict on the wire is scripts/lib/wire.py's.

workdir=$(mktemp -d /tmp/kashim-verify-XXXXXX)
pids=()
cleanup() {
  ((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
  [[ -n ${KASHIM_VERIFY_KEEP:-} ]] && echo "verify: kept $workdir" >&2 || rm -rf "$workdir"
}
trap cleanup EXIT

fill() {
  local text=$1
  text=${text//\{url_host\}/$url_host}
  text=${text//\{host\}/$host}
  text=${text//\{port\}/$port}
  printf '%s\n' "${text//\{workdir\}/$workdir}"
}
for i in "${!tuned_words[@]}"; do tuned_words[i]=$(fill "${tuned_words[i]}"); done
peer=$(fill "$peer")
[[ $side == client ]] && tuned_side=client peer_side=server || tuned_side=server peer_side=client
[[ $side == client ]] && tuned_filter="( dport = :$port )" || tuned_filter="( sport = :$port )"

# Polls (every 50 ms, at most 5 s) until `ss -H ARGS` lists a socket.
wait_for_socket() {
  for _ in $(seq 100); do
    [[ -n $(ss -H "$@") ]] && return 0
    sleep 0.05
  done
  echo "verify: timed out waiting for: ss $*" >&2
  exit 2
}

ip link set lo up

if [[ $preset == php-ssl ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
    -keyout "$workdir/key.pem" -out "$workdir/cert.pem" 2>/dev/null
fi

# The wire: tcpdump when it can run here (as root), else the packet-socket capture.
if [[ $(id -u) == 0 && -z ${KASHIM_VERIFY_FORCE_PACKET_SOCKET:-} ]] && command -v tcpdump >/dev/null &&
  [[ $(cat /proc/self/uid_map) == *" 0 "*4294967295* ]]; then
  wire_tool="tcpdump -i lo -l -tt -n"
  tcpdump -i lo -l -tt -n --immediate-mode "tcp port $port" >"$workdir/wire" 2>"$workdir/wire.err" &
else
  wire_tool="a packet socket on lo (tcpdump cannot start in an unprivileged user namespace)"
  python3 "$root/scripts/lib/capture.py" "$port" >"$workdir/wire" 2>"$workdir/wire.err" &
fi
capture=$!
pids+=("$capture")
for _ in $(seq 100); do
  grep -q "listening on" "$workdir/wire.err" 2>/dev/null && break
  kill -0 "$capture" 2>/dev/null || { cat "$workdir/wire.err" >&2; exit 2; }
  sleep 0.05
done

# The run's parameters for the verdict (scripts/lib/wire.py), the rest added at the end.
{
  echo "side=$side"
  echo "endpoint=$host.$port"
  expectations # here, where the kernel's defaults are this new namespace's
  echo "send=$send"
  echo "stop_after_probes=$stop_after_probes"
  echo "wire_tool=$wire_tool"
} >"$workdir/run"
# Long enough for the expected end and its tolerance, with room to spare.
limit=$(python3 "$root/scripts/lib/wire.py" --time-limit "$workdir/run")

# Both programs read from pipes held open here: nothing arrives until --send writes.
mkfifo "$workdir/tuned.in" "$workdir/peer.in"
# shellcheck disable=SC2034 # peer_in is only held open
exec {tuned_in}<>"$workdir/tuned.in" {peer_in}<>"$workdir/peer.in"

route_said=''
case $route in
  run | supervise)
    launch=("$root/scripts/kashim")
    [[ $route == supervise ]] && launch+=(--supervise)
    launch+=("${kashim_options[@]}" --)
    # Which way the wrapper will reach the program (preload or supervisor), in its words.
    route_said=$("${launch[0]}" --check "${launch[@]:1}" "${tuned_words[0]}" 2>/dev/null |
      grep -m1 '^route: ') || true
    ;;
  cgroup) launch=("$root/scripts/kashim" cgroup run "${kashim_options[@]}" --) ;;
  attach) launch=() ;; # started plainly; kashim comes in with `apply --pid`
esac
start_tuned() {
  timeout --kill-after=5 "$limit" "${launch[@]}" "${tuned_words[@]}" \
    <"$workdir/tuned.in" >"$workdir/tuned.out" 2>&1 &
  tuned_pid=$!
  pids+=("$tuned_pid")
}
start_peer() {
  bash -c "$peer" <"$workdir/peer.in" >/dev/null 2>&1 &
  pids+=($!)
}
# --attach: kashim apply --pid, on the process ss shows holding the socket ss ARGS lists.
applied_to=
attach_kashim() {
  local users
  users=$(ss -Hnp "$@")
  if [[ ! $users =~ pid=([0-9]+) ]]; then
    echo "verify: no process holds the socket of: ss $*" >&2
    exit 2
  fi
  applied_to=${BASH_REMATCH[1]}
  timer_before_apply=$(ss -Hnoi "$@" | grep -o 'timer:([^)]*)') || timer_before_apply="no timer"
  if ! "$root/scripts/kashim" apply --pid "$applied_to" "${kashim_options[@]}" \
    >"$workdir/apply.out" 2>&1; then
    echo "verify: kashim apply --pid $applied_to ${kashim_options[*]} failed:"
    sed 's/^/  /' "$workdir/apply.out"
    echo
    echo FAIL
    exit 1
  fi
}
if [[ $side == client ]]; then
  start_peer
  wait_for_socket -tln "sport = :$port"
  start_tuned
else
  start_tuned
  wait_for_socket -tln "sport = :$port"
  # A listener tuned live: the connections it accepts from now on inherit its settings.
  [[ $route == attach ]] && attach_kashim -tl "sport = :$port"
  start_peer
fi
wait_for_socket -tn state established "$tuned_filter"
# Wait for the wire to fall quiet (300 ms without a packet; a TLS handshake or an HTTP
# request takes a few), so that the blackhole meets an idle connection.
quiet_since=$(stat -c %s "$workdir/wire") quiet_polls=0
for _ in $(seq 100); do
  sleep 0.05
  size=$(stat -c %s "$workdir/wire")
  if [[ $size == "$quiet_since" ]]; then
    ((++quiet_polls < 6)) || break
  else
    quiet_since=$size quiet_polls=0
  fi
done
# A client's connection tuned live, within its idle time (which counts from the last
# packet received).
[[ $route == attach && $side == client ]] && attach_kashim -t state established "$tuned_filter"
kernel_view=$(ss -tnoi state established "$tuned_filter")

# The peer vanishes: everything to or from the port is dropped on arrival. tcpdump on lo
# still sees the packets (it captures before the input hook), the other end never does.
nft -f - <<EOF
table inet kashim_verify {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport $port drop
    tcp sport $port drop
  }
}
EOF
blackholed_at=$(date +%s.%N)
if $send; then
  echo "kashim verify: data that will never be acknowledged" >&"$tuned_in"
fi
if [[ -n $stop_after_probes ]]; then
  # Polled (every 250 ms, bounded by the run's time limit) until enough probes were seen.
  for _ in $(seq $((limit * 4))); do
    kill -0 "$tuned_pid" 2>/dev/null || break
    probes=$(python3 "$root/scripts/lib/wire.py" --count-probes "$workdir/run" "$workdir/wire")
    ((probes < stop_after_probes)) || break
    sleep 0.25
  done
  kill -TERM "$tuned_pid" 2>/dev/null || true
fi

set +e
wait "$tuned_pid"
tuned_status=$?
set -e
ended_at=$(date +%s.%N)
sleep 0.1 # let the capture print the reset
# SIGTERM, not SIGINT: background jobs of a script start with SIGINT ignored.
kill -TERM "$capture" 2>/dev/null || true
wait "$capture" 2>/dev/null || true
{
  echo "blackholed=$blackholed_at"
  echo "ended=$ended_at"
  echo "status=$tuned_status"
  echo "kernel_timers=$(grep -o 'timer:([^)]*)' <<<"$kernel_view" | tr '\n' ' ')"
} >>"$workdir/run"

# --- The report -------------------------------------------------------------------------
if [[ -n $preset ]]; then what="$preset ($tuned_side)"; else what="${command[*]} ($tuned_side)"; fi
case $route in
  run) how="kashim ${kashim_options[*]}" ;;
  supervise) how="kashim --supervise ${kashim_options[*]}" ;;
  cgroup) how="kashim cgroup run ${kashim_options[*]}" ;;
  attach) how="kashim apply --pid $applied_to ${kashim_options[*]} (started plainly)" ;;
esac
echo "kashim verify: $what under $how"
echo "  against a plain $peer_side, in a private network namespace, on $host port $port"
[[ -z $route_said ]] || echo "  $route_said"
echo
if [[ $route == attach ]]; then
  echo "kashim apply --pid $applied_to said:"
  sed 's/^/  /' "$workdir/apply.out"
  [[ $side == server ]] || echo "  (before it, ss showed the connection with $timer_before_apply)"
  echo
fi
echo "kernel: ss -tnoi state established '$tuned_filter'"
grep -o 'timer:([^)]*)' <<<"$kernel_view" | sed 's/^/  /' || echo "  no timer shown"
echo
echo "tuned program's last words (exit status $tuned_status):"
tail -n 3 "$workdir/tuned.out" | sed 's/^/  /'
[[ -s $workdir/tuned.out ]] || echo "  (nothing)"
echo
python3 "$root/scripts/lib/wire.py" "$workdir/run" "$workdir/wire"
