#include "apply.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

namespace kashim {

bool is_tcp_socket(int domain, int type, int protocol) {
  return (domain == AF_INET || domain == AF_INET6) &&
         (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
         (protocol == 0 || protocol == IPPROTO_TCP);
}

int apply_keepalive(int fd, const Config& config, SetsockoptFn set) {
  const int saved_errno = errno;
  int first_error = 0;
  auto set_int = [&](int level, int optname, int value) {
    if (set(fd, level, optname, &value, sizeof value) != 0 && first_error == 0) {
      first_error = errno;
    }
  };
  set_int(SOL_SOCKET, SO_KEEPALIVE, 1);
  for (const ManagedTcpOption& managed : kManagedTcpOptions) {
    const ManagedOption& option = config.*managed.option;
    if (option.set) set_int(IPPROTO_TCP, managed.optname, option.value);
  }
  errno = saved_errno;
  return first_error;
}

}  // namespace kashim
