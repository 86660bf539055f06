// What the shim does around each intercepted call: after it returned, and for a managed
// setsockopt() the call itself. The hooks (hooks.cpp) call these and nothing else; the
// decisions themselves are core/decide.hpp's.
#pragma once

#include <sys/socket.h>

#include "decide.hpp"

namespace kashim {

// A new socket: without a filter, every TCP socket is tuned here.
void on_socket_created(int fd, int domain, int type, int protocol);

// connect(), or sendto()/sendmsg() with MSG_FASTOPEN (which connect without connect()),
// returned `result`; errno is still the real call's. With a filter, an outgoing connection
// is decided here, once the kernel has accepted the address (so the shim never reads an
// address the kernel would have refused): connected, or with the handshake still in
// flight (EINPROGRESS, or EINTR: an interrupted connect goes on in the background).
void after_connect(int fd, const sockaddr* peer, socklen_t peer_length, long result);
void after_fastopen_message(int fd, const msghdr* message, long result);

void on_accepted(int listener, int fd);

// A program's setsockopt() of an option names_managed_option() names, made here. Force mode:
// where the program's value can be read without risk (own_stack_page.hpp) and the kernel
// would accept it, one call with the operator's value in its place; otherwise the program's
// call as made, then the operator's value. Fallback mode: the program's call, remembered.
int set_managed_option(int fd, int level, int optname, const void* optval, socklen_t optlen);

}  // namespace kashim
