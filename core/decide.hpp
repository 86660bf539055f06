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

// Does setsockopt(level, optname) name an option kashim manages? Inline and free of loads:
// the preload hook asks it after every successful setsockopt() of every program.
inline bool names_managed_option(int level, int optname) {
  if (level == SOL_SOCKET) return optname == SO_KEEPALIVE;
  return level == IPPROTO_TCP && (optname == TCP_KEEPIDLE || optname == TCP_KEEPINTVL ||
                                  optname == TCP_KEEPCNT || optname == TCP_USER_TIMEOUT);
}

// The entry of kManagedTcpOptions for a TCP option, or null.
const ManagedTcpOption* managed_tcp_option(int optname);

inline bool forcing(const Config& config) {
  return config.active && config.mode == Mode::kForce;
}

// Force mode, decided before the program's call reaches the kernel (the supervisor, which
// answers the call itself): the value the kernel gets instead of the program's own.
struct Replacement {
  // The configured value inside the frozen Config, never written again.
  const int* value = nullptr;
  int requested = 0;  // what the program asked for
  bool replace() const { return value != nullptr; }
};

// For a program's setsockopt call whose value the caller has in its own memory. Replaces
// only TCP options the configuration sets, and only when the program's call would succeed
// with its own value: an invalid value, a short or negative optlen (the kernel takes
// socklen_t as an int) or a NULL optval is left to the kernel, so the program gets the
// kernel's own error. SO_KEEPALIVE: is_keepalive_switch_off.
Replacement forced_value(const Config& config, int level, int optname, const void* optval,
                         socklen_t optlen);

// True for SOL_SOCKET/SO_KEEPALIVE switched off by a valid call in force mode: kashim turns
// it back on if the socket is TCP, which only the kernel can tell for an existing fd.
bool is_keepalive_switch_off(const Config& config, int level, int optname, const void* optval,
                             socklen_t optlen);

// The preload library in force mode, when it could read the program's value before the call
// without any risk of a fault (shim/own_stack_page.hpp): how the call is made. Either one
// call with the operator's value instead of the program's, or the program's own call with
// nothing to do after it (a valid switch-on of SO_KEEPALIVE, or a connection a filter left
// to the program); anything else (none of these: the call as it is, then after_program_set).
struct ForcedCall {
  Replacement replacement;
  bool nothing_after = false;
};
ForcedCall forced_call(const Config& config, int level, int optname, const void* optval,
                       socklen_t optlen, bool shim_tuned);

// The preload library's way, decided after a program's setsockopt() of a managed option
// has succeeded, without the value the program passed: where the library cannot read that
// memory without risk, it leaves the reading to the kernel (and a seccomp filter may answer
// a call with success that the kernel never saw, and never checked).
struct AfterProgramSet {
  const int* restore = nullptr;  // force mode: set the operator's value again
  bool only_if_off = false;      // SO_KEEPALIVE: restore only if it now reads 0
  bool only_if_tcp = false;      // SO_KEEPALIVE: restore only on a TCP socket
  OptionBits program_set = 0;    // fallback mode with a filter: the program set this itself
};
// `shim_tuned`: with a filter, whether kashim decided to tune this connection (only those
// keep the operator's values; the others are the program's alone).
AfterProgramSet after_program_set(const Config& config, int level, int optname, bool shim_tuned);

}  // namespace kashim
