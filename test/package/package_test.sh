#!/usr/bin/env bash
# Builds the .deb and .tar.gz with scripts/package and uses them as an operator would: the
# metadata and file list, then kashim from the installed files — --check, the man page, bash
# completion and a tuned connection. As root under CI=true the .deb is installed for real
# with dpkg -i (and removed again); otherwise it is unpacked into a temporary root.
#   test/package/package_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
work=$(mktemp -d /tmp/kashim-package-XXXXXX)
installed=false
listener=
cleanup() {
  if [[ -n $listener ]]; then kill "$listener" 2>/dev/null || true; fi
  if $installed; then dpkg --purge kashim >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: runs it, reports ok/FAIL
  local description=$1
  shift
  if "$@"; then
    echo "ok    $description"
  else
    echo "FAIL  $description"
    failures=$((failures + 1))
  fi
}
contains() { grep -qF -- "$2" <<<"$1"; }

mapfile -t packages < <("$source_dir/scripts/package" "$work/build")
deb=${packages[0]}
tarball=${packages[1]}
echo "built $deb"
echo "built $tarball"

info=$(dpkg-deb --info "$deb")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
check "package name" contains "$info" "Package: kashim"
check "version from CMake" contains "$info" \
  "Version: $(sed -n 's/^project(kashim VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")"
check "architecture" contains "$info" "Architecture: $(dpkg --print-architecture)"
check "depends on libc6 (from dpkg-shlibdeps) and bash" \
  bash -c '[[ $1 =~ Depends:\ .*libc6\ \(\>=\ [0-9.]+\) ]] && [[ $1 == *bash* ]]' _ "$info"
check "description" contains "$info" "Description: TCP keep-alive for programs that never ask"
files=$(dpkg-deb --contents "$deb")
for path in /usr/bin/kashim "/usr/lib/$multiarch/libkashim.so" \
  "/usr/lib/$multiarch/libkashim-audit.so" /usr/share/man/man1/kashim.1 \
  /usr/share/bash-completion/completions/kashim /usr/share/doc/kashim/README.md \
  /usr/share/doc/kashim/CHANGELOG.md /usr/share/doc/kashim/examples/systemd-kashim.conf \
  /usr/share/doc/kashim/examples/kubernetes-pod.yaml; do
  check "contains $path" contains "$files" ".$path"
done

if [[ $(id -u) == 0 && ${CI:-} == true ]]; then
  dpkg -i "$deb" >/dev/null
  installed=true
  root=
  kashim=$(command -v kashim)
  check "dpkg -i puts kashim on PATH" test "$kashim" = /usr/bin/kashim
  check "man finds the installed page" bash -c 'man -w kashim | grep -q /usr/share/man/man1/kashim.1'
else
  root=$work/root
  dpkg-deb -x "$deb" "$root"
  kashim=$root/usr/bin/kashim
fi

report=$("$kashim" --check --idle 30 --peers 127.0.0.1) || true
check "installed kashim --check finds the installed library" \
  contains "$report" "configuration valid, shim active"
check "--version" test "$("$kashim" --version)" = "kashim $(sed -n 's/^project(kashim VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")"
page=$(MANWIDTH=100 man -l "$root/usr/share/man/man1/kashim.1" 2>/dev/null)
check "man page renders with the installed paths" contains "$page" "/usr/lib/$multiarch/libkashim.so"
check "man page lists KASHIM_PEERS" contains "$page" "KASHIM_PEERS"
check "recipes name the installed library" \
  grep -qF "/usr/lib/$multiarch/libkashim.so" "$root/usr/share/doc/kashim/examples/systemd-kashim.conf"

# A tuned connection through the installed files: a loopback listener, nc as the client.
port_fifo=$work/port
mkfifo "$port_fifo"
python3 -c '
import socket, sys
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
open(sys.argv[1], "w").write("%d\n" % server.getsockname()[1])
server.settimeout(30)
connection, _ = server.accept(); connection.recv(100)' "$port_fifo" &
listener=$!
read -r port <"$port_fifo"  # blocks until the listener is up and says where
log=$(echo hello | "$kashim" --idle 30 --intvl 5 --log info -- nc -N 127.0.0.1 "$port" 2>&1 >/dev/null)
wait "$listener" || true
listener=
check "kashim --idle 30 -- nc tunes the connection" contains "$log" "keep-alive on, idle 30s, intvl 5s"

# Bash completion from the installed file.
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
  completions=$(bash -c '
    source /usr/share/bash-completion/bash_completion
    source "$1"
    COMP_WORDS=(kashim --direction ""); COMP_CWORD=2; COMP_LINE="kashim --direction "
    COMP_POINT=${#COMP_LINE}
    _kashim; echo "${COMPREPLY[*]}"
    COMP_WORDS=(kashim --pe); COMP_CWORD=1; COMP_LINE="kashim --pe"; COMP_POINT=${#COMP_LINE}
    _kashim; echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/kashim")
  check "completion of --direction" contains "$completions" "out in both"
  check "completion of --pe" contains "$completions" "--peers"
else
  echo "FAIL  bash-completion is not installed"
  failures=$((failures + 1))
fi

# prerm: on removal (not on upgrade) it detaches what `kashim cgroup attach` left attached,
# warns about an /etc/ld.so.preload line naming the library, and never stops the removal.
mkdir "$work/control"
dpkg-deb -e "$deb" "$work/control"
check "the .deb has a prerm that detaches" grep -qF 'kashim_cgroup detach' "$work/control/prerm"
check "prerm is executable" test -x "$work/control/prerm"
check "prerm names the installed kashim" grep -qx 'kashim=/usr/bin/kashim' "$work/control/prerm"
if $installed; then
  if contains "$files" "./usr/libexec/kashim/kashim-cgroup"; then
    mount=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
    cgroup=$mount/kashim-package-test-$$
    mkdir "$cgroup"
    attached=$(kashim cgroup attach --idle 45 "$cgroup" 2>&1) || true
    id=$(sed -n 's|.*pinned at /sys/fs/bpf/kashim/\([0-9]*\)).*|\1|p' <<<"$attached")
    check "kashim cgroup attach from the installed package" test -n "$id" -a -e "/sys/fs/bpf/kashim/$id"
    "$work/control/prerm" upgrade 0.0.1 >/dev/null 2>&1 || true
    check "prerm upgrade leaves the attachment" test -e "/sys/fs/bpf/kashim/$id"
    # A kashim that fails: said on stderr, the attachment stays, the removal goes on.
    sed 's|^kashim=.*|kashim=/bin/false|' "$work/control/prerm" >"$work/failing-prerm"
    if failing=$(sh "$work/failing-prerm" remove 2>&1); then status=0; else status=$?; fi
    check "a failing kashim does not stop the removal" test "$status" = 0
    check "... and prerm says so" contains "$failing" \
      "kashim prerm: could not list the cgroup attachments"
    # A configuration kashim would refuse does not stop the detach.
    removal=$(KASHIM_IDLE=0 dpkg -r kashim 2>&1) || true # cleanup purges what is left
    check "dpkg -r detaches the attachment" test ! -e "/sys/fs/bpf/kashim/$id"
    check "... and says so" contains "$removal" "kashim prerm: detached from $cgroup"
    rmdir "$cgroup"
  else
    echo "FAIL  the package has no kashim-cgroup (libbpf-dev, clang): prerm's detach is untested"
    failures=$((failures + 1))
  fi
  # /etc/ld.so.preload naming the library: in a private mount namespace over a private /etc
  # (the host's is never touched), the prerm of a removed package warns.
  warning=$(unshare --mount --propagation private sh -c '
    mkdir -p "$1/upper" "$1/lower-work"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/lower-work" /etc \
      2>/dev/null || { cp -a /etc "$1/copy" && mount --bind "$1/copy" /etc; }
    echo "/usr/lib/$2/libkashim.so" >/etc/ld.so.preload
    exec "$3" remove' _ "$work/etc" "$multiarch" "$work/control/prerm" 2>&1) || true
  check "prerm warns about /etc/ld.so.preload" contains "$warning" \
    "kashim prerm: /etc/ld.so.preload names libkashim, which is being removed: every program started will print a loader error until that line is deleted"
fi

# The tarball holds the same tree.
mkdir "$work/tar"
tar -xzf "$tarball" -C "$work/tar"
tar_kashim=$(find "$work/tar" -path '*/bin/kashim')
check "tar.gz: kashim --check finds its library" \
  bash -c '"$1" --check | grep -q "configuration valid"' _ "$tar_kashim"

exit $((failures > 0))
