// What the shim does after each intercepted call returned. The hooks (hooks.cpp) call these
// and nothing else; the decisions themselves are core/decide.hpp's.
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

// A program's setsockopt() of an option names_managed_option() names, before it is made.
// In force mode, where the program's value can be read without risk (own_stack_page.hpp):
// what the call carries instead so that nothing is left to do after it, the operator's value
// in place of the program's, or the program's own (a valid switch-on of SO_KEEPALIVE, say).
// optval null: the program's call as it is, then after_setsockopt if it succeeded.
struct OneCall {
  const void* optval = nullptr;
  socklen_t optlen = 0;
};
OneCall value_for_one_call(int fd, int level, int optname, const void* optval, socklen_t optlen);

// A program's setsockopt() of an option names_managed_option() names succeeded.
void after_setsockopt(int fd, int level, int optname);

}  // namespace kashim
