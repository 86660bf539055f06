#include "socket_decision.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <iterator>

namespace kashim::inspect {
namespace {

in_port_t port_of(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return reinterpret_cast<const sockaddr_in&>(address).sin_port;
  if (address.ss_family == AF_INET6) {
    return reinterpret_cast<const sockaddr_in6&>(address).sin6_port;
  }
  return 0;
}

bool is_wildcard(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(address).sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
  return IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, sizeof(in6_addr)) == 0;
}

int current_value(const KeepaliveValues& values, std::size_t index) {
  const int kValues[] = {values.idle_s, values.intvl_s, values.cnt, values.user_timeout_ms};
  return kValues[index];
}

}  // namespace

const sockaddr* peer_of(const DiagSocket& socket, socklen_t* length) {
  if (port_of(socket.peer) == 0) return nullptr;
  *length = socket.peer.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  return reinterpret_cast<const sockaddr*>(&socket.peer);
}

Side side_of(const DiagSocket& socket, const std::vector<const DiagSocket*>& listeners) {
  if (socket.state == TCP_LISTEN) return Side::kListener;
  socklen_t length = 0;
  if (peer_of(socket, &length) == nullptr) return Side::kUnconnected;
  const in_port_t local_port = port_of(socket.local);
  for (const DiagSocket* listener : listeners) {
    if (listener->family == socket.family && port_of(listener->local) == local_port &&
        (is_wildcard(listener->local) || same_address(listener->local, socket.local))) {
      return Side::kAccepted;
    }
  }
  return Side::kOpened;
}

const char* side_name(Side side) {
  switch (side) {
    case Side::kListener:
      return "listen";
    case Side::kAccepted:
      return "in";
    case Side::kOpened:
      return "out";
    case Side::kUnconnected:
      break;
  }
  return "-";
}

Decision decide_socket(const Config& config, Side side, const DiagSocket& socket,
                       const KeepaliveValues& values) {
  Decision decision;
  socklen_t peer_length = 0;
  const sockaddr* peer = peer_of(socket, &peer_length);
  if (side == Side::kUnconnected) {
    // The library tunes such a socket at socket() unless a filter waits for connect().
    if (config.selective) {
      decision.reason = "not connected: a direction or peer filter decides at connect()";
      return decision;
    }
  } else {
    const Direction direction = side == Side::kOpened ? Direction::kOut : Direction::kIn;
    if (!direction_allows(config, direction)) {
      decision.reason =
          std::string("direction ") + direction_name(config.direction).data() + " only";
      return decision;
    }
    if (!wants_connection(config, direction, peer, peer_length)) {
      decision.reason = side == Side::kListener ? "listener: a peer filter cannot know future peers"
                                                : "no KASHIM_PEERS pattern matches the peer";
      return decision;
    }
  }
  if (!values.read) {
    decision.verdict = Verdict::kUnknown;
    decision.reason = "values unknown";
    return decision;
  }
  // Fallback mode: a socket whose owner switched keep-alive on, or chose one of its options
  // even with keep-alive off, keeps its settings, as the library decides for inherited
  // sockets.
  if (config.mode == Mode::kFallback && values.chosen_before) {
    decision.verdict = Verdict::kProgramsOwn;
    decision.reason = values.keepalive
                          ? "fallback mode: the program's own keep-alive stands"
                          : "fallback mode: the program's own keep-alive options stand";
    return decision;
  }
  if (!values.keepalive) {
    decision.changes |= kKeepaliveBit;
    decision.reason = "keep-alive off -> on";
  }
  for (std::size_t i = 0; i < std::size(kManagedTcpOptions); ++i) {
    const ManagedTcpOption& managed = kManagedTcpOptions[i];
    const ManagedOption& option = config.*managed.option;
    const int current = current_value(values, i);
    if (!option.set || option.value == current) continue;
    decision.changes |= managed_option_bit(i);
    if (!decision.reason.empty()) decision.reason += ", ";
    decision.reason += std::string(managed.label) + " " + std::to_string(current) + managed.unit +
                       " -> " + std::to_string(option.value) + managed.unit;
  }
  decision.verdict = decision.changes == 0 ? Verdict::kAsConfigured : Verdict::kChange;
  if (decision.changes == 0) decision.reason = "as configured";
  return decision;
}

}  // namespace kashim::inspect
