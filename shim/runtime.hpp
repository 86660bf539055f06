// The shim at run time: the configuration, published once, and what happens after each
// intercepted call. The hooks call these; the decisions themselves live in apply.hpp.
#pragma once

#include <sys/socket.h>

#include <atomic>

#include "config.hpp"
#include "decide.hpp"
#include "log.hpp"

namespace kashim {

struct alignas(64) Runtime {  // a cache line of its own for setsockopt's hot fields
  Config config;
  StderrIdentity stderr_at_start;
};

// The rare paths stay out of line, so that the common one needs no registers saved.
#define KASHIM_COLD __attribute__((noinline, cold))
namespace detail {
extern std::atomic<const Runtime*> g_published;
KASHIM_COLD const Runtime& initialize();
KASHIM_COLD void decide_outgoing(const Runtime& runtime, int fd, const sockaddr* peer,
                                 socklen_t peer_length);
}  // namespace detail

// Built on first use (the constructor, or a hook that ran before it) and never changed
// after: every thread reads it without locks. Reports the configuration error, or the
// --check report, exactly once.
inline const Runtime& runtime() {
  const Runtime* published = detail::g_published.load(std::memory_order_acquire);
  return published != nullptr ? *published : detail::initialize();
}

void on_socket_created(int fd, int domain, int type, int protocol);
// Before the real connect(), or a sendto()/sendmsg() with MSG_FASTOPEN (which connects
// without connect): with a filter, an outgoing connection is decided and tuned here, so
// that the handshake itself already runs with the values.
inline void before_connect(int fd, const sockaddr* peer, socklen_t peer_length) {
  const Runtime& runtime = kashim::runtime();
  if (runtime.config.selective) detail::decide_outgoing(runtime, fd, peer, peer_length);
}
// `result` is what the real connect returned; errno is still the real call's.
void on_connect_returned(int fd, const sockaddr* peer, socklen_t peer_length, int result);
void on_accepted(int listener, int fd);
// The TCP sockets the process holds from before it started (systemd socket activation,
// inetd, a listener passed across exec by a parent) are tuned as if made under the shim.
// From the constructor only: it opens a descriptor for a moment.
void tune_inherited_sockets();
// A program's setsockopt(), as far as the published configuration alone can tell.
struct SetsockoptPlan {
  const int* forced = nullptr;  // force mode: what the kernel gets instead of the program's value
  bool look_closer = false;     // setsockopt_looked_at() must handle the whole call
};

// Inline and free of calls: it runs on every setsockopt() of every program. What needs more
// is left to setsockopt_looked_at(): a hook that runs before the configuration is published,
// a filter (which decides connection by connection), debug logging, and SO_KEEPALIVE switched
// off in force mode (only the kernel knows whether that socket is TCP).
inline SetsockoptPlan plan_setsockopt(int level, int optname, const void* optval,
                                      socklen_t optlen) {
  const Runtime* runtime = detail::g_published.load(std::memory_order_acquire);
  if (runtime == nullptr) [[unlikely]] {
    return {nullptr, true};
  }
  const Config& config = runtime->config;
  if (config.selective || config.log_level >= LogLevel::kDebug) [[unlikely]] {
    return {nullptr, true};
  }
  if (Replacement replacement = forced_value(config, level, optname, optval, optlen);
      replacement.replace()) {
    return {replacement.value, false};
  }
  return {nullptr, level == SOL_SOCKET && optname == SO_KEEPALIVE && forcing(config)};
}

// The setsockopt() plan_setsockopt() could not settle: decides, logs, and makes the call.
KASHIM_COLD int setsockopt_looked_at(int fd, int level, int optname, const void* optval,
                                     socklen_t optlen);

}  // namespace kashim
