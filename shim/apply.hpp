// What the shim does to a socket, decided from a Config alone.
//
// Pure decisions (which sockets, which value wins) plus the one function that issues the
// setsockopt calls, through a function pointer so that unit tests can count and fail them.
#pragma once

#include <sys/socket.h>

#include "config.hpp"

namespace kashim {

using SetsockoptFn = int (*)(int fd, int level, int optname, const void* optval, socklen_t len);

// TCP over IPv4 or IPv6: SOCK_STREAM once SOCK_NONBLOCK and SOCK_CLOEXEC are masked off,
// protocol 0 (the default, TCP) or IPPROTO_TCP. Everything else is never touched.
bool is_tcp_socket(int domain, int type, int protocol);

// Switches SO_KEEPALIVE on and sets every configured option: 1 + (number configured)
// setsockopt calls. A call that fails (EPERM under seccomp, say) does not stop the others,
// and errno is left as it was. Returns 0, or the errno of the first call that failed.
int apply_keepalive(int fd, const Config& config, SetsockoptFn set);

// Force mode: the value the shim passes to the kernel instead of the program's own.
struct Replacement {
  bool replace = false;
  int value = 0;      // what the kernel is given
  int requested = 0;  // what the program asked for
};

// For a program's setsockopt call. Replaces only options the configuration manages, and
// only when the program's call would succeed with its own value: an invalid value, a short
// optlen or a NULL optval goes to the kernel untouched, so the program gets the kernel's
// own error. SO_KEEPALIVE is handled by the caller, which must first know the socket is TCP.
Replacement forced_value(const Config& config, int level, int optname, const void* optval,
                         socklen_t optlen);

// True for SOL_SOCKET/SO_KEEPALIVE switched off by a valid call in force mode: the shim
// turns it back on if the socket is TCP, which only the kernel can tell for an existing fd.
bool is_keepalive_switch_off(const Config& config, int level, int optname, const void* optval,
                             socklen_t optlen);

}  // namespace kashim
