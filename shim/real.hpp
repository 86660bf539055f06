// The functions the hooks stand in front of: libc's (or the next preloaded library's).
// Defined beside the hooks in hooks.cpp; everything else in the shim calls these, never the
// plain names, which would come back into the hooks.
#pragma once

#include <sys/socket.h>

namespace kashim::real {

int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);

// Resolves every real function now, so that a hook reached later from a signal handler
// never enters dlsym (which takes the loader's lock).
void resolve_all();

// This library's own socket() hook, however the loader binds the name.
void* own_socket_hook();

}  // namespace kashim::real
