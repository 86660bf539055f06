// The shim at run time: the configuration, published once, and what happens after each
// intercepted call. The hooks call these; the decisions themselves live in apply.hpp.
#pragma once

#include <sys/socket.h>

#include <atomic>

#include "apply.hpp"
#include "config.hpp"
#include "log.hpp"

namespace kashim {

struct Runtime {
  Config config;
  StderrIdentity stderr_at_start;
};

// The rare paths stay out of line, so that the common one needs no registers saved.
#define KASHIM_COLD __attribute__((noinline, cold))
namespace detail {
extern std::atomic<const Runtime*> g_published;
KASHIM_COLD const Runtime& initialize();
KASHIM_COLD Replacement keepalive_back_on(int fd);
KASHIM_COLD void log_replacement(const Runtime& runtime, int fd, int optname, int requested,
                                 int value);
}  // namespace detail

// Built on first use (the constructor, or a hook that ran before it) and never changed
// after: every thread reads it without locks. Reports the configuration error, or the
// --check report, exactly once.
inline const Runtime& runtime() {
  const Runtime* published = detail::g_published.load(std::memory_order_acquire);
  return published != nullptr ? *published : detail::initialize();
}

void on_socket_created(int fd, int domain, int type, int protocol);
// `result` is what the real connect returned; errno is still the real call's.
void on_connect_returned(int fd, const sockaddr* peer, socklen_t peer_length, int result);
void on_accepted(int listener, int fd);
// For a program's setsockopt(): the value the kernel gets instead of the program's, if any.
// Inline, for it runs on every setsockopt() of every program; the rare cases are not.
inline Replacement replacement_for(int fd, int level, int optname, const void* optval,
                                   socklen_t optlen) {
  const Runtime& runtime = kashim::runtime();
  Replacement replacement = forced_value(runtime.config, level, optname, optval, optlen);
  if (!replacement.replace() &&
      is_keepalive_switch_off(runtime.config, level, optname, optval, optlen)) {
    replacement = detail::keepalive_back_on(fd);
  }
  if (replacement.replace() && runtime.config.log_level >= LogLevel::kDebug) {
    detail::log_replacement(runtime, fd, optname, replacement.requested, *replacement.value);
  }
  return replacement;
}

}  // namespace kashim
