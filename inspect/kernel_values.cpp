#include "kernel_values.hpp"

#include <netinet/tcp.h>

#include "decided_before.hpp"
#include "sockets.hpp"

namespace kashim::inspect {

namespace {

// What core/decided_before says of a socket in fallback mode: the whole socket stands.
bool chosen_before(int fd) {
  static const Config fallback = [] {
    Config config;
    config.active = true;
    config.mode = Mode::kFallback;
    return config;
  }();
  return decided_before(fallback, fd) == kAllOptionBits;
}

}  // namespace

KeepaliveValues read_keepalive_values(int fd) {
  KeepaliveValues values;
  const int keepalive = read_int_option(fd, SOL_SOCKET, SO_KEEPALIVE);
  values.idle_s = read_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE);
  values.intvl_s = read_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL);
  values.cnt = read_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT);
  values.user_timeout_ms = read_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
  values.keepalive = keepalive > 0;
  values.read = keepalive >= 0 && values.idle_s >= 0 && values.intvl_s >= 0 && values.cnt >= 0 &&
                values.user_timeout_ms >= 0;
  values.chosen_before = values.read && chosen_before(fd);
  return values;
}

bool describe_from_descriptor(int fd, DiagSocket* socket) {
  if (!fd_is_tcp(fd)) return false;
  socket->family = read_int_option(fd, SOL_SOCKET, SO_DOMAIN);
  tcp_info info{};
  socklen_t length = sizeof info;
  const bool known = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0;
  socket->state = known ? info.tcpi_state : static_cast<int>(TCP_CLOSE);
  length = sizeof socket->local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&socket->local), &length) != 0) {
    socket->local = {};
  }
  length = sizeof socket->peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&socket->peer), &length) != 0) {
    socket->peer = {};
  }
  socket->timer = 0;
  socket->timer_expires_ms = 0;
  socket->probes = info.tcpi_probes;
  return true;
}

}  // namespace kashim::inspect
