#include "decide.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <iterator>

namespace kashim {

bool is_tcp_socket(int domain, int type, int protocol) {
  return (domain == AF_INET || domain == AF_INET6) &&
         (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
         (protocol == 0 || protocol == IPPROTO_TCP);
}

bool wants_connection(const Config& config, Direction side, const sockaddr* peer,
                      socklen_t peer_length) {
  if (!config.active) return false;
  if (!direction_allows(config, side)) return false;
  return config.peers.empty() || config.peers.match(peer, peer_length) >= 0;
}

OptionBits option_set_by(int level, int optname, const void* optval, socklen_t optlen) {
  if (optval == nullptr || optlen < sizeof(int)) return 0;  // the kernel refuses it
  if (level == SOL_SOCKET && optname == SO_KEEPALIVE) return kKeepaliveBit;
  if (level != IPPROTO_TCP) return 0;
  for (std::size_t i = 0; i < std::size(kManagedTcpOptions); ++i) {
    const ManagedTcpOption& managed = kManagedTcpOptions[i];
    if (managed.optname != optname) continue;
    int requested = 0;
    std::memcpy(&requested, optval, sizeof requested);
    return requested >= managed.min && requested <= managed.max ? managed_option_bit(i) : 0;
  }
  return 0;
}

int apply_keepalive(int fd, const Config& config, SetsockoptFn set, OptionBits skip) {
  const int saved_errno = errno;
  int first_error = 0;
  auto set_int = [&](int level, int optname, int value) {
    if (set(fd, level, optname, &value, sizeof value) != 0 && first_error == 0) {
      first_error = errno;
    }
  };
  if ((skip & kKeepaliveBit) == 0) set_int(SOL_SOCKET, SO_KEEPALIVE, 1);
  for (std::size_t i = 0; i < std::size(kManagedTcpOptions); ++i) {
    const ManagedOption& option = config.*kManagedTcpOptions[i].option;
    if (option.set && (skip & managed_option_bit(i)) == 0) {
      set_int(IPPROTO_TCP, kManagedTcpOptions[i].optname, option.value);
    }
  }
  errno = saved_errno;
  return first_error;
}

}  // namespace kashim
