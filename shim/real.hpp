// The functions the hooks stand in front of: libc's (or the next preloaded library's).
// Defined beside the hooks in hooks.cpp; everything else in the shim calls these, never the
// plain names, which would come back into the hooks.
#pragma once

#include <sys/socket.h>

namespace kashim::real {

int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen);

}  // namespace kashim::real
