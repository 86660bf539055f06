// What the kernel says about an existing descriptor. Only the kernel knows what a number
// stands for; every route asks it the same way.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include "kernel.hpp"

namespace kashim {

// An int-valued option, or -1 when it cannot be read. Leaves errno changed on failure; the
// callers restore it.
inline int read_int_option(int fd, int level, int optname) {
  int value = -1;
  socklen_t length = sizeof value;
  return kernel::getsockopt(fd, level, optname, &value, &length) == 0 ? value : -1;
}

// A stream socket of protocol TCP is TCP over IPv4 or IPv6; a raw socket of protocol TCP is
// not a connection.
inline bool fd_is_tcp(int fd) {
  return read_int_option(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
         read_int_option(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP;
}

// SO_KEEPALIVE switched on (by the program, a parent, or kashim).
inline bool keepalive_on(int fd) {
  return read_int_option(fd, SOL_SOCKET, SO_KEEPALIVE) > 0;
}

}  // namespace kashim
