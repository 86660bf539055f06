// What the shim does to a socket, decided from a Config alone.
//
// Pure decisions (which sockets, which value wins) plus the one function that issues the
// setsockopt calls, through a function pointer so that unit tests can count and fail them.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <iterator>

#include "config.hpp"

namespace kashim {

using SetsockoptFn = int (*)(int fd, int level, int optname, const void* optval, socklen_t len);

// TCP over IPv4 or IPv6: SOCK_STREAM once SOCK_NONBLOCK and SOCK_CLOEXEC are masked off,
// protocol 0 (the default, TCP) or IPPROTO_TCP. Everything else is never touched.
bool is_tcp_socket(int domain, int type, int protocol);

// Does KASHIM_DIRECTION take in connections of this side (kOut or kIn)?
inline bool direction_allows(const Config& config, Direction side) {
  return config.direction == Direction::kBoth || config.direction == side;
}

// Should a connection be tuned? `side` is kOut for one the program opens, kIn for one it
// accepts or inherits; `peer` is the remote end (may be null when the filter needs none).
bool wants_connection(const Config& config, Direction side, const sockaddr* peer,
                      socklen_t peer_length);

// Bits naming the options the shim sets: SO_KEEPALIVE, then kManagedTcpOptions in order.
// Used to remember which ones a program set itself (fallback mode with a filter).
using OptionBits = std::uint8_t;
inline constexpr OptionBits kKeepaliveBit = 1;
constexpr OptionBits managed_option_bit(std::size_t index) {
  return static_cast<OptionBits>(2u << index);
}
inline constexpr OptionBits kAllOptionBits =
    static_cast<OptionBits>((2u << std::size(kManagedTcpOptions)) - 1);

// The bit of the option a program's setsockopt() call sets, if the shim manages it and the
// call is one the kernel accepts; 0 otherwise.
OptionBits option_set_by(int level, int optname, const void* optval, socklen_t optlen);

// Switches SO_KEEPALIVE on and sets every configured option: 1 + (number configured)
// setsockopt calls, less the options named in `skip`. A call that fails (EPERM under
// seccomp, say) does not stop the others, and errno is left as it was. Returns 0, or the
// errno of the first call that failed.
int apply_keepalive(int fd, const Config& config, SetsockoptFn set, OptionBits skip = 0);

// Force mode: the value the shim passes to the kernel instead of the program's own.
struct Replacement {
  // What the kernel reads instead of the program's optval: the value inside the frozen,
  // published Config, never written again, so no copy is needed and a signal handler
  // replacing another option at the same time cannot disturb it.
  const int* value = nullptr;
  int requested = 0;  // what the program asked for
  bool replace() const { return value != nullptr; }
};

inline bool forcing(const Config& config) {
  return config.active && config.mode == Mode::kForce;
}

// For a program's setsockopt call. Replaces only options the configuration manages, and
// only when the program's call would succeed with its own value: an invalid value, a short
// optlen or a NULL optval goes to the kernel untouched, so the program gets the kernel's
// own error. SO_KEEPALIVE is handled by the caller, which must first know the socket is TCP.
// Inline: it runs on every setsockopt() of every program.
inline Replacement forced_value(const Config& config, int level, int optname, const void* optval,
                                socklen_t optlen) {
  static_assert(std::size(Config{}.forced_tcp) <= 32, "every entry has a mask bit");
  const unsigned index = forced_tcp_index(optname);
  if (level != IPPROTO_TCP || index >= std::size(config.forced_tcp) ||
      (config.forced_tcp_options & (1u << index)) == 0) {
    return {};
  }
  if (optval == nullptr || optlen < sizeof(int)) return {};
  const ForcedTcpOption& forced = config.forced_tcp[index];
  int requested = 0;
  std::memcpy(&requested, optval, sizeof requested);  // optval need not be aligned
  if (requested < forced.min || requested > forced.max) return {};
  return {&forced.value, requested};
}

// True for SOL_SOCKET/SO_KEEPALIVE switched off by a valid call in force mode: the shim
// turns it back on if the socket is TCP, which only the kernel can tell for an existing fd.
inline bool is_keepalive_switch_off(const Config& config, int level, int optname,
                                    const void* optval, socklen_t optlen) {
  if (level != SOL_SOCKET || optname != SO_KEEPALIVE || !forcing(config)) return false;
  if (optval == nullptr || optlen < sizeof(int)) return false;  // the kernel's error stands
  int requested = 0;
  std::memcpy(&requested, optval, sizeof requested);
  return requested == 0;
}

}  // namespace kashim
