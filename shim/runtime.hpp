// The shim at run time: the configuration, published once, and what happens after each
// intercepted call. The hooks call these; the decisions themselves live in apply.hpp.
#pragma once

#include <sys/socket.h>

#include "config.hpp"
#include "log.hpp"

namespace kashim {

struct Runtime {
  Config config;
  StderrIdentity stderr_at_start;
};

// Built on first use (the constructor, or a hook that ran before it) and never changed
// after: every thread reads it without locks. Reports the configuration error, or the
// --check report, exactly once.
const Runtime& runtime();

void on_socket_created(int fd, int domain, int type, int protocol);
// `result` is what the real connect returned; errno is still the real call's.
void on_connect_returned(int fd, const sockaddr* peer, socklen_t peer_length, int result);
void on_accepted(int listener, int fd);
int setsockopt_for_program(int fd, int level, int optname, const void* optval, socklen_t optlen);

}  // namespace kashim
