#include "log_line.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>

#include "config.hpp"
#include "decide.hpp"
#include "peers.hpp"
#include "sockets.hpp"

namespace kashim {

std::string_view errno_name(int error) {
  switch (error) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EBADF:
      return "EBADF";
    case EINVAL:
      return "EINVAL";
    case ENOTSOCK:
      return "ENOTSOCK";
    case ENOPROTOOPT:
      return "ENOPROTOOPT";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    default:
      return "";
  }
}

void add_errno(LogLine* line, int error) {
  line->add("errno ").add(error);
  if (std::string_view name = errno_name(error); !name.empty()) line->add(" (").add(name).add(")");
}

void add_address(LogLine* line, const sockaddr* address, socklen_t length) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address == nullptr) {
    line->add("unknown peer");
  } else if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    line->add(text).add(":").add(ntohs(v4.sin_port));
  } else if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    line->add("[").add(text).add("]:").add(ntohs(v6.sin6_port));
  } else {
    line->add("a non-IP peer");
  }
}

void add_kernel_values(LogLine* line, int fd) {
  line->add(keepalive_on(fd) ? "keep-alive on" : "keep-alive off");
  for (const ManagedTcpOption& option : kManagedTcpOptions) {
    line->add(", ").add(option.label).add(" ");
    line->add(read_int_option(fd, IPPROTO_TCP, option.optname)).add(option.unit);
  }
}

namespace {

// A setting as the user gave it: its variable, or its key in the configuration file.
const char* setting_name(const Origin& origin, const char* variable) {
  return origin.line != 0 && origin.name != nullptr ? origin.name : variable;
}

}  // namespace

void add_filter_decision(LogLine* line, const Config& config, Direction side, const sockaddr* peer,
                         socklen_t peer_length, bool wanted) {
  const char* peers = setting_name(config.peers_from, "KASHIM_PEERS");
  if (!wanted) {
    line->add(": not tuned (");
    if (direction_allows(config, side)) line->add("no ").add(peers).add(" pattern matches; ");
    line->add(setting_name(config.direction_from, "KASHIM_DIRECTION")).add("=");
    line->add(direction_name(config.direction)).add(")");
    return;
  }
  line->add(": tuned");
  if (int index = config.peers.match(peer, peer_length); index >= 0) {
    PatternText pattern;
    describe_peer_pattern(config.peers.patterns[index], &pattern);
    line->add(" (").add(peers).add(" ").add(pattern.view()).add(")");
  }
  line->add(", ");
}

}  // namespace kashim
