// What the shim does to one socket: set the configured options, or, with a filter, decide
// first whether this connection is one to tune. Every event (socket, connect, accept, an
// inherited socket) ends here.
#pragma once

#include <sys/socket.h>

#include <string_view>

#include "decide.hpp"
#include "runtime.hpp"

namespace kashim {

struct Peer {
  sockaddr_storage address{};
  socklen_t length = 0;  // 0: unknown
  const sockaddr* get() const {
    return length == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&address);
  }
};

// The remote end as the kernel knows it (getpeername); unknown before the handshake ends.
Peer peer_of(int fd);
// An address from the program's memory. Only for memory the kernel has just read without
// complaint (the call it was passed to succeeded): the shim never reads what the kernel
// would have refused with EFAULT, nor beyond the length the kernel accepted.
Peer copy_of(const sockaddr* address, socklen_t length);

// Switches keep-alive on and sets every configured option but those in `skip`; a failure
// is reported (once at error, then at info). Returns whether it worked.
bool tune(const Runtime& runtime, int fd, OptionBits skip = 0);

// With a filter: tunes a connection if the configuration wants it (`side`, `peer`), leaving
// the options in `program_set` to the program in fallback mode, and says why at info.
void decide(const Runtime& runtime, int fd, Direction side, const Peer& peer,
            OptionBits program_set, std::string_view event);

}  // namespace kashim
