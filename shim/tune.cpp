#include "tune.hpp"

#include <algorithm>
#include <cstring>

#include "guards.hpp"
#include "kernel.hpp"
#include "real.hpp"
#include "records.hpp"
#include "sockets.hpp"

namespace kashim {

Peer peer_of(int fd) {
  ErrnoGuard keep_errno;
  Peer peer;
  socklen_t length = sizeof peer.address;
  if (kernel::getpeername(fd, reinterpret_cast<sockaddr*>(&peer.address), &length) == 0) {
    peer.length = std::min<socklen_t>(length, sizeof peer.address);
  }
  return peer;
}

Peer copy_of(const sockaddr* address, socklen_t length) {
  Peer peer;
  if (address != nullptr && length > 0) {
    peer.length = std::min<socklen_t>(length, sizeof peer.address);
    std::memcpy(&peer.address, address, peer.length);
  }
  return peer;
}

bool tune(const Runtime& runtime, int fd, OptionBits skip) {
  if (int error = apply_keepalive(fd, runtime.config, real::setsockopt, skip); error != 0) {
    report_apply_failure(runtime, fd, error);
    return false;
  }
  return true;
}

namespace {

// decide()'s line at info, apart: its 512-byte line is taken from the stack only when it is
// written (a hook may run in a signal handler on a small stack).
[[gnu::noinline]] void log_decision(const Runtime& runtime, int fd, Direction side,
                                    const Peer& peer, std::string_view event, bool wanted) {
  LogLine line;
  line.add("fd ").add(fd).add(" ").add(event).add(" ");
  add_address(&line, peer.get(), peer.length);
  add_filter_decision(&line, runtime.config, side, peer.get(), peer.length, wanted);
  if (wanted) add_kernel_values(&line, fd);
  log_line(runtime, line);
}

}  // namespace

void decide(const Runtime& runtime, int fd, Direction side, const Peer& peer,
            OptionBits program_set, std::string_view event) {
  ErrnoGuard keep_errno;
  const Config& config = runtime.config;
  const bool wanted = wants_connection(config, side, peer.get(), peer.length);
  if (!(wanted || logging(runtime, LogLevel::kInfo)) || !fd_is_tcp(fd)) return;
  if (wanted) {
    if (!tune(runtime, fd, forcing(config) ? 0 : program_set)) return;
    // Force mode keeps the values on this connection, and only on this one.
    if (forcing(config)) records::add(fd, records::kTuned);
  }
  if (logging(runtime, LogLevel::kInfo)) log_decision(runtime, fd, side, peer, event, wanted);
}

}  // namespace kashim
