#include "apply.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace kashim {
namespace {

struct ManagedTcpOption {
  int optname;
  ManagedOption Config::*option;
  int min;  // the kernel's own bounds: outside them its setsockopt fails with EINVAL
  int max;
};

constexpr ManagedTcpOption kManagedTcpOptions[] = {
    {TCP_KEEPIDLE, &Config::idle_s, 1, kMaxKeepIdleSeconds},
    {TCP_KEEPINTVL, &Config::intvl_s, 1, kMaxKeepIntvlSeconds},
    {TCP_KEEPCNT, &Config::cnt, 1, kMaxKeepCnt},
    {TCP_USER_TIMEOUT, &Config::user_timeout_ms, 0, INT_MAX},
};

// The program's int argument, or false when the kernel would refuse the call before
// looking at the value (EFAULT, EINVAL for a short optlen).
bool program_value(const void* optval, socklen_t optlen, int* value) {
  if (optval == nullptr || optlen < sizeof(int)) return false;
  std::memcpy(value, optval, sizeof(int));  // optval need not be aligned
  return true;
}

bool forcing(const Config& config) {
  return config.active && config.mode == Mode::kForce;
}

}  // namespace

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

Replacement forced_value(const Config& config, int level, int optname, const void* optval,
                         socklen_t optlen) {
  if (!forcing(config) || level != IPPROTO_TCP) return {};
  for (const ManagedTcpOption& managed : kManagedTcpOptions) {
    const ManagedOption& option = config.*managed.option;
    if (managed.optname != optname || !option.set) continue;
    int requested = 0;
    if (!program_value(optval, optlen, &requested)) return {};
    if (requested < managed.min || requested > managed.max) return {};
    return {true, option.value, requested};
  }
  return {};
}

bool is_keepalive_switch_off(const Config& config, int level, int optname, const void* optval,
                             socklen_t optlen) {
  int requested = 0;
  return forcing(config) && level == SOL_SOCKET && optname == SO_KEEPALIVE &&
         program_value(optval, optlen, &requested) && requested == 0;
}

}  // namespace kashim
