#include "decide.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <climits>
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

namespace {

// What the kernel refuses before it reads a value: a NULL optval, or an optlen that is short
// or, read as the kernel's int, negative.
bool kernel_refuses_unread(const void* optval, socklen_t optlen) {
  return optval == nullptr || optlen < sizeof(int) || optlen > socklen_t{INT_MAX};
}

// The int a program's setsockopt() passes; optval need not be aligned.
int requested_value(const void* optval) {
  int requested = 0;
  std::memcpy(&requested, optval, sizeof requested);
  return requested;
}

OptionBits bit_of(int level, int optname) {
  if (level == SOL_SOCKET && optname == SO_KEEPALIVE) return kKeepaliveBit;
  const ManagedTcpOption* managed = level == IPPROTO_TCP ? managed_tcp_option(optname) : nullptr;
  return managed == nullptr ? 0 : managed_option_bit(managed - kManagedTcpOptions);
}

constexpr int kKeepaliveOn = 1;

}  // namespace

const ManagedTcpOption* managed_tcp_option(int optname) {
  for (const ManagedTcpOption& managed : kManagedTcpOptions) {
    if (managed.optname == optname) return &managed;
  }
  return nullptr;
}

OptionBits option_set_by(int level, int optname, const void* optval, socklen_t optlen) {
  if (kernel_refuses_unread(optval, optlen)) return 0;  // the kernel refuses it
  const OptionBits bit = bit_of(level, optname);
  const ManagedTcpOption* managed = level == IPPROTO_TCP ? managed_tcp_option(optname) : nullptr;
  if (managed == nullptr) return bit;
  const int requested = requested_value(optval);
  return requested >= managed->min && requested <= managed->max ? bit : 0;
}

Replacement forced_value(const Config& config, int level, int optname, const void* optval,
                         socklen_t optlen) {
  if (level != IPPROTO_TCP || !forcing(config)) return {};
  const ManagedTcpOption* managed = managed_tcp_option(optname);
  if (managed == nullptr || !(config.*managed->option).set) return {};
  if (kernel_refuses_unread(optval, optlen)) return {};
  const int requested = requested_value(optval);
  if (requested < managed->min || requested > managed->max) return {};
  return {&(config.*managed->option).value, requested};
}

bool is_keepalive_switch_off(const Config& config, int level, int optname, const void* optval,
                             socklen_t optlen) {
  if (level != SOL_SOCKET || optname != SO_KEEPALIVE || !forcing(config)) return false;
  if (kernel_refuses_unread(optval, optlen)) return false;  // the kernel's error stands
  return requested_value(optval) == 0;
}

ForcedCall forced_call(const Config& config, int level, int optname, const void* optval,
                       socklen_t optlen, bool shim_tuned) {
  if (!forcing(config)) return {};
  // With a filter, only connections kashim tuned keep its values (as after_program_set).
  if (config.selective && !shim_tuned) return {{}, true};
  if (level == SOL_SOCKET && optname == SO_KEEPALIVE) {
    if (kernel_refuses_unread(optval, optlen)) return {};
    return {{}, requested_value(optval) != 0};  // on stays on; off is after_program_set's
  }
  return {forced_value(config, level, optname, optval, optlen), false};
}

AfterProgramSet after_program_set(const Config& config, int level, int optname, bool shim_tuned) {
  if (!config.active) return {};
  if (config.mode == Mode::kFallback) {
    // Remembered so that a connection decided later leaves the program's choice alone.
    AfterProgramSet after;
    after.program_set = config.selective ? bit_of(level, optname) : OptionBits{0};
    return after;
  }
  // With a filter, only connections kashim tuned keep its values.
  if (config.selective && !shim_tuned) return {};
  if (level == SOL_SOCKET && optname == SO_KEEPALIVE) {
    // A connection kashim tuned is TCP; otherwise only the kernel can tell.
    return {&kKeepaliveOn, true, !config.selective, 0};
  }
  const ManagedTcpOption* managed = level == IPPROTO_TCP ? managed_tcp_option(optname) : nullptr;
  if (managed == nullptr) return {};
  const ManagedOption& option = config.*managed->option;
  if (!option.set) return {};
  return {&option.value, false, false, 0};
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
